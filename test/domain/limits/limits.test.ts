import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { evolveAccountType } from "../../../src/domain/account-types/account-type.js";
import type { AccountEvent, EntryPosted } from "../../../src/domain/accounts/account.js";
import {
  checkLimit,
  checkPostingLimits,
  decideSetLimit,
  type Limit,
  type SetLimit,
} from "../../../src/domain/limits/limits.js";
import { Decimal } from "../../../src/domain/money/index.js";
import type { Posting } from "../../../src/domain/postings/posting.js";
import {
  accountOpened,
  anAccountType,
  entryPosted,
  expectRejection,
  givenAccount,
  now,
} from "../fixtures.js";

const both = { accountType: true, transactionType: true };

function limit(more: Partial<Limit> = {}): Limit {
  return {
    accountType: "WALLET",
    transactionType: "P2P",
    perTransactionMax: null,
    dailyAmountMax: null,
    dailyCountMax: null,
    monthlyAmountMax: null,
    setAt: "2025-01-01T00:00:00.000Z",
    ...more,
  };
}

/** A DEBIT entry of a typed posting at `at`: a payment that counts toward limits. */
function paid(postingId: string, amount: string, at: string, transactionType = "P2P") {
  const entry = entryPosted(postingId, "DEBIT", amount, "0.00");
  return { ...entry, data: { ...entry.data, at, transactionType } } satisfies EntryPosted;
}

/** A wallet (allowed negative, so balances do not matter here) after `events`. */
const wallet = (...events: AccountEvent[]) =>
  givenAccount(accountOpened("w", { allowNegative: true }), ...events);

const today = (time: string) => `2025-06-01T${time}.000Z`;
const check = (events: AccountEvent[], set: Partial<Limit>, amount: string) =>
  checkLimit(wallet(...events), limit(set), new Decimal(amount), now);

describe("setting a limit", () => {
  const request: SetLimit = {
    accountType: "WALLET",
    transactionType: "P2P",
    perTransactionMax: "100.00",
    dailyCountMax: 5,
  };

  it("records LimitSet on the account type, which keeps it by transaction type", () => {
    const event = decideSetLimit(request, both, now);
    expect(event).toEqual({
      type: "LimitSet",
      data: {
        accountType: "WALLET",
        transactionType: "P2P",
        perTransactionMax: "100.00",
        dailyAmountMax: null,
        dailyCountMax: 5,
        monthlyAmountMax: null,
        setAt: now.toISOString(),
      },
    });
    if ("kind" in event) throw new Error("expected an event");
    const type = evolveAccountType(anAccountType(), event);
    expect(type?.limits?.P2P).toEqual(event.data);
  });

  it("a limit with every field null removes the limit", () => {
    const set = decideSetLimit(request, both, now);
    const cleared = decideSetLimit({ accountType: "WALLET", transactionType: "P2P" }, both, now);
    if ("kind" in set || "kind" in cleared) throw new Error("expected events");
    const type = evolveAccountType(evolveAccountType(anAccountType(), set), cleared);
    expect(type?.limits).toEqual({});
  });

  it("an unknown account type or transaction type is refused", () => {
    expectRejection(
      decideSetLimit(request, { ...both, accountType: false }, now),
      "UNKNOWN_ACCOUNT_TYPE",
    );
    expectRejection(
      decideSetLimit(request, { ...both, transactionType: false }, now),
      "UNKNOWN_TRANSACTION_TYPE",
    );
  });

  it("each malformed field is listed in one VALIDATION_ERROR", () => {
    const rejection = expectRejection(
      decideSetLimit(
        {
          ...request,
          perTransactionMax: "0",
          dailyAmountMax: "1.0000001",
          monthlyAmountMax: "-5",
          dailyCountMax: 0,
        },
        both,
        now,
      ),
      "VALIDATION_ERROR",
    );
    expect(rejection.errors?.map((error) => error.path)).toEqual([
      "/perTransactionMax",
      "/dailyAmountMax",
      "/monthlyAmountMax",
      "/dailyCountMax",
    ]);
  });
});

describe("limits at their boundaries", () => {
  it("a payment of exactly the per-transaction maximum passes; a cent more does not", () => {
    expect(check([], { perTransactionMax: "100.00" }, "100.00").allowed).toBe(true);
    expect(check([], { perTransactionMax: "100.00" }, "100.01")).toEqual({
      allowed: false,
      violations: [
        { limit: "perTransactionMax", max: "100.00", current: "0.00", attempted: "100.01" },
      ],
      remaining: { perTransaction: "100.00" },
    });
  });

  it("the daily amount counts today's payments: up to the maximum passes, beyond it not", () => {
    const events = [
      paid("p1", "300.00", today("08:00:00")),
      paid("p2", "100.00", today("09:00:00")),
    ];
    expect(check(events, { dailyAmountMax: "500.00" }, "100.00")).toEqual({
      allowed: true,
      violations: [],
      remaining: { dailyAmount: "100.00" },
    });
    expect(check(events, { dailyAmountMax: "500.00" }, "100.01").violations).toEqual([
      { limit: "dailyAmountMax", max: "500.00", current: "400.00", attempted: "100.01" },
    ]);
  });

  it("a new UTC day starts from zero; the month keeps counting", () => {
    const yesterday = [paid("p1", "450.00", "2025-05-31T23:59:59.999Z")];
    expect(check(yesterday, { dailyAmountMax: "500.00" }, "500.00").allowed).toBe(true);
    const thisMonth = [paid("p1", "450.00", "2025-06-01T00:00:00.000Z")];
    expect(check(thisMonth, { monthlyAmountMax: "500.00" }, "50.01").violations).toEqual([
      { limit: "monthlyAmountMax", max: "500.00", current: "450.00", attempted: "50.01" },
    ]);
    const lastMonth = [paid("p1", "450.00", "2025-05-31T23:59:59.999Z")];
    expect(check(lastMonth, { monthlyAmountMax: "500.00" }, "500.00").allowed).toBe(true);
  });

  it("the daily count allows exactly its number of payments", () => {
    const two = [paid("p1", "1.00", today("08:00:00")), paid("p2", "1.00", today("09:00:00"))];
    expect(check(two, { dailyCountMax: 3 }, "1.00")).toMatchObject({
      allowed: true,
      remaining: { dailyCount: "1" },
    });
    const three = [...two, paid("p3", "1.00", today("10:00:00"))];
    expect(check(three, { dailyCountMax: 3 }, "1.00")).toMatchObject({
      allowed: false,
      violations: [{ limit: "dailyCountMax", max: "3", current: "3", attempted: "1" }],
      remaining: { dailyCount: "0" },
    });
  });

  it("two DEBIT legs of one posting are one payment", () => {
    const oneposting = [
      paid("p1", "1.00", today("08:00:00")),
      paid("p1", "2.00", today("08:00:00")),
    ];
    expect(check(oneposting, { dailyCountMax: 2, dailyAmountMax: "3.00" }, "0.01")).toMatchObject({
      violations: [{ limit: "dailyAmountMax", current: "3.00" }],
      remaining: { dailyCount: "1", dailyAmount: "0.00" },
    });
  });

  it("only what the account pays counts: not credits, other types, or reversals", () => {
    const credit = entryPosted("c1", "CREDIT", "400.00", "400.00");
    const events = [
      { ...credit, data: { ...credit.data, at: today("08:00:00"), transactionType: "P2P" } },
      paid("o1", "400.00", today("08:00:00"), "CASH_OUT"),
      // A reversal's entries carry no transaction type.
      entryPosted("r1", "DEBIT", "400.00", "0.00"),
    ] satisfies AccountEvent[];
    expect(check(events, { dailyAmountMax: "500.00" }, "500.00").allowed).toBe(true);
  });

  it("no limit for the pair allows anything", () => {
    expect(checkLimit(wallet(), undefined, new Decimal("1000000"), now)).toEqual({
      allowed: true,
      violations: [],
      remaining: {},
    });
  });
});

describe("limits of a posting", () => {
  /** A P2P posting in which wallet `w` pays `amounts` (one DEBIT leg each) to `shop`. */
  function payment(amounts: readonly string[]): Posting {
    const debits = amounts.map((amount) => ({
      accountId: "w",
      side: "DEBIT" as const,
      amount,
      currency: "XCD" as const,
    }));
    return {
      id: "p-new",
      transactionType: "P2P",
      reference: null,
      description: null,
      entries: [...debits, { accountId: "shop", side: "CREDIT", amount: "0", currency: "XCD" }],
      metadata: {},
      requestHash: "hash",
      reverses: null,
      holdId: null,
      createdAt: now.toISOString(),
      transactionId: null,
      reversedBy: null,
      status: "POSTED",
    };
  }

  it("a posting over several limits is refused for the first, in the order they are checked", () => {
    const account = wallet(paid("p1", "30.00", today("08:00:00")));
    const rejection = expectRejection(
      checkPostingLimits(
        payment(["40.00", "20.00"]),
        new Map([["w", account]]),
        new Map([["WALLET", limit({ dailyAmountMax: "50.00", monthlyAmountMax: "60.00" })]]),
        now,
      ),
      "LIMIT_EXCEEDED",
    );
    expect(rejection.details).toEqual({
      accountId: "w",
      accountType: "WALLET",
      transactionType: "P2P",
      limit: "dailyAmountMax",
      max: "50.00",
      current: "30.00",
      attempted: "60.00",
    });
  });

  it("a paying account whose type has no limit for the transaction type passes", () => {
    const account = wallet(paid("p1", "30.00", today("08:00:00")));
    expect(
      checkPostingLimits(payment(["1000000.00"]), new Map([["w", account]]), new Map(), now),
    ).toBeUndefined();
  });

  it("refuses a posting exactly when checkLimit finds a violation, for checkLimit's first", () => {
    const maxArb = fc.option(
      fc.integer({ min: 1, max: 20_000 }).map((cents) => (cents / 100).toFixed(2)),
    );
    fc.assert(
      fc.property(
        fc.record({
          perTransactionMax: maxArb,
          dailyAmountMax: maxArb,
          dailyCountMax: fc.option(fc.integer({ min: 1, max: 4 })),
          monthlyAmountMax: maxArb,
        }),
        fc.array(fc.tuple(fc.integer({ min: 1, max: 9_000 }), fc.constantFrom("05-20", "06-01")), {
          maxLength: 4,
        }),
        fc.array(fc.integer({ min: 1, max: 9_000 }), { minLength: 1, maxLength: 3 }),
        (set, history, legs) => {
          const cents = (amount: number) => (amount / 100).toFixed(2);
          const account = wallet(
            ...history.map(([amount, day], index) =>
              paid(`h${index}`, cents(amount), `2025-${day}T08:00:00.000Z`),
            ),
          );
          const amounts = legs.map(cents);
          const total = amounts.reduce((sum, amount) => sum.plus(amount), new Decimal(0));
          const expected = checkLimit(account, limit(set), total, now).violations[0];
          const refused = checkPostingLimits(
            payment(amounts),
            new Map([["w", account]]),
            new Map([["WALLET", limit(set)]]),
            now,
          );
          if (expected === undefined) {
            expect(refused).toBeUndefined();
          } else {
            expect(refused?.details).toEqual({
              accountId: "w",
              accountType: "WALLET",
              transactionType: "P2P",
              ...expected,
            });
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
