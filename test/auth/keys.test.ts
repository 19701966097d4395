import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ApiKeyStore,
  apiKeyBytes,
  authenticationCacheTtlMs,
  displayPrefixLength,
  generateApiKey,
  hashApiKey,
  hashApiKeyHex,
  InvalidApiKeyRequestError,
} from "../../src/auth/keys.js";
import { allScopes, scopes } from "../../src/auth/scopes.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

describe("API keys in Postgres", () => {
  let database: TestDatabase;
  let store: ApiKeyStore;

  beforeAll(async () => {
    database = await createTestDatabase();
    store = new ApiKeyStore(database.pool);
  });
  afterAll(async () => {
    await database.drop();
  });

  it("a generated key carries 32 random bytes and no two are alike", () => {
    const keys = new Set(Array.from({ length: 100 }, () => generateApiKey()));
    expect(keys.size).toBe(100);
    for (const key of keys) {
      expect(Buffer.from(key, "base64url")).toHaveLength(apiKeyBytes);
    }
  });

  it("a key's hash is its SHA-256, the same as bytes and as the cache's hex", () => {
    // FIPS 180-2 test vector: SHA-256("abc").
    const abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    expect(hashApiKeyHex("abc")).toBe(abc);
    expect(hashApiKey("abc")).toEqual(Buffer.from(abc, "hex"));
    const key = generateApiKey();
    expect(hashApiKeyHex(key)).toBe(hashApiKey(key).toString("hex"));
  });

  it("a created key authenticates as its own principal with its scopes", async () => {
    const created = await store.create({ name: "teller app", scopes: ["accounts:read"] });
    expect(created).toMatchObject({
      name: "teller app",
      prefix: created.key.slice(0, displayPrefixLength),
      scopes: ["accounts:read"],
      principal: `key:${created.id}`,
      revokedAt: null,
    });
    const principal = await store.authenticate(created.key);
    expect(principal).toEqual({
      id: `key:${created.id}`,
      name: "teller app",
      scopes: new Set(["accounts:read"]),
      keyId: created.id,
    });
  });

  it("the stored row holds the key's SHA-256 and no plaintext", async () => {
    const created = await store.create({ name: "plaintext probe", scopes: ["audit:read"] });
    const { rows } = await database.pool.query("SELECT * FROM api_keys WHERE id = $1", [
      created.id,
    ]);
    const row = rows[0];
    expect(row.key_hash).toEqual(createHash("sha256").update(created.key, "utf8").digest());
    expect(row.key_hash).toEqual(hashApiKey(created.key));
    expect(JSON.stringify(row)).not.toContain(created.key);
    expect(JSON.stringify(row)).not.toContain(created.key.slice(displayPrefixLength));
  });

  it("an unknown, empty or oversized key authenticates nobody", async () => {
    expect(await store.authenticate(generateApiKey())).toBeUndefined();
    expect(await store.authenticate("")).toBeUndefined();
    expect(await store.authenticate("x".repeat(10_000))).toBeUndefined();
  });

  it("a revoked key stops working at once in the revoking process", async () => {
    const created = await store.create({ name: "to revoke", scopes: ["postings:write"] });
    expect(await store.authenticate(created.key)).toBeDefined(); // now cached
    const revoked = await store.revoke(created.id);
    expect(revoked?.revokedAt).toBeInstanceOf(Date);
    expect(await store.authenticate(created.key)).toBeUndefined();
    const again = await store.revoke(created.id);
    expect(again?.revokedAt).toEqual(revoked?.revokedAt);
  });

  it("a key revoked by another process stops working within the cache window", async () => {
    const cacheTtlMs = 300;
    const server = new ApiKeyStore(database.pool, { cacheTtlMs });
    const created = await store.create({ name: "revoked elsewhere", scopes: ["postings:read"] });
    expect(await server.authenticate(created.key)).toBeDefined();
    await store.revoke(created.id);
    // Still served from the server's cache: the documented window.
    expect(await server.authenticate(created.key)).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, cacheTtlMs + 50));
    expect(await server.authenticate(created.key)).toBeUndefined();
  });

  it("the cache window is bounded", () => {
    expect(() => new ApiKeyStore(database.pool, { cacheTtlMs: 600_000 })).toThrow(RangeError);
    expect(authenticationCacheTtlMs).toBeLessThanOrEqual(10_000);
  });

  it("revoking an unknown or malformed id finds nothing", async () => {
    expect(await store.revoke("6f1c1f8e-2b8a-4d7c-9d43-0c4a9a3f3b10")).toBeUndefined();
    expect(await store.revoke("not-a-uuid")).toBeUndefined();
  });

  it("list shows every key without its secret", async () => {
    const created = await store.create({ name: "listed", scopes: ["reports:read"] });
    const listed = await store.list();
    const entry = listed.find((key) => key.id === created.id);
    expect(entry).toEqual({
      id: created.id,
      name: "listed",
      prefix: created.prefix,
      scopes: ["reports:read"],
      principal: `key:${created.id}`,
      createdAt: created.createdAt,
      revokedAt: null,
    });
    expect(JSON.stringify(listed)).not.toContain(created.key);
  });

  it("admin implies every scope", async () => {
    const created = await store.create({ name: "ops", scopes: ["admin"] });
    expect((await store.authenticate(created.key))?.scopes).toEqual(allScopes);
  });

  it("create refuses an unknown scope, no scope and an empty name", async () => {
    await expect(store.create({ name: "x", scopes: ["accounts:delete"] })).rejects.toThrow(
      InvalidApiKeyRequestError,
    );
    await expect(store.create({ name: "x", scopes: [] })).rejects.toThrow(/at least one scope/);
    await expect(store.create({ name: "  ", scopes: ["admin"] })).rejects.toThrow(/name/);
  });

  it("scopes are stored once each, in the canonical order", async () => {
    const created = await store.create({
      name: "dupes",
      scopes: ["postings:write", "accounts:read", "postings:write"],
    });
    expect(created.scopes).toEqual(["accounts:read", "postings:write"]);
  });

  describe("the scopes CHECK", () => {
    const insert = (scopeList: readonly (string | null)[]) =>
      database.pool.query(
        `INSERT INTO api_keys (id, name, prefix, key_hash, scopes, principal)
         SELECT id, 'direct', 'abcdefgh', $1, $2, 'key:' || id
         FROM (SELECT gen_random_uuid() AS id) AS fresh`,
        [hashApiKey(generateApiKey()), scopeList],
      );

    it("refuses a row with an unknown scope", async () => {
      await expect(insert(["accounts:read", "accounts:delete"])).rejects.toThrow(
        /api_keys_scopes_check/,
      );
    });

    it("refuses a row with no scope or a null scope", async () => {
      await expect(insert([])).rejects.toThrow(/api_keys_scopes_check/);
      await expect(insert([null])).rejects.toThrow(/api_keys_scopes_check/);
    });

    it("accepts every scope of src/auth/scopes.ts", async () => {
      await expect(insert(scopes)).resolves.toMatchObject({ rowCount: 1 });
    });
  });

  describe("the admin key from NOVA_ADMIN_KEY", () => {
    const firstAdminKey = generateApiKey();
    const secondAdminKey = generateApiKey();

    it("becomes the admin principal holding every scope", async () => {
      const state = await store.ensureAdminKey(firstAdminKey);
      expect(state).toMatchObject({ status: "active", key: { principal: "admin" } });
      const principal = await store.authenticate(firstAdminKey);
      expect(principal).toMatchObject({ id: "admin", name: "admin" });
      expect(principal?.scopes).toEqual(allScopes);
    });

    it("starting again with the same key changes nothing", async () => {
      const before = await store.ensureAdminKey(firstAdminKey);
      const after = await store.ensureAdminKey(firstAdminKey);
      expect(after).toEqual(before);
    });

    it("a new value replaces the previous admin key, keeping one admin row", async () => {
      await store.ensureAdminKey(secondAdminKey);
      expect(await store.authenticate(firstAdminKey)).toBeUndefined();
      expect(await store.authenticate(secondAdminKey)).toMatchObject({ id: "admin" });
      const { rows } = await database.pool.query(
        "SELECT key_hash FROM api_keys WHERE principal = 'admin'",
      );
      expect(rows).toEqual([{ key_hash: hashApiKey(secondAdminKey) }]);
    });

    it("a revoked admin key stays revoked when the server restarts with it", async () => {
      const { key } = (await store.ensureAdminKey(secondAdminKey)) as { key: { id: string } };
      await store.revoke(key.id);
      expect(await store.ensureAdminKey(secondAdminKey)).toMatchObject({ status: "revoked" });
      expect(await store.authenticate(secondAdminKey)).toBeUndefined();
      expect(await store.ensureAdminKey(firstAdminKey)).toMatchObject({ status: "active" });
      expect(await store.authenticate(firstAdminKey)).toMatchObject({ id: "admin" });
    });

    it("starting without NOVA_ADMIN_KEY revokes the stored admin key", async () => {
      await store.ensureAdminKey(firstAdminKey);
      expect(await store.ensureAdminKey(undefined)).toEqual({ status: "disabled" });
      expect(await store.authenticate(firstAdminKey)).toBeUndefined();
    });

    it("refuses a value that is another principal's key, or too short", async () => {
      const other = await store.create({ name: "someone", scopes: ["accounts:read"] });
      await expect(store.ensureAdminKey(other.key)).rejects.toThrow(/another principal/);
      await expect(store.ensureAdminKey("short")).rejects.toThrow(InvalidApiKeyRequestError);
    });
  });
});
