/**
 * Bad input of any shape is a 4xx problem, never a 5xx (API.md "Errors"): random JSON bodies,
 * and valid bodies with one field replaced by a random value, sent to the creating endpoints.
 * A request refused with a 4xx changes no balance.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "./support.js";

let api: TestApi;
let wallet: string;
let funding: string;

beforeAll(async () => {
  api = await startTestApi();
  await api.call("POST", "/v1/account-types", {
    body: { code: "FUZZ_WALLET", name: "W", normalBalance: "CREDIT", allowNegative: false },
  });
  await api.call("POST", "/v1/account-types", {
    body: { code: "FUZZ_FUNDING", name: "F", normalBalance: "DEBIT", allowNegative: true },
  });
  funding = (
    await api.call("POST", "/v1/accounts", {
      body: { accountType: "FUZZ_FUNDING", currency: "XCD" },
    })
  ).body.id;
  wallet = (
    await api.call("POST", "/v1/accounts", {
      body: { accountType: "FUZZ_WALLET", currency: "XCD" },
    })
  ).body.id;
  const funded = await api.call("POST", "/v1/postings", {
    body: transfer(funding, wallet, "50.00"),
  });
  expect(funded.status).toBe(201);
});
afterAll(async () => api.close());

function transfer(from: string, to: string, value: string) {
  return {
    entries: [
      { accountId: from, side: "DEBIT", amount: { value, currency: "XCD" } },
      { accountId: to, side: "CREDIT", amount: { value, currency: "XCD" } },
    ],
  };
}

async function posted(accountId: string): Promise<string> {
  return (await api.call("GET", `/v1/accounts/${accountId}/balances?consistency=strong`)).body
    .posted;
}

/** A valid body of each endpoint, to mutate one field at a time. */
function validBodies(): Array<{ method: string; path: string; body: Record<string, unknown> }> {
  return [
    { method: "POST", path: "/v1/postings", body: transfer(wallet, funding, "0.01") },
    { method: "POST", path: "/v1/accounts", body: { accountType: "FUZZ_WALLET", currency: "XCD" } },
    {
      method: "POST",
      path: `/v1/accounts/${wallet}/holds`,
      body: { amount: { value: "0.01", currency: "XCD" } },
    },
    {
      method: "PUT",
      path: `/v1/accounts/${wallet}/overdraft`,
      body: { limit: { value: "1.00", currency: "XCD" } },
    },
    {
      method: "POST",
      path: "/v1/statements",
      body: { accountId: wallet, from: "2020-01-01T00:00:00Z", to: "2030-01-01T00:00:00Z" },
    },
    {
      method: "POST",
      path: "/v1/transactions",
      body: {
        transactionType: "P2P",
        amount: { value: "1.00", currency: "XCD" },
        parties: { payer: wallet, payee: funding },
      },
    },
  ];
}

const anyValue = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(
    "",
    "-1",
    "1e3",
    "0",
    "NaN",
    "12.345",
    "00000000-0000-0000-0000-000000000000",
    "x".repeat(300),
  ),
);

describe("bad input never gets a 5xx", () => {
  it("random JSON bodies get a 4xx problem on every creating endpoint", async () => {
    const before = await posted(wallet);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 5 }), fc.jsonValue(), async (index, body) => {
        const target = validBodies()[index];
        if (target === undefined) return;
        const response = await api.call(target.method, target.path, {
          rawBody: JSON.stringify(body),
        });
        expect(response.status, JSON.stringify(body)).toBeLessThan(500);
        if (response.status >= 400)
          expect(response.headers.get("content-type")).toContain("problem+json");
      }),
      { numRuns: 150 },
    );
    expect(await posted(wallet)).toBe(before);
  });

  it("a valid body with one field replaced is answered without a 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 5 }),
        fc.nat(),
        anyValue,
        async (index, fieldPick, value) => {
          const target = validBodies()[index];
          if (target === undefined) return;
          const body = mutate(target.body, fieldPick, value);
          const response = await api.call(target.method, target.path, { body });
          expect(response.status, `${target.path} ${JSON.stringify(body)}`).toBeLessThan(500);
        },
      ),
      { numRuns: 200 },
    );
  });
});

/** The body with one of its (possibly nested) fields replaced by `value`. */
function mutate(
  body: Record<string, unknown>,
  pick: number,
  value: unknown,
): Record<string, unknown> {
  const paths: string[][] = [];
  const walk = (node: unknown, path: string[]) => {
    if (node === null || typeof node !== "object") return;
    for (const [key, child] of Object.entries(node as Record<string, unknown>)) {
      paths.push([...path, key]);
      walk(child, [...path, key]);
    }
  };
  walk(body, []);
  const path = paths[pick % paths.length] ?? [];
  const copy = structuredClone(body);
  let node: Record<string, unknown> = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
  const last = path.at(-1);
  if (last !== undefined) node[last] = value;
  return copy;
}
