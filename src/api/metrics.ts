/**
 * `GET /metrics`: Prometheus text from prom-client. The process metrics and the HTTP request
 * histogram live here; the ledger's own metrics are registered on the same registry by their
 * owners (the command pipeline, the projector).
 */
import type { FastifyInstance } from "fastify";
import { collectDefaultMetrics, Histogram, type Registry } from "prom-client";

export function registerMetrics(app: FastifyInstance, registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  const requests = new Histogram({
    name: "nova_http_request_duration_seconds",
    help: "HTTP requests by route, method and status",
    labelNames: ["method", "route", "status"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  // `done` rather than async: a promise per request for a synchronous observation is waste.
  app.addHook("onResponse", (request, reply, done) => {
    requests.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? "unknown",
        status: String(reply.statusCode),
      },
      reply.elapsedTime / 1_000,
    );
    done();
  });
  app.get(
    "/metrics",
    { config: { public: true }, schema: { hide: true } },
    async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()),
  );
}
