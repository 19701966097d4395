/**
 * `nova audit verify [--stream S] [--json]`: replays the event store and checks it against
 * itself (hash chains, balances, double entry) and against the read models (src/audit). The
 * result and each discrepancy go to stdout (JSON with --json); the progress bar and logs go
 * to stderr. Exit code 0: everything holds; 1: discrepancies (each one named); 2: the command
 * could not run as asked (usage, an unmigrated database).
 */
import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import pino from "pino";
import { describeDiscrepancy } from "../audit/discrepancies.js";
import { type VerifyReport, verifyLedger } from "../audit/verify.js";
import { type Config, loadConfig } from "../config/config.js";
import { createPool } from "../db/pool.js";
import { assertStreamName } from "../eventstore/validation.js";
import { openCommandEventStore, openDatabase } from "./connect.js";

export const auditUsage = `Usage:
  nova audit verify [--stream <stream>] [--json]

Replays every stream of the event store (or only --stream), checks each stream's hash chain,
recomputes every account's balance and every posting's double entry, and compares them with
the read models (account_balances, ledger_entries) at the projection's checkpoint.
Exit code 0: all holds; 1: discrepancies, each named by stream and revision; 2: usage error.`;

export interface AuditOutput {
  out(line: string): void;
  err(line: string): void;
}

export interface AuditCommandOptions {
  readonly environment?: NodeJS.ProcessEnv;
  readonly output?: AuditOutput;
  /** Show the progress bar on stderr (when it is a terminal). Default true. */
  readonly progress?: boolean;
}

export type AuditExitCode = 0 | 1 | 2;

export interface VerifyRequest {
  readonly stream: string | undefined;
  readonly json: boolean;
}

/** Connections: the read-model snapshot, the page being read and the one prefetched. */
const poolSizeMax = 4;

const processOutput: AuditOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

class AuditUsageError extends Error {
  override readonly name = "AuditUsageError";
}

/** The `nova audit …` entry of src/cli/main.ts: `args` are the words after `audit`. */
export async function auditCommand(args: readonly string[]): Promise<void> {
  process.exitCode = await runAuditCommand(args);
}

export async function runAuditCommand(
  args: readonly string[],
  options: AuditCommandOptions = {},
): Promise<AuditExitCode> {
  const output = options.output ?? processOutput;
  let request: VerifyRequest;
  try {
    request = parseAuditArgs(args);
  } catch (error) {
    if (!(error instanceof AuditUsageError)) throw error;
    output.err(`${error.message}\n\n${auditUsage}`);
    return 2;
  }
  const config = loadConfig(options.environment ?? process.env);
  return verifyCommand(config, request, output, options.progress ?? true);
}

export function parseAuditArgs(args: readonly string[]): VerifyRequest {
  let parsed: ReturnType<typeof parseVerifyOptions>;
  try {
    parsed = parseVerifyOptions(args);
  } catch (error) {
    throw new AuditUsageError(error instanceof Error ? error.message : String(error));
  }
  const [action, ...rest] = parsed.positionals;
  if (action !== "verify") {
    throw new AuditUsageError(
      action === undefined ? "name an audit command" : `unknown audit command "${action}"`,
    );
  }
  if (rest.length > 0) throw new AuditUsageError(`unexpected "${rest.join(" ")}"`);
  const stream = parsed.values.stream;
  if (stream !== undefined) {
    try {
      assertStreamName(stream);
    } catch (error) {
      throw new AuditUsageError(error instanceof Error ? error.message : String(error));
    }
  }
  return { stream, json: parsed.values.json === true };
}

function parseVerifyOptions(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    options: { stream: { type: "string" }, json: { type: "boolean" } },
    allowPositionals: true,
    strict: true,
  });
}

async function verifyCommand(
  config: Config,
  request: VerifyRequest,
  output: AuditOutput,
  showProgress: boolean,
): Promise<AuditExitCode> {
  const logger = pino({ level: config.logLevel }, pino.destination(2));
  const database = await openDatabase(config, logger);
  try {
    const pool = createPool({ connectionString: database.url, poolSizeMax });
    const store = openCommandEventStore(config, pool);
    try {
      if (!(await isMigrated(pool))) {
        output.err("the database has no ledger read models: run `nova migrate` first");
        return 2;
      }
      const total = request.stream === undefined ? await eventCount(config, pool) : undefined;
      const report = await withProgressBar(showProgress, total, (onProgress) =>
        verifyLedger({
          store,
          pool,
          stream: request.stream,
          onProgress,
          // The whole log: the hash chains on a second core (src/audit/chain.ts).
          chainWorker: request.stream === undefined,
        }),
      );
      printReport(report, request.json, output);
      return report.ok ? 0 : 1;
    } finally {
      await store.close();
      await pool.end();
    }
  } finally {
    await database.embedded?.stop();
  }
}

async function isMigrated(pool: ReturnType<typeof createPool>): Promise<boolean> {
  const result = await pool.query<{ ready: boolean }>(
    "SELECT to_regclass('ledger_entries') IS NOT NULL AND to_regclass('account_balances') IS NOT NULL AS ready",
  );
  return result.rows[0]?.ready === true;
}

/** The bar's total: the Postgres events table's size; unknown for another store. */
async function eventCount(
  config: Config,
  pool: ReturnType<typeof createPool>,
): Promise<number | undefined> {
  if (config.eventStore !== "postgres") return undefined;
  const result = await pool.query<{ count: string }>("SELECT count(*)::text AS count FROM events");
  return Number(result.rows[0]?.count ?? 0);
}

/**
 * cli-progress draws on stderr, and only when stderr is a terminal, so piped or --json output
 * stays clean. Without a known total the bar shows the count alone.
 */
async function withProgressBar<T>(
  enabled: boolean,
  total: number | undefined,
  run: (onProgress: (eventsRead: number) => void) => Promise<T>,
): Promise<T> {
  if (!enabled) return run(() => undefined);
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format:
        total === undefined
          ? "verifying {value} events"
          : "verifying [{bar}] {percentage}% {value}/{total} events, eta {eta}s",
      etaBuffer: 20,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(Math.max(total ?? 0, 1), 0);
  try {
    return await run((eventsRead) => {
      // Events appended since the count push the total up rather than past 100 %.
      if (total !== undefined && eventsRead > total) bar.setTotal(eventsRead);
      bar.update(eventsRead);
    });
  } finally {
    bar.stop();
  }
}

function printReport(report: VerifyReport, json: boolean, output: AuditOutput): void {
  if (json) {
    output.out(JSON.stringify(report));
    return;
  }
  const scope = report.stream === null ? "" : ` of ${report.stream}`;
  output.out(
    `Verified ${count(report.eventsRead)} events${scope} in ${count(report.streams)} streams ` +
      `(${count(report.accounts)} accounts, ${count(report.postings)} postings, ` +
      `${count(report.entries)} entries) in ${(report.durationMs / 1_000).toFixed(2)} s: ` +
      `${count(report.eventsPerSecond)} events/s.`,
  );
  output.out(
    report.comparedAt === null
      ? "The ledger projection has no checkpoint: the read models should be empty."
      : `Read models compared at checkpoint ${report.comparedAt}; ` +
          `${count(report.eventsNotProjected)} events after it are not projected yet.`,
  );
  if (report.ok) {
    output.out("OK: every hash chain holds and the read models match the events.");
    return;
  }
  for (const discrepancy of report.discrepancies) output.out(describeDiscrepancy(discrepancy));
  const shown =
    report.discrepancies.length < report.discrepancyCount
      ? ` (the first ${report.discrepancies.length} shown)`
      : "";
  output.out(`FAILED: ${count(report.discrepancyCount)} discrepancies${shown}.`);
}

function count(value: number): string {
  return value.toLocaleString("en-US");
}
