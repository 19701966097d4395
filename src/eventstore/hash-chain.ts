/**
 * The per-stream hash chain, computed here and only here for every adapter, so that an
 * auditor can detect an edited, removed or reordered event without trusting the database:
 *
 *   hash = SHA-256( prevHash ‖ type ‖ RFC 8785 canonical JSON of data ), hex-encoded,
 *
 * where prevHash is the hash of the stream's previous event, or `genesisHash` for the first.
 */
import { createHash, randomUUID } from "node:crypto";
import canonicalize from "canonicalize";
import { InvalidAppend } from "./errors.js";
import type { AppendContext, EventMetadata, JsonObject, NewEvent, RecordedEvent } from "./port.js";

export const genesisHash = "0".repeat(64);
export const schemaVersionDefault = 1;

export function canonicalJson(data: JsonObject): string {
  const text = canonicalize(data);
  // canonicalize returns undefined only for values JSON cannot carry (functions, undefined).
  if (text === undefined) throw new InvalidAppend("event data is not JSON");
  return text;
}

export function eventHash(prevHash: string, type: string, data: JsonObject): string {
  return createHash("sha256")
    .update(prevHash)
    .update(type)
    .update(canonicalJson(data))
    .digest("hex");
}

/** An event ready to be written: its id fixed and its metadata, hash chain included, stamped. */
export interface SealedEvent {
  readonly id: string;
  readonly type: string;
  readonly data: JsonObject;
  readonly metadata: EventMetadata;
}

/** Stamps metadata on a stream's new events, chaining each hash to the one before it. */
export function sealEvents(
  prevHash: string,
  events: readonly NewEvent[],
  context: AppendContext,
): SealedEvent[] {
  let previous = prevHash;
  return events.map((event) => {
    const own = event.context ?? context;
    const hash = eventHash(previous, event.type, event.data);
    const metadata: EventMetadata = {
      correlationId: own.correlationId,
      causationId: own.causationId ?? own.correlationId,
      principal: own.principal,
      occurredAt: own.occurredAt.toISOString(),
      schemaVersion: String(event.schemaVersion ?? schemaVersionDefault),
      prevHash: previous,
      hash,
    };
    previous = hash;
    return { id: event.id ?? randomUUID(), type: event.type, data: event.data, metadata };
  });
}

export type ChainBreak = {
  readonly stream: string;
  readonly revision: number;
  readonly field: "prevHash" | "hash";
  readonly expected: string;
  readonly found: string;
};

/**
 * Checks a run of one stream's events, in revision order, starting after `prevHash`
 * (`genesisHash` when the run starts at revision 0). Returns every break found.
 */
export function verifyChain(
  events: readonly RecordedEvent[],
  prevHash: string = genesisHash,
): ChainBreak[] {
  const breaks: ChainBreak[] = [];
  let previous = prevHash;
  for (const event of events) {
    const { stream, revision, metadata } = event;
    if (metadata.prevHash !== previous) {
      breaks.push({
        stream,
        revision,
        field: "prevHash",
        expected: previous,
        found: metadata.prevHash,
      });
    }
    const expected = eventHash(metadata.prevHash, event.type, event.data);
    if (metadata.hash !== expected) {
      breaks.push({ stream, revision, field: "hash", expected, found: metadata.hash });
    }
    previous = metadata.hash;
  }
  return breaks;
}
