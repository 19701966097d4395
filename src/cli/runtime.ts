/**
 * The server's composition root: starts (or connects to) Postgres, migrates it, builds the
 * event store and the ledger service (ledger-app.ts), and tears them down in the reverse order.
 * What every command opens (logger, database) is in connect.ts.
 */

import type pg from "pg";
import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import { migrate } from "../db/migrate.js";
import { clientConfig, createPool } from "../db/pool.js";
import { appRole, appRoleUsable } from "../db/roles.js";
import { createKurrentDbEventStore } from "../eventstore/kurrentdb/kurrentdb-event-store.js";
import type { EventStore } from "../eventstore/port.js";
import { PostgresNotificationListener } from "../eventstore/postgres/listener.js";
import { PostgresEventStore } from "../eventstore/postgres/postgres-event-store.js";
import { seedOnFirstStart } from "./catalogue.js";
import { openDatabase } from "./connect.js";
import { createLedgerApp, type LedgerApp } from "./ledger-app.js";

export interface Server {
  readonly address: string;
  /** The ledger service: its projector (e.g. for X-Min-Position), pipeline and metrics. */
  readonly ledger: LedgerApp;
  close(): Promise<void>;
}

/** The projector thread's pool: each of its two projectors holds one connection at a time. */
const projectorPoolSizeMax = 4;

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
      // The read models are written on a thread of their own, off the API's event loop.
      projectorThread: {
        databaseUrl: database.url,
        poolSizeMax: projectorPoolSizeMax,
        ...(role === undefined ? {} : { role }),
        ...(usesKurrentDb(config) ? { kurrentDbUrl: config.kurrentDbUrl } : {}),
      },
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

async function openEventStore(
  config: Config,
  databaseUrl: string,
  pool: pg.Pool,
  logger: Logger,
  closers: Array<() => Promise<void>>,
): Promise<EventStore> {
  if (usesKurrentDb(config)) {
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

function usesKurrentDb(config: Config): config is Config & { readonly kurrentDbUrl: string } {
  return config.eventStore === "kurrentdb" && config.kurrentDbUrl !== undefined;
}
