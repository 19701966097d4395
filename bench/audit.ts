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
 * openings; at the 50,000 events/s target the verification takes ~6 s. Per event Postgres
 * prints one row (two jsonb columns as text); the main thread parses its data for the replay
 * (for an entry: one MD5 digest and a few bigint additions) and the chain worker parses data
 * and metadata again to hash one canonical JSON document (SHA-256).
 *
 * Usage: npm run bench:audit -- [--postings N] [--accounts N] [--runs N] [--json]
 */
import { parseArgs } from "node:util";
import { verifyLedger } from "../src/audit/verify.js";
import { migrate } from "../src/db/migrate.js";
import { createPool } from "../src/db/pool.js";
import type { EventStore, LogPosition } from "../src/eventstore/port.js";
import { PostgresEventStore } from "../src/eventstore/postgres/postgres-event-store.js";
import { LedgerProjection } from "../src/projections/ledger-projection.js";
import { ProjectorRunner } from "../src/projections/runner.js";
import { LogWriter } from "./log-writer.js";
import { openBenchDatabase, positiveOption } from "./support.js";

const poolSizeMax = 8;
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
  const accounts = positiveOption("accounts", values.accounts);
  if (accounts < 2) throw new Error("--accounts must be at least 2");
  return {
    postings: positiveOption("postings", values.postings),
    accounts,
    runs: positiveOption("runs", values.runs),
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

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
