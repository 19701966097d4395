/**
 * `nova projections status` and `nova projections rebuild`: the operator's view of the
 * projectors (where each stands, how far behind) and the full rebuild of a projection's read
 * models (src/projections/rebuild.ts) with a progress bar on stderr.
 */
import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import type pg from "pg";
import { loadConfig } from "../config/config.js";
import { migrate } from "../db/migrate.js";
import { createPool } from "../db/pool.js";
import { createKurrentDbEventStore } from "../eventstore/kurrentdb/kurrentdb-event-store.js";
import { type EventStore, formatPosition } from "../eventstore/port.js";
import { PostgresEventStore } from "../eventstore/postgres/postgres-event-store.js";
import { type LagProbe, postgresLagProbe, storeLagProbe } from "../projections/lag.js";
import { LedgerProjection } from "../projections/ledger-projection.js";
import { rebuildBatchSizeMaxDefault, rebuildProjection } from "../projections/rebuild.js";
import type { Projection } from "../projections/runner.js";
import { createLogger, openDatabase } from "./connect.js";

const usage = `Usage: nova projections <status|rebuild> [options]

  status [--json]                        each projection's checkpoint, events projected,
                                         lag in events and seconds, and state
  rebuild [--projection ledger] [--batch-size N]
                                         replay the whole event log into fresh read models
                                         while the live ones serve, then switch over atomically`;

/** The projections a rebuild can build, by name. */
const projections: Readonly<Record<string, () => Projection>> = {
  ledger: () => new LedgerProjection(),
};

/**
 * A projection behind by events older than this, whose checkpoint has not moved for as long,
 * is reported as stalled: no projector is running, or it stopped on an event.
 */
const stalledSecondsMin = 30;

export async function projectionsCommand(args: readonly string[]): Promise<void> {
  const [subcommand, ...rest] = args;
  if (subcommand === "status") return projectionsStatus(rest);
  if (subcommand === "rebuild") return projectionsRebuild(rest);
  console.error(
    subcommand === undefined ? usage : `unknown subcommand "${subcommand}"\n\n${usage}`,
  );
  process.exitCode = 2;
}

export interface ProjectionStatusLine {
  readonly projection: string;
  readonly position: string;
  readonly eventsProjected: number;
  readonly lagEvents: number;
  readonly lagSeconds: number;
  readonly state: "caught up" | "catching up" | "stalled";
  readonly updatedAt: string;
}

export async function projectionsStatus(args: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...args],
    options: { json: { type: "boolean", default: false } },
  });
  const lines = await withProjectionStore(({ pool, lagProbe }) => statusLines(pool, lagProbe));
  if (values.json) {
    console.log(JSON.stringify(lines));
    return;
  }
  if (lines.length === 0) {
    console.log("no projection has run yet (start the server: `nova serve`)");
    return;
  }
  console.table(
    lines.map((line) => ({
      projection: line.projection,
      position: line.position,
      "events projected": line.eventsProjected,
      "lag (events)": line.lagEvents,
      "lag (s)": line.lagSeconds,
      state: line.state,
      "checkpoint moved": line.updatedAt,
    })),
  );
}

/** One line per checkpoint row; the state is read from the data, so it works from any process. */
export async function statusLines(
  pool: pg.Pool,
  lagProbe: LagProbe,
): Promise<ProjectionStatusLine[]> {
  const rows = await pool.query<{
    name: string;
    commit_position: string;
    prepare_position: string;
    events_projected: string;
    updated_at: Date;
  }>(
    `SELECT name, commit_position::text, prepare_position, events_projected, updated_at
       FROM projection_checkpoints ORDER BY name`,
  );
  const lines: ProjectionStatusLine[] = [];
  for (const row of rows.rows) {
    const position = { commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position) };
    const lag = await lagProbe(position);
    const idleSeconds = (Date.now() - row.updated_at.getTime()) / 1_000;
    lines.push({
      projection: row.name,
      position: formatPosition(position),
      eventsProjected: Number(row.events_projected),
      lagEvents: lag.events,
      lagSeconds: Math.round(lag.seconds * 10) / 10,
      state: stateOf(lag.events, lag.seconds, idleSeconds),
      updatedAt: row.updated_at.toISOString(),
    });
  }
  return lines;
}

function stateOf(
  lagEvents: number,
  lagSeconds: number,
  idleSeconds: number,
): ProjectionStatusLine["state"] {
  if (lagEvents === 0) return "caught up";
  const stalled = lagSeconds > stalledSecondsMin && idleSeconds > stalledSecondsMin;
  return stalled ? "stalled" : "catching up";
}

export async function projectionsRebuild(args: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      projection: { type: "string", default: "ledger" },
      "batch-size": { type: "string", default: String(rebuildBatchSizeMaxDefault) },
    },
  });
  const create = projections[values.projection];
  if (create === undefined) {
    console.error(
      `unknown projection "${values.projection}" (known: ${Object.keys(projections).join(", ")})`,
    );
    process.exitCode = 2;
    return;
  }
  const batchSizeMax = Number(values["batch-size"]);
  const report = await withProjectionStore(async ({ pool, store, countProbe }) => {
    const total = (await countProbe(undefined)).events;
    const bar = new cliProgress.SingleBar(
      {
        format: `rebuild ${values.projection} [{bar}] {percentage}% | {value}/{total} events | {phase} | {duration_formatted}`,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(Math.max(total, 1), 0, { phase: "replay" });
    try {
      return await rebuildProjection({
        pool,
        store,
        projection: create(),
        batchSizeMax,
        onProgress: (progress) => {
          // Events appended during the rebuild make the log longer than it was at the start.
          if (progress.eventsProjected > bar.getTotal()) bar.setTotal(progress.eventsProjected);
          bar.update(progress.eventsProjected, { phase: progress.phase });
        },
      });
    } finally {
      bar.stop();
    }
  });
  console.log(
    `rebuilt "${report.projection}": ${report.eventsProjected} events, now at ${report.position} ` +
      `(replay ${seconds(report.replayMs)} s, switch-over ${seconds(report.switchOverMs)} s)`,
  );
}

interface ProjectionStore {
  readonly pool: pg.Pool;
  readonly store: EventStore;
  readonly lagProbe: LagProbe;
  /** Counts the whole log (no bound), for a progress bar's total. */
  readonly countProbe: LagProbe;
}

/** The read models' database (migrated) and the configured event store, closed afterwards. */
async function withProjectionStore<T>(use: (context: ProjectionStore) => Promise<T>): Promise<T> {
  const config = loadConfig();
  // Only warnings: the command's own output is what the operator reads.
  const logger = createLogger({ logLevel: "warn" });
  const database = await openDatabase(config, logger);
  try {
    await migrate(database.url);
    const pool = createPool({ connectionString: database.url, poolSizeMax: 4 });
    const kurrent = config.eventStore === "kurrentdb" && config.kurrentDbUrl !== undefined;
    const store = kurrent
      ? createKurrentDbEventStore(config.kurrentDbUrl ?? "")
      : new PostgresEventStore(pool);
    try {
      return await use({
        pool,
        store,
        lagProbe: kurrent ? storeLagProbe(store) : postgresLagProbe(pool),
        countProbe: kurrent
          ? storeLagProbe(store)
          : postgresLagProbe(pool, Number.MAX_SAFE_INTEGER),
      });
    } finally {
      await store.close();
      await pool.end();
    }
  } finally {
    await database.embedded?.stop();
  }
}

function seconds(ms: number): string {
  return (ms / 1_000).toFixed(2);
}
