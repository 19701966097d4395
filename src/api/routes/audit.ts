/**
 * Audit (API.md `GET /v1/audit/streams/{stream}`): a stream's raw events, hash chain included,
 * read from the event store itself, never from the read models, so an auditor sees exactly
 * what the ledger recorded and can recompute every hash. An unknown stream is an empty page:
 * the store cannot tell "never written" from "no access", and neither leaks anything.
 */
import type { FastifyInstance } from "fastify";
import type { EventStore, RecordedEvent } from "../../eventstore/port.js";
import { formatPosition } from "../../eventstore/port.js";
import { assertStreamName } from "../../eventstore/validation.js";
import { InvalidCursor } from "../../queries/index.js";
import { ProblemError } from "../problem.js";
import { auditEventPage, auditStreamParams, auditStreamQuery } from "../report-schemas.js";
import { problem, readHeaders } from "../schemas.js";
import { withZod } from "./context.js";

const tags = ["Audit"];

/** What the audit endpoint reads: the event store's streams. */
export interface AuditApi {
  readonly eventStore: Pick<EventStore, "readStream">;
}

export async function auditRoutes(instance: FastifyInstance, api: AuditApi): Promise<void> {
  const app = withZod(instance);

  app.get(
    "/v1/audit/streams/:stream",
    {
      config: { scope: "audit:read" },
      schema: {
        tags,
        summary: "Read a stream's raw events",
        description:
          "Events in revision order from `fromRevision` (or from the `cursor` of the previous " +
          "page), with their global position and metadata, hash chain included.",
        headers: readHeaders,
        params: auditStreamParams,
        querystring: auditStreamQuery,
        response: { 200: auditEventPage, 400: problem, 403: problem },
      },
    },
    async (request) => {
      const { stream } = request.params;
      assertValidStream(stream);
      const { limit, cursor } = request.query;
      const fromRevision = startRevision(stream, request.query.fromRevision, cursor);
      // One more than the page: its presence says that another page exists.
      const events = await api.eventStore.readStream(stream, { fromRevision, limit: limit + 1 });
      const page = events.slice(0, limit);
      const last = page.at(-1);
      const more = events.length > limit && last !== undefined;
      return {
        data: page.map(auditEventBody),
        nextCursor: more ? encodeAuditCursor(stream, last.revision + 1) : null,
      };
    },
  );
}

function auditEventBody(event: RecordedEvent) {
  return {
    id: event.id,
    stream: event.stream,
    revision: event.revision,
    position: formatPosition(event.position),
    type: event.type,
    data: event.data,
    metadata: { ...event.metadata },
    recordedAt: event.recordedAt.toISOString(),
  };
}

/** A name the store would refuse is the client's mistake: 400, not the store's error (500). */
function assertValidStream(stream: string): void {
  try {
    assertStreamName(stream);
  } catch (error) {
    throw new ProblemError({
      status: 400,
      code: "VALIDATION_ERROR",
      title: "Invalid request",
      detail: error instanceof Error ? error.message : "invalid stream name",
      errors: [{ path: "/params/stream", message: "is not a stream name" }],
    });
  }
}

function startRevision(
  stream: string,
  fromRevision: number | undefined,
  cursor: string | undefined,
): number {
  if (cursor === undefined) return fromRevision ?? 0;
  if (fromRevision !== undefined) {
    throw new ProblemError({
      status: 400,
      code: "VALIDATION_ERROR",
      title: "Invalid request",
      detail: "send either fromRevision or cursor, not both",
      errors: [{ path: "/querystring/cursor", message: "excludes fromRevision" }],
    });
  }
  return decodeAuditCursor(stream, cursor);
}

/**
 * The cursor is the next page's fromRevision with the stream it belongs to, base64url JSON like
 * the other lists' cursors (src/queries/cursor.ts): opaque to clients, checked on the way in.
 */
export function encodeAuditCursor(stream: string, fromRevision: number): string {
  return Buffer.from(JSON.stringify({ list: "audit", stream, fromRevision }), "utf8").toString(
    "base64url",
  );
}

function decodeAuditCursor(stream: string, cursor: string): number {
  let fields: unknown;
  try {
    fields = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw new InvalidCursor("not a cursor");
  }
  const { list, stream: cursorStream, fromRevision } = (fields ?? {}) as Record<string, unknown>;
  if (list !== "audit" || cursorStream !== stream) {
    throw new InvalidCursor(`not a cursor of stream ${stream}`);
  }
  if (typeof fromRevision !== "number" || !Number.isSafeInteger(fromRevision) || fromRevision < 0) {
    throw new InvalidCursor("malformed fromRevision");
  }
  return fromRevision;
}
