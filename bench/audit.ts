/**
 * Audit throughput: events/s of `nova audit verify` (src/audit/verify.ts) over an event log of
 * `--postings` transfers between `--accounts` wallets, projected into the read models first so
 * the verification does all its work: every hash chain, every balance, every posting's double
 * entry, and the comparison with account_balances and ledger_entries.
 *
 * The log is written the way bench/projections.ts writes it: events from the domain's own
 * deciders, appended through the event store in large atomic multi-stream appends (hash chains
 * and expected revisions included), skipping only the pipeline's queueing.
 *
 * Napkin maths: a transfer is 3 events, so 100,000 postings are ~310,000 events with the
 * openings; at the 50,000 events/s target the verification takes ~6 s. Per event it parses
 * one JSON row, hashes one canonical JSON document (SHA-256) and, for an entry, one MD5 digest
 * and two decimal additions.
 *
 * Usage: npm run bench:audit -- [--postings N] [--accounts N] [--runs N] [--json]
 */
import { randomInt, randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { verifyLedger } from "../src/audit/verify.js";
import type { Actor } from "../src/commands/requests.js";
import { requestHash } from "../src/commands/requests.js";
import { type DomainEvent, evolveStream } from "../src/commands/streams.js";
import { migrate } from "../src/db/migrate.js";
import { createPool } from "../src/db/pool.js";
import {
  type AccountType,
  decideDefineAccountType,
} from "../src/domain/account-types/account-type.js";
import type { AccountState } from "../src/domain/accounts/account.js";
import { decideOpenAccount } from "../src/domain/accounts/decide.js";
import { isRejection } from "../src/domain/errors.js";
import { decideRecordPosting, type EntryRequest } from "../src/domain/postings/decide.js";
import { accountStream, accountTypeStream, postingStream } from "../src/domain/streams.js";
import type {
  AppendContext,
  EventStore,
  JsonObject,
  LogPosition,
  StreamAppend,
} from "../src/eventstore/port.js";
import { PostgresEventStore } from "../src/eventstore/postgres/postgres-event-store.js";
import { LedgerProjection } from "../src/projections/ledger-projection.js";
import { ProjectorRunner } from "../src/projections/runner.js";
import { openBenchDatabase } from "./support.js";

const poolSizeMax = 8;
const currency = "XCD";
const actor: Actor = { principal: "bench", correlationId: "bench" };
/** Postings per append while building the log (~3 events and ~3 streams each). */
const postingsPerAppend = 1_000;
const accountsPerAppend = 2_000;
/** How long the projector may take to catch up with the log before the bench gives up. */
const projectionWaitMsMax = 600_000;

interface Options {
  readonly postings: number;
  readonly accounts: number;
  readonly runs: number;
  readonly json: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      postings: { type: "string", default: "100000" },
      accounts: { type: "string", default: "10000" },
      runs: { type: "string", default: "3" },
      json: { type: "boolean", default: false },
    },
  });
  const positive = (name: string, text: string) => {
    const value = Number(text);
    if (!(Number.isSafeInteger(value) && value > 0)) {
      throw new Error(`--${name} must be a positive integer`);
    }
    return value;
  };
  const accounts = positive("accounts", values.accounts);
  if (accounts < 2) throw new Error("--accounts must be at least 2");
  return {
    postings: positive("postings", values.postings),
    accounts,
    runs: positive("runs", values.runs),
    json: values.json,
  };
}

async function main(): Promise<void> {
  const options = parseOptions();
  const progress = (line: string) => {
    if (!options.json) process.stderr.write(`${line}\n`);
  };
  // Durability does not change what a verification reads; "none" only builds the log faster.
  const database = await openBenchDatabase("none");
  const pool = createPool({ connectionString: database.connectionString, poolSizeMax });
  try {
    await migrate(database.connectionString);
    const store = new PostgresEventStore(pool);
    progress(`Postgres: ${database.origin}`);
    const log = new LogWriter(store);
    const wallets = await log.openWallets(options.accounts);
    await log.recordTransfers(wallets, options.postings, progress);
    progress(`log: ${log.eventsWritten} events written; projecting…`);
    await project(store, pool, log.lastPosition);
    await pool.query("VACUUM ANALYZE");
    const results: number[] = [];
    for (let run = 1; run <= options.runs; run++) {
      // As `nova audit verify` runs it: the hash chains on a worker thread.
      const cpuBefore = process.cpuUsage();
      const report = await verifyLedger({ store, pool, chainWorker: true });
      const cpu = process.cpuUsage(cpuBefore);
      if (!report.ok || report.eventsRead !== log.eventsWritten) {
        throw new Error(
          `run ${run}: verified ${report.eventsRead} of ${log.eventsWritten} events with ` +
            `${report.discrepancyCount} discrepancies; the bench's own ledger must verify clean`,
        );
      }
      results.push(report.eventsPerSecond);
      // CPU time of both threads per event: what the figure would be bound by on idle cores.
      const cpuMicrosPerEvent = (cpu.user + cpu.system) / report.eventsRead;
      progress(
        `run ${run}: ${report.eventsRead} events, ${report.accounts} accounts, ` +
          `${report.postings} postings in ${(report.durationMs / 1_000).toFixed(2)} s = ` +
          `${report.eventsPerSecond} events/s (${cpuMicrosPerEvent.toFixed(1)} µs CPU/event)`,
      );
    }
    const sorted = [...results].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
    const best = sorted.at(-1) ?? 0;
    if (options.json) {
      console.log(JSON.stringify({ events: log.eventsWritten, eventsPerSecond: median, best }));
      return;
    }
    console.log(
      `audit verify: ${log.eventsWritten} events, median ${median} events/s, best ${best} ` +
        `events/s over ${options.runs} run(s)`,
    );
  } finally {
    await pool.end();
    await database.close();
  }
}

/** Projects the whole log into the read models, as a running server would have. */
async function project(store: EventStore, pool: ReturnType<typeof createPool>, to: LogPosition) {
  const runner = new ProjectorRunner(store, pool, new LedgerProjection());
  await runner.start();
  try {
    if (!(await runner.waitFor(to, projectionWaitMsMax))) {
      throw new Error(`the projector did not reach the end of the log: ${runner.status().state}`);
    }
  } finally {
    await runner.stop();
  }
}

/** Writes domain events straight through the store, keeping every stream's state and revision. */
class LogWriter {
  eventsWritten = 0;
  lastPosition: LogPosition = { commit: 0n, prepare: 0n };
  private readonly states = new Map<string, unknown>();
  private readonly revisions = new Map<string, number>();

  constructor(private readonly store: EventStore) {}

  async openWallets(count: number): Promise<{ bank: string; wallets: string[] }> {
    const wallet = await this.defineType("WALLET", "CREDIT", false);
    const settlement = await this.defineType("SETTLEMENT", "DEBIT", true);
    const [bank] = await this.openAccounts(settlement, 1);
    if (bank === undefined) throw new Error("no settlement account");
    return { bank, wallets: await this.openAccounts(wallet, count) };
  }

  /** Funds every wallet once from the bank, then moves small amounts between random wallets. */
  async recordTransfers(
    accounts: { bank: string; wallets: string[] },
    postings: number,
    progress: (line: string) => void,
  ): Promise<void> {
    const { bank, wallets } = accounts;
    for (let start = 0; start < postings; start += postingsPerAppend) {
      const pending = new Pending();
      const now = new Date();
      for (let index = start; index < Math.min(postings, start + postingsPerAppend); index++) {
        const [from, to, value] =
          index < wallets.length
            ? [bank, wallets[index] ?? "", "1000.00"]
            : randomTransfer(wallets, Math.min(index, wallets.length));
        this.decidePosting(pending, from, to, value, now);
      }
      await this.append(pending.requests(), now);
      if ((start / postingsPerAppend) % 20 === 19)
        progress(`  ${start + postingsPerAppend} postings`);
    }
  }

  private decidePosting(pending: Pending, from: string, to: string, value: string, now: Date) {
    const entries: EntryRequest[] = [
      { accountId: from, side: "DEBIT", amount: { value, currency } },
      { accountId: to, side: "CREDIT", amount: { value, currency } },
    ];
    const postingId = randomUUID();
    const accounts = new Map<string, AccountState>(
      [from, to].map((id) => [id, this.states.get(accountStream(id)) as AccountState]),
    );
    const decision = decideRecordPosting(
      {
        postingId,
        entries,
        requestHash: requestHash("postings.create", { entries }),
        idempotent: false,
      },
      { posting: undefined, accounts, referenceTaken: false },
      now,
    );
    if (isRejection(decision) || decision.kind !== "accepted") {
      throw new Error(`the bench's own posting was refused: ${JSON.stringify(decision)}`);
    }
    for (const [id, events] of decision.postingEvents)
      this.stage(pending, postingStream(id), events);
    for (const [id, events] of decision.accountEvents)
      this.stage(pending, accountStream(id), events);
  }

  private async defineType(
    code: string,
    normalBalance: "DEBIT" | "CREDIT",
    allowNegative: boolean,
  ): Promise<AccountType> {
    const defined = decideDefineAccountType(
      { code, name: code, normalBalance, allowNegative },
      undefined,
      new Date(),
    );
    if (isRejection(defined)) throw new Error(defined.message);
    const pending = new Pending();
    this.stage(pending, accountTypeStream(code), [defined]);
    await this.append(pending.requests(), new Date());
    return defined.data;
  }

  private async openAccounts(type: AccountType, count: number): Promise<string[]> {
    const ids: string[] = [];
    for (let start = 0; start < count; start += accountsPerAppend) {
      const pending = new Pending();
      const now = new Date();
      for (let index = start; index < Math.min(count, start + accountsPerAppend); index++) {
        const accountId = randomUUID();
        const opened = decideOpenAccount({ accountId, currency }, undefined, type, now);
        if (isRejection(opened)) throw new Error(opened.message);
        this.stage(pending, accountStream(accountId), [opened]);
        ids.push(accountId);
      }
      await this.append(pending.requests(), now);
    }
    return ids;
  }

  /** Folds events into the stream's state at once, so the next decision sees them. */
  private stage(pending: Pending, stream: string, events: readonly DomainEvent[]): void {
    let state = this.states.get(stream);
    for (const event of events) state = evolveStream(stream, state, event);
    this.states.set(stream, state);
    pending.add(stream, this.revisions.get(stream), events);
  }

  private async append(requests: StreamAppend[], now: Date): Promise<void> {
    const context: AppendContext = { ...actor, correlationId: randomUUID(), occurredAt: now };
    const result = await this.store.appendMulti(requests, context);
    for (const written of result.streams) this.revisions.set(written.stream, written.revision);
    this.eventsWritten += requests.reduce((sum, request) => sum + request.events.length, 0);
    this.lastPosition = result.position;
  }
}

/** The events of one append, grouped by stream, each stream at the revision it was decided on. */
class Pending {
  private readonly byStream = new Map<
    string,
    { expected: number | "no_stream"; events: DomainEvent[] }
  >();

  add(stream: string, revision: number | undefined, events: readonly DomainEvent[]): void {
    const entry = this.byStream.get(stream) ?? { expected: revision ?? "no_stream", events: [] };
    entry.events.push(...events);
    this.byStream.set(stream, entry);
  }

  requests(): StreamAppend[] {
    return [...this.byStream].map(([stream, { expected, events }]) => ({
      stream,
      expected,
      events: events.map((event) => ({ type: event.type, data: event.data as JsonObject })),
    }));
  }
}

/** Two distinct wallets among the first `funded`, and a small amount. */
function randomTransfer(wallets: readonly string[], funded: number): [string, string, string] {
  const from = randomInt(funded);
  const to = (from + 1 + randomInt(funded - 1)) % funded;
  return [
    wallets[from] ?? "",
    wallets[to] ?? "",
    `0.${String(randomInt(1, 100)).padStart(2, "0")}`,
  ];
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
