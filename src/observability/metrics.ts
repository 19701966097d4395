/**
 * The ledger's Prometheus metrics (served at GET /metrics with the process and HTTP ones):
 * commands by kind and outcome, batches and their appends, conflicts, the aggregate cache,
 * the projector's lag and state, and a periodic double-entry drift check (seed Phase 10:
 * Σ signed balances per currency must be 0 in the read models).
 */
import type pg from "pg";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { AggregateCache } from "../commands/aggregate-cache.js";
import type { PipelineObserver } from "../commands/pipeline.js";

export interface ProjectorProbe {
  status(): { readonly name: string; readonly state: string };
  lag(): Promise<{ readonly events: number; readonly seconds: number }>;
}

/** Metrics the command pipeline feeds, as its observer. */
export function pipelineMetrics(registry: Registry): PipelineObserver {
  const commands = new Counter({
    name: "nova_commands_total",
    help: "Commands by kind and outcome (accepted, replayed, rejected with its code, failed)",
    labelNames: ["command", "outcome", "code"] as const,
    registers: [registry],
  });
  const batchSize = new Histogram({
    name: "nova_command_batch_size",
    help: "Commands decided and appended together in one commit",
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
    registers: [registry],
  });
  const appendSeconds = new Histogram({
    name: "nova_append_duration_seconds",
    help: "Duration of one batch's atomic multi-stream append",
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const events = new Counter({
    name: "nova_events_appended_total",
    help: "Events appended by the command pipeline",
    registers: [registry],
  });
  const conflicts = new Counter({
    name: "nova_append_conflicts_total",
    help: "Appends refused for a wrong expected revision (another writer moved a stream); each is retried",
    registers: [registry],
  });
  return {
    batchAppended: (stats) => {
      batchSize.observe(stats.commands);
      appendSeconds.observe(stats.durationMs / 1_000);
      events.inc(stats.events);
    },
    conflict: () => conflicts.inc(),
    commandSettled: (stats) =>
      commands.inc({ command: stats.command, outcome: stats.outcome, code: stats.code ?? "" }),
  };
}

/** Aggregate cache hits and misses, read when Prometheus scrapes. */
export function cacheMetrics(registry: Registry, cache: AggregateCache): void {
  new Gauge({
    name: "nova_aggregate_cache_hits",
    help: "Stream states found in the command side's cache (since start)",
    registers: [registry],
    collect() {
      this.set(cache.hits);
    },
  });
  new Gauge({
    name: "nova_aggregate_cache_misses",
    help: "Stream states not in the command side's cache (since start)",
    registers: [registry],
    collect() {
      this.set(cache.misses);
    },
  });
}

/** Each projector's lag and whether it stopped on an event, read when Prometheus scrapes. */
export function projectorMetrics(registry: Registry, projectors: readonly ProjectorProbe[]): void {
  const lagOf = async (projector: ProjectorProbe) =>
    projector.lag().catch(() => ({ events: -1, seconds: -1 }));
  new Gauge({
    name: "nova_projection_lag_events",
    help: "Events appended but not yet projected into the read models (-1: unknown)",
    labelNames: ["projection"] as const,
    registers: [registry],
    async collect() {
      for (const projector of projectors) {
        this.set({ projection: projector.status().name }, (await lagOf(projector)).events);
      }
    },
  });
  new Gauge({
    name: "nova_projection_lag_seconds",
    help: "Age of the oldest event not yet projected (0 when caught up; -1: unknown)",
    labelNames: ["projection"] as const,
    registers: [registry],
    async collect() {
      for (const projector of projectors) {
        this.set({ projection: projector.status().name }, (await lagOf(projector)).seconds);
      }
    },
  });
  new Gauge({
    name: "nova_projection_failed",
    help: "1 when the projector stopped on an event it could not apply (see the logs), else 0",
    labelNames: ["projection"] as const,
    registers: [registry],
    collect() {
      for (const projector of projectors) {
        const status = projector.status();
        this.set({ projection: status.name }, status.state === "failed" ? 1 : 0);
      }
    },
  });
}

/**
 * Σ signed posted balances per currency over the read models (DEBIT-normal accounts count
 * plus, CREDIT-normal minus): double entry keeps it at exactly 0. Checked every `intervalMs`;
 * any other value is a bug worth an alert.
 */
export function trialBalanceDriftCheck(
  registry: Registry,
  pool: pg.Pool,
  intervalMs: number,
  onError: (error: unknown) => void,
): { stop(): void; check(): Promise<void> } {
  const imbalance = new Gauge({
    name: "ledger_trial_balance_imbalance",
    help: "Σ signed balances per currency in the read models; must be 0",
    labelNames: ["currency"] as const,
    registers: [registry],
  });
  const check = async () => {
    const { rows } = await pool.query<{ currency: string; imbalance: string }>(
      `SELECT currency::text AS currency,
              sum(CASE normal_balance WHEN 'DEBIT' THEN posted ELSE -posted END)::text AS imbalance
         FROM account_balances GROUP BY currency`,
    );
    // A gauge takes a float: the figure is exact at 0 and only a sign of trouble otherwise.
    for (const row of rows) imbalance.set({ currency: row.currency }, Number(row.imbalance));
  };
  const timer = setInterval(() => void check().catch(onError), intervalMs);
  timer.unref();
  void check().catch(onError);
  return { stop: () => clearInterval(timer), check };
}
