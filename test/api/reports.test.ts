/**
 * Statements (JSON, CSV, PDF), the trial balance, the end-of-day report and balances at a past
 * instant over real HTTP, guarded by their scopes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Decimal } from "../../src/domain/money/index.js";
import { type ApiResponse, startTestApi, type TestApi } from "./support.js";

let api: TestApi;
let lastPosition = "0.0";

function expectProblem(response: ApiResponse, status: number, code: string) {
  expect({ status: response.status, code: response.body?.code }).toEqual({ status, code });
  expect(response.headers.get("content-type")).toContain("application/problem+json");
}

async function open(accountType: string, currency = "XCD"): Promise<string> {
  const response = await api.call("POST", "/v1/accounts", { body: { accountType, currency } });
  expect(response.status).toBe(201);
  lastPosition = response.body.position;
  return response.body.id;
}

async function post(
  from: string,
  to: string,
  value: string,
  extra: Record<string, unknown> = {},
  currency = "XCD",
): Promise<ApiResponse> {
  const response = await api.call("POST", "/v1/postings", {
    body: {
      entries: [
        { accountId: from, side: "DEBIT", amount: { value, currency } },
        { accountId: to, side: "CREDIT", amount: { value, currency } },
      ],
      ...extra,
    },
  });
  if (response.status === 201) lastPosition = response.body.position;
  return response;
}

/** Reads once the read models have every write so far. */
function read(method: string, path: string, options: { body?: unknown; key?: string } = {}) {
  return api.call(method, path, { ...options, headers: { "x-min-position": lastPosition } });
}

function statementOf(accountId: string, extra: Record<string, unknown> = {}) {
  return read("POST", "/v1/statements", {
    body: { accountId, from: "2000-01-01T00:00:00Z", to: "2100-01-01T00:00:00Z", ...extra },
  });
}

beforeAll(async () => {
  api = await startTestApi();
  for (const type of [
    { code: "WALLET", name: "Wallet", normalBalance: "CREDIT", allowNegative: false },
    { code: "SUSPENSE", name: "Funding", normalBalance: "DEBIT", allowNegative: true },
  ]) {
    expect((await api.call("POST", "/v1/account-types", { body: type })).status).toBe(201);
  }
});
afterAll(async () => api.close());

describe("POST /v1/statements", () => {
  let funding: string;
  let wallet: string;

  beforeAll(async () => {
    funding = await open("SUSPENSE");
    wallet = await open("WALLET");
    expect((await post(funding, wallet, "50.00", { reference: "ref,1" })).status).toBe(201);
    const spend = await post(wallet, funding, "12.50", {
      description: '=HYPERLINK("x") "quoted", with comma',
    });
    expect(spend.status).toBe(201);
  });

  it("answers JSON with opening, closing, totals and running balances", async () => {
    const response = await statementOf(wallet);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("application/json");
    expect(response.body).toMatchObject({
      accountId: wallet,
      currency: "XCD",
      from: "2000-01-01T00:00:00.000Z",
      to: "2100-01-01T00:00:00.000Z",
      openingBalance: "0.00",
      closingBalance: "37.50",
      totalDebits: "12.50",
      totalCredits: "50.00",
    });
    expect(response.body.lines).toEqual([
      expect.objectContaining({
        reference: "ref,1",
        debit: null,
        credit: "50.00",
        balance: "50.00",
      }),
      expect.objectContaining({ debit: "12.50", credit: null, balance: "37.50" }),
    ]);
  });

  it("answers text/csv with the lines' columns, quoted, and free text kept from formulas", async () => {
    const response = await statementOf(wallet, { format: "csv" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(response.headers.get("content-disposition")).toMatch(
      /^attachment; filename="statement-.+\.csv"$/,
    );
    const rows = (response.body as string).split("\r\n");
    expect(rows[0]).toBe(
      "postedAt,postingId,transactionType,reference,description,debit,credit,balance",
    );
    const json = (await statementOf(wallet)).body.lines;
    expect(rows[1]).toBe(`${json[0].postedAt},${json[0].postingId},,"ref,1",,,50.00,50.00`);
    expect(rows[2]).toBe(
      `${json[1].postedAt},${json[1].postingId},,,"'=HYPERLINK(""x"") ""quoted"", with comma",12.50,,37.50`,
    );
    expect(rows.slice(3)).toEqual([""]);
  });

  it("answers application/pdf: a page per 40 lines", async () => {
    const busy = await open("WALLET");
    for (let index = 0; index < 85; index++) {
      expect((await post(funding, busy, `${index + 1}.00`)).status).toBe(201);
    }
    const response = await api.call("POST", "/v1/statements", {
      headers: { "x-min-position": lastPosition },
      body: {
        accountId: busy,
        from: "2000-01-01T00:00:00Z",
        to: "2100-01-01T00:00:00Z",
        format: "pdf",
      },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/pdf");
    const pdf = response.body as string;
    expect(pdf.startsWith("%PDF-")).toBe(true);
    expect(pdf.match(/\/Type \/Page\b(?!s)/g)).toHaveLength(3);
    expect(pdf.trimEnd().endsWith("%%EOF")).toBe(true);
  });

  it("answers 404 ACCOUNT_NOT_FOUND for an unknown account", async () => {
    expectProblem(
      await statementOf("00000000-0000-4000-8000-000000000000"),
      404,
      "ACCOUNT_NOT_FOUND",
    );
  });

  it("refuses from ≥ to, a bad instant, a bad format or a missing field with 400", async () => {
    const period = (from: string, to: string) =>
      read("POST", "/v1/statements", { body: { accountId: wallet, from, to } });
    const equal = await period("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
    expectProblem(equal, 400, "VALIDATION_ERROR");
    expect(equal.body.errors).toEqual([{ path: "/to", message: expect.any(String) }]);
    // The same instant written in two offsets is still not a period.
    expectProblem(
      await period("2026-01-01T01:00:00+01:00", "2026-01-01T00:00:00Z"),
      400,
      "VALIDATION_ERROR",
    );
    expectProblem(await period("yesterday", "2026-01-01T00:00:00Z"), 400, "VALIDATION_ERROR");
    expectProblem(await statementOf(wallet, { format: "xml" }), 400, "VALIDATION_ERROR");
    expectProblem(
      await read("POST", "/v1/statements", { body: { accountId: wallet } }),
      400,
      "VALIDATION_ERROR",
    );
  });

  it("needs reports:read", async () => {
    const key = await api.keyWith("accounts:read", "audit:read");
    expectProblem(
      await api.call("POST", "/v1/statements", {
        key,
        body: { accountId: wallet, from: "2000-01-01T00:00:00Z", to: "2100-01-01T00:00:00Z" },
      }),
      403,
      "FORBIDDEN",
    );
  });
});

describe("GET /v1/reports/trial-balance", () => {
  /** A deterministic pseudo-random sequence (a 32-bit LCG), so a failure can be replayed. */
  function random(seed: number) {
    let state = seed >>> 0;
    return (bound: number) => {
      state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
      return state % bound;
    };
  }

  interface Book {
    readonly currency: string;
    readonly scale: number;
    readonly funding: string;
    readonly wallets: readonly string[];
  }

  async function book(currency: string, scale: number): Promise<Book> {
    const funding = await open("SUSPENSE", currency);
    const wallets: string[] = [];
    for (let index = 0; index < 5; index++) wallets.push(await open("WALLET", currency));
    return { currency, scale, funding, wallets };
  }

  /**
   * Random amounts from funding to wallets and between wallets (some refused for lack of
   * funds), one in ten reversed. Returns how many postings were accepted.
   */
  async function randomWorkload(books: readonly Book[], steps: number): Promise<number> {
    const next = random(20_261_126);
    const pick = (accounts: readonly string[]) => accounts[next(accounts.length)] ?? "";
    let accepted = 0;
    for (let step = 0; step < steps; step++) {
      const book = books[next(books.length)] as Book;
      const value = new Decimal(1 + next(5_000)).dividedBy(10 ** book.scale).toFixed(book.scale);
      const to = pick(book.wallets);
      const from = next(2) === 0 ? book.funding : pick(book.wallets);
      if (from === to) continue;
      const response = await post(from, to, value, {}, book.currency);
      expect([201, 422]).toContain(response.status);
      if (response.status !== 201) continue;
      accepted++;
      if (next(10) === 0) await reverse(response.body.id);
    }
    return accepted;
  }

  async function reverse(postingId: string): Promise<void> {
    const reversed = await api.call("POST", `/v1/postings/${postingId}/reverse`, {
      body: { reason: "random reversal" },
    });
    expect([201, 422]).toContain(reversed.status);
    if (reversed.status === 201) lastPosition = reversed.body.position;
  }

  /** Σ posted of every account of a type in a currency, from the balances endpoint. */
  async function postedOfType(accountType: string, currency: string): Promise<Decimal> {
    const accounts = await read("GET", `/v1/accounts?accountType=${accountType}&limit=500`);
    let sum = new Decimal(0);
    for (const account of accounts.body.data) {
      if (account.currency !== currency) continue;
      const balances = await read("GET", `/v1/accounts/${account.id}/balances`);
      sum = sum.plus(balances.body.posted);
    }
    return sum;
  }

  it("balances in every currency after a random workload, and sums what the accounts hold", async () => {
    const books = [await book("XCD", 2), await book("JPY", 0)];
    expect(await randomWorkload(books, 120)).toBeGreaterThan(50);

    const response = await read("GET", "/v1/reports/trial-balance");
    expect(response.status).toBe(200);
    const { currencies, accountTypes } = response.body;
    expect(currencies.map((total: { currency: string }) => total.currency)).toEqual(["JPY", "XCD"]);
    for (const total of currencies) {
      expect(total).toMatchObject({ balanced: true, totalCredits: total.totalDebits });
      const debits = accountTypes
        .filter((row: { currency: string }) => row.currency === total.currency)
        .reduce((sum: Decimal, row: { debits: string }) => sum.plus(row.debits), new Decimal(0));
      expect(debits.equals(total.totalDebits)).toBe(true);
    }
    for (const { currency, scale } of books) {
      for (const accountType of ["WALLET", "SUSPENSE"]) {
        const row = accountTypes.find(
          (r: { accountType: string; currency: string }) =>
            r.accountType === accountType && r.currency === currency,
        );
        const posted = await postedOfType(accountType, currency);
        expect(row.balance, `${accountType} ${currency}`).toBe(posted.toFixed(scale));
      }
    }
  });

  it("is empty as of an instant before any posting; refuses a bad asOf; needs reports:read", async () => {
    const early = await read("GET", "/v1/reports/trial-balance?asOf=2001-01-01T00:00:00Z");
    expect(early.body).toEqual({
      asOf: "2001-01-01T00:00:00.000Z",
      currencies: [],
      accountTypes: [],
    });
    expectProblem(
      await read("GET", "/v1/reports/trial-balance?asOf=soon"),
      400,
      "VALIDATION_ERROR",
    );
    const key = await api.keyWith("accounts:read");
    expectProblem(await read("GET", "/v1/reports/trial-balance", { key }), 403, "FORBIDDEN");
  });
});

describe("GET /v1/reports/eod", () => {
  it("reports today's postings by type and each account type's day", async () => {
    const today = new Date().toISOString().slice(0, 10);
    const response = await read("GET", `/v1/reports/eod?date=${today}`);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      date: today,
      from: `${today}T00:00:00.000Z`,
      transactionTypes: expect.arrayContaining([
        expect.objectContaining({ transactionType: null, currency: "XCD" }),
      ]),
    });
    for (const row of response.body.accountTypes) {
      const movement = new Decimal(row.credits).minus(row.debits);
      const sense = row.accountType === "WALLET" ? movement : movement.negated();
      expect(new Decimal(row.opening).plus(sense).equals(row.closing)).toBe(true);
    }
  });

  it("refuses a missing or impossible date with 400", async () => {
    expectProblem(await read("GET", "/v1/reports/eod"), 400, "VALIDATION_ERROR");
    expectProblem(await read("GET", "/v1/reports/eod?date=2026-02-30"), 400, "VALIDATION_ERROR");
    expectProblem(await read("GET", "/v1/reports/eod?date=26-11-2026"), 400, "VALIDATION_ERROR");
  });
});

describe("GET /v1/accounts/{id}/balances?asOf=", () => {
  it("answers the balances as they stood at a past instant", async () => {
    const funding = await open("SUSPENSE");
    const wallet = await open("WALLET");
    const beforeAny = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await post(funding, wallet, "10.00")).status).toBe(201);
    const between = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await post(funding, wallet, "5.00")).status).toBe(201);

    const at = (instant: string) =>
      read("GET", `/v1/accounts/${wallet}/balances?asOf=${encodeURIComponent(instant)}`);
    const past = await at(between);
    expect(past.status).toBe(200);
    expect(past.body).toEqual({
      accountId: wallet,
      currency: "XCD",
      posted: "10.00",
      held: "0.00",
      available: "10.00",
      overdraftLimit: "0.00",
      position: expect.any(String),
      asOf: new Date(between).toISOString(),
    });
    expect((await at(beforeAny)).body.posted).toBe("0.00");
    expect((await at(new Date().toISOString())).body.posted).toBe("15.00");
  });

  it("refuses asOf with consistency=strong or a bad instant; 404 for an unknown account", async () => {
    const wallet = await open("WALLET");
    const now = encodeURIComponent(new Date().toISOString());
    expectProblem(
      await read("GET", `/v1/accounts/${wallet}/balances?asOf=${now}&consistency=strong`),
      400,
      "VALIDATION_ERROR",
    );
    expectProblem(
      await read("GET", `/v1/accounts/${wallet}/balances?asOf=tuesday`),
      400,
      "VALIDATION_ERROR",
    );
    expectProblem(
      await read("GET", `/v1/accounts/00000000-0000-4000-8000-000000000000/balances?asOf=${now}`),
      404,
      "ACCOUNT_NOT_FOUND",
    );
  });
});
