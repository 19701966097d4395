import { describe, expect, it } from "vitest";
import { type Account, balanceAfter, balancesOf } from "../../../src/domain/accounts/account.js";
import { Decimal, formatAmount } from "../../../src/domain/money/index.js";
import {
  accountOpened,
  anHourAgo,
  entryPosted,
  givenAccount,
  holdPlaced,
  inAnHour,
  now,
  overdraftLineSet,
} from "../fixtures.js";

function shown(account: Account) {
  const balances = balancesOf(account, now);
  return {
    posted: formatAmount(balances.posted, account.currency),
    held: formatAmount(balances.held, account.currency),
    overdraftLimit: formatAmount(balances.overdraftLimit, account.currency),
    available: formatAmount(balances.available, account.currency),
  };
}

describe("balances", () => {
  it("a CREDIT-normal account counts credits up and debits down", () => {
    const account = givenAccount(accountOpened("a1", { normalBalance: "CREDIT" }));
    expect(balanceAfter(account, "CREDIT", new Decimal("5")).toString()).toBe("5");
    expect(balanceAfter(account, "DEBIT", new Decimal("5")).toString()).toBe("-5");
  });

  it("a DEBIT-normal account counts debits up and credits down", () => {
    const account = givenAccount(accountOpened("a1", { normalBalance: "DEBIT" }));
    expect(balanceAfter(account, "DEBIT", new Decimal("5")).toString()).toBe("5");
    expect(balanceAfter(account, "CREDIT", new Decimal("5")).toString()).toBe("-5");
  });

  it("posted is the balance after the last entry", () => {
    const account = givenAccount(
      accountOpened("a1"),
      entryPosted("p1", "CREDIT", "100.00", "100.00"),
      entryPosted("p2", "DEBIT", "30.00", "70.00"),
    );
    expect(shown(account).posted).toBe("70.00");
  });

  it("available = posted − held + overdraft line", () => {
    const account = givenAccount(
      accountOpened("a1"),
      entryPosted("p1", "CREDIT", "100.00", "100.00"),
      holdPlaced("h1", "30.00"),
      holdPlaced("h2", "5.50", inAnHour),
      overdraftLineSet("a1", "20.00"),
    );
    expect(shown(account)).toEqual({
      posted: "100.00",
      held: "35.50",
      overdraftLimit: "20.00",
      available: "84.50",
    });
  });

  it("an expired hold is not held any more, even before HoldExpired is recorded", () => {
    const account = givenAccount(
      accountOpened("a1"),
      entryPosted("p1", "CREDIT", "100.00", "100.00"),
      holdPlaced("h1", "30.00", anHourAgo),
    );
    expect(shown(account)).toMatchObject({ held: "0.00", available: "100.00" });
    expect(account.holds.size).toBe(1);
  });

  it("released, captured and expired holds leave the account's holds", () => {
    const account = givenAccount(
      accountOpened("a1"),
      holdPlaced("h1", "1.00"),
      holdPlaced("h2", "2.00"),
      holdPlaced("h3", "3.00"),
      holdPlaced("h4", "4.00"),
      { type: "HoldReleased", data: { holdId: "h1", amount: "1.00", at: "x" } },
      {
        type: "HoldCaptured",
        data: {
          holdId: "h2",
          amount: "1.00",
          released: "1.00",
          postingId: "p",
          toAccountId: "b",
          at: "x",
        },
      },
      { type: "HoldExpired", data: { holdId: "h3", amount: "3.00", at: "x" } },
    );
    expect([...account.holds.keys()]).toEqual(["h4"]);
    expect(shown(account).held).toBe("4.00");
  });

  it("a balance may be negative and is shown in the currency's scale", () => {
    const account = givenAccount(
      accountOpened("a1", { currency: "KWD", allowNegative: true }),
      entryPosted("p1", "DEBIT", "1.5", "-1.500", "KWD"),
    );
    expect(shown(account)).toMatchObject({ posted: "-1.500", available: "-1.500" });
  });
});
