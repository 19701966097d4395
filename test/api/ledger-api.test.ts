/**
 * The ledger endpoints of API.md over real HTTP on a real Postgres: each endpoint, each rule's
 * status and code, idempotency, read-your-writes and the scopes.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { comparePositions, type LogPosition, parsePosition } from "../../src/eventstore/port.js";
import { type ApiResponse, startTestApi, type TestApi } from "./support.js";

function position(text: string): LogPosition {
  const parsed = parsePosition(text);
  if (parsed === undefined) throw new Error(`not a position: ${text}`);
  return parsed;
}

let api: TestApi;
const xcd = (value: string) => ({ value, currency: "XCD" });

beforeAll(async () => {
  api = await startTestApi();
  for (const type of [
    { code: "WALLET", name: "Customer wallet", normalBalance: "CREDIT", allowNegative: false },
    { code: "SUSPENSE", name: "Funding", normalBalance: "DEBIT", allowNegative: true },
  ]) {
    expect((await api.call("POST", "/v1/account-types", { body: type })).status).toBe(201);
  }
});
afterAll(async () => api.close());

async function open(accountType = "WALLET", extra: Record<string, unknown> = {}) {
  const response = await api.call("POST", "/v1/accounts", {
    body: { accountType, currency: "XCD", ...extra },
  });
  expect(response.status).toBe(201);
  return response.body as { id: string; position: string };
}

function transfer(from: string, to: string, value: string, extra: Record<string, unknown> = {}) {
  return {
    entries: [
      { accountId: from, side: "DEBIT", amount: xcd(value) },
      { accountId: to, side: "CREDIT", amount: xcd(value) },
    ],
    ...extra,
  };
}

async function post(body: unknown, headers: Record<string, string> = {}) {
  return api.call("POST", "/v1/postings", { body, headers });
}

async function funded(value: string) {
  const funding = await open("SUSPENSE");
  const wallet = await open();
  const posted = await post(transfer(funding.id, wallet.id, value));
  expect(posted.status).toBe(201);
  return { funding: funding.id, wallet: wallet.id, fundedAt: posted.body.createdAt as string };
}

/**
 * An instant strictly after `instant`, once the clock has passed it: times are kept to the
 * millisecond, so a window built from `new Date()` alone can start in the very millisecond of a
 * posting answered just before, and take it in.
 */
async function instantAfter(instant: string): Promise<string> {
  const after = Date.parse(instant) + 1;
  while (Date.now() < after) await new Promise((resolve) => setTimeout(resolve, 1));
  return new Date(after).toISOString();
}

function expectProblem(response: ApiResponse, status: number, code: string) {
  expect({ status: response.status, code: response.body?.code }).toEqual({ status, code });
  expect(response.headers.get("content-type")).toContain("application/problem+json");
  expect(response.body.requestId).toEqual(expect.any(String));
}

async function strongPosted(accountId: string) {
  const response = await api.call("GET", `/v1/accounts/${accountId}/balances?consistency=strong`);
  return response.body.posted as string;
}

describe("account types", () => {
  it("defines, reads and lists; a duplicate code is 409 DUPLICATE_CODE", async () => {
    const created = await api.call("POST", "/v1/account-types", {
      body: {
        code: "AGENT_FLOAT",
        name: "Agent float",
        normalBalance: "CREDIT",
        allowNegative: false,
      },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ code: "AGENT_FLOAT", normalBalance: "CREDIT" });
    const again = await api.call("POST", "/v1/account-types", {
      body: { code: "AGENT_FLOAT", name: "Other", normalBalance: "DEBIT", allowNegative: true },
    });
    expectProblem(again, 409, "DUPLICATE_CODE");
    const account = await open("AGENT_FLOAT");
    const headers = { "x-min-position": account.position };
    const one = await api.call("GET", "/v1/account-types/AGENT_FLOAT", { headers });
    expect(one.body).toMatchObject({ code: "AGENT_FLOAT", name: "Agent float" });
    const list = await api.call("GET", "/v1/account-types", { headers });
    expect(list.body.data.map((t: { code: string }) => t.code)).toEqual([
      "AGENT_FLOAT",
      "SUSPENSE",
      "WALLET",
    ]);
    expect(list.body.nextCursor).toBeNull();
    expectProblem(await api.call("GET", "/v1/account-types/NOPE"), 404, "ACCOUNT_TYPE_NOT_FOUND");
  });

  it("refuses a code that is not ^[A-Z][A-Z0-9_]{1,31}$ with 400", async () => {
    const response = await api.call("POST", "/v1/account-types", {
      body: { code: "wallet", name: "x", normalBalance: "CREDIT", allowNegative: false },
    });
    expectProblem(response, 400, "VALIDATION_ERROR");
    expect(response.body.errors).toEqual([{ path: "/code", message: expect.any(String) }]);
  });
});

describe("accounts", () => {
  it("opens an account and reads it back once the read models pass its position", async () => {
    const id = randomUUID();
    const created = await api.call("POST", "/v1/accounts", {
      body: {
        id,
        accountType: "WALLET",
        currency: "XCD",
        ownerId: "cust-1",
        name: "Ana",
        metadata: { tier: 1 },
      },
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id,
      accountType: "WALLET",
      currency: "XCD",
      country: null,
      ownerId: "cust-1",
      name: "Ana",
      status: "ACTIVE",
      metadata: { tier: 1 },
      createdAt: expect.any(String),
      position: expect.stringMatching(/^\d+\.\d+$/),
    });
    const read = await api.call("GET", `/v1/accounts/${id}`, {
      headers: { "x-min-position": created.body.position },
    });
    expect(read.status).toBe(200);
    const { position: _position, ...account } = created.body;
    expect(read.body).toEqual(account);
  });

  it("refuses an unknown type with 422 and a bad currency with 400", async () => {
    const unknown = await api.call("POST", "/v1/accounts", {
      body: { accountType: "NOPE", currency: "XCD" },
    });
    expectProblem(unknown, 422, "UNKNOWN_ACCOUNT_TYPE");
    const currency = await api.call("POST", "/v1/accounts", {
      body: { accountType: "WALLET", currency: "xcd" },
    });
    expectProblem(currency, 400, "VALIDATION_ERROR");
  });

  it("answers 404 ACCOUNT_NOT_FOUND for an unknown id and 400 for a malformed one", async () => {
    expectProblem(await api.call("GET", `/v1/accounts/${randomUUID()}`), 404, "ACCOUNT_NOT_FOUND");
    expectProblem(await api.call("GET", "/v1/accounts/not-a-uuid"), 400, "VALIDATION_ERROR");
    const freeze = await api.call("POST", `/v1/accounts/${randomUUID()}/freeze`, {
      body: { reason: "x" },
    });
    expectProblem(freeze, 404, "ACCOUNT_NOT_FOUND");
  });

  it("lists with filters and cursor pages, without gaps or repeats", async () => {
    const ownerId = `owner-${randomUUID()}`;
    const ids: string[] = [];
    let last = "";
    for (let i = 0; i < 5; i++) {
      const account = await open("WALLET", { ownerId });
      ids.push(account.id);
      last = account.position;
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `ownerId=${ownerId}&limit=2${cursor ? `&cursor=${cursor}` : ""}`;
      const page = await api.call("GET", `/v1/accounts?${query}`, {
        headers: { "x-min-position": last },
      });
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.data.map((a: { id: string }) => a.id));
      cursor = page.body.nextCursor;
    } while (cursor !== null);
    expect(seen.sort()).toEqual([...ids].sort());
    const frozen = await api.call("GET", `/v1/accounts?ownerId=${ownerId}&status=FROZEN`);
    expect(frozen.body).toEqual({ data: [], nextCursor: null });
    expectProblem(await api.call("GET", "/v1/accounts?limit=0"), 400, "VALIDATION_ERROR");
    expectProblem(await api.call("GET", "/v1/accounts?limit=501"), 400, "VALIDATION_ERROR");
    expectProblem(await api.call("GET", "/v1/accounts?cursor=garbage"), 400, "VALIDATION_ERROR");
  });

  it("freezes, refuses postings while frozen, unfreezes; close needs a zero balance", async () => {
    const { funding, wallet } = await funded("5.00");
    const frozen = await api.call("POST", `/v1/accounts/${wallet}/freeze`, {
      body: { reason: "kyc" },
    });
    expect(frozen.status).toBe(200);
    expect(frozen.body).toMatchObject({ id: wallet, status: "FROZEN" });
    expectProblem(await post(transfer(funding, wallet, "1.00")), 422, "ACCOUNT_NOT_ACTIVE");
    expectProblem(
      await api.call("POST", `/v1/accounts/${wallet}/freeze`, { body: { reason: "again" } }),
      422,
      "INVALID_STATUS_TRANSITION",
    );
    const active = await api.call("POST", `/v1/accounts/${wallet}/unfreeze`, {
      body: { reason: "ok" },
    });
    expect(active.body.status).toBe("ACTIVE");
    expectProblem(
      await api.call("POST", `/v1/accounts/${wallet}/close`, { body: { reason: "bye" } }),
      422,
      "ACCOUNT_NOT_EMPTY",
    );
    expect((await post(transfer(wallet, funding, "5.00"))).status).toBe(201);
    const closed = await api.call("POST", `/v1/accounts/${wallet}/close`, {
      body: { reason: "bye" },
    });
    expect(closed.body.status).toBe("CLOSED");
    expectProblem(
      await api.call("POST", `/v1/accounts/${wallet}/close`, { body: {} }),
      400,
      "VALIDATION_ERROR",
    );
  });

  it("sets an overdraft line that lets the account go below zero up to it", async () => {
    const { funding, wallet } = await funded("1.00");
    const line = await api.call("PUT", `/v1/accounts/${wallet}/overdraft`, {
      body: { limit: xcd("10.00") },
    });
    expect(line.status).toBe(200);
    expect(line.body).toMatchObject({ accountId: wallet, limit: xcd("10.00"), expiresAt: null });
    expect((await post(transfer(wallet, funding, "11.00"))).status).toBe(201);
    expectProblem(await post(transfer(wallet, funding, "0.01")), 422, "INSUFFICIENT_FUNDS");
    const balances = await api.call("GET", `/v1/accounts/${wallet}/balances?consistency=strong`);
    expect(balances.body).toMatchObject({
      posted: "-10.00",
      held: "0.00",
      available: "0.00",
      overdraftLimit: "10.00",
    });
  });
});

describe("postings", () => {
  it("records a posting: 201 with the API.md shape, and the read side agrees", async () => {
    const { funding, wallet } = await funded("20.00");
    const other = await open();
    const created = await post(
      transfer(wallet, other.id, "7.25", {
        reference: `ref-${randomUUID()}`,
        description: "p2p",
        metadata: { channel: "ussd" },
      }),
    );
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      status: "POSTED",
      transactionType: null,
      description: "p2p",
      metadata: { channel: "ussd" },
      reverses: null,
      reversedBy: null,
    });
    expect(created.body.entries).toEqual(transfer(wallet, other.id, "7.25").entries);
    const headers = { "x-min-position": created.body.position };
    const read = await api.call("GET", `/v1/postings/${created.body.id}`, { headers });
    expect(read.status).toBe(200);
    // The read side answers exactly what the command did: legs in order, the same position.
    expect(read.body).toEqual(created.body);
    const balances = await api.call("GET", `/v1/accounts/${wallet}/balances`, { headers });
    expect(balances.body).toMatchObject({ accountId: wallet, posted: "12.75", available: "12.75" });
    expect(await strongPosted(other.id)).toBe("7.25");
    expect(funding).toBeDefined();
  });

  it.each([
    ["a JSON number", 5],
    ["a negative value", "-1.00"],
    ["zero", "0.00"],
    ["an exponent", "1e2"],
    ["too many decimals", "1.001"],
  ])("refuses %s as an amount with 400 and changes nothing", async (_name, value) => {
    const { funding, wallet } = await funded("3.00");
    const response = await post({
      entries: [
        { accountId: funding, side: "DEBIT", amount: { value, currency: "XCD" } },
        { accountId: wallet, side: "CREDIT", amount: { value, currency: "XCD" } },
      ],
    });
    expectProblem(response, 400, "VALIDATION_ERROR");
    expect(await strongPosted(wallet)).toBe("3.00");
  });

  it("applies every posting rule with its code", async () => {
    const { funding, wallet } = await funded("5.00");
    const usd = (
      await api.call("POST", "/v1/accounts", {
        body: { accountType: "WALLET", currency: "USD" },
      })
    ).body.id as string;
    expectProblem(
      await post({ entries: [{ accountId: wallet, side: "DEBIT", amount: xcd("1.00") }] }),
      400,
      "VALIDATION_ERROR",
    );
    expectProblem(
      await post({
        entries: [
          { accountId: funding, side: "DEBIT", amount: xcd("2.00") },
          { accountId: wallet, side: "CREDIT", amount: xcd("1.00") },
        ],
      }),
      422,
      "UNBALANCED",
    );
    expectProblem(await post(transfer(funding, randomUUID(), "1.00")), 422, "ACCOUNT_NOT_FOUND");
    expectProblem(await post(transfer(funding, usd, "1.00")), 422, "CURRENCY_MISMATCH");
    expectProblem(await post(transfer(wallet, funding, "5.01")), 422, "INSUFFICIENT_FUNDS");
    const reference = `ref-${randomUUID()}`;
    expect((await post(transfer(funding, wallet, "1.00", { reference }))).status).toBe(201);
    expectProblem(
      await post(transfer(funding, wallet, "1.00", { reference })),
      409,
      "DUPLICATE_REFERENCE",
    );
    expect(await strongPosted(wallet)).toBe("6.00");
  });

  it("replays a keyed posting with Idempotent-Replayed and refuses the key with another body", async () => {
    const { funding, wallet } = await funded("1.00");
    const headers = { "idempotency-key": `key-${randomUUID()}` };
    const first = await post(transfer(funding, wallet, "2.00"), headers);
    const again = await post(transfer(funding, wallet, "2.00"), headers);
    expect(first.status).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
    expectProblem(
      await post(transfer(funding, wallet, "3.00"), headers),
      409,
      "IDEMPOTENCY_KEY_REUSED",
    );
    expect(await strongPosted(wallet)).toBe("3.00");
    // The key registry (read model) says what the key created, once.
    await api.call("GET", `/v1/postings/${first.body.id}`, {
      headers: { "x-min-position": first.body.position },
    });
    const { rows } = await api.database.pool.query(
      `SELECT principal, resource_type, resource_id::text, position FROM idempotency_keys
        WHERE idempotency_key = $1`,
      [headers["idempotency-key"]],
    );
    expect(rows).toEqual([
      {
        principal: "admin",
        resource_type: "posting",
        resource_id: first.body.id,
        position: first.body.position,
      },
    ]);
  });

  it("replays the original answer even after the posting was reversed", async () => {
    const { funding, wallet } = await funded("1.00");
    const headers = { "idempotency-key": `key-${randomUUID()}` };
    const first = await post(transfer(funding, wallet, "2.00"), headers);
    const reversal = await api.call("POST", `/v1/postings/${first.body.id}/reverse`, {
      body: { reason: "mistake" },
    });
    expect(reversal.status).toBe(201);
    const again = await post(transfer(funding, wallet, "2.00"), headers);
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
    expect(await strongPosted(wallet)).toBe("1.00");
  });

  it("scopes idempotency keys to the principal", async () => {
    const { funding, wallet } = await funded("1.00");
    const otherAdmin = await api.keyWith("admin");
    const headers = { "idempotency-key": "shared-key" };
    expect((await post(transfer(funding, wallet, "1.00"), headers)).status).toBe(201);
    const other = await api.call("POST", "/v1/postings", {
      key: otherAdmin,
      headers,
      body: transfer(funding, wallet, "1.00"),
    });
    expect(other.status).toBe(201);
    expect(other.headers.get("idempotent-replayed")).toBeNull();
    expect(await strongPosted(wallet)).toBe("3.00");
  });

  it("reverses a posting once; a reversal of a reversal is refused", async () => {
    const { funding, wallet } = await funded("4.00");
    const original = await post(transfer(wallet, funding, "1.50"));
    const path = `/v1/postings/${original.body.id}/reverse`;
    const reversal = await api.call("POST", path, { body: { reason: "customer dispute" } });
    expect(reversal.status).toBe(201);
    expect(reversal.body).toMatchObject({ reverses: original.body.id, status: "POSTED" });
    expect(reversal.body.entries).toEqual([
      { accountId: wallet, side: "CREDIT", amount: xcd("1.50") },
      { accountId: funding, side: "DEBIT", amount: xcd("1.50") },
    ]);
    expectProblem(
      await api.call("POST", path, { body: { reason: "again" } }),
      409,
      "ALREADY_REVERSED",
    );
    expectProblem(
      await api.call("POST", `/v1/postings/${reversal.body.id}/reverse`, { body: { reason: "x" } }),
      422,
      "CANNOT_REVERSE_REVERSAL",
    );
    expectProblem(
      await api.call("POST", `/v1/postings/${randomUUID()}/reverse`, { body: { reason: "x" } }),
      404,
      "POSTING_NOT_FOUND",
    );
    const headers = { "x-min-position": reversal.body.position };
    const read = await api.call("GET", `/v1/postings/${original.body.id}`, { headers });
    expect(read.body).toMatchObject({ status: "REVERSED", reversedBy: reversal.body.id });
    expect(await strongPosted(wallet)).toBe("4.00");
  });

  it("lists postings by account and status, in time windows", async () => {
    const { funding, wallet, fundedAt } = await funded("9.00");
    const start = await instantAfter(fundedAt);
    const a = await post(transfer(wallet, funding, "1.00"));
    const b = await post(transfer(wallet, funding, "2.00"));
    await api.call("POST", `/v1/postings/${a.body.id}/reverse`, { body: { reason: "x" } });
    const last = await post(transfer(wallet, funding, "3.00"));
    const headers = { "x-min-position": last.body.position };
    const all = await api.call("GET", `/v1/postings?accountId=${wallet}&limit=500`, { headers });
    expect(all.body.data).toHaveLength(5);
    const reversed = await api.call("GET", `/v1/postings?accountId=${wallet}&status=REVERSED`, {
      headers,
    });
    expect(reversed.body.data.map((p: { id: string }) => p.id)).toEqual([a.body.id]);
    const since = await api.call(
      "GET",
      `/v1/postings?accountId=${wallet}&from=${encodeURIComponent(start)}&limit=2`,
      { headers },
    );
    expect(since.body.data.map((p: { id: string }) => p.id)).toEqual([a.body.id, b.body.id]);
    expect(since.body.nextCursor).toEqual(expect.any(String));
    expectProblem(await api.call("GET", "/v1/postings?from=yesterday"), 400, "VALIDATION_ERROR");
  });
});

describe("holds", () => {
  it("places, reads, releases; refuses more than available", async () => {
    const { wallet } = await funded("10.00");
    const placed = await api.call("POST", `/v1/accounts/${wallet}/holds`, {
      body: { amount: xcd("6.00"), reason: "pending cash-out" },
    });
    expect(placed.status).toBe(201);
    expect(placed.body).toMatchObject({
      accountId: wallet,
      amount: xcd("6.00"),
      status: "ACTIVE",
      expiresAt: null,
    });
    expectProblem(
      await api.call("POST", `/v1/accounts/${wallet}/holds`, { body: { amount: xcd("4.01") } }),
      422,
      "INSUFFICIENT_FUNDS",
    );
    const headers = { "x-min-position": placed.body.position };
    const read = await api.call("GET", `/v1/holds/${placed.body.id}`, { headers });
    expect(read.body).toMatchObject({ id: placed.body.id, status: "ACTIVE", amount: xcd("6.00") });
    const balances = await api.call("GET", `/v1/accounts/${wallet}/balances`, { headers });
    expect(balances.body).toMatchObject({ posted: "10.00", held: "6.00", available: "4.00" });
    const released = await api.call("POST", `/v1/holds/${placed.body.id}/release`);
    expect(released.status).toBe(200);
    expect(released.body.status).toBe("RELEASED");
    expectProblem(
      await api.call("POST", `/v1/holds/${randomUUID()}/release`),
      404,
      "HOLD_NOT_FOUND",
    );
    expectProblem(
      await api.call("POST", `/v1/accounts/${randomUUID()}/holds`, {
        body: { amount: xcd("1.00") },
      }),
      404,
      "ACCOUNT_NOT_FOUND",
    );
  });

  it("captures part of a hold into a posting; the rest is released", async () => {
    const { wallet } = await funded("10.00");
    const merchant = await open();
    const placed = await api.call("POST", `/v1/accounts/${wallet}/holds`, {
      body: { amount: xcd("8.00") },
    });
    const captured = await api.call("POST", `/v1/holds/${placed.body.id}/capture`, {
      body: { toAccountId: merchant.id, amount: xcd("5.00") },
    });
    expect(captured.status).toBe(201);
    expect(captured.body.entries).toEqual(transfer(wallet, merchant.id, "5.00").entries);
    const strong = await api.call("GET", `/v1/accounts/${wallet}/balances?consistency=strong`);
    expect(strong.body).toMatchObject({ posted: "5.00", held: "0.00", available: "5.00" });
    expectProblem(
      await api.call("POST", `/v1/holds/${placed.body.id}/capture`, {
        body: { toAccountId: merchant.id },
      }),
      422,
      "HOLD_NOT_ACTIVE",
    );
  });
});

describe("concurrency over HTTP", () => {
  it("200 concurrent 1.00 debits against 100.00: exactly 100 are 201, the rest 422, balance 0.00", async () => {
    const { funding, wallet } = await funded("100.00");
    const responses = await Promise.all(
      Array.from({ length: 200 }, () => post(transfer(wallet, funding, "1.00"))),
    );
    const statuses = responses.map((response) => response.status);
    expect(statuses.filter((status) => status === 201)).toHaveLength(100);
    expect(statuses.filter((status) => status === 422)).toHaveLength(100);
    expect(new Set(responses.filter((r) => r.status === 422).map((r) => r.body.code))).toEqual(
      new Set(["INSUFFICIENT_FUNDS"]),
    );
    expect(await strongPosted(wallet)).toBe("0.00");
    const last = responses
      .filter((r) => r.status === 201)
      .map((r) => r.body.position as string)
      .reduce((a, b) => (comparePositions(position(a), position(b)) >= 0 ? a : b));
    const headers = { "x-min-position": last };
    const projected = await api.call("GET", `/v1/accounts/${wallet}/balances`, { headers });
    expect(projected.body.posted).toBe("0.00");
  });

  it("the same keyed posting sent 20 times at once is written once", async () => {
    const { funding, wallet } = await funded("1.00");
    const headers = { "idempotency-key": `burst-${randomUUID()}` };
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => post(transfer(funding, wallet, "3.00"), headers)),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(201));
    expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
    expect(responses.filter((r) => r.headers.get("idempotent-replayed") === null)).toHaveLength(1);
    expect(await strongPosted(wallet)).toBe("4.00");
  });
});

describe("client ids and keyed creations", () => {
  it("refuses a client id already taken with 409 (account, posting, hold)", async () => {
    const id = randomUUID();
    const body = { id, accountType: "WALLET", currency: "XCD" };
    expect((await api.call("POST", "/v1/accounts", { body })).status).toBe(201);
    expectProblem(await api.call("POST", "/v1/accounts", { body }), 409, "ACCOUNT_EXISTS");
    const { funding, wallet } = await funded("5.00");
    const postingId = randomUUID();
    expect((await post(transfer(funding, wallet, "1.00", { id: postingId }))).status).toBe(201);
    expectProblem(
      await post(transfer(funding, wallet, "1.00", { id: postingId })),
      409,
      "POSTING_EXISTS",
    );
    const holdId = randomUUID();
    const hold = { id: holdId, amount: xcd("1.00") };
    expect((await api.call("POST", `/v1/accounts/${wallet}/holds`, { body: hold })).status).toBe(
      201,
    );
    expectProblem(
      await api.call("POST", `/v1/accounts/${wallet}/holds`, { body: hold }),
      409,
      "HOLD_EXISTS",
    );
  });

  it("replays keyed account openings and hold placements with Idempotent-Replayed", async () => {
    const headers = { "idempotency-key": `open-${randomUUID()}` };
    const body = { accountType: "WALLET", currency: "XCD", name: "Keyed" };
    const first = await api.call("POST", "/v1/accounts", { body, headers });
    const again = await api.call("POST", "/v1/accounts", { body, headers });
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
    const { wallet } = await funded("5.00");
    const holdHeaders = { "idempotency-key": `hold-${randomUUID()}` };
    const hold = { amount: xcd("2.00") };
    const placed = await api.call("POST", `/v1/accounts/${wallet}/holds`, {
      body: hold,
      headers: holdHeaders,
    });
    const replayed = await api.call("POST", `/v1/accounts/${wallet}/holds`, {
      body: hold,
      headers: holdHeaders,
    });
    expect(replayed.status).toBe(201);
    expect(replayed.headers.get("idempotent-replayed")).toBe("true");
    expect(replayed.body.id).toBe(placed.body.id);
    const strong = await api.call("GET", `/v1/accounts/${wallet}/balances?consistency=strong`);
    expect(strong.body).toMatchObject({ held: "2.00", available: "3.00" });
  });

  it("refuses a capture above the hold with 422 CAPTURE_EXCEEDS_HOLD", async () => {
    const { wallet } = await funded("5.00");
    const merchant = await open();
    const placed = await api.call("POST", `/v1/accounts/${wallet}/holds`, {
      body: { amount: xcd("2.00") },
    });
    expectProblem(
      await api.call("POST", `/v1/holds/${placed.body.id}/capture`, {
        body: { toAccountId: merchant.id, amount: xcd("2.01") },
      }),
      422,
      "CAPTURE_EXCEEDS_HOLD",
    );
    expect(await strongPosted(wallet)).toBe("5.00");
  });

  it("refuses an Idempotency-Key that is not 1 to 255 printable characters", async () => {
    const { funding, wallet } = await funded("1.00");
    const response = await post(transfer(funding, wallet, "1.00"), {
      "idempotency-key": "x".repeat(256),
    });
    expectProblem(response, 400, "VALIDATION_ERROR");
    expect(response.body.errors).toEqual([
      {
        path: "/headers/idempotency-key",
        message: "must be 1 to 255 printable ASCII characters",
      },
    ]);
    expect(await strongPosted(wallet)).toBe("1.00");
  });
});

describe("auth and scopes", () => {
  it("needs a key, and the route's scope", async () => {
    expectProblem(await api.call("GET", "/v1/accounts", { key: null }), 401, "UNAUTHENTICATED");
    expectProblem(await api.call("GET", "/v1/accounts", { key: "nope" }), 401, "UNAUTHENTICATED");
    const reader = await api.keyWith("accounts:read");
    expect((await api.call("GET", "/v1/accounts", { key: reader })).status).toBe(200);
    expectProblem(
      await api.call("POST", "/v1/accounts", {
        key: reader,
        body: { accountType: "WALLET", currency: "XCD" },
      }),
      403,
      "FORBIDDEN",
    );
  });

  it("lets only admin record a raw posting (no transactionType), and records the principal", async () => {
    const { funding, wallet } = await funded("2.00");
    const writer = await api.keyWith("postings:write");
    const raw = await api.call("POST", "/v1/postings", {
      key: writer,
      body: transfer(funding, wallet, "1.00"),
    });
    expectProblem(raw, 403, "FORBIDDEN");
    const posted = await post(transfer(funding, wallet, "1.00"));
    const { rows } = await api.database.pool.query(
      "SELECT metadata->>'principal' AS principal FROM events WHERE stream = $1",
      [`posting-${posted.body.id}`],
    );
    expect(rows).toEqual([{ principal: "admin" }]);
  });
});

describe("transport and consistency", () => {
  it("answers malformed JSON 400, a wrong content type 415, a body over 1 MB 413", async () => {
    const malformed = await api.call("POST", "/v1/postings", { rawBody: "{nope" });
    expectProblem(malformed, 400, "VALIDATION_ERROR");
    const text = await api.call("POST", "/v1/postings", {
      rawBody: "hello",
      headers: { "content-type": "text/plain" },
    });
    expectProblem(text, 415, "UNSUPPORTED_MEDIA_TYPE");
    const large = await api.call("POST", "/v1/postings", {
      rawBody: JSON.stringify({ description: "x".repeat(1_100_000) }),
    });
    expectProblem(large, 413, "PAYLOAD_TOO_LARGE");
  });

  it("refuses a malformed X-Min-Position with 400, and one never reached with 503 after 5 s", async () => {
    expectProblem(
      await api.call("GET", "/v1/accounts", { headers: { "x-min-position": "soon" } }),
      400,
      "VALIDATION_ERROR",
    );
    const started = Date.now();
    const lagging = await api.call("GET", "/v1/accounts", {
      headers: { "x-min-position": "99999999999.1" },
    });
    expectProblem(lagging, 503, "PROJECTION_LAGGING");
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_900);
  }, 15_000);

  it("serves the OpenAPI document and the reference page without a key", async () => {
    const document = await api.call("GET", "/docs/openapi.json", { key: null });
    expect(document.status).toBe(200);
    expect(document.body.openapi).toBe("3.1.0");
    expect(Object.keys(document.body.paths)).toEqual(
      expect.arrayContaining(["/v1/accounts", "/v1/postings", "/v1/holds/{id}/capture"]),
    );
    const page = await api.call("GET", "/docs", { key: null });
    expect([200, 302]).toContain(page.status);
    const metrics = await api.call("GET", "/metrics", { key: null });
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain("nova_http_request_duration_seconds");
  });
});
