/**
 * The server's least-privilege role (migrations/007): it appends events and writes read models,
 * and may change or drop nothing else.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool } from "../../src/db/pool.js";
import { appRole, appRoleUsable } from "../../src/db/roles.js";
import { PostgresEventStore } from "../../src/eventstore/postgres/postgres-event-store.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

describe("the nova_app role", () => {
  let database: TestDatabase;
  let app: ReturnType<typeof createPool>;
  beforeAll(async () => {
    database = await createTestDatabase();
    app = createPool({ connectionString: database.connectionString, role: appRole });
  });
  afterAll(async () => {
    await app.end();
    await database.drop();
  });

  const refused = async (sql: string) => {
    const error = await app.query(sql).then(
      () => undefined,
      (failure: unknown) => failure as { code?: string },
    );
    return error?.code;
  };

  it("is what the owner's sessions can work as", async () => {
    expect(await appRoleUsable(database.pool)).toBe(true);
    const { rows } = await app.query("SELECT current_user AS who");
    expect(rows).toEqual([{ who: appRole }]);
  });

  it("appends and reads events but can neither change nor remove one", async () => {
    const store = new PostgresEventStore(app);
    await store.append("role-test", "no_stream", [{ type: "Made", data: { v: "1" } }], {
      correlationId: "c",
      principal: "p",
      occurredAt: new Date(),
    });
    expect(await store.readStream("role-test")).toHaveLength(1);
    expect(await refused("UPDATE events SET type = 'Forged'")).toBe("42501");
    expect(await refused("DELETE FROM events")).toBe("42501");
    expect(await refused("TRUNCATE events")).toBe("42501");
  });

  it("writes read models but may not alter, drop or create tables, nor delete API keys", async () => {
    expect(await refused("SELECT count(*) FROM account_balances")).toBeUndefined();
    expect(await refused("DROP TABLE accounts")).toBe("42501");
    expect(
      await refused("ALTER TABLE account_balances DROP CONSTRAINT account_balances_held_check"),
    ).toBe("42501");
    expect(await refused("TRUNCATE ledger_entries")).toBe("42501");
    expect(await refused("CREATE TABLE mine (id int)")).toBe("42501");
    expect(await refused("DELETE FROM api_keys")).toBe("42501");
  });

  it("gets next months' ledger entry partitions created through the owner's function", async () => {
    await app.query("SELECT ensure_ledger_entry_partitions(now() + interval '2 years', 1)");
    const { rows } = await database.pool.query(
      "SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'ledger_entries'::regclass",
    );
    expect(rows[0].n).toBeGreaterThanOrEqual(5);
  });
});
