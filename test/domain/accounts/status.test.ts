import { describe, expect, it } from "vitest";
import { type AccountStatus, foldAccount } from "../../../src/domain/accounts/account.js";
import { decideChangeStatus, type StatusAction } from "../../../src/domain/accounts/decide.js";
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
  statusChanged,
} from "../fixtures.js";

function accountIn(status: AccountStatus) {
  const events = [accountOpened("a1")];
  if (status === "FROZEN") return givenAccount(...events, statusChanged("a1", "ACTIVE", "FROZEN"));
  if (status === "CLOSED") return givenAccount(...events, statusChanged("a1", "ACTIVE", "CLOSED"));
  return givenAccount(...events);
}

const change = (action: StatusAction) => ({ accountId: "a1", action, reason: "because" });

describe("account status", () => {
  it.each([
    ["freeze", "ACTIVE", "FROZEN"],
    ["unfreeze", "FROZEN", "ACTIVE"],
    ["close", "ACTIVE", "CLOSED"],
  ] as const)("%s takes an account from %s to %s", (action, from, to) => {
    const events = expectEvents(decideChangeStatus(change(action), accountIn(from), now));
    expect(events).toEqual([
      {
        type: "AccountStatusChanged",
        data: { accountId: "a1", from, to, reason: "because", at: nowIso },
      },
    ]);
    expect(foldAccount(events, accountIn(from))?.status).toBe(to);
  });

  it.each([
    ["freeze", "FROZEN"],
    ["freeze", "CLOSED"],
    ["unfreeze", "ACTIVE"],
    ["unfreeze", "CLOSED"],
  ] as const)("%s from %s is INVALID_STATUS_TRANSITION", (action, from) => {
    const rejection = expectRejection(
      decideChangeStatus(change(action), accountIn(from), now),
      "INVALID_STATUS_TRANSITION",
    );
    expect(rejection.details).toEqual({ accountId: "a1", status: from });
  });

  it.each(["FROZEN", "CLOSED"] as const)("closing a %s account is ACCOUNT_NOT_ACTIVE", (from) => {
    expectRejection(
      decideChangeStatus(change("close"), accountIn(from), now),
      "ACCOUNT_NOT_ACTIVE",
    );
  });

  it.each(["freeze", "unfreeze", "close"] as const)(
    "%s on an account never opened is ACCOUNT_NOT_FOUND",
    (action) => {
      expectRejection(decideChangeStatus(change(action), undefined, now), "ACCOUNT_NOT_FOUND");
    },
  );

  it("an account with a positive balance does not close (ACCOUNT_NOT_EMPTY)", () => {
    const rejection = expectRejection(
      decideChangeStatus(change("close"), fundedWallet("a1", "0.01"), now),
      "ACCOUNT_NOT_EMPTY",
    );
    expect(rejection.details).toEqual({ accountId: "a1", posted: "0.01", held: "0.00" });
  });

  it("an account with a negative balance does not close (ACCOUNT_NOT_EMPTY)", () => {
    const overdrawn = givenAccount(
      accountOpened("a1", { allowNegative: true }),
      entryPosted("p1", "DEBIT", "5.00", "-5.00"),
    );
    expectRejection(decideChangeStatus(change("close"), overdrawn, now), "ACCOUNT_NOT_EMPTY");
  });

  it("an account back at zero closes", () => {
    const emptied = fundedWallet("a1", "10.00", entryPosted("p1", "DEBIT", "10.00", "0.00"));
    const events = expectEvents(decideChangeStatus(change("close"), emptied, now));
    expect(events.map((event) => event.type)).toEqual(["AccountStatusChanged"]);
  });

  it("a live hold blocks closing even at a zero balance (ACCOUNT_NOT_EMPTY)", () => {
    const withHold = givenAccount(
      accountOpened("a1", { allowNegative: true }),
      holdPlaced("h1", "3.00", inAnHour),
    );
    const rejection = expectRejection(
      decideChangeStatus(change("close"), withHold, now),
      "ACCOUNT_NOT_EMPTY",
    );
    expect(rejection.details).toMatchObject({ posted: "0.00", held: "3.00" });
  });

  it("an expired hold does not block closing, and its HoldExpired is recorded first", () => {
    const withExpired = givenAccount(
      accountOpened("a1", { allowNegative: true }),
      holdPlaced("h1", "3.00", anHourAgo),
    );
    const events = expectEvents(decideChangeStatus(change("close"), withExpired, now));
    expect(events).toEqual([
      { type: "HoldExpired", data: { holdId: "h1", amount: "3.00", at: nowIso } },
      {
        type: "AccountStatusChanged",
        data: { accountId: "a1", from: "ACTIVE", to: "CLOSED", reason: "because", at: nowIso },
      },
    ]);
    const closed = foldAccount(events, withExpired);
    expect(closed?.status).toBe("CLOSED");
    expect(closed?.holds.size).toBe(0);
  });

  it("a hold expiring exactly now no longer counts", () => {
    const withHold = givenAccount(
      accountOpened("a1", { allowNegative: true }),
      holdPlaced("h1", "3.00", nowIso),
    );
    expectEvents(decideChangeStatus(change("close"), withHold, now));
  });
});
