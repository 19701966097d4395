/**
 * The projectors on a thread of their own, as the server runs them: reads wait for the
 * thread's checkpoints (X-Min-Position), a projector stopped on an event and a thread that
 * dies both turn health failing, and a thread that cannot start says why.
 */
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProjectorThread } from "../../src/cli/projector-thread.js";
import { appRole } from "../../src/db/roles.js";
import { postgresLagProbe } from "../../src/projections/lag.js";
import { appendUnprojectableAccount } from "../support/events.js";
import { startTestApi, type TestApi } from "./support.js";

const xcd = (value: string) => ({ value, currency: "XCD" });

describe("projectors on their own thread", () => {
  let api: TestApi;
  const lines: string[] = [];
  beforeAll(async () => {
    api = await startTestApi({
      projectorThread: true,
      log: { write: (line) => lines.push(line) },
      logLevel: "warn",
    });
    for (const type of [
      { code: "WALLET", name: "Wallet", normalBalance: "CREDIT", allowNegative: false },
      { code: "SUSPENSE", name: "Funding", normalBalance: "DEBIT", allowNegative: true },
    ]) {
      expect((await api.call("POST", "/v1/account-types", { body: type })).status).toBe(201);
    }
  });
  afterAll(async () => api?.close());

  async function open(accountType: string): Promise<string> {
    const response = await api.call("POST", "/v1/accounts", {
      body: { accountType, currency: "XCD" },
    });
    expect(response.status).toBe(201);
    return response.body.id as string;
  }

  it("answers reads at X-Min-Position once the thread has projected it", async () => {
    const funding = await open("SUSPENSE");
    const wallet = await open("WALLET");
    const posted = await api.call("POST", "/v1/postings", {
      body: {
        entries: [
          { accountId: funding, side: "DEBIT", amount: xcd("12.50") },
          { accountId: wallet, side: "CREDIT", amount: xcd("12.50") },
        ],
      },
    });
    expect(posted.status).toBe(201);
    const headers = { "x-min-position": posted.body.position };
    const balances = await api.call("GET", `/v1/accounts/${wallet}/balances`, { headers });
    expect(balances.status).toBe(200);
    expect(balances.body.posted).toBe("12.50");
    const postings = await api.call("GET", `/v1/postings?accountId=${wallet}`, { headers });
    expect(postings.status).toBe(200);
    expect(postings.body.data.map((each: { id: string }) => each.id)).toEqual([posted.body.id]);
    expect(api.projector.status()).toMatchObject({ name: "ledger", state: "running" });
    const health = await api.call("GET", "/v1/health", { key: null });
    expect(health.status).toBe(200);
    expect(health.body.checks.projections.status).toBe("ok");
  });

  it("reports a projector stopped on an event: health 503 naming it, the log line here", async () => {
    const { accountId, position } = await appendUnprojectableAccount(api.store);
    expect(await api.projector.waitFor(position, 2_000)).toBe(false);
    let health = await api.call("GET", "/v1/health", { key: null });
    for (let attempt = 0; health.status === 200 && attempt < 50; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      health = await api.call("GET", "/v1/health", { key: null });
    }
    expect(health.status).toBe(503);
    expect(health.body.checks.projections.error).toContain(`account-${accountId}`);
    expect(api.projector.status()).toMatchObject({
      state: "failed",
      failure: { stream: `account-${accountId}`, type: "AccountOpened" },
    });
    const logged = lines.map((line) => JSON.parse(line));
    expect(logged).toContainEqual(
      expect.objectContaining({
        level: 50,
        msg: "projection stopped on an event",
        projection: "ledger",
        stream: `account-${accountId}`,
      }),
    );
  });
});

describe("the projector thread itself", () => {
  let database: TestApi["database"];
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
    database = api.database;
  });
  afterAll(async () => api?.close());

  const logger = pino({ level: "silent" });

  it("stops cleanly: both projectors end stopped", async () => {
    const thread = await ProjectorThread.start(
      { databaseUrl: database.connectionString, poolSizeMax: 2, role: appRole },
      { logger, lagProbe: postgresLagProbe(database.pool) },
    );
    expect(thread.projectors.map((projector) => projector.status().name).sort()).toEqual([
      "ledger",
      "transactions",
    ]);
    expect(thread.projectors.every((each) => each.status().state === "running")).toBe(true);
    await thread.stop();
    expect(thread.projectors.map((projector) => projector.status().state)).toEqual([
      "stopped",
      "stopped",
    ]);
  });

  it("turns every projector failed when the thread dies", async () => {
    const thread = await ProjectorThread.start(
      { databaseUrl: database.connectionString, poolSizeMax: 2, role: appRole },
      { logger, lagProbe: postgresLagProbe(database.pool) },
    );
    // As an out-of-memory or a crash in the thread would: the worker is gone, unasked.
    await (thread as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (const projector of thread.projectors) {
      expect(projector.status()).toMatchObject({
        state: "failed",
        failure: { message: expect.stringContaining("the projector thread exited") },
      });
    }
    await thread.stop();
  });

  it("says why it could not start", async () => {
    const url = new URL(database.connectionString);
    url.pathname = "/nova_no_such_database";
    await expect(
      ProjectorThread.start(
        { databaseUrl: url.toString(), poolSizeMax: 1 },
        { logger, lagProbe: postgresLagProbe(database.pool) },
      ),
    ).rejects.toThrow(/the projector thread did not start: .*nova_no_such_database/);
  });
});
