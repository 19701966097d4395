/** Checks on an append that hold for every adapter, made before any I/O. */
import { InvalidAppend } from "./errors.js";
import { type AppendContext, appendEventsMax, readLimitMax, type StreamAppend } from "./port.js";

export const streamNameLengthMax = 256;
const streamNamePattern = /^[A-Za-z0-9][A-Za-z0-9_.:@-]*$/;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function assertStreamName(stream: string): void {
  if (stream.length === 0 || stream.length > streamNameLengthMax) {
    throw new InvalidAppend(`stream name must be 1..${streamNameLengthMax} characters`);
  }
  if (!streamNamePattern.test(stream)) {
    throw new InvalidAppend(`stream name "${stream}" has characters outside [A-Za-z0-9_.:@-]`);
  }
}

function assertContext(context: AppendContext): void {
  if (context.principal.length === 0) throw new InvalidAppend("every append names a principal");
  if (Number.isNaN(context.occurredAt.getTime())) throw new InvalidAppend("occurredAt is invalid");
}

export function assertAppend(requests: readonly StreamAppend[], context: AppendContext): void {
  if (requests.length === 0) throw new InvalidAppend("an append needs at least one stream");
  assertContext(context);
  const seen = new Set<string>();
  let eventCount = 0;
  for (const request of requests) {
    assertStreamName(request.stream);
    if (seen.has(request.stream)) {
      throw new InvalidAppend(`stream "${request.stream}" appears twice in one append`);
    }
    seen.add(request.stream);
    if (request.events.length === 0) {
      throw new InvalidAppend(`append to "${request.stream}" has no events`);
    }
    const { expected } = request;
    if (typeof expected === "number" && !(Number.isSafeInteger(expected) && expected >= 0)) {
      throw new InvalidAppend(`expected revision ${expected} is not a revision`);
    }
    for (const event of request.events) {
      if (event.context) assertContext(event.context);
      // Both adapters store ids as UUIDs (the Postgres one sends them comma-separated).
      if (event.id !== undefined && !uuidPattern.test(event.id)) {
        throw new InvalidAppend(`event id "${event.id}" is not a UUID`);
      }
    }
    eventCount += request.events.length;
  }
  if (eventCount > appendEventsMax) {
    throw new InvalidAppend(
      `an append carries at most ${appendEventsMax} events, got ${eventCount}`,
    );
  }
}

/** Whether a stream found at `actual` satisfies `expected`. */
export function expectationHolds(
  expected: StreamAppend["expected"],
  actual: number | "no_stream",
): boolean {
  if (expected === "any") return true;
  if (expected === "no_stream") return actual === "no_stream";
  if (expected === "stream_exists") return actual !== "no_stream";
  return actual === expected;
}

/** Events a read returns when the caller names no limit. */
export const readLimitDefault = 1_000;

/** A read's limit: the caller's (≥ 1), the default when none, never above readLimitMax. */
export function boundReadLimit(limit: number | undefined): number {
  const value = limit ?? readLimitDefault;
  if (!Number.isSafeInteger(value) || value < 1) throw new InvalidAppend("limit must be ≥ 1");
  return Math.min(value, readLimitMax);
}
