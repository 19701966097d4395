/**
 * The composition root: starts (or connects to) Postgres, migrates it, builds the event store
 * and the HTTP app, and tears them down in the reverse order. Commands of the CLI share it.
 */

import type pg from "pg";
import pino, { type Logger } from "pino";
import { buildApp } from "../api/app.js";
import type { ProjectionHealth } from "../api/health.js";
import { ApiKeyStore } from "../auth/keys.js";
import { LedgerCommands } from "../commands/ledger.js";
import { CommandPipeline } from "../commands/pipeline.js";
import type { Config } from "../config/config.js";
import { type EmbeddedPostgresHandle, startEmbeddedPostgres } from "../db/embedded.js";
import { migrate } from "../db/migrate.js";
import { clientConfig, createPool } from "../db/pool.js";
import { createKurrentDbEventStore } from "../eventstore/kurrentdb/kurrentdb-event-store.js";
import type { EventStore } from "../eventstore/port.js";
import { PostgresNotificationListener } from "../eventstore/postgres/listener.js";
import { PostgresEventStore } from "../eventstore/postgres/postgres-event-store.js";
import { LedgerProjection } from "../projections/ledger-projection.js";
import { ProjectorRunner } from "../projections/runner.js";
import { ReadModels } from "../queries/index.js";

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
    const pool = createPool({
      connectionString: database.url,
      poolSizeMax: config.databasePoolSizeMax,
    });
    closers.push(() => pool.end());
    const eventStore = await openEventStore(config, database.url, pool, logger, closers);
    const keys = new ApiKeyStore(pool);
    const admin = await keys.ensureAdminKey(config.adminKey);
    if (admin.status === "revoked") {
      logger.warn("NOVA_ADMIN_KEY was revoked by an operator; set a new one to have an admin key");
    }
    const projector = new ProjectorRunner(eventStore, pool, new LedgerProjection(), {
      logger: logger.child({ projection: "ledger" }),
    });
    await projector.start();
    closers.push(() => projector.stop());
    const pipeline = new CommandPipeline(eventStore);
    // Shutdown: the app stops taking requests first, then every accepted command is answered.
    closers.push(() => pipeline.drain());
    const app = await buildApp({
      logger,
      health: {
        database: async () => {
          await pool.query("SELECT 1");
        },
        eventStore: () => eventStore.ping(),
        projections: () => projectionHealth(projector),
      },
      ledger: {
        api: {
          ledger: new LedgerCommands(pipeline),
          readModels: new ReadModels(pool),
          progress: projector,
        },
        authenticator: keys,
      },
    });
    closers.push(() => app.close());
    const address = await app.listen({ port: config.port, host: config.host });
    return { address, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** The projector's health: failing when it stopped on an event, with its lag either way. */
async function projectionHealth(projector: ProjectorRunner): Promise<ProjectionHealth> {
  const status = projector.status();
  const lag = await projector.lag();
  if (status.state === "failed") {
    const failure = status.failure;
    return {
      lag: lag.events,
      lagSeconds: lag.seconds,
      status: "failing",
      error: failure
        ? `stopped on ${failure.type} ${failure.stream}@${failure.revision} (${failure.position}): ${failure.message}`
        : "the projector stopped",
    };
  }
  return { lag: lag.events, lagSeconds: lag.seconds, status: "ok" };
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
