import { describe, expect, it } from "vitest";
import type { AccountState } from "../../../src/domain/accounts/account.js";
import {
  decideRecordPosting,
  type EntryRequest,
  type PostingInputs,
  postingEntriesMax,
  type RecordPosting,
} from "../../../src/domain/postings/decide.js";
import {
  accountOpened,
  accountsById,
  entryPosted,
  eventsFor,
  expectAccepted,
  expectRejection,
  fundedWallet,
  givenAccount,
  leg,
  now,
  nowIso,
  settlementAccount,
  statusChanged,
} from "../fixtures.js";

function posting(
  entries: readonly EntryRequest[],
  more: Partial<RecordPosting> = {},
): RecordPosting {
  return { postingId: "p1", entries, requestHash: "hash-1", idempotent: false, ...more };
}

function inputs(
  accounts: ReadonlyMap<string, AccountState>,
  more: Partial<PostingInputs> = {},
): PostingInputs {
  return { posting: undefined, accounts, referenceTaken: false, ...more };
}

/** A wallet with 100.00 paying a DEBIT-normal settlement account that may go negative. */
const walletAndBank = () =>
  accountsById(fundedWallet("wallet", "100.00"), settlementAccount("bank"));

const pay = (value: string) => [leg("wallet", "DEBIT", value), leg("bank", "CREDIT", value)];

describe("recording a posting", () => {
  it("records PostingRecorded and one EntryPosted per leg with the running balance", () => {
    const changes = expectAccepted(
      decideRecordPosting(
        posting(pay("30.00"), {
          transactionType: "P2P",
          reference: "ref-1",
          description: "lunch",
          metadata: { channel: "ussd" },
        }),
        inputs(walletAndBank()),
        now,
      ),
    );
    const entries = [
      { accountId: "wallet", side: "DEBIT", amount: "30.00", currency: "XCD" },
      { accountId: "bank", side: "CREDIT", amount: "30.00", currency: "XCD" },
    ];
    expect(changes.postingEvents.get("p1")).toEqual([
      {
        type: "PostingRecorded",
        data: {
          postingId: "p1",
          transactionType: "P2P",
          reference: "ref-1",
          description: "lunch",
          entries,
          metadata: { channel: "ussd" },
          requestHash: "hash-1",
          reverses: null,
          holdId: null,
          createdAt: nowIso,
        },
      },
    ]);
    expect(eventsFor(changes, "wallet")).toEqual([
      {
        type: "EntryPosted",
        data: {
          postingId: "p1",
          side: "DEBIT",
          amount: "30.00",
          currency: "XCD",
          balanceAfter: "70.00",
          at: nowIso,
          // The posting's type, so the account can count what it pays toward limits.
          transactionType: "P2P",
        },
      },
    ]);
    // DEBIT-normal bank: a credit lowers it.
    expect(eventsFor(changes, "bank")).toMatchObject([
      { type: "EntryPosted", data: { side: "CREDIT", balanceAfter: "-30.00" } },
    ]);
    expect(changes.posting).toMatchObject({
      id: "p1",
      status: "POSTED",
      reversedBy: null,
      reverses: null,
    });
    expect(changes.reference).toBe("ref-1");
  });

  it("amounts are recorded in the currency's canonical scale", () => {
    const accounts = accountsById(
      givenAccount(accountOpened("a", { currency: "KWD", allowNegative: true })),
      givenAccount(accountOpened("b", { currency: "KWD" })),
    );
    const changes = expectAccepted(
      decideRecordPosting(
        posting([leg("a", "DEBIT", "1.5", "KWD"), leg("b", "CREDIT", "1.5", "KWD")]),
        inputs(accounts),
        now,
      ),
    );
    expect(eventsFor(changes, "a")).toMatchObject([
      { data: { amount: "1.500", balanceAfter: "-1.500" } },
    ]);
    expect(eventsFor(changes, "b")).toMatchObject([
      { data: { amount: "1.500", balanceAfter: "1.500" } },
    ]);
  });

  it("a posting without reference, description or metadata records nulls and {}", () => {
    const changes = expectAccepted(
      decideRecordPosting(posting(pay("1.00")), inputs(walletAndBank()), now),
    );
    expect(changes.posting).toMatchObject({
      transactionType: null,
      reference: null,
      description: null,
      metadata: {},
    });
    expect(changes.reference).toBeNull();
  });

  it("the same account twice gets a running balanceAfter per entry", () => {
    const changes = expectAccepted(
      decideRecordPosting(
        posting([
          leg("wallet", "DEBIT", "30.00"),
          leg("wallet", "DEBIT", "20.00"),
          leg("wallet", "CREDIT", "5.00"),
          leg("bank", "CREDIT", "45.00"),
        ]),
        inputs(walletAndBank()),
        now,
      ),
    );
    expect(eventsFor(changes, "wallet").map((event) => event.data)).toMatchObject([
      { amount: "30.00", balanceAfter: "70.00" },
      { amount: "20.00", balanceAfter: "50.00" },
      { amount: "5.00", balanceAfter: "55.00" },
    ]);
  });

  it("a rejected posting changes nothing: it is one rejection, no events", () => {
    const decision = decideRecordPosting(posting(pay("100.01")), inputs(walletAndBank()), now);
    expect(decision).toMatchObject({ kind: "rejection", code: "INSUFFICIENT_FUNDS" });
    expect(decision).not.toHaveProperty("accountEvents");
  });
});

describe("posting validation", () => {
  it.each([
    ["no entries", []],
    ["one entry", [leg("wallet", "DEBIT", "1.00")]],
  ])("%s is VALIDATION_ERROR (a posting has at least 2)", (_why, entries) => {
    expectRejection(
      decideRecordPosting(posting(entries), inputs(walletAndBank()), now),
      "VALIDATION_ERROR",
    );
  });

  it(`more than ${postingEntriesMax} entries is VALIDATION_ERROR`, () => {
    const entries = Array.from({ length: postingEntriesMax + 1 }, (_, index) =>
      leg("bank", index % 2 === 0 ? "DEBIT" : "CREDIT", "1.00"),
    );
    expectRejection(
      decideRecordPosting(posting(entries), inputs(walletAndBank()), now),
      "VALIDATION_ERROR",
    );
  });

  it.each([
    ["a JSON number", 10],
    ["negative", "-10.00"],
    ["zero", "0"],
    ["zero with decimals", "0.00"],
    ["an exponent", "1e1"],
    ["too many decimals", "10.001"],
    ["a leading plus", "+10"],
    ["whitespace", " 10"],
    ["empty", ""],
  ])("an amount that is %s is VALIDATION_ERROR", (_why, value) => {
    const bad = value as string;
    expectRejection(
      decideRecordPosting(
        posting([leg("wallet", "DEBIT", bad), leg("bank", "CREDIT", bad)]),
        inputs(walletAndBank()),
        now,
      ),
      "VALIDATION_ERROR",
    );
  });

  it("an unsupported currency is VALIDATION_ERROR", () => {
    expectRejection(
      decideRecordPosting(
        posting([leg("wallet", "DEBIT", "1.00", "ABC"), leg("bank", "CREDIT", "1.00", "ABC")]),
        inputs(walletAndBank()),
        now,
      ),
      "VALIDATION_ERROR",
    );
  });

  it("a JPY amount has no decimals", () => {
    expectRejection(
      decideRecordPosting(
        posting([leg("a", "DEBIT", "1.5", "JPY"), leg("b", "CREDIT", "1.5", "JPY")]),
        inputs(new Map()),
        now,
      ),
      "VALIDATION_ERROR",
    );
  });

  it("debits ≠ credits is UNBALANCED", () => {
    const rejection = expectRejection(
      decideRecordPosting(
        posting([leg("wallet", "DEBIT", "10.00"), leg("bank", "CREDIT", "9.99")]),
        inputs(walletAndBank()),
        now,
      ),
      "UNBALANCED",
    );
    expect(rejection.details).toEqual({ currency: "XCD", difference: "0.01" });
  });

  it("two debits and no credit is UNBALANCED", () => {
    expectRejection(
      decideRecordPosting(
        posting([leg("wallet", "DEBIT", "10.00"), leg("bank", "DEBIT", "10.00")]),
        inputs(walletAndBank()),
        now,
      ),
      "UNBALANCED",
    );
  });

  it("credits and no debit is UNBALANCED by the credits, negative", () => {
    const rejection = expectRejection(
      decideRecordPosting(
        posting([leg("wallet", "CREDIT", "10.00"), leg("bank", "CREDIT", "10")]),
        inputs(walletAndBank()),
        now,
      ),
      "UNBALANCED",
    );
    expect(rejection.details).toEqual({ currency: "XCD", difference: "-20.00" });
  });

  it("hands over each touched account as its entries leave it", () => {
    const changes = expectAccepted(
      decideRecordPosting(
        posting([leg("wallet", "DEBIT", "10"), leg("bank", "CREDIT", "10.00")]),
        inputs(walletAndBank()),
        now,
      ),
    );
    const after = changes.accountsAfter;
    expect([...after.keys()]).toEqual(["wallet", "bank"]);
    expect(after.get("wallet")?.posted.toString()).toBe("90");
    expect(after.get("bank")?.posted.toString()).toBe("-10");
  });

  it("a multi-currency posting balanced in each currency passes", () => {
    const accounts = accountsById(
      fundedWallet("wallet", "100.00"),
      settlementAccount("bank"),
      settlementAccount("usd-a", "USD"),
      settlementAccount("usd-b", "USD"),
    );
    expectAccepted(
      decideRecordPosting(
        posting([
          leg("wallet", "DEBIT", "27.00"),
          leg("usd-a", "DEBIT", "10.00", "USD"),
          leg("bank", "CREDIT", "27.00"),
          leg("usd-b", "CREDIT", "10.00", "USD"),
        ]),
        inputs(accounts),
        now,
      ),
    );
  });

  it("a posting balanced in total but not per currency is UNBALANCED", () => {
    const accounts = accountsById(settlementAccount("bank"), settlementAccount("usd", "USD"));
    expectRejection(
      decideRecordPosting(
        posting([leg("bank", "DEBIT", "10.00"), leg("usd", "CREDIT", "10.00", "USD")]),
        inputs(accounts),
        now,
      ),
      "UNBALANCED",
    );
  });

  it("an unknown account is ACCOUNT_NOT_FOUND", () => {
    const rejection = expectRejection(
      decideRecordPosting(
        posting([leg("wallet", "DEBIT", "1.00"), leg("ghost", "CREDIT", "1.00")]),
        inputs(walletAndBank()),
        now,
      ),
      "ACCOUNT_NOT_FOUND",
    );
    expect(rejection.details).toEqual({ accountId: "ghost" });
  });

  it("an entry in another currency than its account is CURRENCY_MISMATCH", () => {
    const accounts = accountsById(settlementAccount("bank"), settlementAccount("other"));
    expectRejection(
      decideRecordPosting(
        posting([leg("bank", "DEBIT", "1.00", "USD"), leg("other", "CREDIT", "1.00", "USD")]),
        inputs(accounts),
        now,
      ),
      "CURRENCY_MISMATCH",
    );
  });

  it.each(["FROZEN", "CLOSED"] as const)(
    "a %s account takes no posting (ACCOUNT_NOT_ACTIVE)",
    (to) => {
      for (const side of ["DEBIT", "CREDIT"] as const) {
        const accounts = accountsById(
          givenAccount(
            accountOpened("blocked", { allowNegative: true }),
            statusChanged("blocked", "ACTIVE", to),
          ),
          settlementAccount("bank"),
        );
        const other = side === "DEBIT" ? "CREDIT" : "DEBIT";
        expectRejection(
          decideRecordPosting(
            posting([leg("blocked", side, "1.00"), leg("bank", other, "1.00")]),
            inputs(accounts),
            now,
          ),
          "ACCOUNT_NOT_ACTIVE",
        );
      }
    },
  );

  it("an account unfrozen again takes postings", () => {
    const accounts = accountsById(
      givenAccount(
        accountOpened("a"),
        statusChanged("a", "ACTIVE", "FROZEN"),
        statusChanged("a", "FROZEN", "ACTIVE"),
      ),
      settlementAccount("bank"),
    );
    expectAccepted(
      decideRecordPosting(
        posting([leg("bank", "DEBIT", "1.00"), leg("a", "CREDIT", "1.00")]),
        inputs(accounts),
        now,
      ),
    );
  });

  it("a reference already taken is DUPLICATE_REFERENCE", () => {
    const rejection = expectRejection(
      decideRecordPosting(
        posting(pay("1.00"), { reference: "inv-42" }),
        inputs(walletAndBank(), { referenceTaken: true }),
        now,
      ),
      "DUPLICATE_REFERENCE",
    );
    expect(rejection.details).toEqual({ reference: "inv-42" });
  });

  it("a debit to an account whose entry history is folded uses its latest balance", () => {
    const accounts = accountsById(
      givenAccount(
        accountOpened("wallet"),
        entryPosted("p0", "CREDIT", "10.00", "10.00"),
        entryPosted("p00", "DEBIT", "4.00", "6.00"),
      ),
      settlementAccount("bank"),
    );
    expectRejection(
      decideRecordPosting(posting(pay("6.01")), inputs(accounts), now),
      "INSUFFICIENT_FUNDS",
    );
    const changes = expectAccepted(
      decideRecordPosting(posting(pay("6.00")), inputs(accounts), now),
    );
    expect(eventsFor(changes, "wallet")).toMatchObject([{ data: { balanceAfter: "0.00" } }]);
  });
});
