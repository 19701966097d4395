import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/config.js";

describe("configuration", () => {
  it("runs with no variables at all: embedded Postgres under ./.nova, port 3000 on loopback", () => {
    expect(loadConfig({})).toEqual({
      databaseUrl: undefined,
      dataDir: "./.nova",
      embeddedPostgresPort: 54_329,
      port: 3000,
      host: "127.0.0.1",
      adminKey: undefined,
      secretKey: undefined,
      eventStore: "postgres",
      kurrentDbUrl: undefined,
      logLevel: "info",
      databasePoolSizeMax: 20,
    });
  });

  it("reads every variable", () => {
    const config = loadConfig({
      DATABASE_URL: "postgres://nova@db/nova",
      NOVA_DATA_DIR: "/var/lib/nova",
      NOVA_EMBEDDED_PG_PORT: "6000",
      PORT: "8080",
      HOST: "0.0.0.0",
      NOVA_ADMIN_KEY: "k".repeat(40),
      NOVA_EVENT_STORE: "kurrentdb",
      KURRENTDB_URL: "kurrentdb://localhost:2113?tls=false",
      LOG_LEVEL: "debug",
      NOVA_DB_POOL_SIZE: "32",
    });
    expect(config).toMatchObject({ port: 8080, eventStore: "kurrentdb", databasePoolSizeMax: 32 });
  });

  it("decodes NOVA_SECRET_KEY from base64, standard or URL-safe", () => {
    const key = Buffer.from(Array.from({ length: 32 }, (_, index) => 250 - index));
    expect(loadConfig({ NOVA_SECRET_KEY: key.toString("base64") }).secretKey).toEqual(key);
    expect(loadConfig({ NOVA_SECRET_KEY: key.toString("base64url") }).secretKey).toEqual(key);
  });

  it("an empty DATABASE_URL means unset (embedded Postgres)", () => {
    expect(loadConfig({ DATABASE_URL: "" }).databaseUrl).toBeUndefined();
  });

  it.each([
    [{ PORT: "eighty" }, /PORT/],
    [{ PORT: "70000" }, /PORT/],
    [{ NOVA_ADMIN_KEY: "short" }, /NOVA_ADMIN_KEY: must be at least 32 characters/],
    // 31 bytes: one short of an AES-256 key.
    [
      { NOVA_SECRET_KEY: Buffer.alloc(31, 7).toString("base64") },
      /NOVA_SECRET_KEY: must be at least 32 random bytes/,
    ],
    [{ NOVA_SECRET_KEY: "not base64 at all!".repeat(4) }, /NOVA_SECRET_KEY: must be at least 32/],
    [{ NOVA_EVENT_STORE: "mongo" }, /NOVA_EVENT_STORE/],
    [{ NOVA_EVENT_STORE: "kurrentdb" }, /KURRENTDB_URL: required/],
    [{ LOG_LEVEL: "loud" }, /LOG_LEVEL/],
  ])("refuses %o with a message naming the variable", (environment, message) => {
    expect(() => loadConfig(environment)).toThrow(ConfigError);
    expect(() => loadConfig(environment)).toThrow(message);
  });
});
