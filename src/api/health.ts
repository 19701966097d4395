/**
 * `GET /v1/health`: readiness. 200 when every check passes, 503 naming the failing one, so a
 * load balancer stops sending traffic to an instance that cannot serve it.
 */
import type { FastifyInstance } from "fastify";

export interface ProjectionHealth {
  /** Events appended but not yet projected, over all projectors. */
  readonly lag: number;
  /** Age of the oldest event not yet projected (0 when caught up). */
  readonly lagSeconds?: number;
  readonly status: "ok" | "failing";
  readonly error?: string;
}

export interface HealthChecks {
  database(): Promise<void>;
  eventStore(): Promise<void>;
  projections(): Promise<ProjectionHealth>;
}

/** A check that does not answer within this time counts as failing. */
const checkTimeoutMs = 2_000;

type CheckResult = { status: "ok" } | { status: "failing"; error: string };

export async function healthRoutes(app: FastifyInstance, checks: HealthChecks): Promise<void> {
  app.get("/v1/health", async (_request, reply) => {
    const [database, eventStore, projections] = await Promise.all([
      runCheck(() => checks.database()),
      runCheck(() => checks.eventStore()),
      withTimeout(checks.projections()).catch(
        (error: unknown): ProjectionHealth => ({
          lag: 0,
          status: "failing",
          error: describe(error),
        }),
      ),
    ]);
    const healthy = [database, eventStore, projections].every((check) => check.status === "ok");
    return reply
      .status(healthy ? 200 : 503)
      .send({ status: healthy ? "ok" : "failing", checks: { database, eventStore, projections } });
  });
}

async function runCheck(check: () => Promise<void>): Promise<CheckResult> {
  try {
    await withTimeout(check());
    return { status: "ok" };
  } catch (error) {
    return { status: "failing", error: describe(error) };
  }
}

function withTimeout<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${checkTimeoutMs} ms`)),
      checkTimeoutMs,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
