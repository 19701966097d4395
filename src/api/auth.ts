/**
 * Authentication and authorisation of the HTTP API (API.md "Conventions → Auth").
 *
 * Design: each route states what it needs in its route config, and one `onRequest` hook
 * enforces it before the body is even parsed:
 *
 *   app.get("/v1/accounts/:id", { config: { scope: "accounts:read" } }, handler)
 *   app.get("/v1/status", { config: { public: true } }, handler)
 *
 * A route that declares neither is admin-only, so a forgotten declaration fails closed rather
 * than open. `GET /v1/health`, `/metrics` and `/docs` (with everything under it, which
 * @fastify/swagger-ui registers without our config) are public by path; an unknown route skips
 * authentication and gets its plain 404. Handlers read the caller with `principalOf(request)`;
 * a rule that depends on the body (API.md: raw postings need `admin`) calls `assertScope`.
 *
 * Missing, malformed (not `Bearer <token>`), unknown or revoked key → 401 UNAUTHENTICATED with
 * `WWW-Authenticate: Bearer`; a key without the scope → 403 FORBIDDEN. Both are thrown as
 * `ProblemError`, so the app's one error handler (errors.ts) writes the problem+json.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from "fastify";
import type { Principal } from "../auth/keys.js";
import type { Scope } from "../auth/scopes.js";
import { ProblemError } from "./problem.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The scope a caller needs; routes with neither this nor `public` need `admin`. */
    scope?: Scope;
    /** No key needed (health, metrics, docs). */
    public?: boolean;
  }
  interface FastifyRequest {
    /** The authenticated caller; undefined on public and unknown routes. */
    principal: Principal | undefined;
  }
}

/** What the plugin needs from the key store (src/auth/keys.ts `ApiKeyStore`). */
export interface Authenticator {
  authenticate(key: string): Promise<Principal | undefined>;
}

export interface AuthOptions {
  readonly authenticator: Authenticator;
}

/** API.md: these need no key, whatever their route config says. */
const publicPaths: ReadonlySet<string> = new Set(["/v1/health", "/metrics", "/docs"]);
const publicPathPrefix = "/docs/";

/** RFC 6750 §2.1: `Bearer` (any case), one space or more, the token, nothing after it. */
const bearerPattern = /^Bearer +([^\s]+) *$/i;

const authenticateChallenge = 'Bearer realm="nova-ledger"';

async function authPlugin(app: FastifyInstance, options: AuthOptions): Promise<void> {
  app.decorateRequest("principal", undefined);
  app.addHook("onRequest", async (request, reply) => {
    if (request.is404) return;
    // `routeOptions` is a getter that builds a new object on every read: read it once.
    const route = request.routeOptions;
    if (isPublicRoute(route)) return;
    const token = bearerToken(request.headers.authorization);
    const principal =
      token === undefined ? undefined : await options.authenticator.authenticate(token);
    if (principal === undefined) {
      reply.header("www-authenticate", authenticateChallenge);
      throw unauthenticated(token === undefined ? missingKeyDetail(request) : unknownKeyDetail);
    }
    request.principal = principal;
    assertScope(request, route.config.scope ?? "admin");
  });
}

/**
 * The plugin, registered once on the root instance (`app.register(auth, { authenticator })`,
 * before the capability plugins). `skip-override` is what fastify-plugin sets: the hook and
 * the decorator apply to every route of the app, not only inside this plugin's own scope.
 */
export const auth: FastifyPluginAsync<AuthOptions> = Object.assign(authPlugin, {
  [Symbol.for("skip-override")]: true,
});

/** The caller of a route that is not public; its absence there is a wiring bug. */
export function principalOf(request: FastifyRequest): Principal {
  const principal = request.principal;
  if (principal === undefined) {
    throw new Error(`assertion failed: ${request.method} ${request.url} ran without a principal`);
  }
  return principal;
}

/** 403 FORBIDDEN unless the caller holds `scope` (`admin` holds every scope). */
export function assertScope(request: FastifyRequest, scope: Scope): void {
  if (principalOf(request).scopes.has(scope)) return;
  throw new ProblemError({
    status: 403,
    code: "FORBIDDEN",
    title: "Forbidden",
    detail: `this API key lacks the scope "${scope}"`,
  });
}

function isPublicRoute(route: FastifyRequest["routeOptions"]): boolean {
  const path = route.url;
  if (route.config.public === true) return true;
  return path !== undefined && (publicPaths.has(path) || path.startsWith(publicPathPrefix));
}

function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  return bearerPattern.exec(header)?.[1];
}

const unknownKeyDetail = "the API key is unknown or revoked";

function missingKeyDetail(request: FastifyRequest): string {
  return request.headers.authorization === undefined
    ? "send an API key as `Authorization: Bearer <key>`"
    : "the Authorization header is not `Bearer <key>`";
}

function unauthenticated(detail: string): ProblemError {
  return new ProblemError({
    status: 401,
    code: "UNAUTHENTICATED",
    title: "Unauthenticated",
    detail,
  });
}
