import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertScope, auth, principalOf } from "../../src/api/auth.js";
import { registerErrorHandlers } from "../../src/api/errors.js";
import { healthRoutes } from "../../src/api/health.js";
import { ApiKeyStore, type CreatedApiKey, generateApiKey } from "../../src/auth/keys.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

/**
 * The auth plugin on an app wired as src/api/app.ts wires its capabilities (error handlers,
 * then auth, then the routes), with stand-in routes that declare the scopes real ones will.
 */
async function buildTestApp(store: ApiKeyStore): Promise<FastifyInstance> {
  const app = Fastify();
  registerErrorHandlers(app);
  await app.register(auth, { authenticator: store });
  await app.register(async (instance) =>
    healthRoutes(instance, {
      database: async () => undefined,
      eventStore: async () => undefined,
      projections: async () => ({ lag: 0, status: "ok" }),
    }),
  );
  await app.register(async (instance) => {
    const whoAmI = async (request: Parameters<typeof principalOf>[0]) => {
      const principal = principalOf(request);
      return { principal: principal.id, scopes: [...principal.scopes] };
    };
    instance.get("/v1/accounts/:id", { config: { scope: "accounts:read" } }, whoAmI);
    instance.post("/v1/postings", { config: { scope: "postings:write" } }, async (request) => {
      const body = request.body as { transactionType?: string };
      if (body.transactionType === undefined) assertScope(request, "admin");
      return whoAmI(request);
    });
    instance.get("/v1/undeclared", whoAmI);
    instance.get("/v1/open", { config: { public: true } }, async () => ({ open: true }));
    instance.get("/metrics", async () => "nova_up 1\n");
    instance.get("/docs", async () => "reference page");
    instance.get("/docs/openapi.json", async () => ({ openapi: "3.1.0" }));
  });
  return app;
}

describe("API keys over real HTTP", () => {
  let database: TestDatabase;
  let store: ApiKeyStore;
  let app: FastifyInstance;
  let baseUrl: string;
  const adminKey = generateApiKey();
  let reader: CreatedApiKey;
  let writer: CreatedApiKey;

  beforeAll(async () => {
    database = await createTestDatabase();
    store = new ApiKeyStore(database.pool);
    await store.ensureAdminKey(adminKey);
    reader = await store.create({ name: "reader", scopes: ["accounts:read"] });
    writer = await store.create({ name: "writer", scopes: ["postings:write"] });
    app = await buildTestApp(store);
    baseUrl = await app.listen({ port: 0, host: "127.0.0.1" });
  });
  afterAll(async () => {
    await app.close();
    await database.drop();
  });

  const account = "/v1/accounts/6f1c1f8e-2b8a-4d7c-9d43-0c4a9a3f3b10";
  const get = (path: string, authorization?: string) =>
    fetch(`${baseUrl}${path}`, {
      headers: authorization === undefined ? {} : { authorization },
    });
  const post = (path: string, authorization: string, body: unknown) =>
    fetch(`${baseUrl}${path}`, {
      method: "POST",
      headers: { authorization, "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  async function expectProblem(response: Response, status: number, code: string) {
    expect(response.status).toBe(status);
    expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    const problem = (await response.json()) as { requestId: unknown; detail: string };
    expect(problem).toMatchObject({ status, code });
    expect(typeof problem.requestId).toBe("string");
    return problem;
  }

  it("no Authorization header is 401 UNAUTHENTICATED with a Bearer challenge", async () => {
    const response = await get(account);
    expect(response.headers.get("www-authenticate")).toMatch(/^Bearer /);
    await expectProblem(response, 401, "UNAUTHENTICATED");
  });

  it("an unknown key is 401 UNAUTHENTICATED", async () => {
    await expectProblem(await get(account, `Bearer ${generateApiKey()}`), 401, "UNAUTHENTICATED");
  });

  it.each([
    ["a bare key", (key: string) => key],
    ["another scheme", (key: string) => `Basic ${key}`],
    ["a scheme with no token", () => "Bearer "],
    ["two tokens", (key: string) => `Bearer ${key} ${key}`],
  ])("a malformed header (%s) is 401 UNAUTHENTICATED", async (_case, header) => {
    await expectProblem(await get(account, header(reader.key)), 401, "UNAUTHENTICATED");
  });

  it("the scheme name is case-insensitive (RFC 7235)", async () => {
    expect((await get(account, `bearer ${reader.key}`)).status).toBe(200);
  });

  it("a key with the route's scope passes and the handler sees its principal", async () => {
    const response = await get(account, `Bearer ${reader.key}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      principal: `key:${reader.id}`,
      scopes: ["accounts:read"],
    });
  });

  it("a key lacking the route's scope is 403 FORBIDDEN naming the scope", async () => {
    const problem = await expectProblem(
      await post("/v1/postings", `Bearer ${reader.key}`, { transactionType: "P2P" }),
      403,
      "FORBIDDEN",
    );
    expect(problem.detail).toContain("postings:write");
  });

  it("a rule checked in the handler (raw postings need admin) is 403 too", async () => {
    expect(
      (await post("/v1/postings", `Bearer ${writer.key}`, { transactionType: "P2P" })).status,
    ).toBe(200);
    await expectProblem(await post("/v1/postings", `Bearer ${writer.key}`, {}), 403, "FORBIDDEN");
  });

  it("a route that declares no scope is admin-only", async () => {
    await expectProblem(await get("/v1/undeclared", `Bearer ${reader.key}`), 403, "FORBIDDEN");
    expect((await get("/v1/undeclared", `Bearer ${adminKey}`)).status).toBe(200);
  });

  it("the admin key passes every route as principal admin", async () => {
    const read = await get(account, `Bearer ${adminKey}`);
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ principal: "admin" });
    expect((await post("/v1/postings", `Bearer ${adminKey}`, {})).status).toBe(200);
  });

  it("health, metrics, docs and routes flagged public need no key", async () => {
    for (const path of ["/v1/health", "/metrics", "/docs", "/docs/openapi.json", "/v1/open"]) {
      const response = await get(path);
      expect(response.status, path).toBe(200);
    }
  });

  it("a public route ignores even a bad key", async () => {
    expect((await get("/v1/health", "Bearer nonsense")).status).toBe(200);
  });

  it("an unknown route is still a 404, key or not", async () => {
    await expectProblem(await get("/v1/nowhere"), 404, "NOT_FOUND");
  });

  it("a revoked key is 401 on the next request", async () => {
    const doomed = await store.create({ name: "doomed", scopes: ["accounts:read"] });
    expect((await get(account, `Bearer ${doomed.key}`)).status).toBe(200);
    await store.revoke(doomed.id);
    await expectProblem(await get(account, `Bearer ${doomed.key}`), 401, "UNAUTHENTICATED");
  });

  it("the body of an unauthenticated request is not parsed: 401 comes before 400", async () => {
    const response = await fetch(`${baseUrl}/v1/postings`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    await expectProblem(response, 401, "UNAUTHENTICATED");
  });
});
