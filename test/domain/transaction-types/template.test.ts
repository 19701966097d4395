import { describe, expect, it } from "vitest";
import type { AccountTypeState } from "../../../src/domain/account-types/account-type.js";
import type { TemplateLegRequest } from "../../../src/domain/transaction-types/template.js";
import {
  type DefineTransactionType,
  decideDefineTransactionType,
  evolveTransactionType,
} from "../../../src/domain/transaction-types/transaction-type.js";
import { anAccountType, expectRejection, now } from "../fixtures.js";

const feeAccount = "7d3f0c52-1a0e-4c53-9c1e-5b8b8f0f9a11";

/** The account types that exist in these tests. */
const accountTypes = new Map<string, AccountTypeState>([
  ["WALLET", anAccountType({ code: "WALLET" })],
  ["AGENT_FLOAT", anAccountType({ code: "AGENT_FLOAT" })],
]);

const debit = (role: string, percent = "1", more: Partial<TemplateLegRequest> = {}) => ({
  side: "DEBIT" as const,
  role,
  percent,
  ...more,
});
const credit = (role: string, percent = "1", more: Partial<TemplateLegRequest> = {}) => ({
  side: "CREDIT" as const,
  role,
  percent,
  ...more,
});

function p2p(more: Partial<DefineTransactionType> = {}): DefineTransactionType {
  return {
    code: "P2P",
    description: "Person to person, 1 % fee",
    requiresTwoFactor: false,
    postings: [
      debit("payer", "1", { accountType: "WALLET" }),
      credit("payee", "0.99", { accountType: "WALLET" }),
      { side: "CREDIT", accountId: feeAccount, percent: "0.01" },
    ],
    ...more,
  };
}

/** The field errors of the INVALID_TEMPLATE rejection `command` gets. */
function violations(command: DefineTransactionType) {
  const rejection = expectRejection(
    decideDefineTransactionType(command, undefined, accountTypes, now),
    "INVALID_TEMPLATE",
  );
  return rejection.errors ?? [];
}

describe("defining a transaction type", () => {
  it("records TransactionTypeDefined with the legs in canonical form", () => {
    const event = decideDefineTransactionType(
      p2p({
        postings: [
          debit("payer", "1.000", { accountType: "WALLET" }),
          credit("payee", "0.990"),
          { side: "CREDIT", accountId: feeAccount, percent: "0.01" },
        ],
        allowedAccountTypes: { payee: ["WALLET", "AGENT_FLOAT", "WALLET"] },
      }),
      undefined,
      accountTypes,
      now,
    );
    expect(event).toEqual({
      type: "TransactionTypeDefined",
      data: {
        code: "P2P",
        description: "Person to person, 1 % fee",
        requiresTwoFactor: false,
        postings: [
          { side: "DEBIT", role: "payer", accountId: null, accountType: "WALLET", percent: "1" },
          { side: "CREDIT", role: "payee", accountId: null, accountType: null, percent: "0.99" },
          {
            side: "CREDIT",
            role: null,
            accountId: feeAccount,
            accountType: null,
            percent: "0.01",
          },
        ],
        allowedAccountTypes: { payee: ["AGENT_FLOAT", "WALLET"] },
        definedAt: now.toISOString(),
      },
    });
  });

  it("the defined type is version 1 of its stream", () => {
    const event = decideDefineTransactionType(p2p(), undefined, accountTypes, now);
    if ("kind" in event) throw new Error("expected an event");
    expect(evolveTransactionType(undefined, event)).toMatchObject({ code: "P2P", version: 1 });
  });

  it("a code already defined is DUPLICATE_CODE", () => {
    const event = decideDefineTransactionType(p2p(), undefined, accountTypes, now);
    if ("kind" in event) throw new Error("expected an event");
    const state = evolveTransactionType(undefined, event);
    expectRejection(decideDefineTransactionType(p2p(), state, accountTypes, now), "DUPLICATE_CODE");
  });

  it("a code that is not ^[A-Z][A-Z0-9_]{1,31}$ is VALIDATION_ERROR", () => {
    expectRejection(
      decideDefineTransactionType(p2p({ code: "p2p" }), undefined, accountTypes, now),
      "VALIDATION_ERROR",
    );
  });
});

describe("template validation lists every violation in INVALID_TEMPLATE", () => {
  it("DEBIT legs that do not sum to exactly 1", () => {
    const errors = violations(
      p2p({ postings: [debit("payer", "0.5"), debit("agent", "0.49"), credit("payee")] }),
    );
    expect(errors).toEqual([
      { path: "/postings", message: expect.stringMatching(/DEBIT legs' percents sum to 0.99/) },
    ]);
  });

  it("CREDIT legs that sum to more than 1", () => {
    const errors = violations(
      p2p({ postings: [debit("payer"), credit("payee", "0.75"), credit("agent", "0.3")] }),
    );
    expect(errors).toEqual([
      { path: "/postings", message: expect.stringMatching(/CREDIT legs' percents sum to 1.05/) },
    ]);
  });

  it("a template with no CREDIT leg at all", () => {
    const errors = violations(p2p({ postings: [debit("payer", "0.5"), debit("agent", "0.5")] }));
    expect(errors).toEqual([
      { path: "/postings", message: expect.stringMatching(/CREDIT legs' percents sum to 0;/) },
    ]);
  });

  it.each([
    ["zero", "0", /more than 0/],
    ["above 1 (75 written as a whole number)", "75", /at most 1/],
    ["a percent sign", "75%", /decimal fraction/],
    ["a negative", "-0.5", /decimal fraction/],
    ["an exponent", "1e-1", /decimal fraction/],
    ["more than 18 decimals", `0.${"1".repeat(19)}`, /more than 18 decimals/],
  ])("a percent with %s", (_why, percent, message) => {
    const errors = violations(
      p2p({ postings: [debit("payer"), credit("payee", percent), credit("agent", "1")] }),
    );
    expect(errors).toContainEqual({ path: "/postings/1/percent", message: expect.any(String) });
    expect(errors.find((error) => error.path === "/postings/1/percent")?.message).toMatch(message);
  });

  it("a leg that names both a role and an accountId, and one that names neither", () => {
    const errors = violations(
      p2p({
        postings: [
          { side: "DEBIT", role: "payer", accountId: feeAccount, percent: "1" },
          { side: "CREDIT", percent: "1" },
        ],
      }),
    );
    expect(errors).toEqual([
      { path: "/postings/0", message: "a leg names a role or a fixed accountId, not both" },
      { path: "/postings/1", message: "a leg names a role or a fixed accountId" },
    ]);
  });

  it("a role that is not ^[a-z][a-zA-Z0-9_]{0,31}$", () => {
    const errors = violations(p2p({ postings: [debit("Payer"), credit("payee")] }));
    expect(errors).toEqual([{ path: "/postings/0/role", message: expect.any(String) }]);
  });

  it("an account type that does not exist", () => {
    const errors = violations(
      p2p({ postings: [debit("payer", "1", { accountType: "NOPE" }), credit("payee")] }),
    );
    expect(errors).toEqual([{ path: "/postings/0/accountType", message: "no account type NOPE" }]);
  });

  it("a role on both the DEBIT and the CREDIT side", () => {
    const errors = violations(p2p({ postings: [debit("payer"), credit("payer")] }));
    expect(errors).toEqual([
      { path: "/postings/1/role", message: "role payer is on both the DEBIT and the CREDIT side" },
    ]);
  });

  it("a fixed account on both sides", () => {
    const errors = violations(
      p2p({
        postings: [
          { side: "DEBIT", accountId: feeAccount, percent: "1" },
          { side: "CREDIT", accountId: feeAccount, percent: "1" },
        ],
      }),
    );
    expect(errors).toEqual([
      {
        path: "/postings/1/accountId",
        message: `account ${feeAccount} is on both the DEBIT and the CREDIT side`,
      },
    ]);
  });

  it("one role whose legs demand different account types", () => {
    const errors = violations(
      p2p({
        postings: [
          debit("payer", "0.5", { accountType: "WALLET" }),
          debit("payer", "0.5", { accountType: "AGENT_FLOAT" }),
          credit("payee"),
        ],
      }),
    );
    expect(errors).toEqual([
      {
        path: "/postings/1/accountType",
        message: "role payer names account type AGENT_FLOAT here and WALLET on leg 0",
      },
    ]);
  });

  it("allowedAccountTypes naming a role no leg has, an unknown type, or none", () => {
    const errors = violations(
      p2p({
        postings: [debit("payer"), credit("payee")],
        allowedAccountTypes: { agent: ["WALLET"], payer: ["GHOST"], payee: [] },
      }),
    );
    expect(errors).toEqual([
      { path: "/allowedAccountTypes/agent", message: "no leg has the role agent" },
      { path: "/allowedAccountTypes/payer/0", message: "no account type GHOST" },
      { path: "/allowedAccountTypes/payee", message: "lists no account type" },
    ]);
  });

  it("a leg's account type that its role's allowed list leaves out", () => {
    const errors = violations(
      p2p({
        postings: [debit("payer", "1", { accountType: "AGENT_FLOAT" }), credit("payee")],
        allowedAccountTypes: { payer: ["WALLET"] },
      }),
    );
    expect(errors).toEqual([
      {
        path: "/allowedAccountTypes/payer",
        message: "a payer leg requires account type AGENT_FLOAT, which this list leaves out",
      },
    ]);
  });

  it("fewer than two legs", () => {
    expect(violations(p2p({ postings: [debit("payer")] }))).toEqual([
      { path: "/postings", message: "a template has 2 to 20 legs" },
    ]);
  });

  it("several problems at once are all listed", () => {
    const errors = violations(
      p2p({
        postings: [
          debit("payer", "0.5", { accountType: "NOPE" }),
          credit("payee", "abc"),
          { side: "CREDIT", percent: "0.5" },
        ],
      }),
    );
    expect(errors.map((error) => error.path)).toEqual([
      "/postings/0/accountType",
      "/postings/1/percent",
      "/postings/2",
      "/postings",
      "/postings",
    ]);
  });
});
