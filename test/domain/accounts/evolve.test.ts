import { describe, expect, it } from "vitest";
import {
  type Account,
  type EntryPosted,
  evolveAccount,
} from "../../../src/domain/accounts/account.js";
import { Decimal } from "../../../src/domain/money/index.js";
import {
  accountOpened,
  entryPosted,
  givenAccount,
  holdPlaced,
  overdraftLineSet,
  statusChanged,
} from "../fixtures.js";

/** A DEBIT entry of a typed posting: it counts toward the account's payments (`paid`). */
function typedDebit(postingId: string, amount: string, balanceAfter: string): EntryPosted {
  const entry = entryPosted(postingId, "DEBIT", amount, balanceAfter);
  return { ...entry, data: { ...entry.data, transactionType: "P2P" } };
}

function evolved(account: Account, event: Parameters<typeof evolveAccount>[1]): Account {
  const next = evolveAccount(account, event);
  if (next === undefined) throw new Error("an open account stays open");
  return next;
}

describe("folding an account's events", () => {
  const plain = givenAccount(accountOpened("a1"), entryPosted("p0", "CREDIT", "50.00", "50.00"));
  const paying = givenAccount(accountOpened("a1"), typedDebit("p0", "5.00", "-5.00"));

  it("an account that has paid in a typed posting keeps what it paid, last", () => {
    expect(paying.paid?.get("P2P")?.dayAmount.toString()).toBe("5");
    expect(Object.keys(paying).at(-1)).toBe("paid");
    expect(Object.keys(plain)).not.toContain("paid");
  });

  for (const [name, account] of [
    ["without payments", plain],
    ["with payments", paying],
  ] as const) {
    it(`each event changes only its own members of an account ${name}`, () => {
      expect(evolved(account, statusChanged("a1", "ACTIVE", "FROZEN"))).toStrictEqual({
        ...account,
        status: "FROZEN",
      });
      expect(
        evolved(account, overdraftLineSet("a1", "25.00", "2030-01-01T00:00:00.000Z")),
      ).toStrictEqual({
        ...account,
        overdraftLimit: new Decimal("25.00"),
        overdraftExpiresAt: "2030-01-01T00:00:00.000Z",
      });
      expect(evolved(account, entryPosted("p1", "CREDIT", "1.00", "51.00"))).toStrictEqual({
        ...account,
        posted: new Decimal("51.00"),
      });
      const held = evolved(account, holdPlaced("h1", "2.00"));
      expect(held).toStrictEqual({ ...account, holds: held.holds });
      expect([...held.holds.keys()]).toEqual(["h1"]);
      const released = evolved(held, {
        type: "HoldReleased",
        data: { holdId: "h1", amount: "2.00", at: "2025-05-01T00:00:00.000Z" },
      });
      expect(released).toStrictEqual({ ...account, holds: new Map() });
    });
  }
});
