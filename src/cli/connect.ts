/**
 * What every `nova` command opens: the logger, the database (DATABASE_URL or the embedded
 * Postgres under NOVA_DATA_DIR) and, for one-shot commands, the event store.
 */
import type pg from "pg";
import pino, { type Logger } from "pino";
import type { Config } from "../config/config.js";
import { type EmbeddedPostgresHandle, startEmbeddedPostgres } from "../db/embedded.js";
import { createKurrentDbEventStore } from "../eventstore/kurrentdb/kurrentdb-event-store.js";
import type { EventStore } from "../eventstore/port.js";
import { PostgresEventStore } from "../eventstore/postgres/postgres-event-store.js";

export const embeddedDatabaseName = "nova";

const logBufferBytesMax = 16 * 1024 * 1024;

export function createLogger(config: Pick<Config, "logLevel">): Logger {
  const pretty = process.stdout.isTTY && process.env.NODE_ENV !== "production";
  return pino(
    {
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
      ...(pretty
        ? { transport: { target: "pino-pretty", options: { translateTime: "SYS:HH:MM:ss.l" } } }
        : {}),
    },
    // Written asynchronously: a line goes out at once when stdout is free, and the lines that
    // come while a write is in flight go out together with the next one, not a write each (at
    // info, a line per request: ~15% of the server's CPU when each was its own write). What is
    // left is written before the process exits. A reader of stdout stuck for long costs lines
    // beyond 16 MiB waiting, never the API's event loop.
    pretty ? undefined : pino.destination({ dest: 1, sync: false, maxLength: logBufferBytesMax }),
  );
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
