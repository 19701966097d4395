/**
 * Applies `migrations/` with Postgrator (plain numbered SQL files, `NNN.do.name.sql`). Each
 * applied migration's checksum is recorded; a migration changed after it was applied is refused
 * (drift check) instead of leaving the schema and the files silently apart.
 */
import { readdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import Postgrator from "postgrator";

export const migrationsDir = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../migrations",
);

export class MigrationDriftError extends Error {
  override readonly name = "MigrationDriftError";
}

export interface MigrationReport {
  readonly applied: readonly string[];
  readonly version: number;
}

/** Serialises concurrent migrators (two servers starting at once) on one advisory lock. */
const migrationLockKey = 1313821250;

export interface MigrateOptions {
  /** Where the numbered SQL files are; the project's `migrations/` unless a test says otherwise. */
  readonly directory?: string;
}

export async function migrate(
  connectionString: string,
  options: MigrateOptions = {},
): Promise<MigrationReport> {
  const directory = options.directory ?? migrationsDir;
  const client = new pg.Client({ connectionString, application_name: "nova-ledger-migrate" });
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [migrationLockKey]);
    await assertFilesMatchApplied(client, directory);
    // Every query goes through one chain, so the client never gets a query while another runs
    // (pg 9 refuses that): Postgrator's own, and the BEGIN/COMMIT around each migration.
    let chain: Promise<unknown> = Promise.resolve();
    const serially = (sql: string) => {
      const run = chain.then(() => client.query(sql));
      chain = run.catch(() => undefined);
      return run;
    };
    const postgrator = new Postgrator({
      migrationPattern: path.join(directory, "*.sql"),
      driver: "pg",
      schemaTable: "schema_migrations",
      validateChecksums: true,
      execQuery: serially,
    });
    // Each migration and its record commit together or not at all.
    const transactionErrors: unknown[] = [];
    const keep = (query: Promise<unknown>) => query.catch((error) => transactionErrors.push(error));
    postgrator.on("migration-started", () => keep(serially("BEGIN")));
    postgrator.on("migration-finished", () => keep(serially("COMMIT")));
    const applied = await postgrator.migrate().catch(async (error: unknown) => {
      await chain;
      await client.query("ROLLBACK").catch(() => undefined);
      throw explainMigrationError(error, directory);
    });
    await chain;
    if (transactionErrors.length > 0) throw transactionErrors[0];
    const version = await postgrator.getDatabaseVersion();
    return { applied: applied.map((migration) => path.basename(migration.filename)), version };
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [migrationLockKey]).catch(() => undefined);
    await client.end();
  }
}

/**
 * Postgrator checks the checksums of applied migrations that still have a file, and applies
 * only files numbered above the database's version. Two drifts slip through that: an applied
 * migration whose file was deleted, and a new file numbered below the version, which would
 * never run. Both are refused here, before anything is applied.
 */
async function assertFilesMatchApplied(client: pg.Client, directory: string): Promise<void> {
  const { rows } = await client
    .query<{ version: string }>("SELECT version::text AS version FROM schema_migrations")
    .catch((error: { code?: string }) => {
      if (error.code === "42P01") return { rows: [] }; // no migration applied yet
      throw error;
    });
  const applied = new Set(rows.map((row) => Number(row.version)).filter((v) => v > 0));
  const files = new Set(
    (await readdir(directory))
      .map((name) => /^(\d+)\.do\..*\.sql$/.exec(name)?.[1])
      .filter((version): version is string => version !== undefined)
      .map(Number),
  );
  const gone = [...applied].filter((version) => !files.has(version));
  if (gone.length > 0) {
    throw new MigrationDriftError(
      `migration ${gone.join(", ")} was applied to this database but its file is gone from ` +
        `${directory}. Applied migrations are never removed: restore the file.`,
    );
  }
  const current = Math.max(0, ...applied);
  const stranded = [...files].filter((version) => version < current && !applied.has(version));
  if (stranded.length > 0) {
    throw new MigrationDriftError(
      `migration ${stranded.join(", ")} in ${directory} is numbered below this database's ` +
        `version ${current} and would never run. Renumber it above ${current}.`,
    );
  }
}

function explainMigrationError(error: unknown, directory: string): unknown {
  const message = error instanceof Error ? error.message : String(error);
  const drift = /MD5 checksum failed for migration \[(\d+)\]/.exec(message);
  if (drift === null) return error;
  return new MigrationDriftError(
    `migration ${drift[1]} in ${directory} was changed after it was applied to this ` +
      "database. Applied migrations are never edited: restore the file and add a new migration " +
      "for the change.",
  );
}
