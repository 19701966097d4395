/**
 * `GET /v1/audit/streams/{stream}` over real HTTP: raw events from the event store with their
 * hash chain, paged by revision, guarded by `audit:read`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventHash, genesisHash } from "../../src/eventstore/hash-chain.js";
import { type ApiResponse, startTestApi, type TestApi } from "./support.js";

let api: TestApi;
let wallet: string;
let funding: string;
const xcd = (value: string) => ({ value, currency: "XCD" });

function expectProblem(response: ApiResponse, status: number, code: string) {
  expect({ status: response.status, code: response.body?.code }).toEqual({ status, code });
  expect(response.headers.get("content-type")).toContain("application/problem+json");
}

beforeAll(async () => {
  api = await startTestApi();
  for (const type of [
    { code: "WALLET", name: "Wallet", normalBalance: "CREDIT", allowNegative: false },
    { code: "SUSPENSE", name: "Funding", normalBalance: "DEBIT", allowNegative: true },
  ]) {
    expect((await api.call("POST", "/v1/account-types", { body: type })).status).toBe(201);
  }
  const open = async (accountType: string) =>
    (await api.call("POST", "/v1/accounts", { body: { accountType, currency: "XCD" } })).body
      .id as string;
  funding = await open("SUSPENSE");
  wallet = await open("WALLET");
  for (const value of ["1.00", "2.00", "3.00", "4.00"]) {
    const posted = await api.call("POST", "/v1/postings", {
      body: {
        entries: [
          { accountId: funding, side: "DEBIT", amount: xcd(value) },
          { accountId: wallet, side: "CREDIT", amount: xcd(value) },
        ],
      },
    });
    expect(posted.status).toBe(201);
  }
});
afterAll(async () => api.close());

describe("GET /v1/audit/streams/{stream}", () => {
  it("answers a stream's raw events in revision order, each chained to the one before", async () => {
    const response = await api.call("GET", `/v1/audit/streams/account-${wallet}?limit=500`);
    expect(response.status).toBe(200);
    const events = response.body.data;
    expect(events.map((event: { type: string }) => event.type)).toEqual([
      "AccountOpened",
      "EntryPosted",
      "EntryPosted",
      "EntryPosted",
      "EntryPosted",
    ]);
    expect(events[1]).toEqual({
      id: expect.any(String),
      stream: `account-${wallet}`,
      revision: 1,
      position: expect.stringMatching(/^\d+\.\d+$/),
      type: "EntryPosted",
      data: expect.objectContaining({ side: "CREDIT", amount: "1.00", balanceAfter: "1.00" }),
      metadata: expect.objectContaining({ principal: "admin", prevHash: expect.any(String) }),
      recordedAt: expect.stringMatching(/Z$/),
    });
    // An auditor recomputes every hash from what the endpoint gave, trusting nothing else.
    let previous = genesisHash;
    for (const event of events) {
      expect(event.metadata.prevHash).toBe(previous);
      expect(eventHash(previous, event)).toBe(event.metadata.hash);
      previous = event.metadata.hash;
    }
    expect(response.body.nextCursor).toBeNull();
  });

  it("pages by revision: nextCursor carries on where the page ended, fromRevision starts anywhere", async () => {
    const path = `/v1/audit/streams/account-${wallet}`;
    const revisions: number[][] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? "limit=2" : `limit=2&cursor=${cursor}`;
      const page: ApiResponse = await api.call("GET", `${path}?${query}`);
      expect(page.status).toBe(200);
      revisions.push(page.body.data.map((event: { revision: number }) => event.revision));
      cursor = page.body.nextCursor;
    } while (cursor !== null);
    expect(revisions).toEqual([[0, 1], [2, 3], [4]]);
    const from = await api.call("GET", `${path}?fromRevision=3&limit=1`);
    expect(from.body.data.map((event: { revision: number }) => event.revision)).toEqual([3]);
    expect(from.body.nextCursor).toEqual(expect.any(String));
    const past = await api.call("GET", `${path}?fromRevision=99`);
    expect(past.body).toEqual({ data: [], nextCursor: null });
  });

  it("answers an empty page for a stream that does not exist", async () => {
    const response = await api.call(
      "GET",
      "/v1/audit/streams/account-00000000-0000-4000-8000-000000000000",
    );
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ data: [], nextCursor: null });
  });

  it("refuses a bad stream name, limit, fromRevision or cursor with 400", async () => {
    const path = `/v1/audit/streams/account-${wallet}`;
    expectProblem(await api.call("GET", "/v1/audit/streams/bad%20name"), 400, "VALIDATION_ERROR");
    expectProblem(await api.call("GET", `${path}?limit=0`), 400, "VALIDATION_ERROR");
    expectProblem(await api.call("GET", `${path}?fromRevision=-1`), 400, "VALIDATION_ERROR");
    expectProblem(await api.call("GET", `${path}?cursor=nonsense`), 400, "VALIDATION_ERROR");
    const page = await api.call("GET", `${path}?limit=1`);
    const cursor = page.body.nextCursor;
    // A cursor belongs to its stream, and excludes fromRevision.
    expectProblem(
      await api.call("GET", `/v1/audit/streams/account-${funding}?cursor=${cursor}`),
      400,
      "VALIDATION_ERROR",
    );
    expectProblem(
      await api.call("GET", `${path}?cursor=${cursor}&fromRevision=0`),
      400,
      "VALIDATION_ERROR",
    );
  });

  it("needs audit:read: 403 without it, 401 without a key", async () => {
    const path = `/v1/audit/streams/account-${wallet}`;
    const reader = await api.keyWith("accounts:read", "postings:read", "reports:read");
    expectProblem(await api.call("GET", path, { key: reader }), 403, "FORBIDDEN");
    expectProblem(await api.call("GET", path, { key: null }), 401, "UNAUTHENTICATED");
    const auditor = await api.keyWith("audit:read");
    const allowed = await api.call("GET", path, { key: auditor });
    expect(allowed.status).toBe(200);
    expect(allowed.body.data).toHaveLength(5);
  });
});
