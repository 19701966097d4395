/**
 * Builds the Fastify app: one plugin per capability, registered here and nowhere else. The app
 * gets its dependencies passed in, so tests build it on a test database and real HTTP.
 */
import { randomUUID } from "node:crypto";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { registerErrorHandlers } from "./errors.js";
import { type HealthChecks, healthRoutes } from "./health.js";

export interface AppDependencies {
  readonly logger: FastifyBaseLogger;
  readonly health: HealthChecks;
}

/** API.md: request bodies above 1 MB are refused with 413. */
export const bodyLimitBytes = 1_048_576;

export async function buildApp(dependencies: AppDependencies): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: dependencies.logger,
    bodyLimit: bodyLimitBytes,
    genReqId: (request) => validRequestId(request.headers["x-request-id"]) ?? randomUUID(),
    requestIdHeader: false,
  });
  app.addHook("onSend", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });
  registerErrorHandlers(app);
  await app.register(async (instance) => healthRoutes(instance, dependencies.health));
  return app;
}

/** A caller's own request id is kept when it is short and plain, so logs can be joined. */
function validRequestId(header: string | string[] | undefined): string | undefined {
  if (typeof header !== "string") return undefined;
  return /^[A-Za-z0-9._:-]{1,128}$/.test(header) ? header : undefined;
}
