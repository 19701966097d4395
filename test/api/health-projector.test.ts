/**
 * A projector stopped by an event its read models refuse turns GET /v1/health into a 503
 * naming the event, and /metrics says so too; it never skips the event.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "./support.js";

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => api.close());

describe("health when the projector stops", () => {
  it("answers 503 with the failing event, and the metric turns 1", async () => {
    expect((await api.call("GET", "/v1/health", { key: null })).status).toBe(200);
    // An account of a type that was never defined: the write side would refuse it, so only a
    // bug (or a hand-written event) gets it into the log; the read models' foreign key refuses it.
    const accountId = randomUUID();
    await api.store.append(
      `account-${accountId}`,
      "no_stream",
      [
        {
          type: "AccountOpened",
          data: {
            accountId,
            accountType: "NO_SUCH_TYPE",
            normalBalance: "CREDIT",
            allowNegative: false,
            currency: "XCD",
            country: null,
            ownerId: null,
            name: null,
            metadata: {},
            openedAt: new Date().toISOString(),
          },
        },
      ],
      { correlationId: "test", principal: "test", occurredAt: new Date() },
    );
    let health = await api.call("GET", "/v1/health", { key: null });
    for (let attempt = 0; health.status === 200 && attempt < 50; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      health = await api.call("GET", "/v1/health", { key: null });
    }
    expect(health.status).toBe(503);
    expect(health.body.status).toBe("failing");
    expect(health.body.checks.projections.status).toBe("failing");
    expect(health.body.checks.projections.error).toContain(`account-${accountId}`);
    expect(health.body.checks.projections.lag).toBeGreaterThanOrEqual(1);
    const metrics = (await api.call("GET", "/metrics", { key: null })).body as string;
    expect(metrics).toContain('nova_projection_failed{projection="ledger"} 1');
  });
});
