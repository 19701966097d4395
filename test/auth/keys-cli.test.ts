import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiKeyStore, hashApiKey } from "../../src/auth/keys.js";
import { type KeysOutput, runKeysCommand } from "../../src/cli/keys.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

/** `nova keys …` end to end: configuration, migration check, the table, the output streams. */
describe("nova keys", () => {
  let database: TestDatabase;
  let environment: NodeJS.ProcessEnv;

  beforeAll(async () => {
    database = await createTestDatabase();
    environment = { DATABASE_URL: database.connectionString, LOG_LEVEL: "silent" };
  });
  afterAll(async () => {
    await database.drop();
  });

  async function nova(...args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const output: KeysOutput = { out: (line) => out.push(line), err: (line) => err.push(line) };
    const exitCode = await runKeysCommand(args, { environment, output });
    return { exitCode, out, err };
  }

  it("create prints the key alone on stdout, once, and stores only its hash", async () => {
    const created = await nova(
      "create",
      "--name",
      "agent app",
      "--scopes",
      "accounts:read,postings:write",
    );
    expect(created.exitCode).toBe(0);
    expect(created.out).toHaveLength(1);
    const key = created.out[0] ?? "";
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(created.err.join("\n")).not.toContain(key);
    expect(created.err.join("\n")).toMatch(/not shown again/);

    const { rows } = await database.pool.query(
      "SELECT name, scopes, key_hash FROM api_keys WHERE key_hash = $1",
      [hashApiKey(key)],
    );
    expect(rows).toEqual([
      {
        name: "agent app",
        scopes: ["accounts:read", "postings:write"],
        key_hash: hashApiKey(key),
      },
    ]);
    const principal = await new ApiKeyStore(database.pool).authenticate(key);
    expect(principal?.name).toBe("agent app");
  });

  it("list shows the key by id, name and prefix, never the key", async () => {
    const created = await nova("create", "--name", "listed", "--scopes", "audit:read");
    const key = created.out[0] ?? "";
    const listed = await nova("list");
    expect(listed.exitCode).toBe(0);
    expect(listed.out[0]).toMatch(/^id\s+name\s+prefix\s+scopes\s+created\s+revoked$/);
    const line = listed.out.find((row) => row.includes("listed"));
    expect(line).toContain(key.slice(0, 8));
    expect(line).toContain("audit:read");
    expect(listed.out.join("\n")).not.toContain(key);
  });

  it("revoke makes the key fail authentication and shows in list", async () => {
    const key = (await nova("create", "--name", "doomed", "--scopes", "reports:read")).out[0] ?? "";
    const store = new ApiKeyStore(database.pool);
    const principal = await store.authenticate(key);
    expect(principal).toBeDefined();
    const revoked = await nova("revoke", principal?.keyId ?? "");
    expect(revoked.exitCode).toBe(0);
    expect(revoked.out.join("\n")).toMatch(/^revoked key /);
    expect(await new ApiKeyStore(database.pool).authenticate(key)).toBeUndefined();
    const line = (await nova("list")).out.find((row) => row.includes("doomed"));
    expect(line).toMatch(/\d{4}-\d\d-\d\dT[\d:.]+Z$/);
  });

  it("revoking an unknown id exits 1", async () => {
    const revoked = await nova("revoke", "6f1c1f8e-2b8a-4d7c-9d43-0c4a9a3f3b10");
    expect(revoked).toMatchObject({ exitCode: 1, out: [] });
    expect(revoked.err.join("\n")).toMatch(/no API key with id/);
  });

  it.each([
    [["create", "--name", "x"]],
    [["create", "--scopes", "admin"]],
    [["create", "--name", "x", "--scopes", "accounts:delete"]],
    [["create", "--name", "x", "--scopes", ","]],
    [["create", "--name", "x".repeat(101), "--scopes", "admin"]],
    [["create", "--name", "x", "--scopes", "admin", "--bogus"]],
    [["revoke"]],
    [["revoke", "not-a-uuid"]],
    [["list", "--name", "x"]],
    [["rotate"]],
    [[]],
  ])("a usage error (%j) exits 2 with the usage, and creates nothing", async (args) => {
    const before = await database.pool.query("SELECT count(*)::int AS n FROM api_keys");
    const result = await nova(...args);
    expect(result.exitCode).toBe(2);
    expect(result.out).toEqual([]);
    expect(result.err.join("\n")).toMatch(/Usage:/);
    const after = await database.pool.query("SELECT count(*)::int AS n FROM api_keys");
    expect(after.rows).toEqual(before.rows);
  });
});
