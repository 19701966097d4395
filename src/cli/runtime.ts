/**
 * The composition root: starts (or connects to) Postgres, migrates it, builds the event store
 * and the HTTP app, and tears them down in the reverse order. Commands of the CLI share it.
 */

import type pg from "pg";
import pino, { type Logger } from "pino";
import type { Config } from "../config/config.js";
import { type EmbeddedPostgresHandle, startEmbeddedPostgres } from "../db/embedded.js";
import { migrate } from "../db/migrate.js";
import { clientConfig, createPool } from "../db/pool.js";
import { appRole, appRoleUsable } from "../db/roles.js";
import { createKurrentDbEventStore } from "../eventstore/kurrentdb/kurrentdb-event-store.js";
import type { EventStore } from "../eventstore/port.js";
import { PostgresNotificationListener } from "../eventstore/postgres/listener.js";
import { PostgresEventStore } from "../eventstore/postgres/postgres-event-store.js";
import { seedOnFirstStart } from "./catalogue.js";
import { createLedgerApp, type LedgerApp } from "./ledger-app.js";

export const embeddedDatabaseName = "nova";

export function createLogger(config: Pick<Config, "logLevel">): Logger {
  return pino({
    level: config.logLevel,
    // Secrets never reach the logs, whatever a log call is handed.
    redact: {
      paths: [
        "req.headers.authorization",
        "req.headers.cookie",
        "req.headers['x-otp']",
        "*.apiKey",
      ],
      censor: "[redacted]",
    },
    ...(process.stdout.isTTY && process.env.NODE_ENV !== "production"
      ? { transport: { target: "pino-pretty", options: { translateTime: "SYS:HH:MM:ss.l" } } }
      : {}),
  });
}

export interface Database {
  readonly url: string;
  readonly embedded: EmbeddedPostgresHandle | undefined;
}

/** Connects to DATABASE_URL, or starts the embedded Postgres kept under NOVA_DATA_DIR. */
export async function openDatabase(config: Config, logger: Logger): Promise<Database> {
  if (config.databaseUrl !== undefined) return { url: config.databaseUrl, embedded: undefined };
  logger.info(
    { dataDir: config.dataDir, port: config.embeddedPostgresPort },
    "DATABASE_URL is not set: starting the embedded Postgres",
  );
  const embedded = await startEmbeddedPostgres({
    dataDir: config.dataDir,
    port: config.embeddedPostgresPort,
    database: embeddedDatabaseName,
    onLog: (line) => logger.debug({ postgres: line }),
  });
  return { url: embedded.connectionString, embedded };
}

export interface Server {
  readonly address: string;
  /** The ledger service: its projector (e.g. for X-Min-Position), pipeline and metrics. */
  readonly ledger: LedgerApp;
  close(): Promise<void>;
}

export async function startServer(config: Config, logger: Logger): Promise<Server> {
  const database = await openDatabase(config, logger);
  const closers: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const closer of closers.reverse()) {
      await closer().catch((error: unknown) =>
        logger.error({ err: error }, "shutdown step failed"),
      );
    }
  };
  closers.push(async () => database.embedded?.stop());
  try {
    const report = await migrate(database.url);
    logger.info({ applied: report.applied, version: report.version }, "database migrated");
    const role = await serverRole(database.url, logger);
    const pool = createPool({
      connectionString: database.url,
      poolSizeMax: config.databasePoolSizeMax,
      ...(role === undefined ? {} : { role }),
    });
    closers.push(() => pool.end());
    const eventStore = await openEventStore(config, database.url, pool, logger, closers);
    const ledger = await createLedgerApp({
      store: eventStore,
      pool,
      logger,
      adminKey: config.adminKey,
      secretKey: config.secretKey,
    });
    closers.push(() => ledger.close());
    // A first start on an empty store gets the mobile-money catalogue (README).
    await seedOnFirstStart(eventStore, ledger.pipeline, logger);
    const address = await ledger.app.listen({ port: config.port, host: config.host });
    return { address, ledger, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** The least-privilege role when this database user may take it; the owner's otherwise. */
async function serverRole(databaseUrl: string, logger: Logger): Promise<string | undefined> {
  const probe = createPool({ connectionString: databaseUrl, poolSizeMax: 1 });
  try {
    if (await appRoleUsable(probe)) return appRole;
    logger.warn(
      { role: appRole },
      "the database user cannot work as the least-privilege role; serving as the owner",
    );
    return undefined;
  } finally {
    await probe.end();
  }
}

/**
 * The event store of a one-shot CLI command (audit, seeding): like the server's, but without a
 * notification listener (nothing here subscribes). The caller closes it and the pool.
 */
export function openCommandEventStore(config: Config, pool: pg.Pool): EventStore {
  if (config.eventStore === "kurrentdb" && config.kurrentDbUrl !== undefined) {
    return createKurrentDbEventStore(config.kurrentDbUrl);
  }
  return new PostgresEventStore(pool);
}

async function openEventStore(
  config: Config,
  databaseUrl: string,
  pool: pg.Pool,
  logger: Logger,
  closers: Array<() => Promise<void>>,
): Promise<EventStore> {
  if (config.eventStore === "kurrentdb" && config.kurrentDbUrl !== undefined) {
    const store = createKurrentDbEventStore(config.kurrentDbUrl);
    closers.push(() => store.close());
    return store;
  }
  const listener = new PostgresNotificationListener(
    clientConfig({ connectionString: databaseUrl, applicationName: "nova-ledger-listen" }),
    (error) => logger.warn({ err: error }, "event notification connection lost; reconnecting"),
  );
  await listener.start();
  closers.push(() => listener.close());
  const store = new PostgresEventStore(pool, { listener });
  closers.push(() => store.close());
  return store;
}
