/**
 * Builds the Fastify app: one plugin per capability, registered here and nowhere else. The app
 * gets its dependencies passed in, so tests build it on a test database and real HTTP.
 */
import { randomUUID } from "node:crypto";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import { validatorCompiler } from "fastify-type-provider-zod";
import { Registry } from "prom-client";
import type { TotpStore } from "../auth/totp.js";
import { type Authenticator, auth } from "./auth.js";
import { awaitMinPosition } from "./consistency.js";
import { registerDocs } from "./docs.js";
import { registerErrorHandlers } from "./errors.js";
import { type HealthChecks, healthRoutes } from "./health.js";
import { registerMetrics } from "./metrics.js";
import { accountTypeRoutes } from "./routes/account-types.js";
import { accountRoutes } from "./routes/accounts.js";
import { auditRoutes } from "./routes/audit.js";
import type { LedgerApi } from "./routes/context.js";
import { holdRoutes } from "./routes/holds.js";
import { postingRoutes } from "./routes/postings.js";
import { twoFactor } from "./routes/principals.js";
import { reportRoutes } from "./routes/reports.js";
import { limitRoutes, transactionTypeRoutes } from "./routes/transaction-types.js";
import { type TransactionsApi, transactionRoutes } from "./routes/transactions.js";

export interface AppDependencies {
  readonly logger: FastifyBaseLogger;
  readonly health: HealthChecks;
  /** The ledger's endpoints and the key store that guards them; absent: health only. */
  readonly ledger?: {
    readonly api: LedgerApi;
    readonly authenticator: Authenticator;
    /** Transaction types, permissions, limits and domain transactions; absent: not served. */
    readonly transactions?: TransactionsApi;
    /** Step-up 2FA secrets; absent: 2FA is unavailable (403s that say why). */
    readonly totp?: TotpStore;
  };
  readonly metrics?: Registry;
}

/** The pino levels at which the `info` request line is written (LOG_LEVEL, README). */
const infoLevels: ReadonlySet<string> = new Set(["trace", "debug", "info"]);

/** API.md: request bodies above 1 MB are refused with 413. */
export const bodyLimitBytes = 1_048_576;

export async function buildApp(dependencies: AppDependencies): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: dependencies.logger,
    bodyLimit: bodyLimitBytes,
    genReqId: (request) => validRequestId(request.headers["x-request-id"]) ?? randomUUID(),
    requestIdHeader: false,
    // One line per request (below) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.decorateRequest("commandResult", undefined);
  // The per-request hooks below take `done` rather than being async: an async hook costs a
  // promise and a microtask turn on every request, even when it has nothing to wait for.
  app.addHook("onResponse", (request, reply, done) => {
    // Below `info` the line is dropped: do not build it (spreads and a route lookup per request).
    if (!infoLevels.has(request.log.level)) return done();
    const result = request.commandResult;
    request.log.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? request.url.split("?")[0],
        status: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 10) / 10,
        ...(request.principal === undefined ? {} : { principal: request.principal.id }),
        ...(result === undefined ? {} : result),
      },
      "request",
    );
    done();
  });
  // API.md: JSON in and out. Fastify's text/plain parser would let "hello" reach validation.
  app.removeContentTypeParser("text/plain");
  app.setValidatorCompiler(validatorCompilerOf);
  // Responses are built by the presenters and the read models in the documented shapes (the
  // OpenAPI test checks them against the schemas); serialising them is plain JSON.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.addHook("onSend", (request, reply, payload, done) => {
    reply.header("x-request-id", request.id);
    done(null, payload);
  });
  registerErrorHandlers(app);
  await registerDocs(app);
  registerMetrics(app, dependencies.metrics ?? new Registry());
  await app.register(async (instance) => healthRoutes(instance, dependencies.health));
  const ledger = dependencies.ledger;
  if (ledger !== undefined) {
    await app.register(auth, { authenticator: ledger.authenticator });
    const { api } = ledger;
    await app.register(twoFactor, { store: ledger.totp, events: api.eventStore });
    app.addHook("preHandler", (request, _reply, done) => {
      if (request.method !== "GET") return done();
      awaitMinPosition(request, api.progress).then(() => done(), done);
    });
    await app.register(async (instance) => accountTypeRoutes(instance, api));
    await app.register(async (instance) => accountRoutes(instance, api));
    await app.register(async (instance) => postingRoutes(instance, api));
    await app.register(async (instance) => holdRoutes(instance, api));
    const transactions = ledger.transactions;
    if (transactions !== undefined) {
      await app.register(async (instance) => transactionTypeRoutes(instance, transactions));
      await app.register(async (instance) => transactionRoutes(instance, transactions));
      await app.register(async (instance) => limitRoutes(instance, transactions));
    }
    await app.register(async (instance) => reportRoutes(instance, api));
    await app.register(async (instance) => auditRoutes(instance, api));
  }
  return app;
}

/**
 * The Zod validator of fastify-type-provider-zod, except that a headers schema only checks:
 * Fastify replaces `request.headers` with a validator's returned value, and from then on every
 * read of `request.headers` copies the raw headers and that value into a new object. Our
 * header schemas (schemas.ts `commandHeaders`, `readHeaders`; principals.ts `otpHeaders`)
 * only check strings and transform nothing, so the raw headers are already what they parse to.
 */
const validatorCompilerOf: typeof validatorCompiler = (route) => {
  const validate = validatorCompiler(route);
  if (route.httpPart !== "headers") return validate;
  return (data) => {
    const result = validate(data);
    if (typeof result !== "object" || "then" in result || result.error !== undefined) return result;
    return {};
  };
};

/** A caller's own request id is kept when it is short and plain, so logs can be joined. */
function validRequestId(header: string | string[] | undefined): string | undefined {
  if (typeof header !== "string") return undefined;
  return /^[A-Za-z0-9._:-]{1,128}$/.test(header) ? header : undefined;
}
