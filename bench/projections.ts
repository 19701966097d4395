/**
 * Projection throughput: events/s of a full rebuild (`nova projections rebuild`) of the ledger
 * read models from an event log of `--postings` transfers between `--accounts` wallets.
 *
 * The log is written fast but real: every event comes from the domain's own deciders
 * (decideDefineAccountType, decideOpenAccount, decideRecordPosting) folded with the command
 * side's evolve, exactly as the pipeline writes them, and is appended through the event store
 * in large atomic multi-stream appends (hash chains, expected revisions and all). Only the
 * queueing of the pipeline is skipped: it is what bench:commands measures.
 *
 * Napkin maths: a transfer is 3 events (PostingRecorded and two EntryPosted), so 200,000
 * postings are 600,000 events; at the 30,000 events/s target the replay takes 20 s. A batch of
 * 5,000 events is ~1,700 postings: one COPY of headers (and one of their history rows), one
 * COPY of entries (the balance trigger runs once per batch); the double-entry re-check and the
 * foreign keys run once, set-based, after the replay.
 *
 * Usage: npm run bench:projections -- [--postings N] [--accounts N] [--batch-size N]
 *          [--durability full|none] [--json]
 */
import { parseArgs } from "node:util";
import { migrate } from "../src/db/migrate.js";
import { createPool } from "../src/db/pool.js";
import { readLimitMax } from "../src/eventstore/port.js";
import { PostgresEventStore } from "../src/eventstore/postgres/postgres-event-store.js";
import { LedgerProjection } from "../src/projections/ledger-projection.js";
import { rebuildBatchSizeMaxDefault, rebuildProjection } from "../src/projections/rebuild.js";
import { LogWriter } from "./log-writer.js";
import { type Durability, openBenchDatabase, positiveOption } from "./support.js";

const poolSizeMax = 8;

interface Options {
  readonly postings: number;
  readonly accounts: number;
  readonly batchSizeMax: number;
  readonly durability: Durability;
  readonly json: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      postings: { type: "string", default: "200000" },
      accounts: { type: "string", default: "10000" },
      "batch-size": { type: "string", default: String(rebuildBatchSizeMaxDefault) },
      durability: { type: "string", default: "full" },
      json: { type: "boolean", default: false },
    },
  });
  if (values.durability !== "full" && values.durability !== "none") {
    throw new Error("--durability must be full or none");
  }
  const batchSizeMax = positiveOption("batch-size", values["batch-size"]);
  if (batchSizeMax > readLimitMax) throw new Error(`--batch-size is at most ${readLimitMax}`);
  const accounts = positiveOption("accounts", values.accounts);
  if (accounts < 2) throw new Error("--accounts must be at least 2");
  return {
    postings: positiveOption("postings", values.postings),
    accounts,
    batchSizeMax,
    durability: values.durability,
    json: values.json,
  };
}

async function main(): Promise<void> {
  const options = parseOptions();
  const progress = (line: string) => {
    if (!options.json) process.stderr.write(`${line}\n`);
  };
  const database = await openBenchDatabase(options.durability);
  const pool = createPool({ connectionString: database.connectionString, poolSizeMax });
  try {
    await migrate(database.connectionString);
    const store = new PostgresEventStore(pool);
    progress(`Postgres: ${database.origin}`);
    const buildStartedMs = performance.now();
    const log = new LogWriter(store);
    const wallets = await log.openWallets(options.accounts);
    await log.recordTransfers(wallets, options.postings, progress);
    progress(
      `log: ${log.eventsWritten} events (${options.postings} postings) written in ` +
        `${seconds(performance.now() - buildStartedMs)} s; rebuilding…`,
    );
    await pool.query("VACUUM ANALYZE events");
    const startedMs = performance.now();
    const report = await rebuildProjection({
      pool,
      store,
      projection: new LedgerProjection(),
      batchSizeMax: options.batchSizeMax,
    });
    const elapsedSeconds = (performance.now() - startedMs) / 1_000;
    await assertComplete(pool, log.entriesWritten);
    const eventsPerSecond = Math.round(report.eventsProjected / elapsedSeconds);
    if (options.json) {
      console.log(JSON.stringify({ events: report.eventsProjected, eventsPerSecond }));
      return;
    }
    console.log(
      `rebuild of "${report.projection}": ${report.eventsProjected} events in ` +
        `${elapsedSeconds.toFixed(2)} s = ${eventsPerSecond} events/s ` +
        `(replay ${seconds(report.replayMs)} s, switch-over ${seconds(report.switchOverMs)} s, ` +
        `batches of ${options.batchSizeMax})`,
    );
  } finally {
    await pool.end();
    await database.close();
  }
}

async function assertComplete(
  pool: ReturnType<typeof createPool>,
  entriesWritten: number,
): Promise<void> {
  const result = await pool.query<{ entries: string }>(
    "SELECT count(*) AS entries FROM ledger_entries",
  );
  const entries = Number(result.rows[0]?.entries ?? -1);
  if (entries !== entriesWritten) {
    throw new Error(`the rebuild holds ${entries} entries, the log ${entriesWritten}`);
  }
}

function seconds(ms: number): string {
  return (ms / 1_000).toFixed(2);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
