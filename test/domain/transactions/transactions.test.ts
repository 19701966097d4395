import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { AccountState } from "../../../src/domain/accounts/account.js";
import { isRejection, reject } from "../../../src/domain/errors.js";
import { currencyScale, Decimal, fromMinorUnits } from "../../../src/domain/money/index.js";
import type { PostingState } from "../../../src/domain/postings/posting.js";
import type { Permissions } from "../../../src/domain/transaction-types/permissions.js";
import type { TemplateLeg } from "../../../src/domain/transaction-types/template.js";
import type { TransactionType } from "../../../src/domain/transaction-types/transaction-type.js";
import {
  decideFailTransaction,
  decideRecordTransaction,
  decideReverseTransaction,
  expandTemplate,
  type RecordTransaction,
  type ResolvedLeg,
  type TransactionChanges,
  type TransactionDecision,
  type TransactionInputs,
} from "../../../src/domain/transactions/decide.js";
import { foldTransaction } from "../../../src/domain/transactions/transaction.js";
import {
  accountOpened,
  accountsById,
  entryPosted,
  expectRejection,
  fundedWallet,
  givenAccount,
  now,
  nowIso,
} from "../fixtures.js";

const leg = (
  side: "DEBIT" | "CREDIT",
  percent: string,
  party: { role?: string; accountId?: string; accountType?: string },
): TemplateLeg => ({
  side,
  percent,
  role: party.role ?? null,
  accountId: party.accountId ?? null,
  accountType: party.accountType ?? null,
});

/** P2P with a 1 % fee to the fixed fee income account. */
const p2p: TransactionType = {
  code: "P2P",
  description: "Person to person",
  requiresTwoFactor: false,
  postings: [
    leg("DEBIT", "1", { role: "payer", accountType: "WALLET" }),
    leg("CREDIT", "0.99", { role: "payee" }),
    leg("CREDIT", "0.01", { accountId: "fees" }),
  ],
  allowedAccountTypes: { payee: ["WALLET"] },
  definedAt: "2025-01-01T00:00:00.000Z",
  version: 1,
};

const alice = () => fundedWallet("alice", "100.00");
const bob = () => fundedWallet("bob", "0.00");
const fees = () => givenAccount(accountOpened("fees", { accountType: "FEE_INCOME" }));
const everyoneMay: Permissions = new Map([
  ["WALLET", ["P2P"]],
  ["FEE_INCOME", ["P2P"]],
]);

function request(more: Partial<RecordTransaction> = {}): RecordTransaction {
  return {
    transactionId: "t1",
    postingId: "p1",
    transactionType: "P2P",
    amount: { value: "10.00", currency: "XCD" },
    parties: { payer: "alice", payee: "bob" },
    requestHash: "hash-1",
    idempotent: true,
    ...more,
  };
}

function inputs(more: Partial<TransactionInputs> = {}): TransactionInputs {
  return {
    transaction: undefined,
    transactionType: p2p,
    posting: undefined,
    accounts: accountsById(alice(), bob(), fees()),
    permissions: everyoneMay,
    limits: new Map(),
    referenceTaken: false,
    ...more,
  };
}

function expectChanges(decision: TransactionDecision): TransactionChanges {
  if (isRejection(decision)) throw new Error(`expected changes, got ${decision.code}`);
  if (decision.kind !== "accepted") throw new Error("expected changes, got a replay");
  return decision;
}

const entriesOf = (changes: TransactionChanges) =>
  changes.posting?.posting.entries.map((entry) => [entry.accountId, entry.side, entry.amount]);

describe("recording a domain transaction", () => {
  it("expands the template into one posting and records requested then posted", () => {
    const changes = expectChanges(decideRecordTransaction(request(), inputs(), now));
    expect(entriesOf(changes)).toEqual([
      ["alice", "DEBIT", "10.00"],
      ["bob", "CREDIT", "9.90"],
      ["fees", "CREDIT", "0.10"],
    ]);
    expect(changes.posting?.posting).toMatchObject({ id: "p1", transactionType: "P2P" });
    expect(changes.events.map((event) => event.type)).toEqual([
      "TransactionRequested",
      "TransactionPosted",
    ]);
    expect(changes.transaction).toMatchObject({
      id: "t1",
      status: "POSTED",
      postingId: "p1",
      transactionTypeVersion: 1,
      accountIds: ["alice", "bob", "fees"],
      amount: { value: "10.00", currency: "XCD" },
      history: [
        { status: "PENDING", at: nowIso },
        { status: "POSTED", at: nowIso },
      ],
    });
  });

  it("splits by largest remainder: the legs sum to the amount exactly", () => {
    const thirds: TransactionType = {
      ...p2p,
      postings: [
        leg("DEBIT", "1", { role: "payer" }),
        leg("CREDIT", "0.333334", { role: "payee" }),
        leg("CREDIT", "0.333333", { accountId: "fees" }),
        leg("CREDIT", "0.333333", { accountId: "bank" }),
      ],
      allowedAccountTypes: null,
    };
    const bank = givenAccount(accountOpened("bank", { accountType: "WALLET" }));
    const changes = expectChanges(
      decideRecordTransaction(
        request({ amount: { value: "0.10", currency: "XCD" } }),
        inputs({
          transactionType: thirds,
          accounts: accountsById(alice(), bob(), fees(), bank),
        }),
        now,
      ),
    );
    expect(entriesOf(changes)).toEqual([
      ["alice", "DEBIT", "0.10"],
      ["bob", "CREDIT", "0.04"],
      ["fees", "CREDIT", "0.03"],
      ["bank", "CREDIT", "0.03"],
    ]);
  });

  it("leaves out a leg whose share rounds to nothing (1 % of 0.01)", () => {
    const changes = expectChanges(
      decideRecordTransaction(
        request({ amount: { value: "0.01", currency: "XCD" } }),
        inputs(),
        now,
      ),
    );
    expect(entriesOf(changes)).toEqual([
      ["alice", "DEBIT", "0.01"],
      ["bob", "CREDIT", "0.01"],
    ]);
  });

  it("an unknown type is UNKNOWN_TRANSACTION_TYPE", () => {
    expectRejection(
      decideRecordTransaction(request(), inputs({ transactionType: undefined }), now),
      "UNKNOWN_TRANSACTION_TYPE",
    );
  });

  it("parties that do not fill the template's roles are VALIDATION_ERROR, each listed", () => {
    const rejection = expectRejection(
      decideRecordTransaction(
        request({ parties: { payer: "alice", agent: "bob" } }),
        inputs(),
        now,
      ),
      "VALIDATION_ERROR",
    );
    expect(rejection.errors).toEqual([
      { path: "/parties/payee", message: "P2P needs a payee" },
      { path: "/parties/agent", message: "P2P has no role agent" },
    ]);
  });

  it("an amount with too many decimals or an unknown currency is VALIDATION_ERROR", () => {
    expectRejection(
      decideRecordTransaction(
        request({ amount: { value: "1.005", currency: "XCD" } }),
        inputs(),
        now,
      ),
      "VALIDATION_ERROR",
    );
    expectRejection(
      decideRecordTransaction(
        request({ amount: { value: "1.00", currency: "ABC" } }),
        inputs(),
        now,
      ),
      "VALIDATION_ERROR",
    );
  });

  it("an amount in another currency than the accounts' is CURRENCY_MISMATCH", () => {
    expectRejection(
      decideRecordTransaction(
        request({ amount: { value: "1.00", currency: "USD" } }),
        inputs(),
        now,
      ),
      "CURRENCY_MISMATCH",
    );
  });

  it("a party that does not exist is ACCOUNT_NOT_FOUND", () => {
    expectRejection(
      decideRecordTransaction(request(), inputs({ accounts: accountsById(alice(), fees()) }), now),
      "ACCOUNT_NOT_FOUND",
    );
  });

  it("a payer of another type than the leg demands is TRANSACTION_TYPE_NOT_ALLOWED", () => {
    const floatPayer = givenAccount(accountOpened("alice", { accountType: "AGENT_FLOAT" }));
    const rejection = expectRejection(
      decideRecordTransaction(
        request(),
        inputs({
          accounts: accountsById(floatPayer, bob(), fees()),
          permissions: new Map([...everyoneMay, ["AGENT_FLOAT", ["P2P"]]]),
        }),
        now,
      ),
      "TRANSACTION_TYPE_NOT_ALLOWED",
    );
    expect(rejection.message).toBe("the payer must be a WALLET account");
  });

  it("a payee outside the role's allowed account types is TRANSACTION_TYPE_NOT_ALLOWED", () => {
    const merchant = givenAccount(accountOpened("bob", { accountType: "MERCHANT" }));
    const rejection = expectRejection(
      decideRecordTransaction(
        request(),
        inputs({
          accounts: accountsById(alice(), merchant, fees()),
          permissions: new Map([...everyoneMay, ["MERCHANT", ["P2P"]]]),
        }),
        now,
      ),
      "TRANSACTION_TYPE_NOT_ALLOWED",
    );
    expect(rejection.details).toMatchObject({ accountId: "bob", accountType: "MERCHANT" });
  });

  it("an account whose type may not use the transaction type is TRANSACTION_TYPE_NOT_ALLOWED", () => {
    const rejection = expectRejection(
      decideRecordTransaction(
        request(),
        inputs({ permissions: new Map([["WALLET", ["P2P"]]]) }),
        now,
      ),
      "TRANSACTION_TYPE_NOT_ALLOWED",
    );
    expect(rejection.details).toEqual({
      accountId: "fees",
      accountType: "FEE_INCOME",
      transactionType: "P2P",
    });
  });

  it("the posting's own rules apply: a payer short of funds is INSUFFICIENT_FUNDS", () => {
    expectRejection(
      decideRecordTransaction(
        request({ amount: { value: "100.01", currency: "XCD" } }),
        inputs(),
        now,
      ),
      "INSUFFICIENT_FUNDS",
    );
  });

  it("a payer over its type's limit is LIMIT_EXCEEDED; the payee's limit does not apply", () => {
    const limit = {
      accountType: "WALLET",
      transactionType: "P2P",
      perTransactionMax: "9.99",
      dailyAmountMax: null,
      dailyCountMax: null,
      monthlyAmountMax: null,
      setAt: nowIso,
    };
    const rejection = expectRejection(
      decideRecordTransaction(request(), inputs({ limits: new Map([["WALLET", limit]]) }), now),
      "LIMIT_EXCEEDED",
    );
    expect(rejection.details).toEqual({
      accountId: "alice",
      accountType: "WALLET",
      transactionType: "P2P",
      limit: "perTransactionMax",
      max: "9.99",
      current: "0.00",
      attempted: "10.00",
    });
    const feesLimit = { ...limit, accountType: "FEE_INCOME", perTransactionMax: "0.01" };
    expectChanges(
      decideRecordTransaction(
        request(),
        inputs({ limits: new Map([["FEE_INCOME", feesLimit]]) }),
        now,
      ),
    );
  });

  it("a reference another posting holds is DUPLICATE_REFERENCE", () => {
    expectRejection(
      decideRecordTransaction(request({ reference: "r-1" }), inputs({ referenceTaken: true }), now),
      "DUPLICATE_REFERENCE",
    );
  });
});

describe("a transaction already recorded", () => {
  const recorded = () =>
    foldTransaction(expectChanges(decideRecordTransaction(request(), inputs(), now)).events);

  it("the same keyed request again replays it", () => {
    const decision = decideRecordTransaction(request(), inputs({ transaction: recorded() }), now);
    expect(decision).toEqual({ kind: "replay", transaction: recorded() });
  });

  it("the same key with another body is IDEMPOTENCY_KEY_REUSED", () => {
    expectRejection(
      decideRecordTransaction(
        request({ requestHash: "hash-2" }),
        inputs({ transaction: recorded() }),
        now,
      ),
      "IDEMPOTENCY_KEY_REUSED",
    );
  });

  it("a client id already taken, without a key, is TRANSACTION_EXISTS", () => {
    expectRejection(
      decideRecordTransaction(
        request({ idempotent: false }),
        inputs({ transaction: recorded() }),
        now,
      ),
      "TRANSACTION_EXISTS",
    );
  });
});

describe("recording a failed transaction", () => {
  it("keeps it FAILED with the rejection and the reason in its history", () => {
    const rejection = reject("INSUFFICIENT_FUNDS", "account alice has not enough available funds", {
      accountId: "alice",
    });
    const changes = expectChanges(decideFailTransaction(request(), undefined, p2p, rejection, now));
    expect(changes.posting).toBeNull();
    expect(changes.events.map((event) => event.type)).toEqual([
      "TransactionRequested",
      "TransactionFailed",
    ]);
    expect(changes.transaction).toMatchObject({
      status: "FAILED",
      postingId: null,
      failure: {
        code: "INSUFFICIENT_FUNDS",
        message: "account alice has not enough available funds",
        details: { accountId: "alice" },
        errors: null,
      },
      history: [
        { status: "PENDING", at: nowIso },
        { status: "FAILED", at: nowIso, reason: "account alice has not enough available funds" },
      ],
    });
  });

  it("of an unknown type: no template version, the parties as its accounts", () => {
    const changes = expectChanges(
      decideFailTransaction(
        request(),
        undefined,
        undefined,
        reject("UNKNOWN_TRANSACTION_TYPE", "no transaction type P2P"),
        now,
      ),
    );
    expect(changes.transaction).toMatchObject({
      transactionTypeVersion: null,
      accountIds: ["alice", "bob"],
    });
  });

  it("answers what the stream holds when the transaction was recorded meanwhile", () => {
    const posted = foldTransaction(
      expectChanges(decideRecordTransaction(request(), inputs(), now)).events,
    );
    const decision = decideFailTransaction(
      request(),
      posted,
      p2p,
      reject("LIMIT_EXCEEDED", "x"),
      now,
    );
    expect(decision).toMatchObject({ kind: "replay", transaction: { status: "POSTED" } });
  });
});

describe("reversing a domain transaction", () => {
  const posted = () => expectChanges(decideRecordTransaction(request(), inputs(), now));

  function reverseInputs(more: { original?: PostingState; accounts?: Map<string, AccountState> }) {
    const changes = posted();
    return {
      transaction: changes.transaction,
      original: changes.posting?.posting,
      reversal: undefined,
      accounts: accountsById(
        fundedWallet("alice", "90.00"),
        fundedWallet("bob", "9.90"),
        givenAccount(
          accountOpened("fees", { accountType: "FEE_INCOME" }),
          entryPosted("p1", "CREDIT", "0.10", "0.10"),
        ),
      ),
      ...more,
    };
  }

  const reversal = {
    transactionId: "t1",
    reversalPostingId: "r1",
    reason: "customer dispute",
    requestHash: "hash-r",
    idempotent: false,
  };

  it("mirrors the posting and marks the transaction REVERSED in the same decision", () => {
    const changes = expectChanges(decideReverseTransaction(reversal, reverseInputs({}), now));
    expect(entriesOf(changes)).toEqual([
      ["alice", "CREDIT", "10.00"],
      ["bob", "DEBIT", "9.90"],
      ["fees", "DEBIT", "0.10"],
    ]);
    expect(changes.posting?.postingEvents.get("p1")?.map((event) => event.type)).toEqual([
      "PostingReversed",
    ]);
    expect(changes.transaction).toMatchObject({
      status: "REVERSED",
      reversalPostingId: "r1",
      history: [
        { status: "PENDING" },
        { status: "POSTED" },
        { status: "REVERSED", reason: "customer dispute" },
      ],
    });
  });

  it("a transaction that does not exist is TRANSACTION_NOT_FOUND", () => {
    expectRejection(
      decideReverseTransaction(reversal, { ...reverseInputs({}), transaction: undefined }, now),
      "TRANSACTION_NOT_FOUND",
    );
  });

  it("a FAILED transaction is INVALID_STATUS_TRANSITION", () => {
    const failed = expectChanges(
      decideFailTransaction(request(), undefined, p2p, reject("LIMIT_EXCEEDED", "over"), now),
    ).transaction;
    expectRejection(
      decideReverseTransaction(reversal, { ...reverseInputs({}), transaction: failed }, now),
      "INVALID_STATUS_TRANSITION",
    );
  });
});

describe("template expansion (property)", () => {
  /** Shares with six decimals that sum to exactly 1: cut points in [0, 10^6], no empty share. */
  const sharesArbitrary = fc
    .uniqueArray(fc.integer({ min: 1, max: 999_999 }), { maxLength: 6 })
    .map((cuts) => {
      const points = [0, ...cuts.sort((a, b) => a - b), 1_000_000];
      return points.slice(1).map((point, index) => {
        const share = new Decimal(point - (points[index] ?? 0)).dividedBy(1_000_000);
        return share.toFixed();
      });
    });

  it("each side's parts sum exactly to the amount, none negative, each within a minor unit", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 10n ** 12n }),
        fc.constantFrom("XCD" as const, "JPY" as const, "KWD" as const),
        sharesArbitrary,
        sharesArbitrary,
        (minor, currency, debitShares, creditShares) => {
          const amount = fromMinorUnits(minor, currency);
          const legs: ResolvedLeg[] = [
            ...debitShares.map((percent, index) => ({
              ...leg("DEBIT", percent, { accountId: `d${index}` }),
              accountId: `d${index}`,
            })),
            ...creditShares.map((percent, index) => ({
              ...leg("CREDIT", percent, { accountId: `c${index}` }),
              accountId: `c${index}`,
            })),
          ];
          const entries = expandTemplate(legs, { value: amount, currency });
          const minorUnit = new Decimal(1).dividedBy(10 ** currencyScale(currency));
          for (const side of ["DEBIT", "CREDIT"] as const) {
            const sideEntries = entries.filter((entry) => entry.side === side);
            const total = sideEntries.reduce(
              (sum, entry) => sum.plus(entry.amount.value),
              new Decimal(0),
            );
            expect(total.equals(amount)).toBe(true);
            for (const entry of sideEntries) {
              const part = new Decimal(entry.amount.value);
              expect(part.greaterThan(0)).toBe(true);
              const share = legs.find((candidate) => candidate.accountId === entry.accountId);
              const exact = amount.times(share?.percent ?? "0");
              expect(part.minus(exact).abs().lessThan(minorUnit)).toBe(true);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
