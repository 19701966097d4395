import { describe, expect, it } from "vitest";
import { balancesOf, foldAccount } from "../../../src/domain/accounts/account.js";
import { decideSetOverdraftLine } from "../../../src/domain/accounts/decide.js";
import { formatAmount } from "../../../src/domain/money/index.js";
import {
  accountOpened,
  anHourAgo,
  expectEvents,
  expectRejection,
  givenAccount,
  inAnHour,
  minutesFromNow,
  now,
  nowIso,
  overdraftLineSet,
  statusChanged,
} from "../fixtures.js";

const line = (value: unknown, currency = "XCD", expiresAt?: string | null) => ({
  accountId: "a1",
  // A JSON number reaches the domain untyped; the cast states that on purpose.
  limit: { value: value as string, currency },
  ...(expiresAt === undefined ? {} : { expiresAt }),
});

describe("overdraft line", () => {
  it("setting a line records OverdraftLineSet in the canonical scale", () => {
    const events = expectEvents(
      decideSetOverdraftLine(line("50", "XCD", inAnHour), givenAccount(accountOpened("a1")), now),
    );
    expect(events).toEqual([
      {
        type: "OverdraftLineSet",
        data: { accountId: "a1", limit: "50.00", currency: "XCD", expiresAt: inAnHour, at: nowIso },
      },
    ]);
  });

  it("a line without expiry never expires", () => {
    const events = expectEvents(
      decideSetOverdraftLine(line("50.00"), givenAccount(accountOpened("a1")), now),
    );
    expect(events[0]).toMatchObject({ data: { expiresAt: null } });
  });

  it("a zero line is allowed (it removes the overdraft)", () => {
    const account = givenAccount(accountOpened("a1"), overdraftLineSet("a1", "50.00"));
    const events = expectEvents(decideSetOverdraftLine(line("0"), account, now));
    const after = foldAccount(events, account);
    expect(after && formatAmount(balancesOf(after, now).available, "XCD")).toBe("0.00");
  });

  it("a frozen account may still get a line", () => {
    const frozen = givenAccount(accountOpened("a1"), statusChanged("a1", "ACTIVE", "FROZEN"));
    expectEvents(decideSetOverdraftLine(line("10.00"), frozen, now));
  });

  it("a closed account takes no line (ACCOUNT_NOT_ACTIVE)", () => {
    const closed = givenAccount(accountOpened("a1"), statusChanged("a1", "ACTIVE", "CLOSED"));
    expectRejection(decideSetOverdraftLine(line("10.00"), closed, now), "ACCOUNT_NOT_ACTIVE");
  });

  it("an account never opened is ACCOUNT_NOT_FOUND", () => {
    expectRejection(decideSetOverdraftLine(line("10.00"), undefined, now), "ACCOUNT_NOT_FOUND");
  });

  it("a line in another currency is CURRENCY_MISMATCH", () => {
    expectRejection(
      decideSetOverdraftLine(line("10.00", "USD"), givenAccount(accountOpened("a1")), now),
      "CURRENCY_MISMATCH",
    );
  });

  it.each([
    ["a JSON number", 10],
    ["a negative value", "-10.00"],
    ["an exponent", "1e3"],
    ["too many decimals", "10.001"],
    ["an empty string", ""],
  ])("a limit that is %s is VALIDATION_ERROR", (_why, value) => {
    expectRejection(
      decideSetOverdraftLine(line(value), givenAccount(accountOpened("a1")), now),
      "VALIDATION_ERROR",
    );
  });

  it.each([
    ["in the past", anHourAgo],
    ["exactly now", nowIso],
    ["not an instant", "next tuesday"],
  ])("an expiry %s is VALIDATION_ERROR", (_why, expiresAt) => {
    expectRejection(
      decideSetOverdraftLine(
        line("10.00", "XCD", expiresAt),
        givenAccount(accountOpened("a1")),
        now,
      ),
      "VALIDATION_ERROR",
    );
  });

  it("a line counts in available until it expires, then stops counting", () => {
    const account = givenAccount(
      accountOpened("a1"),
      overdraftLineSet("a1", "50.00", minutesFromNow(30)),
    );
    expect(formatAmount(balancesOf(account, now).available, "XCD")).toBe("50.00");
    expect(formatAmount(balancesOf(account, now).overdraftLimit, "XCD")).toBe("50.00");
    const afterExpiry = new Date(Date.parse(minutesFromNow(30)));
    expect(formatAmount(balancesOf(account, afterExpiry).available, "XCD")).toBe("0.00");
    expect(formatAmount(balancesOf(account, afterExpiry).overdraftLimit, "XCD")).toBe("0.00");
  });

  it("a new line replaces the previous one", () => {
    const account = givenAccount(
      accountOpened("a1"),
      overdraftLineSet("a1", "50.00", anHourAgo),
      overdraftLineSet("a1", "20.00"),
    );
    expect(formatAmount(balancesOf(account, now).overdraftLimit, "XCD")).toBe("20.00");
  });
});
