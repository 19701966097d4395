import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MigrationDriftError, migrate, migrationsDir } from "../../src/db/migrate.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

describe("migrations", () => {
  let database: TestDatabase;
  let directory: string;
  beforeEach(async () => {
    database = await createTestDatabase({ migrated: false });
    directory = await mkdtemp(path.join(tmpdir(), "nova-migrations-"));
    await cp(migrationsDir, directory, { recursive: true });
  });
  afterEach(async () => {
    await database.drop();
    await rm(directory, { recursive: true, force: true });
  });

  it("applies every migration once; a second run applies nothing", async () => {
    const first = await migrate(database.connectionString, { directory });
    expect(first.applied).toContain("001.do.event-store.sql");
    const second = await migrate(database.connectionString, { directory });
    expect(second).toEqual({ applied: [], version: first.version });
    const tables = await database.pool.query(
      "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name IN ('events', 'api_keys')",
    );
    expect(tables.rows[0]).toEqual({ n: 2 });
  });

  it("refuses a migration changed after it was applied, naming it and the fix", async () => {
    await migrate(database.connectionString, { directory });
    await writeFile(
      path.join(directory, "001.do.event-store.sql"),
      "-- edited after it was applied\nSELECT 1;\n",
    );
    const refusal = await migrate(database.connectionString, { directory }).catch(
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(MigrationDriftError);
    expect((refusal as Error).message).toMatch(/migration 1 .* was changed after it was applied/);
    expect((refusal as Error).message).toMatch(/add a new migration/);
  });

  it("refuses when an applied migration's file is gone", async () => {
    await migrate(database.connectionString, { directory });
    await rm(path.join(directory, "004.do.api-keys.sql"));
    const refusal = await migrate(database.connectionString, { directory }).catch(
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(MigrationDriftError);
    expect((refusal as Error).message).toMatch(/migration 4 was applied .* its file is gone/);
  });

  it("the read models' triggers plan by key, never by reading a whole table", async () => {
    await migrate(database.connectionString, { directory });
    const functions = await database.pool.query<{ proname: string; proconfig: string[] }>(
      `SELECT proname, proconfig FROM pg_proc
        WHERE proname IN ('refuse_late_entries', 'adjust_account_balance', 'enforce_double_entry')
        ORDER BY proname`,
    );
    expect(functions.rows).toEqual(
      ["adjust_account_balance", "enforce_double_entry", "refuse_late_entries"].map((proname) => ({
        proname,
        proconfig: ["enable_seqscan=off"],
      })),
    );
  });

  it("refuses a new migration numbered below the database's version, which would never run", async () => {
    const { version } = await migrate(database.connectionString, { directory });
    await writeFile(path.join(directory, "003.do.late.sql"), "CREATE TABLE late (id int);\n");
    const refusal = await migrate(database.connectionString, { directory }).catch(
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(MigrationDriftError);
    expect((refusal as Error).message).toMatch(
      new RegExp(`migration 3 .* below this database's version ${version}`),
    );
    const late = await database.pool.query("SELECT to_regclass('late') AS late");
    expect(late.rows[0]).toEqual({ late: null });
  });

  it("a failing migration leaves nothing of itself behind and is not recorded", async () => {
    const before = await migrate(database.connectionString, { directory });
    await writeFile(
      path.join(directory, "999.do.broken.sql"),
      "CREATE TABLE half_done (id int);\nSELECT no_such_function();\n",
    );
    await expect(migrate(database.connectionString, { directory })).rejects.toThrow(
      /no_such_function/,
    );
    const leftovers = await database.pool.query(
      "SELECT to_regclass('half_done') AS half_done, max(version)::int AS version FROM schema_migrations",
    );
    expect(leftovers.rows[0]).toEqual({ half_done: null, version: before.version });
  });
});
