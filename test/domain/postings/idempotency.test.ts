import { describe, expect, it } from "vitest";
import { decideRecordPosting, type RecordPosting } from "../../../src/domain/postings/decide.js";
import {
  accountsById,
  expectRejection,
  fundedWallet,
  givenPosting,
  leg,
  now,
  postingRecordedEvent,
  settlementAccount,
} from "../fixtures.js";

const existing = givenPosting(
  postingRecordedEvent(
    "p1",
    [
      { accountId: "wallet", side: "DEBIT", amount: "10.00", currency: "XCD" },
      { accountId: "bank", side: "CREDIT", amount: "10.00", currency: "XCD" },
    ],
    { requestHash: "hash-1" },
  ),
);

const retry = (more: Partial<RecordPosting>): RecordPosting => ({
  postingId: "p1",
  entries: [leg("wallet", "DEBIT", "10.00"), leg("bank", "CREDIT", "10.00")],
  requestHash: "hash-1",
  idempotent: true,
  ...more,
});

const inputs = {
  posting: existing,
  accounts: accountsById(fundedWallet("wallet", "0.00"), settlementAccount("bank")),
  referenceTaken: false,
};

describe("posting idempotency", () => {
  it("the same idempotency key with the same request replays the recorded posting", () => {
    expect(decideRecordPosting(retry({}), inputs, now)).toEqual({
      kind: "replay",
      posting: existing,
    });
  });

  it("a replay is answered before any rule is re-checked (funds have moved since)", () => {
    // The wallet is now empty and the reference taken: the retry still gets its answer.
    expect(
      decideRecordPosting(retry({ reference: "r" }), { ...inputs, referenceTaken: true }, now),
    ).toMatchObject({ kind: "replay" });
  });

  it("the same idempotency key with a different request is IDEMPOTENCY_KEY_REUSED", () => {
    const rejection = expectRejection(
      decideRecordPosting(retry({ requestHash: "hash-2" }), inputs, now),
      "IDEMPOTENCY_KEY_REUSED",
    );
    expect(rejection.details).toEqual({ postingId: "p1" });
  });

  it("a client-chosen id that already exists (no idempotency key) is POSTING_EXISTS", () => {
    expectRejection(
      decideRecordPosting(retry({ idempotent: false }), inputs, now),
      "POSTING_EXISTS",
    );
  });
});
