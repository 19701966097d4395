/**
 * Read-your-writes (API.md "Consistency"): a GET with `X-Min-Position` answers only once the
 * read models have passed that position, or 503 PROJECTION_LAGGING after 5 s.
 */
import type { FastifyRequest } from "fastify";
import { type LogPosition, parsePosition } from "../eventstore/port.js";
import { ProblemError } from "./problem.js";

/** What the read endpoints need from the projector (src/projections/runner.ts). */
export interface ReadModelProgress {
  waitFor(position: LogPosition, waitMs: number): Promise<boolean>;
  /** The position the read models have reached ("<commit>.<prepare>"), null before any. */
  status(): { readonly position: string | null };
}

export const minPositionWaitMsMax = 5_000;

export async function awaitMinPosition(
  request: FastifyRequest,
  progress: ReadModelProgress,
): Promise<void> {
  const header = request.headers["x-min-position"];
  if (header === undefined) return;
  const position = typeof header === "string" ? parsePosition(header) : undefined;
  if (position === undefined) {
    throw new ProblemError({
      status: 400,
      code: "VALIDATION_ERROR",
      title: "Invalid request",
      detail: "X-Min-Position must be a position like 1234.5678, as a command answered",
      errors: [{ path: "/headers/x-min-position", message: "is not a position" }],
    });
  }
  if (await progress.waitFor(position, minPositionWaitMsMax)) return;
  throw new ProblemError({
    status: 503,
    code: "PROJECTION_LAGGING",
    title: "Read models are behind",
    detail: `the read models have not reached position ${header} within 5 s; retry shortly`,
  });
}
