import { describe, expect, it } from "vitest";
import {
  decideSetAccountTypeTransactionTypes,
  evolveAccountType,
} from "../../../src/domain/account-types/account-type.js";
import { checkTypedPosting } from "../../../src/domain/transaction-types/permissions.js";
import type { TransactionType } from "../../../src/domain/transaction-types/transaction-type.js";
import {
  accountOpened,
  accountsById,
  anAccountType,
  expectRejection,
  givenAccount,
  now,
} from "../fixtures.js";

const wallet = anAccountType({ code: "WALLET" });
const known = new Set(["P2P", "CASH_IN"]);

const p2p: TransactionType = {
  code: "P2P",
  description: "P2P",
  requiresTwoFactor: false,
  postings: [],
  allowedAccountTypes: null,
  definedAt: now.toISOString(),
  version: 1,
};

describe("which transaction types an account type may take part in", () => {
  it("setting the list records it sorted and without repeats", () => {
    const event = decideSetAccountTypeTransactionTypes(
      { code: "WALLET", transactionTypes: ["P2P", "CASH_IN", "P2P"] },
      wallet,
      known,
      now,
    );
    expect(event).toEqual({
      type: "AccountTypeTransactionTypesSet",
      data: { code: "WALLET", transactionTypes: ["CASH_IN", "P2P"], at: now.toISOString() },
    });
  });

  it("the type keeps its definition and gains the list; before any list it has none", () => {
    expect(wallet).not.toHaveProperty("transactionTypes");
    const event = decideSetAccountTypeTransactionTypes(
      { code: "WALLET", transactionTypes: ["P2P"] },
      wallet,
      known,
      now,
    );
    if ("kind" in event) throw new Error("expected an event");
    expect(evolveAccountType(wallet, event)).toEqual({ ...wallet, transactionTypes: ["P2P"] });
  });

  it("an account type that does not exist is UNKNOWN_ACCOUNT_TYPE", () => {
    expectRejection(
      decideSetAccountTypeTransactionTypes(
        { code: "GHOST", transactionTypes: [] },
        undefined,
        known,
        now,
      ),
      "UNKNOWN_ACCOUNT_TYPE",
    );
  });

  it("naming transaction types that do not exist is UNKNOWN_TRANSACTION_TYPE, each listed", () => {
    const rejection = expectRejection(
      decideSetAccountTypeTransactionTypes(
        { code: "WALLET", transactionTypes: ["P2P", "NOPE", "GONE"] },
        wallet,
        known,
        now,
      ),
      "UNKNOWN_TRANSACTION_TYPE",
    );
    expect(rejection.errors).toEqual([
      { path: "/transactionTypes/2", message: "no transaction type GONE" },
      { path: "/transactionTypes/1", message: "no transaction type NOPE" },
    ]);
  });
});

describe("a posting that names a transaction type", () => {
  const alice = givenAccount(accountOpened("alice", { accountType: "WALLET" }));
  const float = givenAccount(accountOpened("float", { accountType: "AGENT_FLOAT" }));
  const accounts = accountsById(alice, float);

  it("is refused with UNKNOWN_TRANSACTION_TYPE when the type does not exist", () => {
    expectRejection(
      checkTypedPosting("P2P", undefined, accounts, new Map()),
      "UNKNOWN_TRANSACTION_TYPE",
    );
  });

  it("is refused when an account's type has no list at all (default deny)", () => {
    const rejection = expectRejection(
      checkTypedPosting("P2P", p2p, accounts, new Map([["WALLET", ["P2P"]]])),
      "TRANSACTION_TYPE_NOT_ALLOWED",
    );
    expect(rejection.details).toEqual({
      accountId: "float",
      accountType: "AGENT_FLOAT",
      transactionType: "P2P",
    });
  });

  it("is refused when an account's type lists other transaction types only", () => {
    expectRejection(
      checkTypedPosting(
        "P2P",
        p2p,
        accounts,
        new Map([
          ["WALLET", ["CASH_IN"]],
          ["AGENT_FLOAT", ["P2P"]],
        ]),
      ),
      "TRANSACTION_TYPE_NOT_ALLOWED",
    );
  });

  it("passes when every account's type lists it; a missing account is left to the posting", () => {
    const withMissing = new Map([...accounts, ["ghost", undefined]]);
    expect(
      checkTypedPosting(
        "P2P",
        p2p,
        withMissing,
        new Map([
          ["WALLET", ["P2P"]],
          ["AGENT_FLOAT", ["CASH_IN", "P2P"]],
        ]),
      ),
    ).toBeUndefined();
  });
});
