/**
 * Append throughput of the Postgres event store: appends/s, events/s and latency for the two
 * shapes the ledger writes, each at concurrency 1 and 16.
 *
 * - `single`: one event to an account stream at its exact revision. Each worker owns its
 *   streams, so it never conflicts: this is the store's cost per commit.
 * - `multi2`: a posting-like atomic pair, a new `posting-<id>` stream ("no_stream", the
 *   idempotency guard) plus an account stream at the revision the decision was made on. The
 *   accounts are a shared pool, so two workers sometimes race on one: those are conflicts.
 *
 * Napkin maths: an append whose expectations match the heads the store remembers (every
 * `single` append after the first, every `multi2` whose account head is known) is one INSERT
 * in its own transaction: one round trip and, with durability "full", one WAL fsync; so at
 * concurrency 1 appends/s is about 1 / (round trip + fsync). Others take the locked way
 * (BEGIN, lock_streams, the insert, COMMIT). At concurrency 16 the round trips overlap and
 * group commit shares fsyncs, until the CPU (bench and server on the same cores) is the limit.
 *
 * Usage: npm run bench:eventstore -- [--seconds N] [--warmup-seconds N]
 *          [--durability full|none] [--json]
 */
import { createHash, randomBytes, randomInt, randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import type pg from "pg";
import { migrate } from "../src/db/migrate.js";
import { createPool } from "../src/db/pool.js";
import { WrongExpectedRevision } from "../src/eventstore/errors.js";
import type {
  AppendContext,
  AppendResult,
  EventStore,
  NewEvent,
  StreamAppend,
} from "../src/eventstore/port.js";
import { PostgresEventStore } from "../src/eventstore/postgres/postgres-event-store.js";
import { type Durability, LatencyRecorder, openBenchDatabase } from "./support.js";

const secondsDefault = 10;
const secondsMax = 3_600;
const warmupSecondsDefault = 2;
const concurrencies = [1, 16] as const;
/** Above the highest concurrency, so no worker ever waits for a connection. */
const poolSizeMax = 20;
/** Account streams each `single` worker cycles through (it alone appends to them). */
const accountsPerWorker = 8;
/** The shared account pool of `multi2`: at concurrency 16, ~1.5% of appends race. */
const sharedAccountCount = 1_000;
/** Streams opened per seeding append, well under the port's `appendEventsMax`. */
const seedStreamsPerAppendMax = 1_000;
/** Enough for every append of a 10 s run even with durability "none"; beyond, a reservoir. */
const latencySamplesMax = 500_000;
const currency = "KES";
const amountMinorMin = 100n;
const amountMinorMax = 5_000_000n;

type WorkloadName = "single" | "multi2";
type AttemptOutcome = "appended" | "conflict";
/** One append of a worker; each worker's attempt closes over that worker's own state. */
type Attempt = () => Promise<AttemptOutcome>;

interface Workload {
  readonly name: WorkloadName;
  readonly eventsPerAppend: number;
  /** Seeds the streams the workload appends to; returns one attempt per worker. */
  prepare(store: EventStore, concurrency: number): Promise<Attempt[]>;
}

const usage =
  "usage: npm run bench:eventstore -- [--seconds N] [--warmup-seconds N] " +
  "[--durability full|none] [--json]";

/** A mistake on the command line: reported as one line and the usage, not a stack. */
class UsageError extends Error {
  override readonly name = "UsageError";
}

interface Options {
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly durability: Durability;
  readonly durabilityGiven: boolean;
  readonly json: boolean;
}

interface PhaseResult {
  readonly appends: number;
  readonly conflicts: number;
  readonly elapsedMs: number;
  readonly latencies: LatencyRecorder;
}

interface WorkloadReport {
  readonly workload: WorkloadName;
  readonly concurrency: number;
  readonly appendsPerSecond: number;
  readonly eventsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly conflicts: number;
}

const workloads: readonly Workload[] = [
  { name: "single", eventsPerAppend: 1, prepare: prepareSingle },
  { name: "multi2", eventsPerAppend: 2, prepare: prepareMulti2 },
];

async function prepareSingle(store: EventStore, concurrency: number): Promise<Attempt[]> {
  const owned = Array.from({ length: concurrency }, () =>
    Array.from({ length: accountsPerWorker }, () => randomUUID()),
  );
  await openAccounts(store, owned.flat());
  return owned.map((accountIds) => {
    // AccountOpened is revision 0 of every stream; only this worker moves them on.
    const revisions = new Map(accountIds.map((accountId) => [accountId, 0]));
    let next = 0;
    return async () => {
      const accountId = itemAt(accountIds, next % accountIds.length);
      next += 1;
      const expected = revisionOf(revisions, accountId);
      const result = await appendOrConflict(store, [
        {
          stream: accountStream(accountId),
          expected,
          events: [entryPosted(randomUUID(), accountId)],
        },
      ]);
      if (result instanceof WrongExpectedRevision) {
        throw new Error(`stream ${result.stream} moved, but only its own worker appends to it`);
      }
      revisions.set(accountId, expected + 1);
      return "appended";
    };
  });
}

async function prepareMulti2(store: EventStore, concurrency: number): Promise<Attempt[]> {
  const accountIds = Array.from({ length: sharedAccountCount }, () => randomUUID());
  await openAccounts(store, accountIds);
  // What the workers last saw of each account: the "revision the decision was made on".
  const revisions = new Map(accountIds.map((accountId) => [accountId, 0]));
  const attempt: Attempt = async () => {
    const accountId = itemAt(accountIds, randomInt(accountIds.length));
    const expected = revisionOf(revisions, accountId);
    const postingId = randomUUID();
    const counterpartyId = itemAt(accountIds, randomInt(accountIds.length));
    const result = await appendOrConflict(store, [
      {
        stream: postingStream(postingId),
        expected: "no_stream",
        events: [postingRecorded(postingId, accountId, counterpartyId)],
      },
      {
        stream: accountStream(accountId),
        expected,
        events: [entryPosted(postingId, accountId)],
      },
    ]);
    // A conflicted posting is not retried (the next attempt picks another account): the count
    // is what the ledger's reload-and-decide-again would cost. Revisions only grow, so the
    // highest one seen is the freshest, whoever reported it.
    const seen = result instanceof WrongExpectedRevision ? result.actual : expected + 1;
    if (typeof seen !== "number") throw new Error(`account ${accountId} lost its stream`);
    revisions.set(accountId, Math.max(seen, revisionOf(revisions, accountId)));
    return result instanceof WrongExpectedRevision ? "conflict" : "appended";
  };
  return Array.from({ length: concurrency }, () => attempt);
}

/** A conflict is an outcome the ledger handles (reload, decide again); anything else fails. */
async function appendOrConflict(
  store: EventStore,
  requests: readonly StreamAppend[],
): Promise<AppendResult | WrongExpectedRevision> {
  try {
    const result = await store.appendMulti(requests, appendContext());
    assertRevisionsMoved(requests, result);
    return result;
  } catch (error) {
    if (error instanceof WrongExpectedRevision) return error;
    throw error;
  }
}

/** Proves the bench measures exact-revision appends: each stream moved by its events only. */
function assertRevisionsMoved(requests: readonly StreamAppend[], result: AppendResult): void {
  requests.forEach((request, index) => {
    const before = typeof request.expected === "number" ? request.expected : -1;
    const written = result.streams[index];
    if (written?.revision !== before + request.events.length) {
      throw new Error(`append to ${request.stream} landed at ${written?.revision}`);
    }
  });
}

/** Opens the accounts with few large appends: seeding is set-up, not what is measured. */
async function openAccounts(store: EventStore, accountIds: readonly string[]): Promise<void> {
  for (let start = 0; start < accountIds.length; start += seedStreamsPerAppendMax) {
    const batch = accountIds.slice(start, start + seedStreamsPerAppendMax);
    const requests = batch.map(
      (accountId): StreamAppend => ({
        stream: accountStream(accountId),
        expected: "no_stream",
        events: [accountOpened(accountId)],
      }),
    );
    await store.appendMulti(requests, appendContext());
  }
}

async function runPhase(
  attempts: readonly Attempt[],
  durationMs: number,
  interrupt: AbortSignal,
): Promise<PhaseResult> {
  const latencies = new LatencyRecorder(latencySamplesMax);
  let appends = 0;
  let conflicts = 0;
  let failed = false;
  const startMs = performance.now();
  const deadlineMs = startMs + durationMs;
  const work = async (attempt: Attempt) => {
    while (performance.now() < deadlineMs && !interrupt.aborted && !failed) {
      const attemptStartMs = performance.now();
      const outcome = await attempt();
      if (outcome === "conflict") {
        conflicts += 1;
        continue;
      }
      latencies.record(performance.now() - attemptStartMs);
      appends += 1;
    }
  };
  // Settle every worker before reporting a failure, so none is still appending on a pool that
  // the caller is about to end.
  const settled = await Promise.allSettled(
    attempts.map((attempt) =>
      work(attempt).catch((error: unknown) => {
        failed = true;
        throw error;
      }),
    ),
  );
  const rejected = settled.find((result) => result.status === "rejected");
  if (rejected !== undefined) throw rejected.reason;
  return { appends, conflicts, elapsedMs: performance.now() - startMs, latencies };
}

async function runWorkload(
  store: EventStore,
  workload: Workload,
  concurrency: number,
  options: Options,
  interrupt: AbortSignal,
): Promise<WorkloadReport> {
  const attempts = await workload.prepare(store, concurrency);
  // Warm-up fills the pool's connections and the server's caches; its numbers are dropped.
  await runPhase(attempts, options.warmupSeconds * 1_000, interrupt);
  const phase = await runPhase(attempts, options.seconds * 1_000, interrupt);
  const appendsPerSecond = phase.appends / (phase.elapsedMs / 1_000);
  const [p50Ms = Number.NaN, p99Ms = Number.NaN] = phase.latencies.percentilesMs([0.5, 0.99]);
  return {
    workload: workload.name,
    concurrency,
    appendsPerSecond,
    eventsPerSecond: appendsPerSecond * workload.eventsPerAppend,
    p50Ms,
    p99Ms,
    conflicts: phase.conflicts,
  };
}

function accountStream(accountId: string): string {
  return `account-${accountId}`;
}

function postingStream(postingId: string): string {
  return `posting-${postingId}`;
}

function appendContext(): AppendContext {
  return { correlationId: randomUUID(), principal: "bench", occurredAt: new Date() };
}

function accountOpened(accountId: string): NewEvent {
  return {
    type: "AccountOpened",
    data: {
      accountId,
      accountType: "customer_wallet",
      currency,
      holder: { customerId: randomUUID(), msisdn: `+2547${randomInt(10_000_000, 99_999_999)}` },
      overdraftLine: "0.00",
    },
  };
}

function entryPosted(postingId: string, accountId: string): NewEvent {
  return {
    type: "EntryPosted",
    data: {
      postingId,
      accountId,
      side: "debit",
      amount: randomAmount(),
      currency,
      // Payload only: the bench keeps no balances, but a real entry carries this field.
      balanceAfter: randomAmount(),
    },
  };
}

function postingRecorded(postingId: string, debitAccountId: string, creditAccountId: string) {
  const amount = randomAmount();
  const event: NewEvent = {
    type: "PostingRecorded",
    data: {
      postingId,
      transactionType: "p2p_transfer",
      templateVersion: 3,
      reference: `BENCH-${randomBytes(6).toString("hex").toUpperCase()}`,
      legs: [
        { accountId: debitAccountId, side: "debit", amount, currency },
        { accountId: creditAccountId, side: "credit", amount, currency },
      ],
      metadata: { channel: "ussd", narrative: "school fees" },
      principal: "bench",
      requestHash: createHash("sha256").update(postingId).digest("hex"),
    },
  };
  return event;
}

/** A decimal string with two places, as money crosses the store boundary. */
function randomAmount(): string {
  const spanMinor = Number(amountMinorMax - amountMinorMin);
  const minor = amountMinorMin + BigInt(randomInt(spanMinor));
  return `${minor / 100n}.${(minor % 100n).toString().padStart(2, "0")}`;
}

function itemAt<T>(items: readonly T[], index: number): T {
  const item = items[index];
  if (item === undefined) throw new Error(`no item at ${index} of ${items.length}`);
  return item;
}

function revisionOf(revisions: ReadonlyMap<string, number>, accountId: string): number {
  const revision = revisions.get(accountId);
  if (revision === undefined) throw new Error(`account ${accountId} was never opened`);
  return revision;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArguments(argv);
  const durability = values.durability ?? "full";
  if (durability !== "full" && durability !== "none") {
    throw new UsageError(`--durability must be "full" or "none", got "${durability}"`);
  }
  return {
    seconds: parseSeconds("--seconds", values.seconds, 1),
    warmupSeconds: parseSeconds("--warmup-seconds", values["warmup-seconds"], 0),
    durability,
    durabilityGiven: values.durability !== undefined,
    json: values.json,
  };
}

function parseArguments(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      options: {
        seconds: { type: "string", default: String(secondsDefault) },
        "warmup-seconds": { type: "string", default: String(warmupSecondsDefault) },
        durability: { type: "string" },
        json: { type: "boolean", default: false },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

function parseSeconds(flag: string, text: string, secondsMin: number): number {
  const seconds = Number(text);
  if (!(Number.isSafeInteger(seconds) && seconds >= secondsMin && seconds <= secondsMax)) {
    throw new UsageError(
      `${flag} must be a whole number of seconds in ${secondsMin}..${secondsMax}`,
    );
  }
  return seconds;
}

function printTable(reports: readonly WorkloadReport[]): void {
  const header = ["workload", "concurrency", "appends/s", "events/s", "p50 ms", "p99 ms"];
  const rows = reports.map((report) => [
    report.workload,
    String(report.concurrency),
    report.appendsPerSecond.toFixed(1),
    report.eventsPerSecond.toFixed(1),
    report.p50Ms.toFixed(2),
    report.p99Ms.toFixed(2),
    String(report.conflicts),
  ]);
  const table = [[...header, "conflicts"], ...rows];
  const widths = table[0]?.map((_, column) =>
    Math.max(...table.map((row) => row[column]?.length ?? 0)),
  );
  for (const row of table) {
    const cells = row.map((cell, column) => {
      const width = widths?.[column] ?? 0;
      return column === 0 ? cell.padEnd(width) : cell.padStart(width);
    });
    console.log(cells.join("  "));
  }
}

function printJson(report: WorkloadReport): void {
  const round = (value: number, places: number) => Number(value.toFixed(places));
  console.log(
    JSON.stringify({
      workload: report.workload,
      concurrency: report.concurrency,
      appendsPerSecond: round(report.appendsPerSecond, 1),
      p50Ms: round(report.p50Ms, 3),
      p99Ms: round(report.p99Ms, 3),
      conflicts: report.conflicts,
    }),
  );
}

/** What the numbers were measured on, read from the server rather than assumed. */
async function describeServer(store: EventStore, pool: pg.Pool): Promise<string> {
  await store.ping();
  const result = await pool.query<{ version: string; fsync: string; synchronous_commit: string }>(
    `SELECT current_setting('server_version') AS version, current_setting('fsync') AS fsync,
            current_setting('synchronous_commit') AS synchronous_commit`,
  );
  const row = result.rows[0];
  return `Postgres ${row?.version}, fsync ${row?.fsync}, synchronous_commit ${row?.synchronous_commit}`;
}

/**
 * Starts each workload from a fresh checkpoint, so none pays for the dirty pages (and the
 * full-page writes after the next checkpoint) the one before it left. Needs a superuser or
 * pg_checkpoint; on a DATABASE_URL without either, the runs simply share that cost.
 */
async function checkpoint(pool: pg.Pool): Promise<void> {
  await pool.query("CHECKPOINT").catch(() => undefined);
}

async function runAll(
  connectionString: string,
  origin: string,
  options: Options,
  interrupt: AbortSignal,
) {
  await migrate(connectionString);
  const pool = createPool({ connectionString, poolSizeMax, applicationName: "nova-bench" });
  // A client checked out of the pool has no error listener, so a server going away between two
  // of an append's queries (Ctrl-C reaches the embedded server too) would crash the process
  // before the clean-up runs. The append itself still fails, and that is what the worker sees.
  pool.on("connect", (client) => client.on("error", () => undefined));
  const store = new PostgresEventStore(pool);
  try {
    const server = await describeServer(store, pool);
    const plan = `${options.seconds} s per workload after ${options.warmupSeconds} s warm-up`;
    console.error(`bench: ${origin}; ${server}; pool ${poolSizeMax}; ${plan}`);
    const reports: WorkloadReport[] = [];
    for (const workload of workloads) {
      for (const concurrency of concurrencies) {
        await checkpoint(pool);
        console.error(`bench: ${workload.name} at concurrency ${concurrency}…`);
        const report = await runWorkload(store, workload, concurrency, options, interrupt);
        if (interrupt.aborted) throw new Error("interrupted");
        if (options.json) printJson(report);
        reports.push(report);
      }
    }
    if (!options.json) {
      console.log(`${server} (${origin})`);
      printTable(reports);
    }
  } finally {
    await store.close();
    await pool.end();
  }
}

/** The shell's convention for a process ended by SIGINT. */
const interruptedExitCode = 130;

async function main(interrupt: AbortController): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const given = process.env.DATABASE_URL;
  if (options.durabilityGiven && given !== undefined && given !== "") {
    console.error("bench: --durability is ignored on DATABASE_URL: the server's settings apply");
  }
  const database = await openBenchDatabase(options.durability);
  try {
    await runAll(database.connectionString, database.origin, options, interrupt.signal);
    return 0;
  } finally {
    await database.close();
  }
}

// Ctrl-C stops the workers and still runs the clean-up: a bench that leaves a Postgres running
// or a cluster in /tmp is one nobody runs twice. A second Ctrl-C kills at once.
const interrupt = new AbortController();
const onSignal = () => interrupt.abort();
process.once("SIGINT", onSignal);
process.once("SIGTERM", onSignal);
main(interrupt).then(
  (exitCode) => {
    process.exitCode = exitCode;
  },
  (error: unknown) => {
    if (interrupt.signal.aborted) {
      console.error("bench: interrupted; the database was cleaned up");
      process.exitCode = interruptedExitCode;
      return;
    }
    if (error instanceof UsageError) {
      console.error(`bench: ${error.message}\n${usage}`);
    } else {
      console.error("bench failed:", error);
    }
    process.exitCode = 1;
  },
);
