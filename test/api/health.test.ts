import type { FastifyInstance } from "fastify";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/api/app.js";
import type { ProjectionHealth } from "../../src/api/health.js";
import { PostgresEventStore } from "../../src/eventstore/postgres/postgres-event-store.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

describe("GET /v1/health and the error shape, over real HTTP", () => {
  let database: TestDatabase;
  let app: FastifyInstance;
  let baseUrl: string;
  let projections: ProjectionHealth = { lag: 0, status: "ok" };
  let databaseUp = true;

  beforeAll(async () => {
    database = await createTestDatabase();
    const store = new PostgresEventStore(database.pool);
    app = await buildApp({
      logger: pino({ level: "silent" }),
      health: {
        database: async () => {
          if (!databaseUp) throw new Error("connection refused");
          await database.pool.query("SELECT 1");
        },
        eventStore: () => store.ping(),
        projections: async () => projections,
      },
    });
    baseUrl = await app.listen({ port: 0, host: "127.0.0.1" });
  });
  afterAll(async () => {
    await app.close();
    await database.drop();
  });

  it("answers 200 with every check ok, and no key is needed", async () => {
    const response = await fetch(`${baseUrl}/v1/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: "ok",
      checks: {
        database: { status: "ok" },
        eventStore: { status: "ok" },
        projections: { lag: 0, status: "ok" },
      },
    });
  });

  it("answers 503 naming the failing check", async () => {
    databaseUp = false;
    projections = { lag: 12, status: "failing", error: "projector stopped" };
    try {
      const response = await fetch(`${baseUrl}/v1/health`);
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({
        status: "failing",
        checks: {
          database: { status: "failing", error: "connection refused" },
          eventStore: { status: "ok" },
          projections: { lag: 12, status: "failing", error: "projector stopped" },
        },
      });
    } finally {
      databaseUp = true;
      projections = { lag: 0, status: "ok" };
    }
  });

  it("an unknown route is a 404 problem+json with a request id", async () => {
    const response = await fetch(`${baseUrl}/v1/nowhere?x=1`, {
      headers: { "x-request-id": "trace-42" },
    });
    expect(response.status).toBe(404);
    expect(response.headers.get("x-request-id")).toBe("trace-42");
    expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(await response.json()).toMatchObject({
      status: 404,
      code: "NOT_FOUND",
      detail: "no route GET /v1/nowhere",
      requestId: "trace-42",
    });
  });

  it("malformed JSON is a 400 VALIDATION_ERROR, not a 5xx", async () => {
    const response = await fetch(`${baseUrl}/v1/health`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: "VALIDATION_ERROR" });
  });

  it("a body over 1 MB is a 413 problem", async () => {
    const response = await fetch(`${baseUrl}/v1/health`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ padding: "x".repeat(1_100_000) }),
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ code: "PAYLOAD_TOO_LARGE" });
  });
});
