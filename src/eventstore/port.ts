/**
 * The event store port: what the command side and the projectors need from an event store,
 * and nothing more. Adapters live beside it (`postgres/`, `kurrentdb/`) and must pass the one
 * contract suite in `test/eventstore/contract.ts`.
 *
 * Vocabulary (shared with KurrentDB):
 * - a stream's revision is the 0-based index of its last event; a new stream has none;
 * - a log position is a point in the global log, totally ordered; readers and subscribers
 *   resume strictly after a position they saved.
 */

/** JSON values as they cross the store boundary. Money is a decimal string, never a number. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/**
 * What an append expects of a stream:
 * - `"any"`: no check;
 * - `"no_stream"`: the stream must not exist (the idempotency guard of the posting stream);
 * - `"stream_exists"`: the stream must have at least one event;
 * - a number: the stream's current revision must be exactly that.
 */
export type ExpectedRevision = "any" | "no_stream" | "stream_exists" | number;

/** The revision a stream is found at by an append: its last event's revision, or none. */
export type ActualRevision = number | "no_stream";

/**
 * A point in the global log. `commit` orders commits and `prepare` orders events inside one
 * commit; comparison is lexicographic on (commit, prepare). For the Postgres adapter these
 * are (transaction_id, position); for KurrentDB, its own commit and prepare positions.
 */
export interface LogPosition {
  readonly commit: bigint;
  readonly prepare: bigint;
}

/**
 * Event metadata. Every value is a string, because KurrentDB's multi-stream append takes
 * metadata only as an object of string values; both adapters carry it the same way.
 */
export interface EventMetadata {
  readonly correlationId: string;
  readonly causationId: string;
  readonly principal: string;
  readonly occurredAt: string;
  readonly schemaVersion: string;
  /** The Idempotency-Key of the request that wrote the event, if it had one. */
  readonly idempotencyKey?: string;
  readonly prevHash: string;
  readonly hash: string;
}

/** Who and why an append is made: stamped on the metadata of every event it writes. */
export interface AppendContext {
  readonly correlationId: string;
  /** The id of the command or event that caused this append; defaults to `correlationId`. */
  readonly causationId?: string;
  readonly principal: string;
  /** Passed in by the caller (the store has no opinion of business time). */
  readonly occurredAt: Date;
  /** The client's Idempotency-Key (scoped to the principal), when the request had one. */
  readonly idempotencyKey?: string;
}

/** An event to append. `id` is a UUID; adapters generate one when it is absent. */
export interface NewEvent {
  readonly id?: string;
  readonly type: string;
  readonly data: JsonObject;
  /** Defaults to 1. Bumped when the shape of an event type's data changes. */
  readonly schemaVersion?: number;
  /**
   * This event's own correlation, causation, principal and time, when one append carries the
   * events of several commands (a batch); otherwise the append's context applies.
   */
  readonly context?: AppendContext;
}

export interface StreamAppend {
  readonly stream: string;
  readonly expected: ExpectedRevision;
  readonly events: readonly NewEvent[];
}

export interface StreamAppendResult {
  readonly stream: string;
  /** The revision of the last event written to this stream. */
  readonly revision: number;
}

export interface AppendResult {
  /** The position of the commit: every event of the append is at or before it. */
  readonly position: LogPosition;
  readonly streams: readonly StreamAppendResult[];
}

/**
 * An append sealed ahead of its write (`EventStore.prepareAppend`): its events' ids and hash
 * chains are fixed, so that writing it later is only the write. An adapter reads its own
 * prepared appends; any other is appended as `requests` under `context`.
 */
export interface PreparedAppend {
  readonly requests: readonly StreamAppend[];
  readonly context: AppendContext;
}

export interface RecordedEvent {
  readonly id: string;
  readonly stream: string;
  readonly revision: number;
  readonly position: LogPosition;
  readonly type: string;
  readonly data: JsonObject;
  readonly metadata: EventMetadata;
  readonly recordedAt: Date;
}

export type ReadDirection = "forwards" | "backwards";

export interface ReadStreamOptions {
  /** First revision to return (inclusive). Defaults to the start (forwards) or end (backwards). */
  readonly fromRevision?: number;
  readonly direction?: ReadDirection;
  /** Bounded: adapters cap it at `readLimitMax`. */
  readonly limit?: number;
}

/** Events matching any stream prefix or any type are delivered; an empty filter matches all. */
export interface EventFilter {
  readonly streamPrefixes?: readonly string[];
  readonly eventTypes?: readonly string[];
}

export interface ReadAllOptions {
  /** Exclusive: the read starts strictly after this position. Absent: from the start. */
  readonly fromPosition?: LogPosition;
  readonly limit?: number;
  readonly filter?: EventFilter;
}

export interface ReadAllResult {
  readonly events: readonly RecordedEvent[];
  /**
   * The position the read got to, which may be past the last returned event when a filter
   * skipped events: resume from here. Absent when nothing at all was read.
   */
  readonly lastPosition?: LogPosition;
}

export interface SubscribeOptions {
  /** Exclusive, as in `readAll`. */
  readonly fromPosition?: LogPosition;
  readonly filter?: EventFilter;
  /** Most events handed to the handler at once. */
  readonly batchSizeMax?: number;
}

/**
 * Handed a batch in log order; the next batch comes only after the returned promise settles.
 * A handler that throws stops the subscription (it is never skipped past). A filtered
 * subscription also hands over what it read past without a match, as a batch of no events
 * with the position it reached, so that a subscriber's checkpoint moves past it too.
 */
export type SubscriptionHandler = (
  events: readonly RecordedEvent[],
  lastPosition: LogPosition,
) => Promise<void>;

export interface Subscription {
  /** Stops after the batch in hand, if any; resolves when stopped. */
  stop(): Promise<void>;
  /** Settles when the subscription ends: resolves on `stop()`, rejects with a handler's error. */
  readonly done: Promise<void>;
  /** The position after the last batch the handler finished, if any. */
  readonly position: () => LogPosition | undefined;
}

export interface EventStore {
  /** Appends to one stream; the same as `appendMulti` with one request. */
  append(
    stream: string,
    expected: ExpectedRevision,
    events: readonly NewEvent[],
    context: AppendContext,
  ): Promise<AppendResult>;
  /**
   * Appends to several streams atomically: every expectation holds and every event is
   * written, or nothing is. Streams must be distinct; each request needs at least one event.
   */
  appendMulti(requests: readonly StreamAppend[], context: AppendContext): Promise<AppendResult>;
  /**
   * Optional: seals an append now, to be written later by `appendPrepared`, so that a writer
   * can do that work while the appends before it are in flight. Each stream's chain continues
   * from the last event `after` writes to it (appends the caller writes before this one, each
   * only once the one before it committed), or else from the head the store last saw.
   * Undefined when it cannot be sealed ahead (a head not known, data it refuses): then the
   * caller appends with `appendMulti`, which says why.
   */
  prepareAppend?(
    requests: readonly StreamAppend[],
    context: AppendContext,
    after: readonly PreparedAppend[],
  ): PreparedAppend | undefined;
  /**
   * Writes a prepared append, with `appendMulti`'s checks and outcome. When a stream's head is
   * no longer the one it was sealed on (an append it was sealed after was written otherwise,
   * or not at all), its events are sealed again first: a hash chain never skips an event.
   */
  appendPrepared?(prepared: PreparedAppend): Promise<AppendResult>;
  /** A missing stream reads as no events, not as an error. */
  readStream(stream: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  readAll(options?: ReadAllOptions): Promise<ReadAllResult>;
  subscribe(options: SubscribeOptions, handler: SubscriptionHandler): Subscription;
  /**
   * The position of the commit that wrote the event at `position` (what its append answered
   * with): a replayed command answers with the same position as the original.
   */
  commitPositionOf(position: LogPosition): Promise<LogPosition>;
  /** A cheap round trip to the store, for health checks. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export const readLimitMax = 10_000;
export const appendEventsMax = 10_000;

export function comparePositions(a: LogPosition, b: LogPosition): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

/**
 * The string form of a position, as it crosses the API (`position`, `X-Min-Position`) and is
 * stored in checkpoints: `<commit>.<prepare>`, both non-negative decimal integers.
 */
export function formatPosition(position: LogPosition): string {
  return `${position.commit}.${position.prepare}`;
}

const positionPattern = /^(0|[1-9][0-9]{0,19})\.(0|[1-9][0-9]{0,19})$/;

/** Parses the string form of a position; `undefined` when it is not one. */
export function parsePosition(text: string): LogPosition | undefined {
  const match = positionPattern.exec(text);
  if (match === null) return undefined;
  const [, commit, prepare] = match;
  if (commit === undefined || prepare === undefined) return undefined;
  return { commit: BigInt(commit), prepare: BigInt(prepare) };
}
