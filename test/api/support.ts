/**
 * The whole HTTP API on a test database, over real HTTP: event store, command pipeline,
 * projector, read models and key store wired as the server wires them.
 */
import pino from "pino";
import { buildApp } from "../../src/api/app.js";
import { ApiKeyStore } from "../../src/auth/keys.js";
import { LedgerCommands } from "../../src/commands/ledger.js";
import { CommandPipeline } from "../../src/commands/pipeline.js";
import { PostgresEventStore } from "../../src/eventstore/postgres/postgres-event-store.js";
import { LedgerProjection } from "../../src/projections/ledger-projection.js";
import { ProjectorRunner } from "../../src/projections/runner.js";
import { ReadModels } from "../../src/queries/index.js";
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
  readonly projector: ProjectorRunner;
  call(method: string, path: string, options?: CallOptions): Promise<ApiResponse>;
  /** A new key holding exactly `scopes`. */
  keyWith(...scopes: string[]): Promise<string>;
  close(): Promise<void>;
}

export async function startTestApi(): Promise<TestApi> {
  const database = await createTestDatabase({ poolSizeMax: 30 });
  const store = new PostgresEventStore(database.pool);
  const pipeline = new CommandPipeline(store);
  const projector = new ProjectorRunner(store, database.pool, new LedgerProjection());
  await projector.start();
  const keys = new ApiKeyStore(database.pool, { cacheTtlMs: 1 });
  await keys.ensureAdminKey(adminKey);
  const app = await buildApp({
    logger: pino({ level: "silent" }),
    health: {
      database: async () => {
        await database.pool.query("SELECT 1");
      },
      eventStore: () => store.ping(),
      projections: async () => ({ lag: 0, status: "ok" }),
    },
    ledger: {
      api: {
        ledger: new LedgerCommands(pipeline),
        readModels: new ReadModels(database.pool),
        progress: projector,
      },
      authenticator: keys,
    },
  });
  const baseUrl = await app.listen({ port: 0, host: "127.0.0.1" });
  return {
    baseUrl,
    database,
    keys,
    projector,
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
      await app.close();
      await pipeline.drain();
      await projector.stop();
      await database.drop();
    },
  };
}
