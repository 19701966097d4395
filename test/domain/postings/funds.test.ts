import { describe, expect, it } from "vitest";
import type { Account } from "../../../src/domain/accounts/account.js";
import { decideRecordPosting, type EntryRequest } from "../../../src/domain/postings/decide.js";
import {
  accountOpened,
  accountsById,
  anHourAgo,
  entryPosted,
  eventsFor,
  expectAccepted,
  expectRejection,
  fundedWallet,
  givenAccount,
  holdPlaced,
  inAnHour,
  leg,
  minutesFromNow,
  now,
  nowIso,
  overdraftLineSet,
  settlementAccount,
} from "../fixtures.js";

function decide(wallet: Account, entries: readonly EntryRequest[], at = now) {
  return decideRecordPosting(
    { postingId: "p1", entries, requestHash: "h", idempotent: false },
    {
      posting: undefined,
      accounts: accountsById(wallet, settlementAccount("bank")),
      referenceTaken: false,
    },
    at,
  );
}

/** The wallet (CREDIT-normal) pays the bank: a DEBIT on the wallet. */
const pay = (value: string) => [leg("wallet", "DEBIT", value), leg("bank", "CREDIT", value)];
/** The bank pays into the wallet: a CREDIT on the wallet. */
const receive = (value: string) => [leg("bank", "DEBIT", value), leg("wallet", "CREDIT", value)];

describe("funds rule (allowNegative: false)", () => {
  it("an account may be taken exactly to zero", () => {
    const changes = expectAccepted(decide(fundedWallet("wallet", "100.00"), pay("100.00")));
    expect(eventsFor(changes, "wallet")).toMatchObject([{ data: { balanceAfter: "0.00" } }]);
  });

  it("one cent below zero is INSUFFICIENT_FUNDS", () => {
    const rejection = expectRejection(
      decide(fundedWallet("wallet", "100.00"), pay("100.01")),
      "INSUFFICIENT_FUNDS",
    );
    expect(rejection.details).toEqual({ accountId: "wallet" });
  });

  it("an empty account cannot pay anything", () => {
    const empty = givenAccount(accountOpened("wallet"));
    expectRejection(decide(empty, pay("0.01")), "INSUFFICIENT_FUNDS");
  });

  it("a DEBIT-normal account that may not go negative is short when credited past zero", () => {
    const cash = givenAccount(
      accountOpened("wallet", { normalBalance: "DEBIT" }),
      entryPosted("p0", "DEBIT", "10.00", "10.00"),
    );
    // A CREDIT lowers a DEBIT-normal account.
    expectAccepted(decide(cash, receive("10.00")));
    expectRejection(decide(cash, receive("10.01")), "INSUFFICIENT_FUNDS");
  });

  it("the overdraft line lets the balance go down to −limit, not a cent further", () => {
    const wallet = fundedWallet("wallet", "10.00", overdraftLineSet("wallet", "25.00"));
    const changes = expectAccepted(decide(wallet, pay("35.00")));
    expect(eventsFor(changes, "wallet")).toMatchObject([{ data: { balanceAfter: "-25.00" } }]);
    expectRejection(decide(wallet, pay("35.01")), "INSUFFICIENT_FUNDS");
  });

  it("an expired overdraft line stops counting", () => {
    const wallet = fundedWallet("wallet", "10.00", overdraftLineSet("wallet", "25.00", inAnHour));
    expectAccepted(decide(wallet, pay("35.00")));
    const afterExpiry = new Date(Date.parse(minutesFromNow(61)));
    expectRejection(decide(wallet, pay("10.01"), afterExpiry), "INSUFFICIENT_FUNDS");
    expectAccepted(decide(wallet, pay("10.00"), afterExpiry));
  });

  it("live holds reduce what may be paid", () => {
    const wallet = fundedWallet("wallet", "100.00", holdPlaced("h1", "30.00", inAnHour));
    expectAccepted(decide(wallet, pay("70.00")));
    expectRejection(decide(wallet, pay("70.01")), "INSUFFICIENT_FUNDS");
  });

  it("an expired hold does not reduce what may be paid, and its HoldExpired is recorded", () => {
    const wallet = fundedWallet("wallet", "100.00", holdPlaced("h1", "30.00", anHourAgo));
    const changes = expectAccepted(decide(wallet, pay("100.00")));
    expect(eventsFor(changes, "wallet")).toMatchObject([
      { type: "HoldExpired", data: { holdId: "h1", amount: "30.00", at: nowIso } },
      { type: "EntryPosted", data: { balanceAfter: "0.00" } },
    ]);
  });

  it("holds and the overdraft line combine: available = posted − held + overdraft", () => {
    const wallet = fundedWallet(
      "wallet",
      "50.00",
      holdPlaced("h1", "20.00"),
      overdraftLineSet("wallet", "5.00"),
    );
    expectAccepted(decide(wallet, pay("35.00")));
    expectRejection(decide(wallet, pay("35.01")), "INSUFFICIENT_FUNDS");
  });

  it("an account already below its floor may still receive a credit", () => {
    // Overdrawn by 20 on a line that has since expired: available is −20.
    const wallet = givenAccount(
      accountOpened("wallet"),
      overdraftLineSet("wallet", "50.00", anHourAgo),
      entryPosted("p0", "DEBIT", "20.00", "-20.00"),
    );
    const changes = expectAccepted(decide(wallet, receive("5.00")));
    expect(eventsFor(changes, "wallet")).toMatchObject([{ data: { balanceAfter: "-15.00" } }]);
  });

  it("an account already below its floor cannot pay anything more", () => {
    const wallet = givenAccount(
      accountOpened("wallet"),
      overdraftLineSet("wallet", "50.00", anHourAgo),
      entryPosted("p0", "DEBIT", "20.00", "-20.00"),
    );
    expectRejection(decide(wallet, pay("0.01")), "INSUFFICIENT_FUNDS");
  });

  it("the rule looks at the account's net change within the posting", () => {
    // Out 30 and back 25 in one posting: net −5 on a wallet of 10 passes.
    const wallet = fundedWallet("wallet", "10.00");
    expectAccepted(
      decide(wallet, [
        leg("wallet", "DEBIT", "30.00"),
        leg("bank", "CREDIT", "30.00"),
        leg("bank", "DEBIT", "25.00"),
        leg("wallet", "CREDIT", "25.00"),
      ]),
    );
    expectRejection(
      decide(wallet, [
        leg("wallet", "DEBIT", "30.00"),
        leg("bank", "CREDIT", "30.00"),
        leg("bank", "DEBIT", "19.99"),
        leg("wallet", "CREDIT", "19.99"),
      ]),
      "INSUFFICIENT_FUNDS",
    );
  });
});

describe("funds rule (allowNegative: true)", () => {
  it("an account that may go negative goes below zero", () => {
    const changes = expectAccepted(
      decide(givenAccount(accountOpened("wallet", { allowNegative: true })), pay("1000000.00")),
    );
    expect(eventsFor(changes, "wallet")).toMatchObject([{ data: { balanceAfter: "-1000000.00" } }]);
  });

  it("a DEBIT-normal account that may go negative goes below zero on a credit", () => {
    const changes = expectAccepted(
      decide(givenAccount(accountOpened("wallet", { allowNegative: true })), receive("1.00")),
    );
    // The bank (DEBIT-normal, allowNegative) was debited: up. The wallet was credited: up.
    expect(eventsFor(changes, "bank")).toMatchObject([{ data: { balanceAfter: "1.00" } }]);
    const bankPays = expectAccepted(
      decide(givenAccount(accountOpened("wallet", { allowNegative: true })), pay("2.00")),
    );
    expect(eventsFor(bankPays, "bank")).toMatchObject([{ data: { balanceAfter: "-2.00" } }]);
  });
});
