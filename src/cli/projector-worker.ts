/**
 * The projector thread's side (projector-thread.ts starts it): the ledger and transactions projectors,
 * each a ProjectorRunner as in the process, on a pool, a store and a notification listener of
 * the thread's own. Every status change goes to the process's side; a "stop" message stops the
 * runners, closes what was opened here and answers "stopped".
 */
import { parentPort, workerData } from "node:worker_threads";
import type pg from "pg";
import { clientConfig, createPool } from "../db/pool.js";
import { createKurrentDbEventStore } from "../eventstore/kurrentdb/kurrentdb-event-store.js";
import type { EventStore } from "../eventstore/port.js";
import { PostgresNotificationListener } from "../eventstore/postgres/listener.js";
import { PostgresEventStore } from "../eventstore/postgres/postgres-event-store.js";
import { LedgerProjection } from "../projections/ledger-projection.js";
import { ProjectorRunner, type ProjectorStatus } from "../projections/runner.js";
import { TransactionsProjection } from "../projections/transactions-projection.js";
import type { ProjectorThreadConfig, ThreadReply, ThreadRequest } from "./projector-thread.js";

const port = parentPort;
if (port === null) throw new Error("projector-worker.ts runs on a worker thread");
const config = workerData as ProjectorThreadConfig;

const reply = (message: ThreadReply) => port.postMessage(message);
const closers: Array<() => Promise<void>> = [];

async function start(): Promise<ProjectorRunner[]> {
  const pool = createPool({
    connectionString: config.databaseUrl,
    poolSizeMax: config.poolSizeMax,
    applicationName: "nova-ledger-projector",
    ...(config.role === undefined ? {} : { role: config.role }),
  });
  closers.push(() => pool.end());
  const store = await openStore(pool);
  // The lag is measured on the process's side, where it is asked for.
  const options = (name: string) => ({
    logger: {
      error: (details: object, message: string) =>
        reply({ kind: "log", level: "error", details: { projection: name, ...details }, message }),
    },
    lagProbe: async () => ({ events: 0, seconds: 0 }),
    onChange: (status: ProjectorStatus) => reply({ kind: "status", status }),
  });
  const runners = [
    new ProjectorRunner(store, pool, new LedgerProjection(), options("ledger")),
    new ProjectorRunner(store, pool, new TransactionsProjection(), options("transactions")),
  ];
  for (const runner of runners) await runner.start();
  return runners;
}

async function openStore(pool: pg.Pool): Promise<EventStore> {
  if (config.kurrentDbUrl !== undefined) {
    const store = createKurrentDbEventStore(config.kurrentDbUrl);
    closers.push(() => store.close());
    return store;
  }
  const listener = new PostgresNotificationListener(
    clientConfig({
      connectionString: config.databaseUrl,
      applicationName: "nova-ledger-projector-listen",
      ...(config.role === undefined ? {} : { role: config.role }),
    }),
    (error) =>
      reply({
        kind: "log",
        level: "warn",
        details: { err: error instanceof Error ? error.message : String(error) },
        message: "event notification connection lost; reconnecting",
      }),
  );
  await listener.start();
  closers.push(() => listener.close());
  return new PostgresEventStore(pool, { listener });
}

async function closeAll(): Promise<void> {
  for (const close of closers.reverse()) await close().catch(() => undefined);
}

const started = start();
started.then(
  (runners) => reply({ kind: "ready", statuses: runners.map((runner) => runner.status()) }),
  async (error: unknown) => {
    await closeAll();
    reply({ kind: "startFailed", message: error instanceof Error ? error.message : String(error) });
    port.close();
  },
);

port.on("message", (request: ThreadRequest) => {
  if (request.kind !== "stop") return;
  void started
    .then(async (runners) => {
      for (const runner of runners) await runner.stop();
    })
    .catch(() => undefined)
    .finally(async () => {
      await closeAll();
      reply({ kind: "stopped" });
      port.close();
    });
});
