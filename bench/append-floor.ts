/**
 * What Postgres alone spends executing the event store's append statement, per event and per
 * posting, on the events table as migrated and on variants of it: the floor under
 * bench:commands' pgCpuUsPerPosting, and what a change to the table would buy.
 *
 * The rows are real: a log of transfers written by the domain's own deciders (bench:projections'
 * LogWriter) is read back, and batches of 32 postings (96 events: one PostingRecorded and two
 * EntryPosted each, as bench:commands' batches) are written again by the store's own statement,
 * on fresh posting streams and on 2,000 wallets' streams (drawn at random) at their next
 * revisions. Each batch is
 * timed inside the server (statement start to end, so neither the round trip nor the commit's
 * fsync counts), one at a time on an otherwise idle server: Postgres's execution only. The
 * variants take turns, round after round, so that a machine whose speed drifts weighs on each
 * alike.
 *
 * Usage: npm run bench:append-floor -- [--batches N] [--rounds N] [--json]
 */
import { randomInt, randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import type pg from "pg";
import { timeOrderedUuid } from "../src/commands/requests.js";
import { migrate } from "../src/db/migrate.js";
import { createPool } from "../src/db/pool.js";
import { canonicalJson } from "../src/eventstore/hash-chain.js";
import {
  insertEventsSql,
  PostgresEventStore,
} from "../src/eventstore/postgres/postgres-event-store.js";
import { LogWriter } from "./log-writer.js";
import { openBenchDatabase, positiveOption } from "./support.js";

const wallets = 2_000;
const postingsWritten = 4_000;
/** As bench:commands' batches: 32 postings of 3 events. */
const postingsPerBatch = 32;
const warmupBatches = 50;

interface Variant {
  readonly name: string;
  readonly table: string;
  /** Creates `table` from the migrated events table. */
  readonly ddl: string;
  readonly jsonType: "jsonb" | "json" | "text";
}

const variants: readonly Variant[] = [
  {
    name: "as migrated: jsonb, primary key, unique (stream, revision)",
    table: "floor_as_migrated",
    ddl: "CREATE TABLE floor_as_migrated (LIKE events INCLUDING ALL)",
    jsonType: "jsonb",
  },
  {
    name: "json instead of jsonb",
    table: "floor_json",
    ddl: `CREATE TABLE floor_json (LIKE events INCLUDING ALL);
          ALTER TABLE floor_json ALTER data TYPE json, ALTER metadata TYPE json`,
    jsonType: "json",
  },
  {
    name: "jsonb, without the unique (stream, revision)",
    table: "floor_no_unique",
    ddl: `CREATE TABLE floor_no_unique (LIKE events INCLUDING DEFAULTS INCLUDING IDENTITY);
          ALTER TABLE floor_no_unique ADD PRIMARY KEY (transaction_id, position)`,
    jsonType: "jsonb",
  },
  {
    name: "text, no index at all (the statement's own floor)",
    table: "floor_text",
    ddl: `CREATE TABLE floor_text (LIKE events INCLUDING DEFAULTS INCLUDING IDENTITY);
          ALTER TABLE floor_text ALTER data TYPE text, ALTER metadata TYPE text`,
    jsonType: "text",
  },
];

interface Options {
  readonly batches: number;
  readonly rounds: number;
  readonly json: boolean;
}

interface Row {
  readonly type: string;
  readonly data: string;
  readonly metadata: string;
  /** An EntryPosted, written to a wallet's stream (else a posting's own, new stream). */
  readonly leg: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      batches: { type: "string", default: "200" },
      rounds: { type: "string", default: "3" },
      json: { type: "boolean", default: false },
    },
  });
  return {
    batches: positiveOption("batches", values.batches),
    rounds: positiveOption("rounds", values.rounds),
    json: values.json,
  };
}

/** The store's append statement on `variant`'s table, also answering its execution time. */
function statementFor(variant: Variant): string {
  const timed =
    "SELECT (extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1e6)::float8 AS us,";
  const sql = insertEventsSql
    .replace("INSERT INTO events ", `INSERT INTO ${variant.table} `)
    .replace(/^SELECT /m, `${timed} `)
    .replaceAll("::jsonb", `::${variant.jsonType}`);
  if (!sql.includes(variant.table) || !sql.includes(" AS us,"))
    throw new Error("the store's append statement changed shape: update bench/append-floor.ts");
  return sql;
}

/**
 * A batch's events from the log: 32 PostingRecorded and 64 EntryPosted, in the order a batch
 * of transfers writes them (each posting, then its two legs).
 */
async function sampleRows(pool: pg.Pool): Promise<Row[]> {
  const read = async (type: string, count: number) =>
    (
      await pool.query<{ data: Record<string, unknown>; metadata: Record<string, unknown> }>(
        "SELECT data, metadata FROM events WHERE type = $1 ORDER BY position DESC LIMIT $2",
        [type, count],
      )
    ).rows.map((row) => ({
      type,
      // As the store sends them: data as canonical JSON; metadata of the same length.
      data: canonicalJson(row.data as never),
      metadata: JSON.stringify(row.metadata),
    }));
  const postings = await read("PostingRecorded", postingsPerBatch);
  const entries = await read("EntryPosted", postingsPerBatch * 2);
  if (postings.length !== postingsPerBatch || entries.length !== postingsPerBatch * 2)
    throw new Error("the log holds fewer postings than a batch");
  return postings.flatMap((posting, index) => [
    { ...posting, leg: false },
    { ...(entries[index * 2] as Omit<Row, "leg">), leg: true },
    { ...(entries[index * 2 + 1] as Omit<Row, "leg">), leg: true },
  ]);
}

/** Writes one batch; answers the server's execution time in microseconds. */
async function writeBatch(
  client: pg.PoolClient,
  variant: Variant,
  sql: string,
  rows: readonly Row[],
  revisions: Map<string, number>,
): Promise<number> {
  // Legs land on wallets drawn at random, as bench:commands' uniform transfers.
  const streams = rows.map((row) =>
    row.leg ? `account-${variant.table}-${randomInt(wallets)}` : `posting-${timeOrderedUuid()}`,
  );
  const written = streams.map((stream) => {
    const next = (revisions.get(stream) ?? -1) + 1;
    revisions.set(stream, next);
    return next;
  });
  const result = await client.query<{ us: number }>({
    name: `floor_${variant.table}`,
    text: sql,
    values: [
      rows.map(() => randomUUID()).join(","),
      streams.join(","),
      written.join(","),
      rows.map((row) => row.type),
      rows.map((row) => row.data).join("\n"),
      rows.map((row) => row.metadata).join("\n"),
    ],
  });
  return Number(result.rows[0]?.us);
}

async function main(): Promise<void> {
  const options = parseOptions();
  const database = await openBenchDatabase("full");
  const pool = createPool({ connectionString: database.connectionString, poolSizeMax: 2 });
  try {
    await migrate(database.connectionString);
    const store = new PostgresEventStore(pool);
    const writer = new LogWriter(store);
    console.error(`append-floor: ${database.origin}; writing ${postingsWritten} postings…`);
    await writer.recordTransfers(await writer.openWallets(wallets), postingsWritten, () => {});
    const rows = await sampleRows(pool);
    const client = await pool.connect();
    const runs = variants.map((variant) => ({ variant, sql: statementFor(variant), us: 0 }));
    try {
      const revisions = new Map<string, number>();
      for (const { variant, sql } of runs) {
        await client.query(variant.ddl);
        for (let batch = 0; batch < warmupBatches; batch++)
          await writeBatch(client, variant, sql, rows, revisions);
      }
      for (let round = 0; round < options.rounds; round++) {
        for (const run of runs) {
          for (let batch = 0; batch < options.batches; batch++)
            run.us += await writeBatch(client, run.variant, run.sql, rows, revisions);
        }
      }
    } finally {
      client.release();
    }
    const batches = options.rounds * options.batches;
    const report = runs.map(({ variant, us }) => {
      const perEvent = us / batches / rows.length;
      return {
        variant: variant.name,
        usPerEvent: Math.round(perEvent * 10) / 10,
        usPerPosting: Math.round(perEvent * 3 * 10) / 10,
      };
    });
    if (options.json) for (const line of report) console.log(JSON.stringify(line));
    else {
      console.log(
        `Postgres executing the append statement, batches of ${postingsPerBatch} postings (${rows.length} events), ${options.rounds} x ${options.batches} batches per variant`,
      );
      console.table(report);
    }
  } finally {
    await pool.end();
    await database.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
