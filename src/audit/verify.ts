/**
 * `nova audit verify`: replays the event store (never trusting the read models) and compares.
 *
 * 1. Opens a read-only snapshot of the read models with the projection's checkpoint
 *    (read-model.ts), and starts reading every account's balance and entry digests from it.
 * 2. Meanwhile reads the whole log page after page (the next page is fetched while the
 *    current one is checked): from the Postgres event store as text rows that the audit parses
 *    itself (log-rows.ts), from any other store with `readAll`. Folds it in LedgerReplay:
 *    balances, double entry, legs ↔ entries; the hash chains are checked by ChainCheck, with
 *    `chainWorker` on a worker thread that is handed each page (chain.ts).
 * 3. Compares each account with its read-model row and entries: balances exactly, entries by
 *    (count, Σ digest), and accounts whose entries differ row by row, so each discrepancy
 *    names the stream and revision.
 *
 * With `stream`, only that stream is read (readStream): its chain, and for an account its
 * balance and entries, for a posting its double entry and its legs in ledger_entries.
 */
import type pg from "pg";
import { streamPrefixes } from "../domain/streams.js";
import {
  comparePositions,
  type EventStore,
  formatPosition,
  type JsonObject,
  type LogPosition,
  type RecordedEvent,
  readLimitMax,
} from "../eventstore/port.js";
import { PostgresEventStore } from "../eventstore/postgres/postgres-event-store.js";
import { ChainCheck, ChainWorker, chainEventOfRow, mergeChainSummary } from "./chain.js";
import { type Discrepancy, DiscrepancyLog } from "./discrepancies.js";
import { type EntryFields, entryText } from "./entry-digest.js";
import { type LogRow, logColumn, PostgresLogReader, positionAfter } from "./log-rows.js";
import { microsDecimal, parseMicros } from "./micros.js";
import { moneyText } from "./money-text.js";
import {
  type BalanceRow,
  type EntryAggregate,
  type EntryRow,
  ReadModelSnapshot,
} from "./read-model.js";
import {
  type AccountReplay,
  entryFields,
  entryOf,
  LedgerReplay,
  type Leg,
  legsOf,
  replayReadsData,
} from "./replay.js";

/**
 * Accounts whose entries are compared row by row when their digests differ; past this the
 * report names the account only (READ_MODEL_ENTRIES), keeping a badly broken read model's
 * verification bounded.
 */
export const accountsComparedRowByRowMax = 100;

/**
 * Events per read by default. Smaller pages than the store's readLimitMax cost a query each
 * (an index range scan: a fraction of a millisecond) but keep less of the log alive while a
 * page is replayed, which the garbage collector would otherwise copy from one generation to
 * the next: 2,000 measured ~15 % less CPU per event than 10,000 (bench/README.md).
 */
export const pageSizeDefault = 2_000;

export interface VerifyOptions {
  /**
   * The whole log of a PostgresEventStore is read as text rows (log-rows.ts); any other
   * store's with `readAll`.
   */
  readonly store: Pick<EventStore, "readAll" | "readStream">;
  /** The database of the read models. */
  readonly pool: pg.Pool;
  /** Verify this stream only. */
  readonly stream?: string | undefined;
  /** Events per read (pageSizeDefault); at most the store's readLimitMax. */
  readonly pageSize?: number;
  /** Called after each page with the events read so far. */
  readonly onProgress?: (eventsRead: number) => void;
  /**
   * Check the hash chains of a whole-log verification on a worker thread, i.e. on a second
   * core: what the CLI does. Off by default, where a short verification would mostly pay for
   * starting the thread.
   */
  readonly chainWorker?: boolean;
}

export interface VerifyReport {
  readonly ok: boolean;
  /** The stream verified, or null for the whole store. */
  readonly stream: string | null;
  readonly eventsRead: number;
  readonly streams: number;
  readonly accounts: number;
  readonly postings: number;
  readonly entries: number;
  /** The projection checkpoint the read models were compared at; null: nothing projected. */
  readonly comparedAt: string | null;
  /** Events past the checkpoint: chain-checked, not yet in the read models. */
  readonly eventsNotProjected: number;
  readonly discrepancyCount: number;
  /** The first discrepanciesKeptMax of them. */
  readonly discrepancies: readonly Discrepancy[];
  readonly durationMs: number;
  readonly eventsPerSecond: number;
}

export async function verifyLedger(options: VerifyOptions): Promise<VerifyReport> {
  const startedMs = performance.now();
  const pageSize = options.pageSize ?? pageSizeDefault;
  if (!(Number.isSafeInteger(pageSize) && pageSize > 0 && pageSize <= readLimitMax)) {
    throw new RangeError(`pageSize must be 1..${readLimitMax}, got ${pageSize}`);
  }
  const log = new DiscrepancyLog();
  const snapshot = await ReadModelSnapshot.open(options.pool);
  let replay: Replayed;
  try {
    const audit = new Audit(options, pageSize, snapshot, log);
    replay =
      options.stream === undefined
        ? await audit.verifyAll()
        : await audit.verifyStream(options.stream);
  } catch (error) {
    await snapshot.abandon();
    throw error;
  }
  await snapshot.close();
  const durationMs = performance.now() - startedMs;
  return {
    ok: log.count === 0,
    stream: options.stream ?? null,
    eventsRead: replay.ledger.eventsRead,
    streams: replay.streams,
    accounts: replay.ledger.accounts.size,
    postings: replay.ledger.postings,
    entries: replay.ledger.entries,
    comparedAt: snapshot.checkpoint === undefined ? null : formatPosition(snapshot.checkpoint),
    eventsNotProjected: replay.ledger.eventsNotProjected,
    discrepancyCount: log.count,
    discrepancies: log.kept,
    durationMs: Math.round(durationMs),
    eventsPerSecond: Math.round(replay.ledger.eventsRead / Math.max(durationMs / 1_000, 1e-3)),
  };
}

/** The replay and the number of streams its chain check saw. */
interface Replayed {
  readonly ledger: LedgerReplay;
  readonly streams: number;
}

interface ReadModelAccounts {
  readonly balances: readonly BalanceRow[];
  readonly aggregates: readonly EntryAggregate[];
}

/** Where the log's hash chains are checked: here, or on the chain worker. */
type Chains =
  | { readonly check: ChainCheck; readonly worker?: undefined }
  | { readonly worker: ChainWorker; readonly check?: undefined };

/** The data of a row the replay does not fold and no chain check here needs: left unparsed. */
const unparsedData: JsonObject = Object.freeze({});

class Audit {
  constructor(
    private readonly options: VerifyOptions,
    private readonly pageSize: number,
    private readonly snapshot: ReadModelSnapshot,
    private readonly log: DiscrepancyLog,
  ) {}

  async verifyAll(): Promise<Replayed> {
    if (this.options.chainWorker !== true) {
      const check = new ChainCheck(this.log);
      const ledger = await this.verifyLog({ check });
      return { ledger, streams: check.streams };
    }
    const worker = ChainWorker.start();
    try {
      const ledger = await this.verifyLog({ worker });
      const summary = await worker.finish();
      mergeChainSummary(this.log, summary);
      return { ledger, streams: summary.streams };
    } finally {
      await worker.stop();
    }
  }

  /** The log replayed, its chains checked, and the accounts compared with the read models. */
  private async verifyLog(chains: Chains): Promise<LedgerReplay> {
    const replay = new LedgerReplay(this.log, { matchLegs: true });
    // The read models are read on the snapshot's connection while the log is read on others.
    const readModel = this.readModelAccounts();
    readModel.catch(() => undefined);
    if (this.options.store instanceof PostgresEventStore) {
      const reader = new PostgresLogReader(
        this.options.store,
        this.snapshot.checkpoint,
        this.pageSize,
      );
      await this.replayRows(reader, replay, chains);
    } else {
      await this.replayEvents(replay, chains);
    }
    replay.finish();
    await this.compareAccounts(replay, await readModel);
    return replay;
  }

  async verifyStream(stream: string): Promise<Replayed> {
    const chains = new ChainCheck(this.log);
    const replay = new LedgerReplay(this.log, { matchLegs: false });
    let recorded: RecordedEvent | undefined;
    await this.forEachStreamPage(stream, (events) => {
      for (const event of events) {
        chains.apply(event);
        replay.apply(event, this.isProjected(event.position));
        if (event.type === "PostingRecorded" && recorded === undefined) recorded = event;
      }
      this.options.onProgress?.(replay.eventsRead);
    });
    if (stream.startsWith(streamPrefixes.account)) {
      const accountId = stream.slice(streamPrefixes.account.length);
      await this.compareAccounts(replay, await this.readModelAccounts(accountId));
    } else if (recorded !== undefined && this.isProjected(recorded.position)) {
      await this.comparePostingLegs(recorded);
    }
    return { ledger: replay, streams: chains.streams };
  }

  private async readModelAccounts(accountId?: string): Promise<ReadModelAccounts> {
    const balances = await this.snapshot.balances(accountId);
    const aggregates = await this.snapshot.entryAggregates(accountId);
    return { balances, aggregates };
  }

  /** The Postgres log as text rows; the next page is on its way while this one is checked. */
  private async replayRows(
    reader: PostgresLogReader,
    replay: LedgerReplay,
    chains: Chains,
  ): Promise<void> {
    let next = reader.page();
    for (;;) {
      const rows = await next;
      const after = positionAfter(rows);
      if (after === undefined) return;
      next = reader.page(after);
      next.catch(() => undefined);
      await chains.worker?.sendRows(rows);
      const projected = reader.projectedCount(rows);
      rows.forEach((row, index) => {
        replayRow(row, index < projected, replay, chains.check);
      });
      this.options.onProgress?.(replay.eventsRead);
    }
  }

  /** Any store's log with `readAll`; the next page is on its way while this one is checked. */
  private async replayEvents(replay: LedgerReplay, chains: Chains): Promise<void> {
    const { store } = this.options;
    let next = store.readAll({ limit: this.pageSize });
    for (;;) {
      const page = await next;
      if (page.lastPosition === undefined) return;
      next = store.readAll({ fromPosition: page.lastPosition, limit: this.pageSize });
      next.catch(() => undefined);
      const events = page.events.filter(isLedgerEvent);
      await chains.worker?.send(events);
      for (const event of events) {
        chains.check?.apply(event);
        replay.apply(event, this.isProjected(event.position));
      }
      this.options.onProgress?.(replay.eventsRead);
    }
  }

  private async forEachStreamPage(
    stream: string,
    handle: (events: readonly RecordedEvent[]) => void,
  ): Promise<void> {
    for (let fromRevision = 0; ; ) {
      const events = await this.options.store.readStream(stream, {
        fromRevision,
        limit: this.pageSize,
      });
      handle(events);
      const last = events.at(-1);
      if (last === undefined || events.length < this.pageSize) return;
      fromRevision = last.revision + 1;
    }
  }

  private isProjected(position: LogPosition): boolean {
    const checkpoint = this.snapshot.checkpoint;
    return checkpoint !== undefined && comparePositions(position, checkpoint) <= 0;
  }

  /** Balances exactly; entries by digest, then row by row where they differ. */
  private async compareAccounts(replay: LedgerReplay, readModel: ReadModelAccounts) {
    const balances = new Map(readModel.balances.map((row) => [row.accountId, row.posted]));
    const aggregates = new Map(readModel.aggregates.map((row) => [row.accountId, row]));
    const differing: string[] = [];
    for (const account of replay.accounts.values()) {
      this.compareBalance(account, balances.get(account.accountId));
      if (!sameEntries(account, aggregates.get(account.accountId))) {
        differing.push(account.accountId);
      }
    }
    for (const [accountId, posted] of balances) {
      if (!replay.accounts.has(accountId)) this.reportUnknownAccount(accountId, posted);
    }
    for (const accountId of aggregates.keys()) {
      if (!replay.accounts.has(accountId)) differing.push(accountId);
    }
    for (const [index, accountId] of differing.entries()) {
      if (index < accountsComparedRowByRowMax) await this.compareEntries(accountId);
      else this.reportEntriesDiffer(accountId, replay.accounts.get(accountId), aggregates);
    }
  }

  private reportUnknownAccount(accountId: string, posted: string): void {
    this.log.add({
      kind: "READ_MODEL_ACCOUNT",
      stream: `${streamPrefixes.account}${accountId}`,
      revision: null,
      expected: "no account: the events never opened it",
      found: `an account_balances row, posted ${posted}`,
      message: "the read models hold an account the event store does not",
    });
  }

  private compareBalance(account: AccountReplay, posted: string | undefined): void {
    if (!account.projected) {
      if (posted === undefined) return;
      this.log.add({
        kind: "READ_MODEL_ACCOUNT",
        stream: account.stream,
        revision: 0,
        expected: "no row yet: the account was opened after the checkpoint",
        found: `an account_balances row, posted ${posted}`,
        message: "the read models are ahead of their own checkpoint",
      });
      return;
    }
    if (posted === undefined) {
      this.log.add({
        kind: "READ_MODEL_ACCOUNT",
        stream: account.stream,
        revision: 0,
        expected: "an account_balances row",
        found: "none",
        message: "an account the events opened is missing from the read models",
      });
      return;
    }
    const found = parseMicros(posted);
    if (found === account.projectedPosted) return;
    this.log.add({
      kind: "READ_MODEL_BALANCE",
      stream: account.stream,
      revision: account.projectedLastRevision,
      expected: moneyText(microsDecimal(account.projectedPosted), account.currency),
      found: found === undefined ? posted : moneyText(microsDecimal(found), account.currency),
      message: "account_balances.posted is not the balance the entries add up to",
    });
  }

  /** The account's EntryPosted events up to the checkpoint against its ledger_entries rows. */
  private async compareEntries(accountId: string): Promise<void> {
    const stream = `${streamPrefixes.account}${accountId}`;
    const rows = new Map(
      (await this.snapshot.entriesOfAccount(accountId)).map((row) => [row.accountRevision, row]),
    );
    await this.forEachStreamPage(stream, (events) => {
      for (const event of events) {
        if (event.type !== "EntryPosted" || !this.isProjected(event.position)) continue;
        const entry = entryOf(event);
        if (entry === undefined) continue; // reported by the replay as MALFORMED_EVENT
        const expected = entryFields(event.revision, entry);
        const row = rows.get(event.revision);
        rows.delete(event.revision);
        this.compareEntry(stream, event.revision, expected, row);
      }
    });
    for (const row of rows.values()) {
      this.log.add({
        kind: "READ_MODEL_ENTRY_UNKNOWN",
        stream,
        revision: row.accountRevision,
        expected: "no entry: no EntryPosted at this revision",
        found: describeEntry(rowFields(row)),
        message: "a ledger_entries row has no event behind it",
      });
    }
  }

  private compareEntry(
    stream: string,
    revision: number,
    expected: EntryFields,
    row: EntryRow | undefined,
  ): void {
    if (row === undefined) {
      this.log.add({
        kind: "READ_MODEL_ENTRY_MISSING",
        stream,
        revision,
        expected: describeEntry(expected),
        found: "no ledger_entries row",
        message: "an entry the events posted is missing from the read models",
      });
      return;
    }
    const found = rowFields(row);
    if (entryText(found) === entryText(expected)) return;
    this.log.add({
      kind: "READ_MODEL_ENTRY_DIFFERS",
      stream,
      revision,
      expected: describeEntry(expected),
      found: describeEntry(found),
      message: "the ledger_entries row differs from its EntryPosted",
    });
  }

  private reportEntriesDiffer(
    accountId: string,
    account: AccountReplay | undefined,
    aggregates: ReadonlyMap<string, EntryAggregate>,
  ): void {
    const found = aggregates.get(accountId)?.count ?? 0;
    this.log.add({
      kind: "READ_MODEL_ENTRIES",
      stream: `${streamPrefixes.account}${accountId}`,
      revision: account?.projectedLastRevision ?? null,
      expected: `${account?.projectedEntries ?? 0} entries with the events' content`,
      found: `${found} entries, or other content`,
      message: `entries differ; not compared row by row (over ${accountsComparedRowByRowMax} accounts differ)`,
    });
  }

  /** A posting's legs (its PostingRecorded) against its rows in ledger_entries. */
  private async comparePostingLegs(recorded: RecordedEvent): Promise<void> {
    const legs = legsOf(recorded);
    if (legs === undefined) return; // reported by the replay as MALFORMED_EVENT
    const rows = await this.snapshot.entriesOfPosting(String(recorded.data.postingId));
    const unmatched = new Map<string, number>();
    for (const row of rows) {
      const key = legKey(row.accountId, row.side, parseMicros(row.amount) ?? 0n, row.currency);
      unmatched.set(key, (unmatched.get(key) ?? 0) + 1);
    }
    for (const leg of legs) {
      const key = legKey(leg.accountId, leg.side, leg.amount, leg.currency);
      const count = unmatched.get(key) ?? 0;
      if (count > 0) {
        unmatched.set(key, count - 1);
        continue;
      }
      this.reportLeg(
        "READ_MODEL_ENTRY_MISSING",
        recorded,
        describeLeg(leg),
        "no ledger_entries row",
      );
    }
    for (const [key, count] of unmatched) {
      for (let index = 0; index < count; index++) {
        this.reportLeg("READ_MODEL_ENTRY_UNKNOWN", recorded, "no such leg", key);
      }
    }
  }

  private reportLeg(
    kind: "READ_MODEL_ENTRY_MISSING" | "READ_MODEL_ENTRY_UNKNOWN",
    recorded: RecordedEvent,
    expected: string,
    found: string,
  ): void {
    this.log.add({
      kind,
      stream: recorded.stream,
      revision: recorded.revision,
      expected,
      found,
      message:
        kind === "READ_MODEL_ENTRY_MISSING"
          ? "a leg of the posting is missing from ledger_entries"
          : "ledger_entries holds a leg the posting does not have",
    });
  }
}

/**
 * One row into the replay, and into the chain check when it runs here. Its data is parsed once
 * for both, and not at all when neither reads it (the worker parses its own copy).
 */
function replayRow(
  row: LogRow,
  projected: boolean,
  replay: LedgerReplay,
  check: ChainCheck | undefined,
): void {
  const stream = row[logColumn.stream];
  const type = row[logColumn.type];
  const data =
    check !== undefined || replayReadsData(type, stream)
      ? (JSON.parse(row[logColumn.data]) as JsonObject)
      : unparsedData;
  check?.apply(chainEventOfRow(row, data));
  const revision = Number(row[logColumn.revision]);
  replay.apply({ stream, revision, type, data }, projected);
}

/**
 * KurrentDB's own system streams ("$…", e.g. $epoch-information) come with its log and carry
 * no hash chain; a Nova stream name starts with a letter or digit (eventstore/validation.ts).
 */
function isLedgerEvent(event: RecordedEvent): boolean {
  return !event.stream.startsWith("$");
}

/** Equal counts and Σ digests; an account with neither entries nor a row matches trivially. */
function sameEntries(account: AccountReplay, aggregate: EntryAggregate | undefined): boolean {
  const count = aggregate?.count ?? 0;
  const digest = aggregate?.digest ?? 0n;
  return count === account.projectedEntries && digest === account.projectedDigest;
}

function rowFields(row: EntryRow): EntryFields {
  return {
    postingId: row.postingId,
    accountRevision: row.accountRevision,
    side: row.side,
    amountMicros: parseMicros(row.amount) ?? 0n,
    currency: row.currency,
    balanceAfterMicros: parseMicros(row.balanceAfter) ?? 0n,
    postedAt: row.postedAt,
  };
}

function describeEntry(entry: EntryFields): string {
  const amount = moneyText(microsDecimal(entry.amountMicros), entry.currency);
  const balanceAfter = moneyText(microsDecimal(entry.balanceAfterMicros), entry.currency);
  return (
    `${entry.side} ${amount} of posting ${entry.postingId}, ` +
    `balance after ${balanceAfter}, posted ${entry.postedAt}`
  );
}

function describeLeg(leg: Leg): string {
  const amount = moneyText(microsDecimal(leg.amount), leg.currency);
  return `${leg.side} ${amount} on account ${leg.accountId}`;
}

function legKey(accountId: string, side: string, amountMicros: bigint, currency: string): string {
  return `${accountId} ${side} ${amountMicros} ${currency}`;
}
