/**
 * The Postgres adapter of the event store port (the default store). Schema and the reasoning
 * behind its global order: `migrations/001.do.event-store.sql`.
 */
import { LRUCache } from "lru-cache";
import type pg from "pg";
import { EventStoreUnavailable, InvalidAppend, WrongExpectedRevision } from "../errors.js";
import { type ContextTexts, genesisHash, sealEvents } from "../hash-chain.js";
import type {
  ActualRevision,
  AppendContext,
  AppendResult,
  EventFilter,
  EventMetadata,
  EventStore,
  ExpectedRevision,
  JsonObject,
  LogPosition,
  NewEvent,
  PreparedAppend,
  ReadAllOptions,
  ReadAllResult,
  ReadStreamOptions,
  RecordedEvent,
  StreamAppend,
  StreamAppendResult,
  SubscribeOptions,
  Subscription,
  SubscriptionHandler,
} from "../port.js";
import {
  assertAppend,
  assertStreamName,
  boundReadLimit as boundLimit,
  expectationHolds,
} from "../validation.js";
import type { EventText } from "./event-text.js";
import type { NotificationListener } from "./listener.js";
import { runSubscription } from "./subscription.js";

export interface PostgresEventStoreOptions {
  /** Wakes subscribers when an append commits; without it they only poll. */
  readonly listener?: NotificationListener;
  /** How often an idle subscriber looks for events when no notification came. */
  readonly pollIntervalMs?: number;
  /**
   * Runs inside each append's transaction just before it commits. A fault-injection point for
   * tests (a writer that commits late); leave it out in production.
   */
  readonly beforeCommit?: () => Promise<void>;
  /** How many streams' last revision and hash the store remembers (see `appendMulti`). */
  readonly headCacheSizeMax?: number;
}

const subscriptionBatchSizeDefault = 500;
const pollIntervalMsDefault = 250;
export const headCacheSizeMaxDefault = 100_000;
/** A locked append raced by one-statement writers this many times in a row gives up. */
const lockedAttemptsMax = 10;

interface StreamHead {
  readonly revision: number;
  readonly lastHash: string;
}

interface EventRow {
  transaction_id: string;
  position: string;
  id: string;
  stream: string;
  revision: string;
  type: string;
  data: JsonObject | null;
  metadata: EventMetadata | null;
  recorded_at: Date;
}

const eventColumns =
  "transaction_id::text AS transaction_id, position, id, stream, revision, type, recorded_at";

export class PostgresEventStore implements EventStore {
  private readonly pollIntervalMs: number;
  /**
   * Streams' heads as this store last wrote or read them: "revision R of stream S has hash H"
   * is a fact that never goes stale (events are immutable), only the fact that R is the last
   * revision may. See `appendMulti`.
   */
  private readonly heads: LRUCache<string, StreamHead>;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: PostgresEventStoreOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? pollIntervalMsDefault;
    this.heads = new LRUCache({ max: options.headCacheSizeMax ?? headCacheSizeMaxDefault });
  }

  append(
    stream: string,
    expected: ExpectedRevision,
    events: readonly NewEvent[],
    context: AppendContext,
  ): Promise<AppendResult> {
    return this.appendMulti([{ stream, expected, events }], context);
  }

  /**
   * Two ways to append, with the same outcome:
   *
   * - **Optimistic, one statement.** When every expectation is `no_stream` or exactly the
   *   revision this store last saw as the stream's head, the events are sealed on the
   *   remembered hashes and written by one INSERT (its own transaction: one round trip, no
   *   lock). The unique (stream, revision) index is the check: if a stream moved past the
   *   expectation, the revision written is already taken and the INSERT fails with 23505 (or,
   *   when two writers cross on several streams, one of them with 40P01). Nothing was written;
   *   the append then goes the locked way, which tells which stream and where it is. A stream
   *   whose expectation equals a head this store saw has no gap below what is written, since
   *   that head exists; and a writer can expect revision R only after R committed, so its
   *   transaction id is drawn after the one that wrote R (migration 001 on why that matters).
   * - **Locked.** Otherwise (`any`, `stream_exists`, a head not remembered or another than
   *   expected): take the streams' locks in sorted order, read their heads, check, write.
   */
  async appendMulti(
    requests: readonly StreamAppend[],
    context: AppendContext,
  ): Promise<AppendResult> {
    assertAppend(requests, context);
    const known = this.options.beforeCommit === undefined ? this.knownHeads(requests) : undefined;
    if (known !== undefined) {
      const sealed = this.seal(requests, context, (stream) => known.get(stream));
      const written = await this.writeOptimistic(requests, sealed);
      if (written !== undefined) return written;
    }
    return this.appendLockedRetrying(requests, context);
  }

  /**
   * Seals an append on the heads `after` will leave (or this store remembers), for the
   * one-statement way: only when each expectation is exactly such a head. See the port.
   */
  prepareAppend(
    requests: readonly StreamAppend[],
    context: AppendContext,
    after: readonly PreparedAppend[],
  ): PreparedAppend | undefined {
    if (this.options.beforeCommit !== undefined) return undefined;
    try {
      assertAppend(requests, context);
      const heads = this.knownHeads(requests, (stream) => tailIn(this, after, stream));
      if (heads === undefined) return undefined;
      const sealed = this.seal(requests, context, (stream) => heads.get(stream));
      return new SealedAhead(this, requests, context, sealed, heads);
    } catch (error) {
      // Refused data: appendMulti refuses it again, and says why, where it is written.
      if (error instanceof InvalidAppend) return undefined;
      throw error;
    }
  }

  async appendPrepared(prepared: PreparedAppend): Promise<AppendResult> {
    if (!(prepared instanceof SealedAhead && prepared.store === this))
      return this.appendMulti(prepared.requests, prepared.context);
    const sealed = prepared.take();
    if (!this.stillOn(prepared)) return this.appendMulti(prepared.requests, prepared.context);
    const written = await this.writeOptimistic(prepared.requests, sealed);
    return written ?? this.appendLockedRetrying(prepared.requests, prepared.context);
  }

  /** Whether every stream's remembered head is still the one `prepared` was sealed on. */
  private stillOn(prepared: SealedAhead): boolean {
    for (const [stream, head] of prepared.sealedOn) {
      const now = this.heads.peek(stream);
      if (now?.revision !== head?.revision || now?.lastHash !== head?.lastHash) return false;
    }
    return true;
  }

  /**
   * The one-statement way: undefined when a stream moved past its expectation (nothing was
   * written; its remembered head is forgotten).
   */
  private async writeOptimistic(
    requests: readonly StreamAppend[],
    sealed: SealedAppend,
  ): Promise<AppendResult | undefined> {
    try {
      return this.appended(sealed, await this.insert(this.pool, sealed));
    } catch (error) {
      if (!isWriteConflict(error)) throw translateError(error);
      for (const request of requests) this.heads.delete(request.stream);
      return undefined;
    }
  }

  private async appendLockedRetrying(
    requests: readonly StreamAppend[],
    context: AppendContext,
  ): Promise<AppendResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.appendLocked(requests, context);
      } catch (error) {
        // A one-statement writer took no lock: it may have written a revision after this
        // append read the heads. It has committed by now (the index waited for it), so the
        // next attempt reads its revision and either appends after it (`any`) or refuses.
        if (!isWriteConflict(error)) throw translateError(error);
        if (attempt >= lockedAttemptsMax) throw conflictRefusal(error, requests);
      }
    }
  }

  /**
   * The head of every stream, when each is what its expectation names: the one `pending`
   * names (an append not yet written), else the one this store remembers.
   */
  private knownHeads(
    requests: readonly StreamAppend[],
    pending: (stream: string) => StreamHead | undefined = () => undefined,
  ): Map<string, StreamHead | undefined> | undefined {
    const heads = new Map<string, StreamHead | undefined>();
    for (const { stream, expected } of requests) {
      // peek: recency is the append's to refresh (`remember` sets the head it wrote), and an
      // LRU get that moves the entry costs more than the lookup itself.
      const head = pending(stream) ?? this.heads.peek(stream);
      const known =
        expected === "no_stream"
          ? head === undefined
          : typeof expected === "number" && head?.revision === expected;
      if (!known) return undefined;
      heads.set(stream, head);
    }
    return heads;
  }

  private async appendLocked(
    requests: readonly StreamAppend[],
    context: AppendContext,
  ): Promise<AppendResult> {
    const client = await this.connect();
    try {
      await client.query("BEGIN");
      const heads = await lockStreams(
        client,
        requests.map((request) => request.stream),
      );
      for (const request of requests) {
        const head = heads.get(request.stream);
        const actual: ActualRevision = head === undefined ? "no_stream" : head.revision;
        if (!expectationHolds(request.expected, actual)) {
          throw new WrongExpectedRevision(request.stream, request.expected, actual);
        }
      }
      const sealed = this.seal(requests, context, (stream) => heads.get(stream));
      const result = await this.insert(client, sealed);
      await this.options.beforeCommit?.();
      await client.query("COMMIT");
      return this.appended(sealed, result);
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw translateError(error);
    } finally {
      client.release();
    }
  }

  /** Seals every stream's events on its head, numbering them from the revision after it. */
  private seal(
    requests: readonly StreamAppend[],
    context: AppendContext,
    headOf: (stream: string) => StreamHead | undefined,
  ): SealedAppend {
    const columns: InsertColumns = {
      ids: [],
      streams: [],
      revisions: [],
      types: [],
      data: [],
      metadata: [],
    };
    const streams: StreamAppendResult[] = [];
    const lastHashes: string[] = [];
    // A command's events land on several streams: its context is written out once.
    const texts: ContextTexts = new Map();
    for (const request of requests) {
      const head = headOf(request.stream);
      let revision = head === undefined ? 0 : head.revision + 1;
      const sealed = sealEvents(head?.lastHash ?? genesisHash, request.events, context, texts);
      for (const event of sealed) {
        columns.ids.push(event.id);
        columns.streams.push(request.stream);
        columns.revisions.push(revision++);
        columns.types.push(event.type);
        columns.data.push(event.dataJson);
        columns.metadata.push(event.metadataJson);
      }
      streams.push({ stream: request.stream, revision: revision - 1 });
      lastHashes.push(sealed.at(-1)?.metadata.hash ?? "");
    }
    return { columns, streams, lastHashes };
  }

  private async insert(
    db: pg.Pool | pg.PoolClient,
    { columns }: SealedAppend,
  ): Promise<{ transaction_id: string; position: string }> {
    // Named: each connection parses and plans it once, not on every append.
    const written = await db.query<{ transaction_id: string; position: string }>({
      name: "nova_append_events",
      text: insertEventsSql,
      values: [
        columns.ids.join(","),
        columns.streams.join(","),
        columns.revisions.join(","),
        columns.types,
        columns.data.join("\n"),
        columns.metadata.join("\n"),
      ],
    });
    const commit = written.rows[0];
    if (commit?.position == null) throw new Error("append wrote no events");
    return commit;
  }

  /** After a commit: remember the new heads, wake subscribers, answer. */
  private appended(
    sealed: SealedAppend,
    commit: { transaction_id: string; position: string },
  ): AppendResult {
    sealed.streams.forEach(({ stream, revision }, index) => {
      this.remember(stream, revision, sealed.lastHashes[index] ?? "");
    });
    this.options.listener?.announce();
    return {
      position: { commit: BigInt(commit.transaction_id), prepare: BigInt(commit.position) },
      streams: sealed.streams,
    };
  }

  private remember(stream: string, revision: number, lastHash: string): void {
    const known = this.heads.peek(stream);
    if (known === undefined || known.revision < revision)
      this.heads.set(stream, { revision, lastHash });
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    assertStreamName(stream);
    const limit = boundLimit(options.limit);
    const backwards = options.direction === "backwards";
    const fromRevision = options.fromRevision ?? (backwards ? Number.MAX_SAFE_INTEGER : 0);
    const sql = backwards
      ? `SELECT ${eventColumns}, data, metadata FROM events
          WHERE stream = $1 AND revision <= $2 ORDER BY revision DESC LIMIT $3`
      : `SELECT ${eventColumns}, data, metadata FROM events
          WHERE stream = $1 AND revision >= $2 ORDER BY revision LIMIT $3`;
    const result = await this.query<EventRow>(sql, [stream, fromRevision, limit]);
    const events = result.rows.map(toRecordedEvent);
    const newest = backwards ? events[0] : events.at(-1);
    // An edited event's metadata may be anything: remember only a hash that is one.
    const hash: unknown = newest?.metadata?.hash;
    if (newest !== undefined && typeof hash === "string")
      this.remember(stream, newest.revision, hash);
    return events;
  }

  async readAll(options: ReadAllOptions = {}): Promise<ReadAllResult> {
    const from = options.fromPosition ?? { commit: 0n, prepare: 0n };
    const limit = boundLimit(options.limit);
    const { sql, filterParams } = readAllQuery(options.filter);
    const result = await this.query<EventRow & { matched: boolean }>(sql, [
      from.commit.toString(),
      from.prepare.toString(),
      limit,
      ...filterParams,
    ]);
    const last = result.rows.at(-1);
    if (last === undefined) return { events: [] };
    const events = result.rows.filter((row) => row.matched).map(toRecordedEvent);
    return { events, lastPosition: rowPosition(last) };
  }

  /**
   * The global log after `from` as readAll reads it, each event as the text of its columns, for
   * a reader that parses only what it needs (the audit: a whole log, where parsing every
   * jsonb, a Date and two bigints per event is most of the cost). Unlike readAll, a page may
   * end inside a commit.
   */
  async readAllText(from: LogPosition | undefined, limit: number): Promise<EventText[]> {
    try {
      const result = await this.pool.query<string[]>({
        text: readAllTextSql,
        values: [
          from?.commit.toString() ?? "0",
          from?.prepare.toString() ?? "0",
          boundLimit(limit),
        ],
        rowMode: "array",
        types: textTypes,
      });
      return result.rows as unknown as EventText[];
    } catch (error) {
      throw translateError(error);
    }
  }

  subscribe(options: SubscribeOptions, handler: SubscriptionHandler): Subscription {
    const batchSizeMax = options.batchSizeMax ?? subscriptionBatchSizeDefault;
    return runSubscription({
      read: (fromPosition) =>
        this.readAll({
          ...(fromPosition === undefined ? {} : { fromPosition }),
          limit: batchSizeMax,
          ...(options.filter === undefined ? {} : { filter: options.filter }),
        }),
      ...(options.fromPosition === undefined ? {} : { fromPosition: options.fromPosition }),
      ...(this.options.listener === undefined ? {} : { listener: this.options.listener }),
      pollIntervalMs: this.pollIntervalMs,
      handler,
    });
  }

  async commitPositionOf(position: LogPosition): Promise<LogPosition> {
    const { rows } = await this.query<{ position: string | null }>(
      "SELECT max(position)::text AS position FROM events WHERE transaction_id = $1::text::xid8",
      [position.commit.toString()],
    );
    const last = rows[0]?.position;
    return last == null ? position : { commit: position.commit, prepare: BigInt(last) };
  }

  async ping(): Promise<void> {
    await this.query("SELECT 1 FROM events LIMIT 1", []);
  }

  /** The pool and the listener belong to the caller, who closes them. */
  async close(): Promise<void> {}

  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (error) {
      throw new EventStoreUnavailable("cannot connect to the Postgres event store", {
        cause: error,
      });
    }
  }

  private async query<Row extends pg.QueryResultRow>(
    sql: string,
    params: unknown[],
  ): Promise<pg.QueryResult<Row>> {
    try {
      return await this.pool.query<Row>(sql, params);
    } catch (error) {
      throw translateError(error);
    }
  }
}

/** The events of an append, column by column, in request order. */
interface InsertColumns {
  readonly ids: string[];
  readonly streams: string[];
  readonly revisions: number[];
  readonly types: string[];
  /** Canonical JSON of each event's data. */
  readonly data: string[];
  readonly metadata: string[];
}

interface SealedAppend {
  readonly columns: InsertColumns;
  readonly streams: readonly StreamAppendResult[];
  /** The hash of each stream's last new event, in the order of `streams`. */
  readonly lastHashes: readonly string[];
}

/**
 * An append this store sealed ahead: its events until they are written (once: what they hold
 * is let go then, not kept for as long as the caller keeps this), and each stream's head they
 * chain on and leave.
 */
class SealedAhead implements PreparedAppend {
  private sealed: SealedAppend | undefined;
  private tails: Map<string, StreamHead> | undefined;

  constructor(
    readonly store: PostgresEventStore,
    readonly requests: readonly StreamAppend[],
    readonly context: AppendContext,
    sealed: SealedAppend,
    readonly sealedOn: ReadonlyMap<string, StreamHead | undefined>,
  ) {
    this.sealed = sealed;
  }

  /** The stream's head once this is written, if it writes the stream. */
  tailOf(stream: string): StreamHead | undefined {
    return this.tailsOf().get(stream);
  }

  /** The sealed events, to be written: only once. */
  take(): SealedAppend {
    const { sealed } = this;
    if (sealed === undefined) throw new Error("a prepared append is written only once");
    this.tailsOf();
    this.sealed = undefined;
    return sealed;
  }

  /** Built when first asked for (or when taken), from the sealed events. */
  private tailsOf(): ReadonlyMap<string, StreamHead> {
    if (this.tails === undefined) {
      const { streams, lastHashes } = this.sealed ?? { streams: [], lastHashes: [] };
      this.tails = new Map(
        streams.map(({ stream, revision }, index) => [
          stream,
          { revision, lastHash: lastHashes[index] ?? "" },
        ]),
      );
    }
    return this.tails;
  }
}

/** The head the last of `after` (sealed by `store`) to write `stream` leaves it at. */
function tailIn(
  store: PostgresEventStore,
  after: readonly PreparedAppend[],
  stream: string,
): StreamHead | undefined {
  for (let index = after.length - 1; index >= 0; index--) {
    const prepared = after[index];
    const ours = prepared instanceof SealedAhead && prepared.store === store;
    const tail = ours ? prepared.tailOf(stream) : undefined;
    if (tail !== undefined) return tail;
  }
  return undefined;
}

/** A unique (stream, revision) taken by another writer, or two writers crossing. */
function isWriteConflict(error: unknown): boolean {
  const code = typeof error === "object" && error !== null && "code" in error ? error.code : "";
  return code === "23505" || code === "40P01";
}

/** What a write conflict that outlasted every attempt tells the caller. */
function conflictRefusal(error: unknown, requests: readonly StreamAppend[]): WrongExpectedRevision {
  // 23505 says which: `Key (stream, revision)=(account-…, 9) already exists.`
  const detail = (error as { detail?: unknown }).detail;
  const taken =
    typeof detail === "string" ? /\(stream, revision\)=\(([^,]+), (\d+)\)/.exec(detail) : null;
  const request = requests.find((r) => r.stream === taken?.[1]) ?? requests[0];
  if (request === undefined) throw new Error("an append has at least one stream");
  const actual = taken?.[2] === undefined ? "no_stream" : Number(taken[2]);
  return new WrongExpectedRevision(request.stream, request.expected, actual);
}

/**
 * One statement writes the events in request order (ORDER BY ordinality fixes their
 * positions) and returns the commit's position: the xid and the highest position.
 * Columns come as separated text, which costs far less to send and split than an array of
 * JSON documents: ids, streams (names are [A-Za-z0-9_.:@-]) and revisions by commas, data
 * and metadata by newlines (JSON text never holds a raw newline). Types, free text, as an
 * array. Subscribers are woken after the commit (listener.ts).
 */
export const insertEventsSql = `
WITH inserted AS (
  INSERT INTO events (id, stream, revision, type, data, metadata)
  SELECT id::uuid, stream, revision::bigint, type, data::jsonb, metadata::jsonb
    FROM ROWS FROM (
           string_to_table($1::text, ','), string_to_table($2::text, ','),
           string_to_table($3::text, ','), unnest($4::text[]),
           string_to_table($5::text, E'\\n'), string_to_table($6::text, E'\\n')
         ) WITH ORDINALITY AS input(id, stream, revision, type, data, metadata, ordinality)
   ORDER BY ordinality
  RETURNING position
)
SELECT pg_current_xact_id()::text AS transaction_id, max(position)::text AS position
  FROM inserted`;

async function lockStreams(
  client: pg.PoolClient,
  streams: readonly string[],
): Promise<Map<string, StreamHead>> {
  const result = await client.query<{ name: string; revision: string; last_hash: string }>(
    "SELECT name, revision, last_hash FROM lock_streams($1::text[])",
    [streams],
  );
  return new Map(
    result.rows.map((row) => [
      row.name,
      { revision: Number(row.revision), lastHash: row.last_hash },
    ]),
  );
}

/**
 * The events strictly after ($1, $2) in the global order, only where no transaction can still
 * commit (below the oldest running xid): what every reader of the global log may see.
 */
const afterPositionCommitted = `(events.transaction_id, events.position) > ($1::text::xid8, $2::bigint)
         AND events.transaction_id < pg_snapshot_xmin(pg_current_snapshot())`;

/**
 * The page of `readAllText`: readAll's order and visibility, every column as the text the
 * server prints it (the jsonb columns are not parsed here).
 */
const readAllTextSql = `
  SELECT transaction_id, position, id, stream, revision, type, data, metadata
    FROM events
   WHERE ${afterPositionCommitted}
   ORDER BY events.transaction_id, events.position
   LIMIT $3`;

/** Every column as the text Postgres sent. */
const textTypes = { getTypeParser: () => (text: string) => text };

/**
 * Reads the global log strictly after ($1, $2), only where no transaction can still commit
 * (below the oldest running xid). With a filter, every row of the page is still scanned, so the
 * reader's position moves past events it does not want; only matching rows carry their data.
 */
function readAllQuery(filter: EventFilter | undefined): { sql: string; filterParams: unknown[] } {
  const types = filter?.eventTypes ?? [];
  const prefixes = filter?.streamPrefixes ?? [];
  const filtered = types.length > 0 || prefixes.length > 0;
  const matched = filtered
    ? `(type = ANY ($4::text[]) OR EXISTS (
         SELECT 1 FROM unnest($5::text[]) AS prefix WHERE starts_with(stream, prefix)))`
    : "true";
  // ORDER BY names events.transaction_id: the bare name would be the text output column,
  // which sorts "999" after "1000".
  // A page never ends inside a commit: the rest of the last commit's events come with it, so
  // a consumer sees each append whole (projections re-check double entry per commit).
  // One pass: the page's rows are read with their columns (not as keys joined back to the
  // table, which cost a second index probe and heap visit per event).
  const sql = `
    WITH page AS (
      SELECT events.transaction_id, events.position, id, stream, revision, type, recorded_at,
             data, metadata
        FROM events
       WHERE ${afterPositionCommitted}
       ORDER BY events.transaction_id, events.position
       LIMIT $3
    ), last_commit AS (
      SELECT transaction_id AS xid, max(position) AS pos FROM page
       WHERE transaction_id = (SELECT max(transaction_id) FROM page) GROUP BY transaction_id
    ), found AS (
      SELECT * FROM page
      UNION ALL
      SELECT e.transaction_id, e.position, e.id, e.stream, e.revision, e.type, e.recorded_at,
             e.data, e.metadata
        FROM events e, last_commit l
       WHERE e.transaction_id = l.xid AND e.position > l.pos
    )
    SELECT ${eventColumns}, m.matched,
           CASE WHEN m.matched THEN data END AS data,
           CASE WHEN m.matched THEN metadata END AS metadata
      FROM found AS events, LATERAL (SELECT ${matched} AS matched) AS m
     ORDER BY events.transaction_id, events.position`;
  return { sql, filterParams: filtered ? [types, prefixes] : [] };
}

function rowPosition(row: EventRow): LogPosition {
  return { commit: BigInt(row.transaction_id), prepare: BigInt(row.position) };
}

/**
 * Only rows read with their data come here (readAll leaves out the rows its filter did not
 * match). A null is then the JSON null stored in the column: never written by an append (data
 * and metadata are objects), but an edited event must still read back as it is, for the audit
 * to report it rather than fail on it.
 */
function toRecordedEvent(row: EventRow): RecordedEvent {
  return {
    id: row.id,
    stream: row.stream,
    revision: Number(row.revision),
    position: rowPosition(row),
    type: row.type,
    data: row.data as JsonObject,
    metadata: row.metadata as EventMetadata,
    recordedAt: row.recorded_at,
  };
}

/** Postgres SQLSTATEs that mean the data itself cannot be stored (e.g. \u0000 in jsonb). */
const unstorableDataCodes = new Set(["22P05", "22021", "22P02"]);
const connectionErrorCodes = new Set(["57P01", "57P02", "57P03", "08000", "08003", "08006"]);

function translateError(error: unknown): unknown {
  if (error instanceof WrongExpectedRevision || error instanceof InvalidAppend) return error;
  const code = typeof error === "object" && error !== null && "code" in error ? error.code : "";
  if (typeof code !== "string") return error;
  if (unstorableDataCodes.has(code)) {
    return new InvalidAppend(`event data cannot be stored: ${(error as Error).message}`);
  }
  if (connectionErrorCodes.has(code) || code === "ECONNREFUSED" || code === "ECONNRESET") {
    return new EventStoreUnavailable("the Postgres event store is unavailable", { cause: error });
  }
  return error;
}
