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
import { LedgerCommands } from "../commands/ledger.js";
import { CommandPipeline } from "../commands/pipeline.js";
import type { EventStore } from "../eventstore/port.js";
import {
  cacheMetrics,
  pipelineMetrics,
  projectorMetrics,
  trialBalanceDriftCheck,
} from "../observability/metrics.js";
import { LedgerProjection } from "../projections/ledger-projection.js";
import { ProjectorRunner } from "../projections/runner.js";
import { ReadModels } from "../queries/index.js";

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
}

export interface LedgerApp {
  readonly app: FastifyInstance;
  readonly projector: ProjectorRunner;
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
  const projector = new ProjectorRunner(store, pool, new LedgerProjection(), {
    logger: logger.child({ projection: "ledger" }),
  });
  await projector.start();
  const pipeline = new CommandPipeline(store, { observer: pipelineMetrics(registry) });
  cacheMetrics(registry, pipeline.cache);
  projectorMetrics(registry, projector);
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
      await projector.stop();
    },
  };
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
