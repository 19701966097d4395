/**
 * The ledger service on an event store and a pool: key store, projector, command pipeline,
 * read models, metrics and the HTTP app, wired one way for the server and for the API tests.
 * `close()` takes it down in order: stop taking requests, answer every accepted command, stop
 * the projector. The pool and the store belong to the caller.
 */
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import type pg from "pg";
import { Registry } from "prom-client";
import { buildApp } from "../api/app.js";
import type { ProjectionHealth } from "../api/health.js";
import { ApiKeyStore } from "../auth/keys.js";
import { TotpStore } from "../auth/totp.js";
import { LedgerCommands } from "../commands/ledger.js";
import { CommandPipeline } from "../commands/pipeline.js";
import { TransactionCommands } from "../commands/transactions.js";
import type { EventStore } from "../eventstore/port.js";
import { PostgresEventStore } from "../eventstore/postgres/postgres-event-store.js";
import {
  cacheMetrics,
  pipelineMetrics,
  projectorMetrics,
  trialBalanceDriftCheck,
} from "../observability/metrics.js";
import { type LagProbe, postgresLagProbe, storeLagProbe } from "../projections/lag.js";
import { LedgerProjection } from "../projections/ledger-projection.js";
import { type Projector, ProjectorRunner } from "../projections/runner.js";
import { TransactionsProjection } from "../projections/transactions-projection.js";
import { ReadModels } from "../queries/index.js";
import { Reports } from "../queries/reports.js";
import { TransactionQueries } from "../queries/transactions.js";
import { ProjectorThread, type ProjectorThreadConfig } from "./projector-thread.js";

export interface LedgerAppOptions {
  readonly store: EventStore;
  readonly pool: pg.Pool;
  readonly logger: FastifyBaseLogger;
  /** NOVA_ADMIN_KEY: the admin principal's key (unset: no admin key). */
  readonly adminKey: string | undefined;
  /** How often the trial-balance drift check runs. */
  readonly driftCheckIntervalMs?: number;
  /** How long a revoked key may still pass in another process (ApiKeyStore's cache). */
  readonly keyCacheTtlMs?: number;
  /** NOVA_SECRET_KEY, decoded: seals the principals' TOTP secrets (unset: 2FA unavailable). */
  readonly secretKey?: Buffer | undefined;
  /**
   * Where the projectors run: on a worker thread of their own with these connections (the
   * server), or, when absent, on this thread with `store` and `pool` (tests, tools).
   */
  readonly projectorThread?: ProjectorThreadConfig;
}

export interface LedgerApp {
  readonly app: FastifyInstance;
  readonly projector: Projector;
  readonly pipeline: CommandPipeline;
  readonly keys: ApiKeyStore;
  readonly registry: Registry;
  /** Runs the trial-balance drift check now (it also runs on its interval). */
  checkTrialBalance(): Promise<void>;
  close(): Promise<void>;
}

const driftCheckIntervalMsDefault = 60_000;

export async function createLedgerApp(options: LedgerAppOptions): Promise<LedgerApp> {
  const { store, pool, logger } = options;
  const keys = new ApiKeyStore(
    pool,
    options.keyCacheTtlMs === undefined ? {} : { cacheTtlMs: options.keyCacheTtlMs },
  );
  const admin = await keys.ensureAdminKey(options.adminKey);
  if (admin.status === "revoked") {
    logger.warn("NOVA_ADMIN_KEY was revoked by an operator; set a new one to have an admin key");
  }
  const registry = new Registry();
  // Lag is counted in the events table when the events live in Postgres, else by the store.
  const lagProbe =
    store instanceof PostgresEventStore ? postgresLagProbe(pool) : storeLagProbe(store);
  const { projector, transactionsProjector, stopProjectors } = await startProjectors(
    options,
    lagProbe,
  );
  const projectors = [projector, transactionsProjector];
  const pipeline = new CommandPipeline(store, { observer: pipelineMetrics(registry) });
  cacheMetrics(registry, pipeline.cache);
  projectorMetrics(registry, projectors);
  const drift = trialBalanceDriftCheck(
    registry,
    pool,
    options.driftCheckIntervalMs ?? driftCheckIntervalMsDefault,
    (error) => logger.warn({ err: error }, "trial balance drift check failed"),
  );
  const app = await buildApp({
    logger,
    metrics: registry,
    health: {
      database: async () => {
        await pool.query("SELECT 1");
      },
      eventStore: () => store.ping(),
      projections: () => projectionHealth(projectors),
    },
    ledger: {
      api: {
        ledger: new LedgerCommands(pipeline),
        readModels: new ReadModels(pool),
        reports: new Reports(pool),
        eventStore: store,
        progress: projector,
      },
      authenticator: keys,
      transactions: {
        commands: new TransactionCommands(pipeline),
        queries: new TransactionQueries(pool),
        progress: transactionsProjector,
      },
      totp: new TotpStore(pool, { encryptionKey: options.secretKey }),
    },
  });
  return {
    app,
    projector,
    pipeline,
    keys,
    registry,
    checkTrialBalance: drift.check,
    async close() {
      drift.stop();
      await app.close();
      await pipeline.drain();
      await stopProjectors();
    },
  };
}

/** The ledger and transactions projectors, on their own thread or on this one. */
async function startProjectors(
  options: LedgerAppOptions,
  lagProbe: LagProbe,
): Promise<{
  projector: Projector;
  transactionsProjector: Projector;
  stopProjectors: () => Promise<void>;
}> {
  const { store, pool, logger } = options;
  if (options.projectorThread !== undefined) {
    const thread = await ProjectorThread.start(options.projectorThread, { logger, lagProbe });
    const named = (name: string) => {
      const found = thread.projectors.find((each) => each.status().name === name);
      if (found === undefined) throw new Error(`the projector thread runs no ${name} projector`);
      return found;
    };
    return {
      projector: named("ledger"),
      transactionsProjector: named("transactions"),
      stopProjectors: () => thread.stop(),
    };
  }
  const projector = new ProjectorRunner(store, pool, new LedgerProjection(), {
    logger: logger.child({ projection: "ledger" }),
    lagProbe,
  });
  const transactionsProjector = new ProjectorRunner(store, pool, new TransactionsProjection(), {
    logger: logger.child({ projection: "transactions" }),
    lagProbe,
  });
  const runners = [projector, transactionsProjector];
  for (const runner of runners) await runner.start();
  return {
    projector,
    transactionsProjector,
    stopProjectors: async () => {
      for (const runner of runners) await runner.stop();
    },
  };
}

/** The projectors' health: failing when one stopped on an event; their lag either way. */
async function projectionHealth(projectors: readonly Projector[]): Promise<ProjectionHealth> {
  const lags = await Promise.all(projectors.map((runner) => runner.lag()));
  const lag = lags.reduce((sum, each) => sum + each.events, 0);
  const lagSeconds = Math.max(0, ...lags.map((each) => each.seconds));
  const failures = projectors.flatMap((runner) => {
    const status = runner.status();
    if (status.state !== "failed") return [];
    const failure = status.failure;
    return [
      failure
        ? `${status.name} stopped on ${failure.type} ${failure.stream}@${failure.revision} (${failure.position}): ${failure.message}`
        : `${status.name} stopped`,
    ];
  });
  return failures.length === 0
    ? { lag, lagSeconds, status: "ok" }
    : { lag, lagSeconds, status: "failing", error: failures.join("; ") };
}
