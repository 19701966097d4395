/**
 * Transaction types, account-type permissions, domain transactions and account metadata
 * schemas over real HTTP on a real Postgres, as the least-privilege role: each endpoint's
 * codes, FAILED transactions kept and readable, idempotent replays, read-your-writes.
 */
import { randomUUID } from "node:crypto";
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminKey, startTestApi, type TestApi } from "./support.js";

interface Response {
  readonly status: number;
  readonly headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field
  readonly body: any;
}

let api: TestApi;
let baseUrl: string;

/** The API as the server wires it (src/cli/ledger-app.ts), both projectors included. */
async function startApi(): Promise<void> {
  api = await startTestApi();
  baseUrl = api.baseUrl;
}

async function call(
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string>; key?: string } = {},
): Promise<Response> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${options.key ?? adminKey}`,
    ...options.headers,
  };
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text === "" ? text : JSON.parse(text),
  };
}

function expectProblem(response: Response, status: number, code: string) {
  expect({ status: response.status, code: response.body?.code }).toEqual({ status, code });
  expect(response.headers.get("content-type")).toContain("application/problem+json");
}

const xcd = (value: string) => ({ value, currency: "XCD" });

async function open(accountType: string, metadata?: Record<string, unknown>) {
  const response = await call("POST", "/v1/accounts", {
    body: { accountType, currency: "XCD", ...(metadata ? { metadata } : {}) },
  });
  expect(response.status).toBe(201);
  return response.body.id as string;
}

let funding: string;
let fees: string;

/** A wallet with `value` in it, paid in by a CASH_IN transaction. */
async function walletWith(value: string): Promise<string> {
  const wallet = await open("WALLET");
  const cashIn = await call("POST", "/v1/transactions", {
    body: {
      transactionType: "CASH_IN",
      amount: xcd(value),
      parties: { agent: funding, customer: wallet },
    },
  });
  expect(cashIn.status).toBe(201);
  return wallet;
}

const p2p = (payer: string, payee: string, value: string) => ({
  transactionType: "P2P",
  amount: xcd(value),
  parties: { payer, payee },
});

beforeAll(async () => {
  await startApi();
  for (const type of [
    { code: "WALLET", name: "Wallet", normalBalance: "CREDIT", allowNegative: false },
    { code: "SUSPENSE", name: "Funding", normalBalance: "DEBIT", allowNegative: true },
    { code: "FEE_INCOME", name: "Fees", normalBalance: "CREDIT", allowNegative: false },
  ]) {
    expect((await call("POST", "/v1/account-types", { body: type })).status).toBe(201);
  }
  funding = await open("SUSPENSE");
  fees = await open("FEE_INCOME");
  const cashIn = await call("POST", "/v1/transaction-types", {
    body: {
      code: "CASH_IN",
      description: "Cash in at an agent",
      requiresTwoFactor: false,
      postings: [
        { side: "DEBIT", role: "agent", percent: "1" },
        { side: "CREDIT", role: "customer", percent: "1", accountType: "WALLET" },
      ],
    },
  });
  expect(cashIn.status).toBe(201);
  for (const [code, transactionTypes] of [
    ["WALLET", ["CASH_IN"]],
    ["SUSPENSE", ["CASH_IN"]],
    ["FEE_INCOME", []],
  ] as const) {
    const set = await call("PUT", `/v1/account-types/${code}/transaction-types`, {
      body: { transactionTypes },
    });
    expect(set.status).toBe(200);
  }
});
afterAll(async () => api.close());

describe("transaction types", () => {
  it("defines P2P (201), reads it and lists it once the read models pass its position", async () => {
    const created = await call("POST", "/v1/transaction-types", {
      body: {
        code: "P2P",
        description: "Person to person, 1 % fee",
        requiresTwoFactor: false,
        postings: [
          { side: "DEBIT", role: "payer", percent: "1", accountType: "WALLET" },
          { side: "CREDIT", role: "payee", percent: "0.99" },
          { side: "CREDIT", accountId: fees, percent: "0.010" },
        ],
        allowedAccountTypes: { payee: ["WALLET"] },
      },
    });
    expect(created.status).toBe(201);
    const expected = {
      code: "P2P",
      description: "Person to person, 1 % fee",
      requiresTwoFactor: false,
      postings: [
        { side: "DEBIT", role: "payer", accountId: null, accountType: "WALLET", percent: "1" },
        { side: "CREDIT", role: "payee", accountId: null, accountType: null, percent: "0.99" },
        { side: "CREDIT", role: null, accountId: fees, accountType: null, percent: "0.01" },
      ],
      allowedAccountTypes: { payee: ["WALLET"] },
      version: 1,
      createdAt: expect.any(String),
    };
    expect(created.body).toEqual({ ...expected, position: expect.any(String) });
    const headers = { "x-min-position": created.body.position };
    const one = await call("GET", "/v1/transaction-types/P2P", { headers });
    expect(one.body).toEqual({ ...expected, position: expect.any(String) });
    const list = await call("GET", "/v1/transaction-types?limit=1", { headers });
    expect(list.body.data.map((type: { code: string }) => type.code)).toEqual(["CASH_IN"]);
    const next = await call("GET", `/v1/transaction-types?limit=1&cursor=${list.body.nextCursor}`);
    expect(next.body.data.map((type: { code: string }) => type.code)).toEqual(["P2P"]);
    for (const [code, transactionTypes] of [
      ["WALLET", ["CASH_IN", "P2P"]],
      ["FEE_INCOME", ["P2P"]],
    ] as const) {
      const set = await call("PUT", `/v1/account-types/${code}/transaction-types`, {
        body: { transactionTypes },
      });
      expect(set.body).toEqual({
        accountType: code,
        transactionTypes,
        position: expect.any(String),
      });
    }
  });

  it("a template breaking several rules is one 422 INVALID_TEMPLATE listing each", async () => {
    const response = await call("POST", "/v1/transaction-types", {
      body: {
        code: "BROKEN",
        description: "x",
        requiresTwoFactor: false,
        postings: [
          { side: "DEBIT", role: "payer", percent: "75", accountType: "GHOST" },
          { side: "CREDIT", role: "payee", accountId: fees, percent: "0.5" },
        ],
      },
    });
    expectProblem(response, 422, "INVALID_TEMPLATE");
    expect(response.body.errors).toEqual([
      { path: "/postings/0/percent", message: expect.stringMatching(/at most 1/) },
      { path: "/postings/0/accountType", message: "no account type GHOST" },
      { path: "/postings/1", message: "a leg names a role or a fixed accountId, not both" },
      { path: "/postings", message: expect.stringMatching(/DEBIT legs/) },
      { path: "/postings", message: expect.stringMatching(/CREDIT legs/) },
    ]);
  });

  it("a duplicate code is 409, a malformed body 400, an unknown code 404", async () => {
    const body = {
      code: "CASH_IN",
      description: "again",
      requiresTwoFactor: false,
      postings: [
        { side: "DEBIT", role: "a", percent: "1" },
        { side: "CREDIT", role: "b", percent: "1" },
      ],
    };
    expectProblem(await call("POST", "/v1/transaction-types", { body }), 409, "DUPLICATE_CODE");
    const malformed = await call("POST", "/v1/transaction-types", {
      body: { ...body, code: "cash in", requiresTwoFactor: "no" },
    });
    expectProblem(malformed, 400, "VALIDATION_ERROR");
    expect(malformed.body.errors.map((error: { path: string }) => error.path).sort()).toEqual([
      "/code",
      "/requiresTwoFactor",
    ]);
    expectProblem(
      await call("GET", "/v1/transaction-types/NOPE"),
      404,
      "TRANSACTION_TYPE_NOT_FOUND",
    );
  });

  it("defining one needs config:write", async () => {
    const key = await api.keyWith("postings:write");
    const response = await call("POST", "/v1/transaction-types", { key, body: {} });
    expectProblem(response, 403, "FORBIDDEN");
  });
});

describe("account-type permissions", () => {
  it("reads the list; an unknown account type is 404, an unknown transaction type 422", async () => {
    const set = await call("PUT", "/v1/account-types/SUSPENSE/transaction-types", {
      body: { transactionTypes: ["CASH_IN"] },
    });
    const read = await call("GET", "/v1/account-types/SUSPENSE/transaction-types", {
      headers: { "x-min-position": set.body.position },
    });
    expect(read.body).toEqual({ accountType: "SUSPENSE", transactionTypes: ["CASH_IN"] });
    expectProblem(
      await call("PUT", "/v1/account-types/GHOST/transaction-types", {
        body: { transactionTypes: [] },
      }),
      404,
      "ACCOUNT_TYPE_NOT_FOUND",
    );
    const unknown = await call("PUT", "/v1/account-types/WALLET/transaction-types", {
      body: { transactionTypes: ["CASH_IN", "NOPE"] },
    });
    expectProblem(unknown, 422, "UNKNOWN_TRANSACTION_TYPE");
    expect(unknown.body.errors).toEqual([
      { path: "/transactionTypes/1", message: "no transaction type NOPE" },
    ]);
  });

  it("a posting naming a type one account may not use is 422 TRANSACTION_TYPE_NOT_ALLOWED", async () => {
    const wallet = await walletWith("10.00");
    const entries = [
      { accountId: wallet, side: "DEBIT", amount: xcd("1.00") },
      { accountId: funding, side: "CREDIT", amount: xcd("1.00") },
    ];
    // SUSPENSE lists CASH_IN only.
    const refused = await call("POST", "/v1/postings", {
      body: { transactionType: "P2P", entries },
    });
    expectProblem(refused, 422, "TRANSACTION_TYPE_NOT_ALLOWED");
    expect(refused.body.details).toMatchObject({ accountId: funding, transactionType: "P2P" });
    expectProblem(
      await call("POST", "/v1/postings", { body: { transactionType: "NOPE", entries } }),
      422,
      "UNKNOWN_TRANSACTION_TYPE",
    );
  });
});

describe("domain transactions", () => {
  it("posts through the template (201) and reads back with its history", async () => {
    const alice = await walletWith("100.00");
    const bob = await open("WALLET");
    const created = await call("POST", "/v1/transactions", {
      body: { ...p2p(alice, bob, "10.05"), reference: `ref-${randomUUID()}` },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      transactionType: "P2P",
      transactionTypeVersion: 1,
      status: "POSTED",
      amount: xcd("10.05"),
      parties: { payer: alice, payee: bob },
      postingId: expect.any(String),
      failure: null,
      history: [{ status: "PENDING" }, { status: "POSTED" }],
    });
    const headers = { "x-min-position": created.body.position };
    const read = await call("GET", `/v1/transactions/${created.body.id}`, { headers });
    expect(read.body).toEqual({ ...created.body, position: expect.any(String) });
    // 1 % of 10.05 is 0.1005: the fee leg gets 0.10, the payee 9.95; together exactly 10.05.
    const posting = await call("GET", `/v1/postings/${created.body.postingId}`, { headers });
    const legs = posting.body.entries.map(
      (entry: { accountId: string; side: string; amount: { value: string } }) =>
        `${entry.side} ${entry.accountId} ${entry.amount.value}`,
    );
    expect(legs.sort()).toEqual(
      [`DEBIT ${alice} 10.05`, `CREDIT ${bob} 9.95`, `CREDIT ${fees} 0.10`].sort(),
    );
  });

  it("a business rejection answers its problem with transactionId; the FAILED one is kept", async () => {
    const alice = await walletWith("5.00");
    const bob = await open("WALLET");
    const key = `failed-${randomUUID()}`;
    const refused = await call("POST", "/v1/transactions", {
      body: p2p(alice, bob, "6.00"),
      headers: { "idempotency-key": key },
    });
    expectProblem(refused, 422, "INSUFFICIENT_FUNDS");
    const transactionId = refused.body.transactionId;
    expect(transactionId).toEqual(expect.any(String));
    const read = await call("GET", `/v1/transactions/${transactionId}`, {
      headers: { "x-min-position": refused.body.position },
    });
    expect(read.body).toMatchObject({
      id: transactionId,
      status: "FAILED",
      postingId: null,
      failure: { code: "INSUFFICIENT_FUNDS", details: { accountId: alice } },
      history: [
        { status: "PENDING" },
        { status: "FAILED", reason: expect.stringMatching(/not enough available funds/) },
      ],
    });
    const again = await call("POST", "/v1/transactions", {
      body: p2p(alice, bob, "6.00"),
      headers: { "idempotency-key": key },
    });
    expect(again.status).toBe(422);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect({ ...again.body, requestId: "" }).toEqual({ ...refused.body, requestId: "" });
  });

  it("an unknown type and missing parties fail and are kept; a malformed amount is only a 400", async () => {
    const alice = await walletWith("5.00");
    const unknown = await call("POST", "/v1/transactions", {
      body: { ...p2p(alice, fees, "1.00"), transactionType: "NOPE" },
    });
    expectProblem(unknown, 422, "UNKNOWN_TRANSACTION_TYPE");
    expect(unknown.body.transactionId).toEqual(expect.any(String));
    const missing = await call("POST", "/v1/transactions", {
      body: { ...p2p(alice, fees, "1.00"), parties: { payer: alice } },
    });
    expectProblem(missing, 400, "VALIDATION_ERROR");
    expect(missing.body.errors).toEqual([{ path: "/parties/payee", message: "P2P needs a payee" }]);
    expect(missing.body.transactionId).toEqual(expect.any(String));
    const decimals = await call("POST", "/v1/transactions", { body: p2p(alice, fees, "1.001") });
    expectProblem(decimals, 400, "VALIDATION_ERROR");
    expect(decimals.body.transactionId).toBeUndefined();
    const number = await call("POST", "/v1/transactions", {
      body: { ...p2p(alice, fees, "1"), amount: { value: 1, currency: "XCD" } },
    });
    expectProblem(number, 400, "VALIDATION_ERROR");
  });

  it("a transactions read waits only as long as the ledger's own events take to pass", async () => {
    // The transactions projection reads only its own events; a plain posting has none, yet its
    // position must be passed (the projection's checkpoint moves past what it skipped).
    const wallet = await open("WALLET");
    // First let the projection pass an event of its own (FEE_INCOME's permissions set again as
    // they are), so that the posting comes after it, alone.
    const current = await call("GET", "/v1/account-types/FEE_INCOME/transaction-types");
    const own = await call("PUT", "/v1/account-types/FEE_INCOME/transaction-types", {
      body: { transactionTypes: current.body.transactionTypes },
    });
    expect(own.status).toBe(200);
    const passedOwn = await call("GET", "/v1/transaction-types", {
      headers: { "x-min-position": own.body.position },
    });
    expect(passedOwn.status).toBe(200);
    const posted = await call("POST", "/v1/postings", {
      body: {
        entries: [
          { accountId: funding, side: "DEBIT", amount: xcd("1.00") },
          { accountId: wallet, side: "CREDIT", amount: xcd("1.00") },
        ],
      },
    });
    expect(posted.status).toBe(201);
    const listed = await call("GET", `/v1/transactions?accountId=${wallet}`, {
      headers: { "x-min-position": posted.body.position },
    });
    expect(listed.status).toBe(200);
    expect(listed.body.data).toEqual([]);
    let lag = "";
    for (let attempt = 0; lag !== "0" && attempt < 50; attempt++) {
      const metrics = await (await fetch(`${baseUrl}/metrics`)).text();
      lag =
        /nova_projection_lag_events\{projection="transactions"\} (\S+)/.exec(metrics)?.[1] ?? "";
      if (lag !== "0") await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(lag).toBe("0");
  });

  it("a keyed retry replays the 201; the key with another body is 409", async () => {
    const alice = await walletWith("50.00");
    const bob = await open("WALLET");
    const headers = { "idempotency-key": `ok-${randomUUID()}` };
    const first = await call("POST", "/v1/transactions", {
      body: p2p(alice, bob, "5.00"),
      headers,
    });
    const again = await call("POST", "/v1/transactions", {
      body: p2p(alice, bob, "5.00"),
      headers,
    });
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
    expectProblem(
      await call("POST", "/v1/transactions", { body: p2p(alice, bob, "6.00"), headers }),
      409,
      "IDEMPOTENCY_KEY_REUSED",
    );
    const balances = await call("GET", `/v1/accounts/${alice}/balances?consistency=strong`);
    expect(balances.body.posted).toBe("45.00");
  });

  it("lists by account, status, type and time, a page at a time", async () => {
    const alice = await walletWith("30.00");
    const bob = await open("WALLET");
    const from = new Date().toISOString();
    const sent: string[] = [];
    let position = "";
    for (const value of ["1.00", "2.00", "99.00"]) {
      const response = await call("POST", "/v1/transactions", { body: p2p(alice, bob, value) });
      sent.push(response.body.id ?? response.body.transactionId);
      position = response.body.position;
    }
    const headers = { "x-min-position": position };
    const byBob = await call("GET", `/v1/transactions?accountId=${bob}&limit=2`, { headers });
    expect(byBob.body.data.map((t: { id: string }) => t.id)).toEqual(sent.slice(0, 2));
    const rest = await call(
      "GET",
      `/v1/transactions?accountId=${bob}&limit=2&cursor=${byBob.body.nextCursor}`,
    );
    expect(rest.body).toMatchObject({
      data: [{ id: sent[2], status: "FAILED" }],
      nextCursor: null,
    });
    const failed = await call(
      "GET",
      `/v1/transactions?accountId=${alice}&status=FAILED&transactionType=P2P&from=${from}`,
    );
    expect(failed.body.data.map((t: { id: string }) => t.id)).toEqual([sent[2]]);
    const before = await call("GET", `/v1/transactions?accountId=${bob}&to=${from}`);
    expect(before.body.data).toEqual([]);
    expectProblem(await call("GET", "/v1/transactions?cursor=bogus"), 400, "VALIDATION_ERROR");
    expectProblem(
      await call("GET", `/v1/transactions/${randomUUID()}`),
      404,
      "TRANSACTION_NOT_FOUND",
    );
  });

  it("reverses a posted transaction (201); again 409, a failed one 422, an unknown one 404", async () => {
    const alice = await walletWith("40.00");
    const bob = await open("WALLET");
    const posted = await call("POST", "/v1/transactions", { body: p2p(alice, bob, "10.00") });
    // Its posting is reversed through the transaction, so the transaction's history says so.
    expectProblem(
      await call("POST", `/v1/postings/${posted.body.postingId}/reverse`, {
        body: { reason: "x" },
      }),
      422,
      "POSTING_OF_TRANSACTION",
    );
    const reversed = await call("POST", `/v1/transactions/${posted.body.id}/reverse`, {
      body: { reason: "wrong number" },
    });
    expect(reversed.status).toBe(201);
    expect(reversed.body).toMatchObject({
      status: "REVERSED",
      reversalPostingId: expect.any(String),
      history: [
        { status: "PENDING" },
        { status: "POSTED" },
        { status: "REVERSED", reason: "wrong number" },
      ],
    });
    const balances = await call("GET", `/v1/accounts/${alice}/balances?consistency=strong`);
    expect(balances.body.posted).toBe("40.00");
    expectProblem(
      await call("POST", `/v1/transactions/${posted.body.id}/reverse`, { body: { reason: "x" } }),
      409,
      "ALREADY_REVERSED",
    );
    const failed = await call("POST", "/v1/transactions", { body: p2p(alice, bob, "999.00") });
    expectProblem(
      await call("POST", `/v1/transactions/${failed.body.transactionId}/reverse`, {
        body: { reason: "x" },
      }),
      422,
      "INVALID_STATUS_TRANSITION",
    );
    expectProblem(
      await call("POST", `/v1/transactions/${randomUUID()}/reverse`, { body: { reason: "x" } }),
      404,
      "TRANSACTION_NOT_FOUND",
    );
  });
});

describe("limits", () => {
  it("PUT /v1/limits (200), GET /v1/limits, POST /v1/limits/check, LIMIT_EXCEEDED", async () => {
    const set = await call("PUT", "/v1/limits", {
      body: {
        accountType: "WALLET",
        transactionType: "P2P",
        perTransactionMax: "25.00",
        dailyCountMax: 2,
      },
    });
    expect(set.status).toBe(200);
    expect(set.body).toEqual({
      accountType: "WALLET",
      transactionType: "P2P",
      perTransactionMax: "25.00",
      dailyAmountMax: null,
      dailyCountMax: 2,
      monthlyAmountMax: null,
      updatedAt: expect.any(String),
      position: expect.any(String),
    });
    const list = await call("GET", "/v1/limits?accountType=WALLET", {
      headers: { "x-min-position": set.body.position },
    });
    expect(list.body).toEqual({
      data: [{ ...set.body, position: expect.any(String) }],
      nextCursor: null,
    });
    const alice = await walletWith("100.00");
    const bob = await open("WALLET");
    const check = await call("POST", "/v1/limits/check", {
      body: { accountId: alice, transactionType: "P2P", amount: xcd("25.01") },
    });
    expect(check.status).toBe(200);
    expect(check.body).toEqual({
      allowed: false,
      violations: [
        { limit: "perTransactionMax", max: "25.00", current: "0.00", attempted: "25.01" },
      ],
      remaining: { perTransaction: "25.00", dailyCount: "2" },
    });
    const over = await call("POST", "/v1/transactions", { body: p2p(alice, bob, "25.01") });
    expectProblem(over, 422, "LIMIT_EXCEEDED");
    expect(over.body.transactionId).toEqual(expect.any(String));
    expect(over.body.details).toMatchObject({ accountId: alice, limit: "perTransactionMax" });
    for (const value of ["25.00", "1.00"]) {
      expect(
        (await call("POST", "/v1/transactions", { body: p2p(alice, bob, value) })).status,
      ).toBe(201);
    }
    const third = await call("POST", "/v1/transactions", { body: p2p(alice, bob, "1.00") });
    expectProblem(third, 422, "LIMIT_EXCEEDED");
    expect(third.body.details).toMatchObject({ limit: "dailyCountMax", max: "2", current: "2" });
    const cleared = await call("PUT", "/v1/limits", {
      body: { accountType: "WALLET", transactionType: "P2P" },
    });
    expect(cleared.status).toBe(200);
    const after = await call("GET", "/v1/limits", {
      headers: { "x-min-position": cleared.body.position },
    });
    expect(after.body.data).toEqual([]);
  });

  it("a bad limit is 400, an unknown pair 422, a check on an unknown account 422", async () => {
    expectProblem(
      await call("PUT", "/v1/limits", {
        body: { accountType: "WALLET", transactionType: "P2P", dailyCountMax: 0 },
      }),
      400,
      "VALIDATION_ERROR",
    );
    expectProblem(
      await call("PUT", "/v1/limits", { body: { accountType: "WALLET", transactionType: "NOPE" } }),
      422,
      "UNKNOWN_TRANSACTION_TYPE",
    );
    expectProblem(
      await call("POST", "/v1/limits/check", {
        body: { accountId: randomUUID(), transactionType: "P2P", amount: xcd("1.00") },
      }),
      422,
      "ACCOUNT_NOT_FOUND",
    );
  });
});

describe("account metadata schemas", () => {
  it("a metadataSchema that is not a JSON Schema is 400; metadata failing one is 400", async () => {
    const invalid = await call("POST", "/v1/account-types", {
      body: {
        code: "BROKEN",
        name: "Broken",
        normalBalance: "CREDIT",
        allowNegative: false,
        metadataSchema: { type: 12 },
      },
    });
    expectProblem(invalid, 400, "VALIDATION_ERROR");
    const defined = await call("POST", "/v1/account-types", {
      body: {
        code: "AGENT_FLOAT",
        name: "Agent float",
        normalBalance: "CREDIT",
        allowNegative: false,
        metadataSchema: { type: "object", required: ["agentCode"] },
      },
    });
    expect(defined.status).toBe(201);
    const refused = await call("POST", "/v1/accounts", {
      body: { accountType: "AGENT_FLOAT", currency: "XCD", metadata: { agent: "A-1" } },
    });
    expectProblem(refused, 400, "VALIDATION_ERROR");
    expect(refused.body.detail).toMatch(/AGENT_FLOAT metadata schema/);
    expect(await open("AGENT_FLOAT", { agentCode: "A-1" })).toEqual(expect.any(String));
  });

  it("an account type code no type can have is 422 UNKNOWN_ACCOUNT_TYPE, not a 500", async () => {
    const response = await call("POST", "/v1/accounts", {
      body: { accountType: "a b", currency: "XCD" },
    });
    expectProblem(response, 422, "UNKNOWN_ACCOUNT_TYPE");
  });
});

describe("the OpenAPI document", () => {
  it("documents these endpoints, and their examples validate against their schemas", async () => {
    const document = (await call("GET", "/docs/openapi.json")).body;
    const operations = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item as object).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations).toEqual(
      expect.arrayContaining([
        "POST /v1/transaction-types",
        "GET /v1/transaction-types",
        "GET /v1/transaction-types/{code}",
        "PUT /v1/account-types/{code}/transaction-types",
        "GET /v1/account-types/{code}/transaction-types",
        "POST /v1/transactions",
        "GET /v1/transactions",
        "GET /v1/transactions/{id}",
        "POST /v1/transactions/{id}/reverse",
        "PUT /v1/limits",
        "GET /v1/limits",
        "POST /v1/limits/check",
      ]),
    );
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    const failures: string[] = [];
    let checked = 0;
    const visit = (value: unknown, where: string) => {
      if (value === null || typeof value !== "object") return;
      const { example, ...schema } = value as Record<string, unknown>;
      if (example !== undefined && schema.$ref === undefined && where.includes("transaction")) {
        const validate = ajv.compile(schema);
        checked++;
        if (!validate(example)) failures.push(`${where}: ${ajv.errorsText(validate.errors)}`);
      }
      for (const [key, child] of Object.entries(value)) visit(child, `${where}/${key}`);
    };
    visit(document.paths, "#/paths");
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(3);
  });
});

describe("the projections", () => {
  it("applied every event of this file without stopping", async () => {
    const health = await call("GET", "/v1/health");
    expect(health.status).toBe(200);
    expect(health.body.checks.projections).toMatchObject({ status: "ok" });
  });
});
