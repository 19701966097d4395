import { describe, expect, it } from "vitest";
import type { AccountState } from "../../../src/domain/accounts/account.js";
import {
  decideRecordPosting,
  decideReversePosting,
  type ReversePosting,
} from "../../../src/domain/postings/decide.js";
import {
  foldPosting,
  type PostingEntry,
  type PostingState,
} from "../../../src/domain/postings/posting.js";
import {
  accountIn,
  accountOpened,
  accountsById,
  applyChanges,
  entryPosted,
  eventsFor,
  expectAccepted,
  expectRejection,
  fundedWallet,
  givenAccount,
  givenPosting,
  leg,
  now,
  nowIso,
  postingRecordedEvent,
  settlementAccount,
  statusChanged,
} from "../fixtures.js";

const deposit: readonly PostingEntry[] = [
  { accountId: "bank", side: "DEBIT", amount: "40.00", currency: "XCD" },
  { accountId: "wallet", side: "CREDIT", amount: "40.00", currency: "XCD" },
];

const reverse = (more: Partial<ReversePosting> = {}): ReversePosting => ({
  postingId: "p1",
  reversalId: "r1",
  reason: "sent in error",
  requestHash: "hash-r",
  idempotent: false,
  ...more,
});

function inputs(
  original: PostingState,
  accounts: ReadonlyMap<string, AccountState>,
  reversal: PostingState = undefined,
) {
  return { original, reversal, accounts };
}

/** The deposit p1 of 40.00 into the wallet, as recorded and as the accounts hold it. */
function givenDeposit() {
  const original = givenPosting(postingRecordedEvent("p1", deposit, { reference: "dep-1" }));
  const accounts = accountsById(
    fundedWallet("wallet", "40.00"),
    settlementAccount("bank", "XCD", entryPosted("p1", "DEBIT", "40.00", "40.00")),
  );
  return { original, accounts };
}

describe("reversing a posting", () => {
  it("mirrors every leg, links the reversal and marks the original REVERSED", () => {
    const { original, accounts } = givenDeposit();
    const changes = expectAccepted(
      decideReversePosting(reverse(), inputs(original, accounts), now),
    );
    expect(changes.postingEvents.get("p1")).toEqual([
      {
        type: "PostingReversed",
        data: { postingId: "p1", reversalId: "r1", reason: "sent in error", at: nowIso },
      },
    ]);
    expect(changes.postingEvents.get("r1")).toMatchObject([
      {
        type: "PostingRecorded",
        data: {
          postingId: "r1",
          reverses: "p1",
          reference: null,
          requestHash: "hash-r",
          description: "reversal of p1: sent in error",
          entries: [
            { accountId: "bank", side: "CREDIT", amount: "40.00", currency: "XCD" },
            { accountId: "wallet", side: "DEBIT", amount: "40.00", currency: "XCD" },
          ],
        },
      },
    ]);
    expect(changes.posting).toMatchObject({ id: "r1", reverses: "p1", status: "POSTED" });
    expect(eventsFor(changes, "wallet")).toMatchObject([
      { type: "EntryPosted", data: { postingId: "r1", side: "DEBIT", balanceAfter: "0.00" } },
    ]);
    expect(eventsFor(changes, "bank")).toMatchObject([
      { type: "EntryPosted", data: { side: "CREDIT", balanceAfter: "0.00" } },
    ]);
    expect(foldPosting(changes.postingEvents.get("p1") ?? [], original)).toMatchObject({
      status: "REVERSED",
      reversedBy: "r1",
    });
  });

  it("a reversal keeps the original's transaction type", () => {
    const original = givenPosting(
      postingRecordedEvent("p1", deposit, { transactionType: "CASH_IN" }),
    );
    const changes = expectAccepted(
      decideReversePosting(reverse(), inputs(original, givenDeposit().accounts), now),
    );
    expect(changes.posting.transactionType).toBe("CASH_IN");
  });

  it("a posting that does not exist is POSTING_NOT_FOUND", () => {
    const { accounts } = givenDeposit();
    expectRejection(
      decideReversePosting(reverse(), inputs(undefined, accounts), now),
      "POSTING_NOT_FOUND",
    );
  });

  it("a posting already reversed is ALREADY_REVERSED", () => {
    const { original, accounts } = givenDeposit();
    const changes = expectAccepted(
      decideReversePosting(reverse(), inputs(original, accounts), now),
    );
    const reversed = foldPosting(changes.postingEvents.get("p1") ?? [], original);
    const rejection = expectRejection(
      decideReversePosting(
        reverse({ reversalId: "r2" }),
        inputs(reversed, applyChanges(accounts, changes)),
        now,
      ),
      "ALREADY_REVERSED",
    );
    expect(rejection.details).toEqual({ postingId: "p1", reversedBy: "r1" });
  });

  it("a reversal cannot be reversed (CANNOT_REVERSE_REVERSAL)", () => {
    const { original, accounts } = givenDeposit();
    const changes = expectAccepted(
      decideReversePosting(reverse(), inputs(original, accounts), now),
    );
    const reversal = foldPosting(changes.postingEvents.get("r1") ?? []);
    expectRejection(
      decideReversePosting(
        reverse({ postingId: "r1", reversalId: "r2" }),
        inputs(reversal, applyChanges(accounts, changes)),
        now,
      ),
      "CANNOT_REVERSE_REVERSAL",
    );
  });

  it("the funds rule applies: reversing a deposit already spent is INSUFFICIENT_FUNDS", () => {
    const { original } = givenDeposit();
    let accounts = givenDeposit().accounts;
    const spend = expectAccepted(
      decideRecordPosting(
        {
          postingId: "p2",
          entries: [leg("wallet", "DEBIT", "15.00"), leg("bank", "CREDIT", "15.00")],
          requestHash: "h2",
          idempotent: false,
        },
        { posting: undefined, accounts, referenceTaken: false },
        now,
      ),
    );
    accounts = applyChanges(accounts, spend);
    expect(accountIn(accounts, "wallet").posted.toString()).toBe("25");
    const rejection = expectRejection(
      decideReversePosting(reverse(), inputs(original, accounts), now),
      "INSUFFICIENT_FUNDS",
    );
    expect(rejection.details).toEqual({ accountId: "wallet" });
  });

  it.each(["FROZEN", "CLOSED"] as const)("a leg on a %s account is ACCOUNT_NOT_ACTIVE", (to) => {
    const { original } = givenDeposit();
    const accounts = accountsById(
      givenAccount(accountOpened("wallet"), statusChanged("wallet", "ACTIVE", to)),
      settlementAccount("bank"),
    );
    expectRejection(
      decideReversePosting(reverse(), inputs(original, accounts), now),
      "ACCOUNT_NOT_ACTIVE",
    );
  });

  it("a leg whose account is gone is ACCOUNT_NOT_FOUND", () => {
    const { original } = givenDeposit();
    expectRejection(
      decideReversePosting(
        reverse(),
        inputs(original, accountsById(settlementAccount("bank"))),
        now,
      ),
      "ACCOUNT_NOT_FOUND",
    );
  });

  describe("idempotency", () => {
    const recordedReversal = () =>
      givenPosting(
        postingRecordedEvent(
          "r1",
          deposit.map((entry) => ({
            ...entry,
            side: entry.side === "DEBIT" ? ("CREDIT" as const) : ("DEBIT" as const),
          })),
          { reverses: "p1", requestHash: "hash-r" },
        ),
      );

    it("the same key and request replays the reversal", () => {
      const { original, accounts } = givenDeposit();
      const reversal = recordedReversal();
      expect(
        decideReversePosting(
          reverse({ idempotent: true }),
          inputs(original, accounts, reversal),
          now,
        ),
      ).toEqual({ kind: "replay", posting: reversal });
    });

    it("the same key with a different request is IDEMPOTENCY_KEY_REUSED", () => {
      const { original, accounts } = givenDeposit();
      expectRejection(
        decideReversePosting(
          reverse({ idempotent: true, requestHash: "other" }),
          inputs(original, accounts, recordedReversal()),
          now,
        ),
        "IDEMPOTENCY_KEY_REUSED",
      );
    });

    it("a reversal id that exists without an idempotency key is POSTING_EXISTS", () => {
      const { original, accounts } = givenDeposit();
      expectRejection(
        decideReversePosting(reverse(), inputs(original, accounts, recordedReversal()), now),
        "POSTING_EXISTS",
      );
    });
  });
});
