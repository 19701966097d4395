/**
 * Command-side throughput: postings/s through the batching pipeline onto the Postgres event
 * store, for uniform random transfers between 10,000 wallets and for a hot account (every
 * posting debits one agent float account: a cash-in).
 *
 * Napkin maths: a posting is 3 events (the posting and two legs). One batch is one commit of
 * up to `batchSizeMax` postings, so postings/s ≈ batch size × commits/s; with 64 submitters at
 * most 64 postings wait at any time, so batches in flight on disjoint accounts overlap their
 * commits. The hot workload serialises on the float account: one batch at a time, as large as
 * what waited while the previous one committed.
 *
 * Usage: npm run bench:commands -- [--seconds N] [--accounts N] [--submitters N]
 *          [--durability full|none] [--batch-size N] [--batches-in-flight N]
 *          [--workload uniform|hot|both] [--store postgres|memory] [--json]
 *
 * `--store memory` runs the same workloads on an event store that checks and seals every append
 * as the Postgres adapter does, then keeps only the streams' heads (bench/memory-store.ts): what
 * the command path costs in Node alone, without Postgres and the pg client.
 */
import { randomInt } from "node:crypto";
import { parseArgs } from "node:util";
import { LedgerCommands } from "../src/commands/ledger.js";
import {
  batchesInFlightMaxDefault,
  batchSizeMaxDefault,
  type CommandOutcome,
  CommandPipeline,
} from "../src/commands/pipeline.js";
import type { Actor } from "../src/commands/requests.js";
import { migrate } from "../src/db/migrate.js";
import { createPool } from "../src/db/pool.js";
import type { EventStore } from "../src/eventstore/port.js";
import { PostgresEventStore } from "../src/eventstore/postgres/postgres-event-store.js";
import { MemoryEventStore } from "./memory-store.js";
import {
  type Durability,
  descendantsCpuMicros,
  LatencyRecorder,
  openBenchDatabase,
  positiveOption,
  type WorkloadName,
  workloadsOf,
} from "./support.js";

const latencySamplesMax = 1_000_000;
const poolSizeMax = 20;
/** Postings submitted at once while funding the accounts. */
const fundingChunk = 2_000;
const currency = "XCD";
const actor: Actor = { principal: "bench", correlationId: "bench" };

interface Options {
  readonly seconds: number;
  readonly accounts: number;
  readonly submitters: number;
  readonly durability: Durability;
  readonly json: boolean;
  readonly batchSizeMax: number;
  readonly batchesInFlightMax: number;
  readonly workloads: readonly WorkloadName[];
  readonly store: "postgres" | "memory";
}

interface Report {
  readonly workload: WorkloadName;
  readonly postingsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanBatchSize: number;
  readonly conflicts: number;
  readonly rejected: number;
  readonly nodeCpuUsPerPosting: number;
  /**
   * The share of the run this process's event loop was busy (0–1): near 1, this one thread
   * bounds the rate; well below, the postings wait on the store.
   */
  readonly eventLoopBusy: number;
  /** The embedded cluster's CPU per posting (undefined on `DATABASE_URL`). */
  readonly pgCpuUsPerPosting: number | undefined;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string", default: "20" },
      accounts: { type: "string", default: "10000" },
      submitters: { type: "string", default: "64" },
      durability: { type: "string", default: "full" },
      "batch-size": { type: "string", default: String(batchSizeMaxDefault) },
      "batches-in-flight": { type: "string", default: String(batchesInFlightMaxDefault) },
      workload: { type: "string", default: "both" },
      store: { type: "string", default: "postgres" },
      json: { type: "boolean", default: false },
    },
  });
  if (values.durability !== "full" && values.durability !== "none") {
    throw new Error("--durability must be full or none");
  }
  if (values.store !== "postgres" && values.store !== "memory") {
    throw new Error("--store must be postgres or memory");
  }
  return {
    seconds: positiveOption("seconds", values.seconds),
    accounts: positiveOption("accounts", values.accounts),
    submitters: positiveOption("submitters", values.submitters),
    durability: values.durability,
    json: values.json,
    batchSizeMax: positiveOption("batch-size", values["batch-size"]),
    batchesInFlightMax: positiveOption("batches-in-flight", values["batches-in-flight"]),
    workloads: workloadsOf(values.workload),
    store: values.store,
  };
}

async function main(): Promise<void> {
  const options = parseOptions();
  if (options.store === "memory") {
    await runWorkloads(
      new MemoryEventStore(),
      "no Postgres: appends sealed and kept in memory",
      options,
    );
    return;
  }
  const database = await openBenchDatabase(options.durability);
  const pool = createPool({ connectionString: database.connectionString, poolSizeMax });
  try {
    await migrate(database.connectionString);
    await runWorkloads(new PostgresEventStore(pool), `Postgres: ${database.origin}`, options);
  } finally {
    await pool.end();
    await database.close();
  }
}

async function runWorkloads(store: EventStore, origin: string, options: Options): Promise<void> {
  const stats = { batches: 0, commands: 0, conflicts: 0 };
  const pipeline = new CommandPipeline(store, {
    batchSizeMax: options.batchSizeMax,
    batchesInFlightMax: options.batchesInFlightMax,
    observer: {
      batchAppended: ({ commands }) => {
        stats.batches++;
        stats.commands += commands;
      },
      conflict: () => {
        stats.conflicts++;
      },
    },
  });
  const ledger = new LedgerCommands(pipeline);
  const log = (line: string) => {
    if (!options.json) console.log(line);
  };
  log(
    `${origin}; ${options.accounts} accounts, ${options.submitters} submitters, ${options.seconds} s per workload`,
  );
  const setup = await createAccounts(ledger, options.accounts);
  const reports: Report[] = [];
  for (const workload of options.workloads) {
    Object.assign(stats, { batches: 0, commands: 0, conflicts: 0 });
    const next =
      workload === "uniform"
        ? () => {
            const from = randomInt(setup.wallets.length);
            const to = (from + 1 + randomInt(setup.wallets.length - 1)) % setup.wallets.length;
            return transfer(setup.wallets[from] ?? "", setup.wallets[to] ?? "", "0.01");
          }
        : () => transfer(setup.float, setup.wallets[randomInt(setup.wallets.length)] ?? "", "0.01");
    const run = await drive(ledger, next, options);
    reports.push({
      workload,
      ...run,
      meanBatchSize: stats.batches === 0 ? 0 : round(stats.commands / stats.batches),
      conflicts: stats.conflicts,
    });
  }
  for (const report of reports) {
    if (options.json) {
      console.log(
        JSON.stringify({
          workload: report.workload,
          postingsPerSecond: report.postingsPerSecond,
          p50Ms: report.p50Ms,
          p99Ms: report.p99Ms,
          meanBatchSize: report.meanBatchSize,
        }),
      );
    }
  }
  if (!options.json) console.table(reports);
  await pipeline.drain();
}

async function createAccounts(ledger: LedgerCommands, count: number) {
  const ok = <T>(outcome: CommandOutcome<T>): T => {
    if (!outcome.ok)
      throw new Error(`setup failed: ${outcome.rejection.code} ${outcome.rejection.message}`);
    return outcome.result;
  };
  const define = (code: string, normalBalance: "DEBIT" | "CREDIT", allowNegative: boolean) =>
    ledger.defineAccountType({ code, name: code, normalBalance, allowNegative }, actor).then(ok);
  await define("WALLET", "CREDIT", false);
  await define("AGENT_FLOAT", "CREDIT", false);
  await define("SETTLEMENT", "DEBIT", true);
  const open = (accountType: string) =>
    ledger.openAccount({ accountType, currency }, actor).then((outcome) => ok(outcome).account.id);
  const bank = await open("SETTLEMENT");
  const float = await open("AGENT_FLOAT");
  ok(await ledger.recordPosting(transfer(bank, float, "100000000.00"), actor));
  const wallets: string[] = [];
  for (let start = 0; start < count; start += fundingChunk) {
    const size = Math.min(fundingChunk, count - start);
    const opened = await Promise.all(Array.from({ length: size }, () => open("WALLET")));
    await Promise.all(
      opened.map((wallet) =>
        ledger.recordPosting(transfer(bank, wallet, "1000.00"), actor).then(ok),
      ),
    );
    wallets.push(...opened);
  }
  return { wallets, float };
}

async function drive(
  ledger: LedgerCommands,
  next: () => ReturnType<typeof transfer>,
  options: Options,
): Promise<
  Pick<
    Report,
    | "postingsPerSecond"
    | "p50Ms"
    | "p99Ms"
    | "rejected"
    | "nodeCpuUsPerPosting"
    | "eventLoopBusy"
    | "pgCpuUsPerPosting"
  >
> {
  const latencies = new LatencyRecorder(latencySamplesMax);
  let accepted = 0;
  let rejected = 0;
  const startedMs = performance.now();
  const startedCpu = process.cpuUsage();
  const startedElu = performance.eventLoopUtilization();
  // No Postgres child to measure with the memory store.
  const startedPgCpu = options.store === "memory" ? undefined : descendantsCpuMicros();
  const endMs = startedMs + options.seconds * 1_000;
  const submitter = async () => {
    while (performance.now() < endMs) {
      const sentMs = performance.now();
      const outcome = await ledger.recordPosting(next(), actor);
      latencies.record(performance.now() - sentMs);
      if (outcome.ok) accepted++;
      else rejected++;
    }
  };
  await Promise.all(Array.from({ length: options.submitters }, submitter));
  const elapsedSeconds = (performance.now() - startedMs) / 1_000;
  const cpu = process.cpuUsage(startedCpu);
  const { utilization } = performance.eventLoopUtilization(startedElu);
  const endedPgCpu = descendantsCpuMicros();
  const [p50, p99] = latencies.percentilesMs([0.5, 0.99]);
  return {
    postingsPerSecond: Math.round(accepted / elapsedSeconds),
    p50Ms: round(p50 ?? Number.NaN),
    p99Ms: round(p99 ?? Number.NaN),
    rejected,
    // This process's CPU (pipeline, store client and the submitters) per accepted posting:
    // steadier than postings/s when the machine is shared.
    nodeCpuUsPerPosting: Math.round((cpu.user + cpu.system) / Math.max(accepted, 1)),
    eventLoopBusy: round(utilization),
    pgCpuUsPerPosting:
      startedPgCpu === undefined || endedPgCpu === undefined
        ? undefined
        : Math.round((endedPgCpu - startedPgCpu) / Math.max(accepted, 1)),
  };
}

function transfer(from: string, to: string, value: string) {
  return {
    entries: [
      { accountId: from, side: "DEBIT" as const, amount: { value, currency } },
      { accountId: to, side: "CREDIT" as const, amount: { value, currency } },
    ],
  };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
