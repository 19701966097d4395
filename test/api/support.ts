/**
 * The whole HTTP API on a test database, over real HTTP: event store, command pipeline,
 * projector, read models and key store wired as the server wires them.
 */
import { randomBytes } from "node:crypto";
import pino from "pino";
import type { ApiKeyStore } from "../../src/auth/keys.js";
import { createLedgerApp } from "../../src/cli/ledger-app.js";
import { createPool } from "../../src/db/pool.js";
import { appRole } from "../../src/db/roles.js";
import { PostgresEventStore } from "../../src/eventstore/postgres/postgres-event-store.js";
import type { Projector } from "../../src/projections/runner.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

export const adminKey = "test-admin-key-0123456789abcdefghijklmnop";

export interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field
  readonly body: any;
}

export interface CallOptions {
  readonly body?: unknown;
  /** The API key; `null` sends none. Default: the admin key. */
  readonly key?: string | null;
  readonly headers?: Readonly<Record<string, string>>;
  /** Sent as is, instead of JSON of `body`. */
  readonly rawBody?: string;
}

export interface TestApi {
  readonly baseUrl: string;
  readonly database: TestDatabase;
  readonly keys: ApiKeyStore;
  readonly projector: Projector;
  /** The event store the server appends to (for tests that write around the API). */
  readonly store: PostgresEventStore;
  checkTrialBalance(): Promise<void>;
  call(method: string, path: string, options?: CallOptions): Promise<ApiResponse>;
  /** A new key holding exactly `scopes`. */
  keyWith(...scopes: string[]): Promise<string>;
  close(): Promise<void>;
}

export interface TestApiOptions {
  /** Where the server's JSON log lines go (default: nowhere). */
  readonly log?: { write(line: string): void };
  /** The level of those lines (default: info). */
  readonly logLevel?: "info" | "warn";
  /** Run the projectors on a thread of their own, as the server does (default: this one). */
  readonly projectorThread?: boolean;
}

export async function startTestApi(options: TestApiOptions = {}): Promise<TestApi> {
  const database = await createTestDatabase({ poolSizeMax: 30 });
  // As the server does: every session works as the least-privilege role.
  const pool = createPool({
    connectionString: database.connectionString,
    poolSizeMax: 30,
    role: appRole,
  });
  const store = new PostgresEventStore(pool);
  const ledger = await createLedgerApp({
    store,
    pool,
    logger:
      options.log === undefined
        ? pino({ level: "silent" })
        : pino({ level: options.logLevel ?? "info" }, options.log),
    adminKey,
    keyCacheTtlMs: 1,
    secretKey: randomBytes(32),
    ...(options.projectorThread === true
      ? {
          projectorThread: {
            databaseUrl: database.connectionString,
            poolSizeMax: 4,
            role: appRole,
          },
        }
      : {}),
  });
  const { keys, projector } = ledger;
  const baseUrl = await ledger.app.listen({ port: 0, host: "127.0.0.1" });
  return {
    baseUrl,
    database,
    keys,
    projector,
    store,
    checkTrialBalance: () => ledger.checkTrialBalance(),
    async call(method, path, options = {}) {
      const key = options.key === undefined ? adminKey : options.key;
      const headers: Record<string, string> = { ...options.headers };
      if (key !== null) headers.authorization = `Bearer ${key}`;
      let body: string | undefined = options.rawBody;
      if (body === undefined && options.body !== undefined) body = JSON.stringify(options.body);
      if (body !== undefined && headers["content-type"] === undefined) {
        headers["content-type"] = "application/json";
      }
      const response = await fetch(`${baseUrl}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
      });
      const text = await response.text();
      const type = response.headers.get("content-type") ?? "";
      return {
        status: response.status,
        headers: response.headers,
        body: type.includes("json") && text !== "" ? JSON.parse(text) : text,
      };
    },
    async keyWith(...scopes) {
      return (await keys.create({ name: `test ${scopes.join(" ")}`, scopes })).key;
    },
    async close() {
      await ledger.close();
      await pool.end();
      await database.drop();
    },
  };
}
