import { describe, expect, it } from "vitest";
import { foldAccount } from "../../../src/domain/accounts/account.js";
import { decideOpenAccount } from "../../../src/domain/accounts/decide.js";
import { accountOpened, anAccountType, expectRejection, givenAccount, now } from "../fixtures.js";

describe("opening an account", () => {
  it("copies the normal balance and the negative rule from its type, metadata defaults to {}", () => {
    const type = anAccountType({ code: "LOAN", normalBalance: "DEBIT", allowNegative: true });
    const event = decideOpenAccount({ accountId: "a1", currency: "XCD" }, undefined, type, now);
    expect(event).toEqual({
      type: "AccountOpened",
      data: {
        accountId: "a1",
        accountType: "LOAN",
        normalBalance: "DEBIT",
        allowNegative: true,
        currency: "XCD",
        country: null,
        ownerId: null,
        name: null,
        metadata: {},
        openedAt: now.toISOString(),
      },
    });
  });

  it("keeps the owner, name, country and metadata it is given", () => {
    const event = decideOpenAccount(
      {
        accountId: "a1",
        currency: "USD",
        country: "LC",
        ownerId: "owner-1",
        name: "Main wallet",
        metadata: { msisdn: "+17585550100" },
      },
      undefined,
      anAccountType(),
      now,
    );
    expect(event).toMatchObject({
      type: "AccountOpened",
      data: {
        accountType: "WALLET",
        normalBalance: "CREDIT",
        allowNegative: false,
        currency: "USD",
        country: "LC",
        ownerId: "owner-1",
        name: "Main wallet",
        metadata: { msisdn: "+17585550100" },
      },
    });
  });

  it("a new account is ACTIVE with nothing posted, held or lent", () => {
    const event = decideOpenAccount(
      { accountId: "a1", currency: "XCD" },
      undefined,
      anAccountType(),
      now,
    );
    if ("kind" in event) throw new Error("expected AccountOpened");
    const account = foldAccount([event]);
    expect(account).toMatchObject({ id: "a1", status: "ACTIVE" });
    expect(account?.posted.isZero()).toBe(true);
    expect(account?.holds.size).toBe(0);
    expect(account?.overdraftLimit.isZero()).toBe(true);
  });

  it("an id already opened is ACCOUNT_EXISTS", () => {
    const existing = givenAccount(accountOpened("a1"));
    const rejection = expectRejection(
      decideOpenAccount({ accountId: "a1", currency: "XCD" }, existing, anAccountType(), now),
      "ACCOUNT_EXISTS",
    );
    expect(rejection.details).toEqual({ accountId: "a1" });
  });

  it("an unknown account type is UNKNOWN_ACCOUNT_TYPE", () => {
    expectRejection(
      decideOpenAccount({ accountId: "a1", currency: "XCD" }, undefined, undefined, now),
      "UNKNOWN_ACCOUNT_TYPE",
    );
  });

  it.each(["ABC", "usd", "", "toString"])(
    "an unsupported currency %j is VALIDATION_ERROR",
    (currency) => {
      expectRejection(
        decideOpenAccount({ accountId: "a1", currency }, undefined, anAccountType(), now),
        "VALIDATION_ERROR",
      );
    },
  );
});
