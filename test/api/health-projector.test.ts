/**
 * A projector stopped by an event its read models refuse turns GET /v1/health into a 503
 * naming the event, and /metrics says so too; it never skips the event.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendUnprojectableAccount } from "../support/events.js";
import { startTestApi, type TestApi } from "./support.js";

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => api.close());

describe("health when the projector stops", () => {
  it("answers 503 with the failing event, and the metric turns 1", async () => {
    expect((await api.call("GET", "/v1/health", { key: null })).status).toBe(200);
    const { accountId } = await appendUnprojectableAccount(api.store);
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
