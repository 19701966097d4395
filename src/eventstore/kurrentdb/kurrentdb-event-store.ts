/**
 * The KurrentDB adapter of the event store port (the production store that scales past one
 * machine). KurrentDB gives optimistic concurrency, atomic multi-stream appends (25.1+) and one
 * totally ordered log; what it does not give, this adapter adds: the per-stream hash chain
 * (which needs the stream's last hash before each append) and the port's exclusive positions.
 */
import {
  type AllStreamRecordedEvent,
  type AllStreamResolvedEvent,
  type AllStreamSubscription,
  AppendRecordSizeExceededError,
  type AppendStreamRequest,
  type AppendStreamState,
  BACKWARDS,
  type CurrentStreamState,
  convertToCommandError,
  DeadlineExceededError,
  END,
  eventTypeFilter,
  excludeSystemEvents,
  type Filter,
  FORWARDS,
  jsonEvent,
  KurrentDBClient,
  type RecordedEvent as KurrentRecordedEvent,
  MaxAppendSizeExceededError,
  type MultiAppendResult,
  NO_STREAM,
  NotLeaderError,
  type Position,
  START,
  StreamNotFoundError,
  streamNameFilter,
  TimeoutError,
  TransactionMaxSizeExceededError,
  UnavailableError,
  WrongExpectedVersionError,
} from "@kurrent/kurrentdb-client";
import {
  EventStoreError,
  EventStoreUnavailable,
  InvalidAppend,
  WrongExpectedRevision,
} from "../errors.js";
import { type ContextTexts, genesisHash, sealEvents } from "../hash-chain.js";
import {
  type ActualRevision,
  type AppendContext,
  type AppendResult,
  comparePositions,
  type EventFilter,
  type EventMetadata,
  type EventStore,
  type ExpectedRevision,
  type JsonObject,
  type LogPosition,
  type NewEvent,
  type ReadAllOptions,
  type ReadAllResult,
  type ReadStreamOptions,
  type RecordedEvent,
  type StreamAppend,
  type SubscribeOptions,
  type Subscription,
  type SubscriptionHandler,
} from "../port.js";
import {
  assertAppend,
  assertStreamName,
  boundReadLimit as boundLimit,
  expectationHolds,
} from "../validation.js";

const subscriptionBatchSizeDefault = 500;

/**
 * Attempts of an append whose caller said "any" or "stream_exists". Such an append is still
 * pinned to the revision it read (so the hash chain cannot fork) and tries again when another
 * writer got there first. Each round on a stream lets at least one contender through, so N
 * concurrent writers on one stream need at most N attempts; the contract suite runs ~40.
 */
const chainAppendAttemptsMax = 100;
/** Upper bound of the random pause between two attempts (exponential from 1 ms, jittered). */
const chainAppendBackoffMsMax = 64;

const metadataKeys = [
  "correlationId",
  "causationId",
  "principal",
  "occurredAt",
  "schemaVersion",
  "prevHash",
  "hash",
] as const satisfies readonly (keyof EventMetadata)[];

interface StreamHead {
  readonly revision: number;
  readonly hash: string;
}

/** A conflict on a stream whose caller asked for no exact revision: worth another attempt. */
class ChainRaceLost extends Error {
  constructor(readonly refusal: WrongExpectedRevision) {
    super(refusal.message);
  }
}

export class KurrentDbEventStore implements EventStore {
  private readonly client: KurrentDBClient;
  /** A client built here from a connection string is disposed by `close()`; a given one is not. */
  private readonly ownsClient: boolean;
  private readonly subscriptions = new Set<Subscription>();

  constructor(clientOrConnectionString: KurrentDBClient | string) {
    if (typeof clientOrConnectionString === "string") {
      this.client = KurrentDBClient.connectionString(clientOrConnectionString);
      this.ownsClient = true;
    } else {
      this.client = clientOrConnectionString;
      this.ownsClient = false;
    }
  }

  append(
    stream: string,
    expected: ExpectedRevision,
    events: readonly NewEvent[],
    context: AppendContext,
  ): Promise<AppendResult> {
    return this.appendMulti([{ stream, expected, events }], context);
  }

  async appendMulti(
    requests: readonly StreamAppend[],
    context: AppendContext,
  ): Promise<AppendResult> {
    assertAppend(requests, context);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.appendOnce(requests, context);
      } catch (error) {
        if (!(error instanceof ChainRaceLost)) throw error;
        if (attempt >= chainAppendAttemptsMax) throw error.refusal;
        await sleep(Math.random() * Math.min(chainAppendBackoffMsMax, 2 ** attempt));
      }
    }
  }

  /**
   * Reads each stream's head, refuses at once an expectation it already contradicts, then
   * appends every stream pinned to the head it read, so that the prevHash stamped on the first
   * new event is the hash of the event the store really has before it.
   */
  private async appendOnce(
    requests: readonly StreamAppend[],
    context: AppendContext,
  ): Promise<AppendResult> {
    const heads = await Promise.all(requests.map((request) => this.readHead(request.stream)));
    const batch: AppendStreamRequest[] = [];
    const texts: ContextTexts = new Map();
    const streams = requests.map((request, index) => {
      const head = heads[index];
      const actual: ActualRevision = head === undefined ? "no_stream" : head.revision;
      if (!expectationHolds(request.expected, actual)) {
        throw new WrongExpectedRevision(request.stream, request.expected, actual);
      }
      const sealed = sealEvents(head?.hash ?? genesisHash, request.events, context, texts);
      batch.push({
        streamName: request.stream,
        expectedState: actual === "no_stream" ? NO_STREAM : BigInt(actual),
        events: sealed.map((event) =>
          jsonEvent({
            id: event.id,
            type: event.type,
            data: event.data,
            metadata: { ...event.metadata },
          }),
        ),
      });
      return { stream: request.stream, revision: (head?.revision ?? -1) + sealed.length };
    });
    let written: MultiAppendResult;
    try {
      written = await this.client.multiStreamAppend(batch);
    } catch (error) {
      throw translateAppendError(error, requests);
    }
    for (const response of written.responses) {
      const expected = streams.find((stream) => stream.stream === response.streamName);
      if (expected !== undefined && BigInt(expected.revision) !== response.revision) {
        throw new Error(
          `KurrentDB wrote "${response.streamName}" at revision ${response.revision}, expected ${expected.revision}`,
        );
      }
    }
    // The commit position of the append: KurrentDB gives each event commit = prepare = its own
    // log position, and answers an append with the position of its last event.
    return { position: { commit: written.position, prepare: written.position }, streams };
  }

  private async readHead(stream: string): Promise<StreamHead | undefined> {
    const [last] = await this.readStream(stream, { direction: "backwards", limit: 1 });
    return last === undefined ? undefined : { revision: last.revision, hash: last.metadata.hash };
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    assertStreamName(stream);
    const limit = boundLimit(options.limit);
    const backwards = options.direction === "backwards";
    const events: RecordedEvent[] = [];
    try {
      const read = this.client.readStream(stream, {
        direction: backwards ? BACKWARDS : FORWARDS,
        fromRevision: readFromRevision(options.fromRevision, backwards),
        maxCount: limit,
      });
      for await (const resolved of read) {
        if (resolved.event !== undefined) events.push(toRecordedEvent(resolved.event));
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw translateError(error);
    }
    return events;
  }

  /**
   * Reads a page of the global log, unfiltered, and filters here: the page's last position is
   * then known even when the filter kept nothing, so a reader moves past what it does not want
   * (a server-side filtered read would not say how far it scanned).
   */
  async readAll(options: ReadAllOptions = {}): Promise<ReadAllResult> {
    const limit = boundLimit(options.limit);
    const from = options.fromPosition;
    const scanned: AllStreamRecordedEvent[] = [];
    try {
      // KurrentDB starts a read at its position, inclusive: one more event covers the one at
      // `from`, which the port excludes.
      const read = this.client.readAll({
        direction: FORWARDS,
        fromPosition: from ?? START,
        maxCount: from === undefined ? limit : limit + 1,
      });
      for await (const resolved of read) {
        const event = resolved.event;
        if (event === undefined || !isAfter(toLogPosition(event.position), from)) continue;
        scanned.push(event);
        if (scanned.length >= limit) break;
      }
    } catch (error) {
      throw translateError(error);
    }
    const last = scanned.at(-1);
    if (last === undefined) return { events: [] };
    const matches = eventMatcher(options.filter);
    const events = scanned.filter(matches).map(toRecordedEvent);
    return { events, lastPosition: toLogPosition(last.position) };
  }

  subscribe(options: SubscribeOptions, handler: SubscriptionHandler): Subscription {
    const batchSizeMax = options.batchSizeMax ?? subscriptionBatchSizeDefault;
    if (!Number.isSafeInteger(batchSizeMax) || batchSizeMax < 1) {
      throw new InvalidAppend("batchSizeMax must be ≥ 1");
    }
    const source = this.client.subscribeToAll({
      fromPosition: options.fromPosition ?? START,
      filter: serverFilter(options.filter),
    });
    const subscription = runSubscription({
      source,
      matches: eventMatcher(options.filter),
      batchSizeMax,
      handler,
      ...(options.fromPosition === undefined ? {} : { fromPosition: options.fromPosition }),
    });
    this.subscriptions.add(subscription);
    subscription.done.finally(() => this.subscriptions.delete(subscription)).catch(() => undefined);
    return subscription;
  }

  /**
   * KurrentDB does not say where an append ended, so this answers the event's own position:
   * a replay's position may be below the original's (still inside the same commit).
   */
  async commitPositionOf(position: LogPosition): Promise<LogPosition> {
    return position;
  }

  async ping(): Promise<void> {
    try {
      const read = this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 });
      for await (const _ of read) break;
    } catch (error) {
      throw translateError(error);
    }
  }

  /** Stops the subscriptions started here; disposes the client only if it was built here. */
  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((subscription) => subscription.stop()));
    if (this.ownsClient) await this.client.dispose();
  }
}

export function createKurrentDbEventStore(connectionString: string): KurrentDbEventStore {
  return new KurrentDbEventStore(connectionString);
}

interface SubscriptionLoop {
  readonly source: AllStreamSubscription;
  readonly matches: (event: AllStreamRecordedEvent) => boolean;
  readonly fromPosition?: LogPosition;
  readonly batchSizeMax: number;
  readonly handler: SubscriptionHandler;
}

/**
 * Hands the pushed events over in batches: a batch closes when it is full or when nothing
 * more is buffered. The next event is only pulled once the handler has settled, so the
 * subscription's back-pressure holds the server while a batch is handled.
 */
function runSubscription(loop: SubscriptionLoop): Subscription {
  let position = loop.fromPosition;
  let stopped = false;

  async function run(): Promise<void> {
    let scannedTo = loop.fromPosition;
    let handedTo = loop.fromPosition;
    let batch: RecordedEvent[] = [];
    for await (const resolved of loop.source as AsyncIterable<AllStreamResolvedEvent>) {
      if (stopped) return;
      const event = resolved.event;
      // Positions are checked, not trusted: the port's start is exclusive, whatever the server.
      if (event !== undefined && isAfter(toLogPosition(event.position), scannedTo)) {
        scannedTo = toLogPosition(event.position);
        if (loop.matches(event)) batch.push(toRecordedEvent(event));
      }
      const handOver = batch.length >= loop.batchSizeMax || loop.source.readableLength === 0;
      // Also what the filter kept nothing of (an empty batch), so a checkpoint moves past it.
      if (handOver && scannedTo !== undefined && scannedTo !== handedTo) {
        await loop.handler(batch, scannedTo);
        position = scannedTo;
        handedTo = scannedTo;
        batch = [];
      }
    }
  }

  async function runUntilStopped(): Promise<void> {
    try {
      await run();
    } catch (error) {
      // Stopping destroys the source, which ends the iteration with a premature-close error.
      if (!stopped) throw translateError(error);
    } finally {
      await closeSource(loop.source);
    }
  }

  const done = runUntilStopped();
  // `done` is the owner's to await; keep an unobserved rejection from crashing the process.
  done.catch(() => undefined);

  return {
    async stop() {
      stopped = true;
      await closeSource(loop.source);
      await done.catch(() => undefined);
    },
    done,
    position: () => position,
  };
}

async function closeSource(source: AllStreamSubscription): Promise<void> {
  if (source.destroyed) return;
  await source.unsubscribe().catch(() => undefined);
  source.destroy();
}

/**
 * The server can filter on stream names or on event types, not on both at once; the port's
 * filter is "either", so with both the server only drops system events and the rest is
 * filtered here. Type prefixes are a superset of the exact types, which are checked here.
 */
function serverFilter(filter: EventFilter | undefined): Filter {
  const prefixes = filter?.streamPrefixes ?? [];
  const types = filter?.eventTypes ?? [];
  if (prefixes.length > 0 && types.length === 0) {
    return streamNameFilter({ prefixes: [...prefixes] });
  }
  if (types.length > 0 && prefixes.length === 0) return eventTypeFilter({ prefixes: [...types] });
  return excludeSystemEvents();
}

/** Ours and wanted: never KurrentDB's own events (`$` types and streams), then the filter. */
function eventMatcher(filter: EventFilter | undefined): (event: AllStreamRecordedEvent) => boolean {
  const prefixes = filter?.streamPrefixes ?? [];
  const types = new Set(filter?.eventTypes ?? []);
  const filtered = prefixes.length > 0 || types.size > 0;
  return (event) => {
    if (event.type.startsWith("$") || event.streamId.startsWith("$")) return false;
    if (!filtered) return true;
    return types.has(event.type) || prefixes.some((prefix) => event.streamId.startsWith(prefix));
  };
}

function isAfter(position: LogPosition, from: LogPosition | undefined): boolean {
  return from === undefined || comparePositions(position, from) > 0;
}

function readFromRevision(fromRevision: number | undefined, backwards: boolean) {
  if (fromRevision === undefined) return backwards ? END : START;
  if (!Number.isSafeInteger(fromRevision) || fromRevision < 0) {
    throw new InvalidAppend(`fromRevision ${fromRevision} is not a revision`);
  }
  return BigInt(fromRevision);
}

function toLogPosition(position: Position): LogPosition {
  return { commit: BigInt(position.commit), prepare: BigInt(position.prepare) };
}

function toRecordedEvent(event: KurrentRecordedEvent): RecordedEvent {
  if (event.position === undefined) {
    throw new Error(`event ${event.streamId}@${event.revision} was read without its log position`);
  }
  return {
    id: event.id,
    stream: event.streamId,
    revision: Number(event.revision),
    position: toLogPosition(event.position),
    type: event.type,
    data: toData(event),
    metadata: toMetadata(event),
    recordedAt: event.created,
  };
}

function toData(event: KurrentRecordedEvent): JsonObject {
  if (!event.isJson || !isPlainObject(event.data)) {
    throw new Error(`event ${event.streamId}@${event.revision} has no JSON object as data`);
  }
  return event.data as JsonObject;
}

/**
 * Reads back the metadata written as the record's properties. KurrentDB adds its own keys
 * (`$schema.name`, `$schema.data-format`, …), so only the port's keys are taken.
 */
function toMetadata(event: KurrentRecordedEvent): EventMetadata {
  const source = event.metadata;
  if (!isPlainObject(source)) {
    throw new Error(`event ${event.streamId}@${event.revision} has no metadata object`);
  }
  const entries = metadataKeys.map((key) => {
    const value = source[key];
    if (typeof value !== "string") {
      throw new Error(`event ${event.streamId}@${event.revision} has no metadata "${key}"`);
    }
    return [key, value] as const;
  });
  return Object.fromEntries(entries) as Record<(typeof metadataKeys)[number], string>;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array)
  );
}

/** Maps an append's failure: a refused expectation names the caller's expectation, not ours. */
function translateAppendError(error: unknown, requests: readonly StreamAppend[]): unknown {
  const converted = toCommandError(error);
  if (!(converted instanceof WrongExpectedVersionError)) return translateError(converted);
  const request = requests.find((candidate) => candidate.stream === converted.streamName);
  if (request === undefined) return converted;
  const refusal = new WrongExpectedRevision(
    request.stream,
    request.expected,
    toActualRevision(converted.actualState),
  );
  const pinnedByUs = request.expected === "any" || request.expected === "stream_exists";
  return pinnedByUs ? new ChainRaceLost(refusal) : refusal;
}

function toActualRevision(state: CurrentStreamState | AppendStreamState): ActualRevision {
  // Deleted and tombstoned streams report negative revisions: to a writer, they hold nothing.
  return typeof state === "bigint" && state >= 0n ? Number(state) : "no_stream";
}

function translateError(error: unknown): unknown {
  if (error instanceof EventStoreError) return error;
  const converted = toCommandError(error);
  if (isUnreachable(converted)) {
    return new EventStoreUnavailable("the KurrentDB event store is unavailable", {
      cause: converted,
    });
  }
  if (
    converted instanceof MaxAppendSizeExceededError ||
    converted instanceof AppendRecordSizeExceededError ||
    converted instanceof TransactionMaxSizeExceededError
  ) {
    return new InvalidAppend(`event data cannot be stored: ${converted.message}`);
  }
  return converted;
}

function isUnreachable(error: unknown): boolean {
  if (
    error instanceof UnavailableError ||
    error instanceof DeadlineExceededError ||
    error instanceof TimeoutError ||
    error instanceof NotLeaderError
  ) {
    return true;
  }
  const code = typeof error === "object" && error !== null && "code" in error ? error.code : "";
  return code === "ECONNREFUSED" || code === "ECONNRESET";
}

/**
 * Some paths of the client reject with the raw gRPC error (its capability check before the
 * first call, a stream's own "error" event); the client's converter gives them their class.
 */
function toCommandError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const { code, details } = error as { code?: unknown; details?: unknown };
  if (typeof code !== "number" || typeof details !== "string") return error;
  return convertToCommandError(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
