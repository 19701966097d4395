import { describe, expect, it } from "vitest";
import { type AccountState, balancesOf } from "../../../src/domain/accounts/account.js";
import { formatAmount } from "../../../src/domain/money/index.js";
import { type CaptureHold, decideCaptureHold } from "../../../src/domain/postings/decide.js";
import type { PostingState } from "../../../src/domain/postings/posting.js";
import {
  accountIn,
  accountOpened,
  accountsById,
  anHourAgo,
  applyChanges,
  entryPosted,
  eventsFor,
  expectAccepted,
  expectRejection,
  fundedWallet,
  givenAccount,
  givenPosting,
  holdPlaced,
  inAnHour,
  now,
  nowIso,
  postingRecordedEvent,
  settlementAccount,
  statusChanged,
} from "../fixtures.js";

const capture = (more: Partial<CaptureHold> = {}): CaptureHold => ({
  holdId: "h1",
  accountId: "wallet",
  toAccountId: "merchant",
  postingId: "c1",
  requestHash: "hash-c",
  idempotent: false,
  ...more,
});

/** A wallet of 100.00 with a live hold h1 of 60.00, and a merchant wallet (CREDIT-normal). */
function givenHeld(): Map<string, AccountState> {
  return accountsById(
    fundedWallet("wallet", "100.00", holdPlaced("h1", "60.00", inAnHour)),
    givenAccount(accountOpened("merchant")),
  );
}

function decide(
  command: CaptureHold,
  accounts: ReadonlyMap<string, AccountState>,
  posting: PostingState = undefined,
) {
  return decideCaptureHold(command, { posting, accounts }, now);
}

describe("capturing a hold", () => {
  it("by default captures the whole hold: HoldCaptured then the payer's entry", () => {
    const changes = expectAccepted(decide(capture(), givenHeld()));
    expect(eventsFor(changes, "wallet")).toEqual([
      {
        type: "HoldCaptured",
        data: {
          holdId: "h1",
          amount: "60.00",
          released: "0.00",
          postingId: "c1",
          toAccountId: "merchant",
          at: nowIso,
        },
      },
      {
        type: "EntryPosted",
        data: {
          postingId: "c1",
          side: "DEBIT",
          amount: "60.00",
          currency: "XCD",
          balanceAfter: "40.00",
          at: nowIso,
        },
      },
    ]);
    expect(eventsFor(changes, "merchant")).toMatchObject([
      { type: "EntryPosted", data: { side: "CREDIT", amount: "60.00", balanceAfter: "60.00" } },
    ]);
    expect(changes.posting).toMatchObject({
      id: "c1",
      holdId: "h1",
      reverses: null,
      reference: null,
    });
    const wallet = accountIn(applyChanges(givenHeld(), changes), "wallet");
    expect(wallet.holds.size).toBe(0);
    expect(formatAmount(balancesOf(wallet, now).available, "XCD")).toBe("40.00");
  });

  it("a partial capture moves part and releases the rest", () => {
    const changes = expectAccepted(
      decide(capture({ amount: { value: "25.00", currency: "XCD" } }), givenHeld()),
    );
    expect(eventsFor(changes, "wallet")).toMatchObject([
      { type: "HoldCaptured", data: { amount: "25.00", released: "35.00" } },
      { type: "EntryPosted", data: { side: "DEBIT", amount: "25.00", balanceAfter: "75.00" } },
    ]);
    const wallet = accountIn(applyChanges(givenHeld(), changes), "wallet");
    expect(formatAmount(balancesOf(wallet, now).available, "XCD")).toBe("75.00");
  });

  it("the payer's leg is on the side opposite its normal balance (DEBIT-normal payer)", () => {
    const accounts = accountsById(
      givenAccount(
        accountOpened("wallet", { normalBalance: "DEBIT" }),
        entryPosted("p0", "DEBIT", "100.00", "100.00"),
        holdPlaced("h1", "60.00"),
      ),
      settlementAccount("merchant"),
    );
    const changes = expectAccepted(decide(capture(), accounts));
    expect(changes.posting.entries).toEqual([
      { accountId: "wallet", side: "CREDIT", amount: "60.00", currency: "XCD" },
      { accountId: "merchant", side: "DEBIT", amount: "60.00", currency: "XCD" },
    ]);
    expect(eventsFor(changes, "wallet")).toMatchObject([
      { type: "HoldCaptured" },
      { type: "EntryPosted", data: { balanceAfter: "40.00" } },
    ]);
  });

  it("a hold covering the whole balance can be captured in full", () => {
    const accounts = accountsById(
      fundedWallet("wallet", "60.00", holdPlaced("h1", "60.00")),
      givenAccount(accountOpened("merchant")),
    );
    const changes = expectAccepted(decide(capture(), accounts));
    expect(eventsFor(changes, "wallet")).toMatchObject([
      { type: "HoldCaptured" },
      { type: "EntryPosted", data: { balanceAfter: "0.00" } },
    ]);
  });

  it("more than the hold is CAPTURE_EXCEEDS_HOLD", () => {
    const rejection = expectRejection(
      decide(capture({ amount: { value: "60.01", currency: "XCD" } }), givenHeld()),
      "CAPTURE_EXCEEDS_HOLD",
    );
    expect(rejection.details).toEqual({ holdId: "h1", held: "60.00" });
  });

  it("capturing to a missing account is ACCOUNT_NOT_FOUND", () => {
    const rejection = expectRejection(
      decide(capture({ toAccountId: "ghost" }), givenHeld()),
      "ACCOUNT_NOT_FOUND",
    );
    expect(rejection.details).toEqual({ accountId: "ghost" });
  });

  it("capturing from a missing account is ACCOUNT_NOT_FOUND", () => {
    expectRejection(decide(capture({ accountId: "nobody" }), givenHeld()), "ACCOUNT_NOT_FOUND");
  });

  it("an expired hold is HOLD_NOT_ACTIVE", () => {
    const accounts = accountsById(
      fundedWallet("wallet", "100.00", holdPlaced("h1", "60.00", anHourAgo)),
      givenAccount(accountOpened("merchant")),
    );
    expectRejection(decide(capture(), accounts), "HOLD_NOT_ACTIVE");
  });

  it("a hold already captured is HOLD_NOT_ACTIVE", () => {
    const changes = expectAccepted(decide(capture(), givenHeld()));
    expectRejection(
      decide(capture({ postingId: "c2" }), applyChanges(givenHeld(), changes)),
      "HOLD_NOT_ACTIVE",
    );
  });

  it.each([
    ["zero", "0.00"],
    ["negative", "-1.00"],
    ["too many decimals", "1.001"],
  ])("an amount that is %s is VALIDATION_ERROR", (_why, value) => {
    expectRejection(
      decide(capture({ amount: { value, currency: "XCD" } }), givenHeld()),
      "VALIDATION_ERROR",
    );
  });

  it("an amount in another currency is CURRENCY_MISMATCH", () => {
    expectRejection(
      decide(capture({ amount: { value: "1.00", currency: "USD" } }), givenHeld()),
      "CURRENCY_MISMATCH",
    );
  });

  it("a payee in another currency is CURRENCY_MISMATCH", () => {
    const accounts = accountsById(
      fundedWallet("wallet", "100.00", holdPlaced("h1", "60.00")),
      givenAccount(accountOpened("merchant", { currency: "USD" })),
    );
    expectRejection(decide(capture(), accounts), "CURRENCY_MISMATCH");
  });

  it.each(["FROZEN", "CLOSED"] as const)("a %s payee is ACCOUNT_NOT_ACTIVE", (to) => {
    const accounts = accountsById(
      fundedWallet("wallet", "100.00", holdPlaced("h1", "60.00")),
      givenAccount(accountOpened("merchant"), statusChanged("merchant", "ACTIVE", to)),
    );
    expectRejection(decide(capture(), accounts), "ACCOUNT_NOT_ACTIVE");
  });

  it("a frozen payer's hold is not captured (ACCOUNT_NOT_ACTIVE)", () => {
    const accounts = accountsById(
      fundedWallet(
        "wallet",
        "100.00",
        holdPlaced("h1", "60.00"),
        statusChanged("wallet", "ACTIVE", "FROZEN"),
      ),
      givenAccount(accountOpened("merchant")),
    );
    expectRejection(decide(capture(), accounts), "ACCOUNT_NOT_ACTIVE");
  });

  describe("idempotency", () => {
    const recorded = givenPosting(
      postingRecordedEvent(
        "c1",
        [
          { accountId: "wallet", side: "DEBIT", amount: "60.00", currency: "XCD" },
          { accountId: "merchant", side: "CREDIT", amount: "60.00", currency: "XCD" },
        ],
        { requestHash: "hash-c" },
      ),
    );

    it("the same key and request replays the capture", () => {
      expect(decide(capture({ idempotent: true }), givenHeld(), recorded)).toEqual({
        kind: "replay",
        posting: recorded,
      });
    });

    it("the same key with a different request is IDEMPOTENCY_KEY_REUSED", () => {
      expectRejection(
        decide(capture({ idempotent: true, requestHash: "x" }), givenHeld(), recorded),
        "IDEMPOTENCY_KEY_REUSED",
      );
    });

    it("an existing posting id without an idempotency key is POSTING_EXISTS", () => {
      expectRejection(decide(capture(), givenHeld(), recorded), "POSTING_EXISTS");
    });
  });
});
