import canonicalize from "canonicalize";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type AccountState,
  balancesOf,
  foldAccount,
} from "../../../src/domain/accounts/account.js";
import { decidePlaceHold, decideReleaseHold } from "../../../src/domain/accounts/holds.js";
import { isRejection } from "../../../src/domain/errors.js";
import {
  type CurrencyCode,
  Decimal,
  formatAmount,
  fromMinorUnits,
} from "../../../src/domain/money/index.js";
import {
  decideRecordPosting,
  decideReversePosting,
  type EntryRequest,
  type PostingDecision,
} from "../../../src/domain/postings/decide.js";
import { foldPosting, type PostingState } from "../../../src/domain/postings/posting.js";
import {
  accountIn,
  accountOpened,
  accountsById,
  applyChanges,
  givenAccount,
  now,
  overdraftLineSet,
} from "../fixtures.js";

/** A few accounts of both normal balances, both negative rules and two currencies. */
const ledgerAccounts = [
  { id: "cash", normalBalance: "DEBIT", allowNegative: true, currency: "XCD" },
  { id: "equity", normalBalance: "CREDIT", allowNegative: true, currency: "XCD" },
  { id: "wallet-1", normalBalance: "CREDIT", allowNegative: false, currency: "XCD" },
  { id: "wallet-2", normalBalance: "CREDIT", allowNegative: false, currency: "XCD" },
  { id: "receivable", normalBalance: "DEBIT", allowNegative: false, currency: "XCD" },
  { id: "usd-cash", normalBalance: "DEBIT", allowNegative: true, currency: "USD" },
  { id: "usd-wallet", normalBalance: "CREDIT", allowNegative: false, currency: "USD" },
  { id: "usd-asset", normalBalance: "DEBIT", allowNegative: false, currency: "USD" },
] as const;

const byCurrency = (currency: CurrencyCode) =>
  ledgerAccounts.filter((account) => account.currency === currency).map((account) => account.id);

function openLedger(): Map<string, AccountState> {
  return accountsById(
    ...ledgerAccounts.map((spec) =>
      givenAccount(
        accountOpened(spec.id, {
          normalBalance: spec.normalBalance,
          allowNegative: spec.allowNegative,
          currency: spec.currency,
        }),
        // One account lives on an overdraft line, so the floor is not always zero.
        ...(spec.id === "wallet-2" ? [overdraftLineSet("wallet-2", "25.00")] : []),
      ),
    ),
  );
}

const amountText = (minor: number, currency: CurrencyCode) =>
  formatAmount(fromMinorUnits(BigInt(minor), currency), currency);

/** One balanced transfer: a debit and a credit of the same amount between two accounts. */
const transferArb = fc.constantFrom<CurrencyCode>("XCD", "USD").chain((currency) =>
  fc.record({
    currency: fc.constant(currency),
    from: fc.constantFrom(...byCurrency(currency)),
    to: fc.constantFrom(...byCurrency(currency)),
    minor: fc.integer({ min: 1, max: 5_000 }),
  }),
);

const operationArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("post" as const),
      transfers: fc.array(transferArb, { minLength: 1, maxLength: 3 }),
      // Typed postings count payments (limits); a transaction's posting names it.
      transactionType: fc.constantFrom(null, "P2P"),
      transactionId: fc.constantFrom(null, "transaction-1"),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("reverse" as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("hold" as const),
      account: fc.constantFrom(...ledgerAccounts.map((account) => account.id)),
      minor: fc.integer({ min: 1, max: 3_000 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("release" as const), pick: fc.nat() }) },
);

type Operation = typeof operationArb extends fc.Arbitrary<infer T> ? T : never;

interface Ledger {
  accounts: Map<string, AccountState>;
  postings: Map<string, PostingState>;
  holds: { holdId: string; accountId: string }[];
  sequence: number;
  rejected: number;
}

type Of<K extends Operation["kind"]> = Extract<Operation, { kind: K }>;

function post(ledger: Ledger, id: string, operation: Of<"post">): void {
  const entries: EntryRequest[] = operation.transfers.flatMap((transfer) => {
    const amount = {
      value: amountText(transfer.minor, transfer.currency),
      currency: transfer.currency,
    };
    return [
      { accountId: transfer.from, side: "DEBIT" as const, amount },
      { accountId: transfer.to, side: "CREDIT" as const, amount },
    ];
  });
  const decision = decideRecordPosting(
    {
      postingId: id,
      entries,
      requestHash: id,
      idempotent: false,
      transactionType: operation.transactionType,
      transactionId: operation.transactionId,
    },
    { posting: undefined, accounts: ledger.accounts, referenceTaken: false },
    now,
  );
  if (isRejection(decision)) {
    // The generator only builds balanced postings between open accounts: funds are the one reason.
    expect(decision.code).toBe("INSUFFICIENT_FUNDS");
    ledger.rejected += 1;
    return;
  }
  accept(ledger, decision);
}

function reverse(ledger: Ledger, id: string, operation: Of<"reverse">): void {
  const ids = [...ledger.postings.keys()];
  const originalId = ids[operation.pick % Math.max(ids.length, 1)];
  if (originalId === undefined) return;
  const decision = decideReversePosting(
    {
      postingId: originalId,
      reversalId: id,
      reason: "property",
      requestHash: id,
      idempotent: false,
    },
    { original: ledger.postings.get(originalId), reversal: undefined, accounts: ledger.accounts },
    now,
  );
  if (isRejection(decision)) {
    expect(["INSUFFICIENT_FUNDS", "ALREADY_REVERSED", "CANNOT_REVERSE_REVERSAL"]).toContain(
      decision.code,
    );
    ledger.rejected += 1;
    return;
  }
  accept(ledger, decision);
}

function accept(ledger: Ledger, decision: PostingDecision): void {
  if (isRejection(decision) || decision.kind !== "accepted") {
    throw new Error("a new posting id is never a replay");
  }
  checkEventsAsStored(ledger.accounts, decision);
  ledger.accounts = applyChanges(ledger.accounts, decision);
  for (const [postingId, events] of decision.postingEvents) {
    ledger.postings.set(postingId, foldPosting(events, ledger.postings.get(postingId)));
  }
}

/**
 * A posting's PostingRecorded and EntryPosted events are their own canonical JSON (members in
 * sorted order: the hash chain's fast path writes them with JSON.stringify), and the accounts
 * the decision hands over as its result are exactly what folding its events as read back from
 * the store (new objects, parsed again) gives.
 */
function checkEventsAsStored(
  accounts: ReadonlyMap<string, AccountState>,
  decision: Extract<PostingDecision, { kind: "accepted" }>,
): void {
  for (const events of [...decision.postingEvents.values(), ...decision.accountEvents.values()]) {
    for (const event of events) {
      if (event.type !== "PostingRecorded" && event.type !== "EntryPosted") continue;
      expect(JSON.stringify(event.data)).toBe(canonicalize(event.data));
    }
  }
  expect([...decision.accountsAfter.keys()]).toEqual([...decision.accountEvents.keys()]);
  for (const [accountId, events] of decision.accountEvents) {
    const stored = JSON.parse(JSON.stringify(events)) as typeof events;
    const replayed = foldAccount(stored, accounts.get(accountId));
    expect(decision.accountsAfter.get(accountId)).toStrictEqual(replayed);
    expect(foldAccount(events, accounts.get(accountId))).toStrictEqual(replayed);
  }
}

function placeHold(ledger: Ledger, id: string, operation: Of<"hold">): void {
  const account = accountIn(ledger.accounts, operation.account);
  const amount = {
    value: amountText(operation.minor, account.currency),
    currency: account.currency,
  };
  const result = decidePlaceHold({ holdId: id, accountId: account.id, amount }, account, now);
  if (isRejection(result)) {
    expect(result.code).toBe("INSUFFICIENT_FUNDS");
    ledger.rejected += 1;
    return;
  }
  ledger.accounts.set(account.id, foldAccount(result, account));
  ledger.holds.push({ holdId: id, accountId: account.id });
}

function releaseHold(ledger: Ledger, operation: Of<"release">): void {
  const hold = ledger.holds[operation.pick % Math.max(ledger.holds.length, 1)];
  if (hold === undefined) return;
  const account = accountIn(ledger.accounts, hold.accountId);
  const result = decideReleaseHold(hold, account, now);
  if (isRejection(result)) {
    // Released already by an earlier step.
    expect(result.code).toBe("HOLD_NOT_ACTIVE");
    return;
  }
  ledger.accounts.set(account.id, foldAccount(result, account));
}

function step(ledger: Ledger, operation: Operation): void {
  ledger.sequence += 1;
  const id = `op-${ledger.sequence}`;
  switch (operation.kind) {
    case "post":
      post(ledger, id, operation);
      return;
    case "reverse":
      reverse(ledger, id, operation);
      return;
    case "hold":
      placeHold(ledger, id, operation);
      return;
    case "release":
      releaseHold(ledger, operation);
      return;
  }
}

function checkInvariants(ledger: Ledger): void {
  const signedTotal = new Map<CurrencyCode, Decimal>();
  for (const spec of ledgerAccounts) {
    const account = accountIn(ledger.accounts, spec.id);
    // Signed: DEBIT-normal posted counts +, CREDIT-normal posted counts −.
    const signed = account.normalBalance === "DEBIT" ? account.posted : account.posted.negated();
    signedTotal.set(
      account.currency,
      (signedTotal.get(account.currency) ?? new Decimal(0)).plus(signed),
    );
    if (!account.allowNegative) {
      const balances = balancesOf(account, now);
      expect(account.posted.greaterThanOrEqualTo(balances.overdraftLimit.negated())).toBe(true);
      expect(balances.available.greaterThanOrEqualTo(0)).toBe(true);
    }
  }
  for (const [currency, total] of signedTotal) {
    expect(formatAmount(total, currency)).toBe(formatAmount(new Decimal(0), currency));
  }
}

describe("ledger invariants (property)", () => {
  it("any sequence of postings, reversals and holds keeps Σ signed balances per currency at 0 and every no-negative account at or above −overdraft", () => {
    let rejectedTotal = 0;
    let acceptedSomething = false;
    fc.assert(
      fc.property(fc.array(operationArb, { minLength: 1, maxLength: 40 }), (operations) => {
        const ledger: Ledger = {
          accounts: openLedger(),
          postings: new Map(),
          holds: [],
          sequence: 0,
          rejected: 0,
        };
        for (const operation of operations) {
          step(ledger, operation);
          checkInvariants(ledger);
        }
        rejectedTotal += ledger.rejected;
        acceptedSomething ||= ledger.postings.size > 0;
      }),
      { numRuns: 300 },
    );
    // The runs exercised both outcomes: some postings were refused, some went through.
    expect(rejectedTotal).toBeGreaterThan(0);
    expect(acceptedSomething).toBe(true);
  });
});
