import { describe, expect, it } from "vitest";
import { balancesOf, foldAccount } from "../../../src/domain/accounts/account.js";
import {
  decidePlaceHold,
  decideReleaseHold,
  type PlaceHold,
} from "../../../src/domain/accounts/holds.js";
import { formatAmount } from "../../../src/domain/money/index.js";
import {
  accountOpened,
  anHourAgo,
  entryPosted,
  expectEvents,
  expectRejection,
  fundedWallet,
  givenAccount,
  holdPlaced,
  inAnHour,
  now,
  nowIso,
  overdraftLineSet,
  statusChanged,
} from "../fixtures.js";

const place = (value: unknown, more: Partial<PlaceHold> = {}): PlaceHold => ({
  holdId: "h1",
  accountId: "a1",
  amount: { value: value as string, currency: "XCD" },
  ...more,
});

const release = { holdId: "h1", accountId: "a1" };

describe("placing a hold", () => {
  it("records HoldPlaced and lowers available, not posted", () => {
    const account = fundedWallet("a1", "100.00");
    const events = expectEvents(
      decidePlaceHold(place("40", { reason: "card auth", expiresAt: inAnHour }), account, now),
    );
    expect(events).toEqual([
      {
        type: "HoldPlaced",
        data: {
          holdId: "h1",
          amount: "40.00",
          currency: "XCD",
          reason: "card auth",
          expiresAt: inAnHour,
          at: nowIso,
        },
      },
    ]);
    const after = foldAccount(events, account);
    if (after === undefined) throw new Error("account");
    const balances = balancesOf(after, now);
    expect(formatAmount(balances.posted, "XCD")).toBe("100.00");
    expect(formatAmount(balances.available, "XCD")).toBe("60.00");
  });

  it("may hold exactly the available funds", () => {
    expectEvents(decidePlaceHold(place("100.00"), fundedWallet("a1", "100.00"), now));
  });

  it("more than available is INSUFFICIENT_FUNDS", () => {
    expectRejection(
      decidePlaceHold(place("100.01"), fundedWallet("a1", "100.00"), now),
      "INSUFFICIENT_FUNDS",
    );
  });

  it("other live holds count against it", () => {
    const account = fundedWallet("a1", "100.00", holdPlaced("h0", "60.00"));
    expectRejection(decidePlaceHold(place("40.01"), account, now), "INSUFFICIENT_FUNDS");
    expectEvents(decidePlaceHold(place("40.00"), account, now));
  });

  it("an expired hold does not count, and its HoldExpired is recorded first", () => {
    const account = fundedWallet("a1", "100.00", holdPlaced("h0", "60.00", anHourAgo));
    const events = expectEvents(decidePlaceHold(place("100.00"), account, now));
    expect(events.map((event) => event.type)).toEqual(["HoldExpired", "HoldPlaced"]);
    expect(events[0]).toEqual({
      type: "HoldExpired",
      data: { holdId: "h0", amount: "60.00", at: nowIso },
    });
  });

  it("the overdraft line extends what may be held", () => {
    const account = fundedWallet("a1", "10.00", overdraftLineSet("a1", "20.00"));
    expectEvents(decidePlaceHold(place("30.00"), account, now));
    expectRejection(decidePlaceHold(place("30.01"), account, now), "INSUFFICIENT_FUNDS");
  });

  it("an account that may go negative may hold more than it has", () => {
    const account = givenAccount(accountOpened("a1", { allowNegative: true }));
    expectEvents(decidePlaceHold(place("1000.00"), account, now));
  });

  it("a hold id already live on the account is HOLD_EXISTS", () => {
    const account = fundedWallet("a1", "100.00", holdPlaced("h1", "1.00"));
    expectRejection(decidePlaceHold(place("1.00"), account, now), "HOLD_EXISTS");
  });

  it.each(["FROZEN", "CLOSED"] as const)(
    "a %s account takes no hold (ACCOUNT_NOT_ACTIVE)",
    (to) => {
      const account = fundedWallet("a1", "100.00", statusChanged("a1", "ACTIVE", to));
      expectRejection(decidePlaceHold(place("1.00"), account, now), "ACCOUNT_NOT_ACTIVE");
    },
  );

  it("an account never opened is ACCOUNT_NOT_FOUND", () => {
    expectRejection(decidePlaceHold(place("1.00"), undefined, now), "ACCOUNT_NOT_FOUND");
  });

  it.each([
    ["in the past", anHourAgo],
    ["exactly now", nowIso],
    ["not an instant", "soon"],
  ])("an expiry %s is VALIDATION_ERROR", (_why, expiresAt) => {
    expectRejection(
      decidePlaceHold(place("1.00", { expiresAt }), fundedWallet("a1", "100.00"), now),
      "VALIDATION_ERROR",
    );
  });

  it.each([
    ["a JSON number", 1],
    ["zero", "0.00"],
    ["negative", "-1.00"],
    ["an exponent", "1e2"],
    ["too many decimals", "1.001"],
  ])("an amount that is %s is VALIDATION_ERROR", (_why, value) => {
    expectRejection(
      decidePlaceHold(place(value), fundedWallet("a1", "100.00"), now),
      "VALIDATION_ERROR",
    );
  });

  it("an amount in another currency is CURRENCY_MISMATCH", () => {
    expectRejection(
      decidePlaceHold(
        { ...place("1.00"), amount: { value: "1.00", currency: "USD" } },
        fundedWallet("a1", "100.00"),
        now,
      ),
      "CURRENCY_MISMATCH",
    );
  });
});

describe("releasing a hold", () => {
  it("records HoldReleased and gives the funds back", () => {
    const account = fundedWallet("a1", "100.00", holdPlaced("h1", "40.00"));
    const events = expectEvents(decideReleaseHold(release, account, now));
    expect(events).toEqual([
      { type: "HoldReleased", data: { holdId: "h1", amount: "40.00", at: nowIso } },
    ]);
    const after = foldAccount(events, account);
    expect(after && formatAmount(balancesOf(after, now).available, "XCD")).toBe("100.00");
  });

  it("releasing it again is HOLD_NOT_ACTIVE", () => {
    const account = fundedWallet("a1", "100.00", holdPlaced("h1", "40.00"));
    const released = foldAccount(expectEvents(decideReleaseHold(release, account, now)), account);
    expectRejection(decideReleaseHold(release, released, now), "HOLD_NOT_ACTIVE");
  });

  it("an expired hold is HOLD_NOT_ACTIVE", () => {
    const account = fundedWallet("a1", "100.00", holdPlaced("h1", "40.00", anHourAgo));
    expectRejection(decideReleaseHold(release, account, now), "HOLD_NOT_ACTIVE");
  });

  it("a hold the account never had is HOLD_NOT_ACTIVE", () => {
    expectRejection(
      decideReleaseHold(release, fundedWallet("a1", "100.00"), now),
      "HOLD_NOT_ACTIVE",
    );
  });

  it("releasing one hold records the expiry of the others that lapsed", () => {
    const account = fundedWallet(
      "a1",
      "100.00",
      holdPlaced("h0", "5.00", anHourAgo),
      holdPlaced("h1", "40.00"),
    );
    const events = expectEvents(decideReleaseHold(release, account, now));
    expect(events.map((event) => event.type)).toEqual(["HoldExpired", "HoldReleased"]);
  });

  it("a frozen account may still release a hold", () => {
    const account = givenAccount(
      accountOpened("a1"),
      entryPosted("p0", "CREDIT", "10.00", "10.00"),
      holdPlaced("h1", "4.00"),
      statusChanged("a1", "ACTIVE", "FROZEN"),
    );
    expectEvents(decideReleaseHold(release, account, now));
  });

  it("an account never opened is ACCOUNT_NOT_FOUND", () => {
    expectRejection(decideReleaseHold(release, undefined, now), "ACCOUNT_NOT_FOUND");
  });
});
