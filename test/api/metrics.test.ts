/** GET /metrics after traffic: the ledger's own series are there with the figures they should have. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "./support.js";

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => api.close());

function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("GET /metrics", () => {
  it("counts commands by outcome, batches, the projector's lag and the trial balance", async () => {
    await api.call("POST", "/v1/account-types", {
      body: { code: "WALLET", name: "W", normalBalance: "CREDIT", allowNegative: false },
    });
    await api.call("POST", "/v1/account-types", {
      body: { code: "SUSPENSE", name: "S", normalBalance: "DEBIT", allowNegative: true },
    });
    const funding = (
      await api.call("POST", "/v1/accounts", { body: { accountType: "SUSPENSE", currency: "XCD" } })
    ).body.id;
    const wallet = (
      await api.call("POST", "/v1/accounts", { body: { accountType: "WALLET", currency: "XCD" } })
    ).body.id;
    const transfer = (from: string, to: string, value: string) => ({
      entries: [
        { accountId: from, side: "DEBIT", amount: { value, currency: "XCD" } },
        { accountId: to, side: "CREDIT", amount: { value, currency: "XCD" } },
      ],
    });
    const posted = await api.call("POST", "/v1/postings", {
      body: transfer(funding, wallet, "5.00"),
    });
    expect(posted.status).toBe(201);
    const refused = await api.call("POST", "/v1/postings", {
      body: transfer(wallet, funding, "9.00"),
    });
    expect(refused.status).toBe(422);
    await api.projector.waitFor(
      {
        commit: BigInt(posted.body.position.split(".")[0]),
        prepare: BigInt(posted.body.position.split(".")[1]),
      },
      5_000,
    );
    const text = (await api.call("GET", "/metrics", { key: null })).body as string;
    expect(
      sample(text, 'nova_commands_total{command="recordPosting",outcome="accepted",code=""}'),
    ).toBe(1);
    expect(
      sample(
        text,
        'nova_commands_total{command="recordPosting",outcome="rejected",code="INSUFFICIENT_FUNDS"}',
      ),
    ).toBe(1);
    expect(
      sample(text, 'nova_commands_total{command="openAccount",outcome="accepted",code=""}'),
    ).toBe(2);
    expect(sample(text, "nova_command_batch_size_count")).toBeGreaterThanOrEqual(5);
    expect(sample(text, "nova_events_appended_total")).toBeGreaterThanOrEqual(7);
    expect(sample(text, 'nova_projection_lag_events{projection="ledger"}')).toBe(0);
    expect(sample(text, 'nova_projection_failed{projection="ledger"}')).toBe(0);
    expect(sample(text, "nova_aggregate_cache_hits")).toBeGreaterThan(0);
    expect(text).toMatch(
      /nova_http_request_duration_seconds_count\{method="POST",route="\/v1\/postings",status="201"\} 1/,
    );
    expect(text).toContain("process_cpu_seconds_total");
  });

  it("reports the trial balance's imbalance: 0, and not 0 once a balance is edited by hand", async () => {
    await api.checkTrialBalance();
    const series = 'ledger_trial_balance_imbalance{currency="XCD"}';
    expect(sample((await api.call("GET", "/metrics", { key: null })).body, series)).toBe(0);
    await api.database.pool.query(
      "UPDATE account_balances SET posted = posted + 0.01 WHERE normal_balance = 'CREDIT' AND posted > 0",
    );
    await api.checkTrialBalance();
    expect(sample((await api.call("GET", "/metrics", { key: null })).body, series)).toBe(-0.01);
  });
});
