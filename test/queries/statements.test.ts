/**
 * Statements and reports from the read models (src/queries/statements.ts, reports.ts), on a
 * ledger whose clock the test sets: postings on the day before, during and after one UTC day,
 * a reversal, and a hold placed and released.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CommandOutcome } from "../../src/commands/pipeline.js";
import { type LogPosition, parsePosition } from "../../src/eventstore/port.js";
import { LedgerProjection } from "../../src/projections/ledger-projection.js";
import { ProjectorRunner } from "../../src/projections/runner.js";
import { Reports } from "../../src/queries/reports.js";
import { actor, createTestLedger, ok, type TestLedger, transfer } from "../commands/support.js";

/** The day the reports look at, and instants as hours from its midnight (UTC). */
const day = "2026-03-10";
const midnightMs = Date.parse(`${day}T00:00:00.000Z`);
const at = (hours: number) => new Date(midnightMs + hours * 3_600_000);

let clockNow = at(-12);
const clock = () => clockNow;

let t: TestLedger;
let runner: ProjectorRunner;
let reports: Reports;
let latest: LogPosition = { commit: 0n, prepare: 0n };
const ids = {} as Record<"funding" | "alice" | "bob", string>;
const postings = {} as Record<"p1" | "p2" | "p3" | "reversal" | "p4", string>;

async function command<Result>(run: Promise<CommandOutcome<Result>>): Promise<Result> {
  const outcome = await run;
  if (outcome.ok) latest = parsePosition(outcome.position) ?? latest;
  return ok(outcome);
}

async function post(from: string, to: string, value: string, hours: number): Promise<string> {
  clockNow = at(hours);
  return (await command(t.ledger.recordPosting(transfer(from, to, value), actor()))).posting.id;
}

beforeAll(async () => {
  t = await createTestLedger({ clock });
  runner = new ProjectorRunner(t.store, t.database.pool, new LedgerProjection());
  await runner.start();
  reports = new Reports(t.database.pool);
  for (const [code, normalBalance, allowNegative] of [
    ["WALLET", "CREDIT", false],
    ["SUSPENSE", "DEBIT", true],
  ] as const) {
    await command(
      t.ledger.defineAccountType({ code, name: code, normalBalance, allowNegative }, actor()),
    );
  }
  for (const [name, type] of [
    ["funding", "SUSPENSE"],
    ["alice", "WALLET"],
    ["bob", "WALLET"],
  ] as const) {
    ids[name] = (
      await command(t.ledger.openAccount({ accountType: type, currency: "XCD" }, actor()))
    ).account.id;
  }
  postings.p1 = await post(ids.funding, ids.alice, "100.00", -12);
  postings.p2 = await post(ids.alice, ids.bob, "30.00", 1);
  postings.p3 = await post(ids.funding, ids.alice, "20.00", 2);
  clockNow = at(3);
  postings.reversal = (
    await command(t.ledger.reversePosting({ postingId: postings.p2, reason: "dispute" }, actor()))
  ).posting.id;
  clockNow = at(5);
  const hold = await command(
    t.ledger.placeHold(
      { accountId: ids.alice, amount: { value: "15.00", currency: "XCD" } },
      actor(),
    ),
  );
  clockNow = at(6);
  await command(t.ledger.releaseHold({ holdId: hold.holdId }, actor()));
  postings.p4 = await post(ids.alice, ids.bob, "7.25", 30);
  expect(await runner.waitFor(latest, 20_000)).toBe(true);
});

afterAll(async () => {
  await runner.stop();
  await t.close();
});

const line = (
  hours: number,
  postingId: string,
  side: "debit" | "credit",
  amount: string,
  balance: string,
) => ({
  postedAt: at(hours).toISOString(),
  postingId,
  transactionType: null,
  reference: null,
  description: expect.toSatisfy((text: unknown) => text === null || typeof text === "string"),
  debit: side === "debit" ? amount : null,
  credit: side === "credit" ? amount : null,
  balance,
});

describe("statements", () => {
  it("opens with the balance before the period and runs the balance through a reversal", async () => {
    const statement = await reports.statement({
      accountId: ids.alice,
      from: at(0),
      to: at(24),
    });
    expect(statement).toEqual({
      accountId: ids.alice,
      currency: "XCD",
      from: at(0).toISOString(),
      to: at(24).toISOString(),
      openingBalance: "100.00",
      closingBalance: "120.00",
      totalDebits: "30.00",
      totalCredits: "50.00",
      lines: [
        line(1, postings.p2, "debit", "30.00", "70.00"),
        line(2, postings.p3, "credit", "20.00", "90.00"),
        line(3, postings.reversal, "credit", "30.00", "120.00"),
      ],
    });
    expect(statement?.lines[2]?.description).toBe(`reversal of ${postings.p2}: dispute`);
  });

  it("chains consecutive periods: [from, to) takes an entry at `from`, leaves one at `to`", async () => {
    const first = await reports.statement({ accountId: ids.alice, from: at(0), to: at(2) });
    const second = await reports.statement({ accountId: ids.alice, from: at(2), to: at(48) });
    expect(first?.lines.map((l) => l.postingId)).toEqual([postings.p2]);
    expect(second?.lines.map((l) => l.postingId)).toEqual([
      postings.p3,
      postings.reversal,
      postings.p4,
    ]);
    expect(second?.openingBalance).toBe(first?.closingBalance);
    expect(second).toMatchObject({ openingBalance: "70.00", closingBalance: "112.75" });
  });

  it("is in the normal-balance sense: a debit raises a DEBIT-normal account's balance", async () => {
    const funding = await reports.statement({ accountId: ids.funding, from: at(-24), to: at(48) });
    expect(funding).toMatchObject({
      openingBalance: "0.00",
      closingBalance: "120.00",
      totalDebits: "120.00",
      totalCredits: "0.00",
      lines: [
        line(-12, postings.p1, "debit", "100.00", "100.00"),
        line(2, postings.p3, "debit", "20.00", "120.00"),
      ],
    });
    const bob = await reports.statement({ accountId: ids.bob, from: at(0), to: at(24) });
    expect(bob).toMatchObject({ openingBalance: "0.00", closingBalance: "0.00" });
    expect(bob?.lines.map((l) => [l.debit, l.credit, l.balance])).toEqual([
      [null, "30.00", "30.00"],
      ["30.00", null, "0.00"],
    ]);
  });

  it("has no lines and equal opening and closing balances for a quiet period", async () => {
    const quiet = await reports.statement({ accountId: ids.alice, from: at(10), to: at(20) });
    expect(quiet).toMatchObject({
      openingBalance: "120.00",
      closingBalance: "120.00",
      totalDebits: "0.00",
      totalCredits: "0.00",
      lines: [],
    });
  });

  it("answers undefined for an unknown account and refuses a period with from ≥ to", async () => {
    const unknown = "00000000-0000-4000-8000-000000000000";
    expect(await reports.statement({ accountId: unknown, from: at(0), to: at(1) })).toBeUndefined();
    expect(
      await reports.statement({ accountId: "not-a-uuid", from: at(0), to: at(1) }),
    ).toBeUndefined();
    await expect(
      reports.statement({ accountId: ids.alice, from: at(1), to: at(1) }),
    ).rejects.toThrow(RangeError);
  });
});

describe("trial balance", () => {
  it("puts each account's balance in the debit or the credit column, as of an instant", async () => {
    // After p3 (at exactly 2 h: "as of" includes it), before the reversal.
    expect(await reports.trialBalance(at(2))).toEqual({
      asOf: at(2).toISOString(),
      currencies: [
        { currency: "XCD", totalDebits: "120.00", totalCredits: "120.00", balanced: true },
      ],
      accountTypes: [
        {
          accountType: "SUSPENSE",
          currency: "XCD",
          debits: "120.00",
          credits: "0.00",
          balance: "120.00",
        },
        {
          accountType: "WALLET",
          currency: "XCD",
          debits: "0.00",
          credits: "120.00",
          balance: "120.00",
        },
      ],
    });
  });

  it("is empty before the first posting", async () => {
    expect(await reports.trialBalance(at(-24))).toEqual({
      asOf: at(-24).toISOString(),
      currencies: [],
      accountTypes: [],
    });
  });
});

describe("end of day", () => {
  it("counts the day's postings by type and moves each account type from opening to closing", async () => {
    expect(await reports.endOfDay(day)).toEqual({
      date: day,
      from: at(0).toISOString(),
      to: at(24).toISOString(),
      // p2, p3 and the reversal: raw postings name no transaction type.
      transactionTypes: [{ transactionType: null, currency: "XCD", count: 3, amount: "80.00" }],
      accountTypes: [
        {
          accountType: "SUSPENSE",
          currency: "XCD",
          opening: "100.00",
          debits: "20.00",
          credits: "0.00",
          closing: "120.00",
        },
        {
          accountType: "WALLET",
          currency: "XCD",
          opening: "100.00",
          debits: "60.00",
          credits: "80.00",
          closing: "120.00",
        },
      ],
    });
  });

  it("opens a day where the day before closed", async () => {
    const before = await reports.endOfDay("2026-03-09");
    const next = await reports.endOfDay("2026-03-11");
    expect(before.accountTypes.map((row) => row.closing)).toEqual(["100.00", "100.00"]);
    expect(next.accountTypes.map((row) => [row.accountType, row.opening, row.closing])).toEqual([
      ["SUSPENSE", "120.00", "120.00"],
      ["WALLET", "120.00", "120.00"],
    ]);
    expect(next.transactionTypes).toEqual([
      { transactionType: null, currency: "XCD", count: 1, amount: "7.25" },
    ]);
  });

  it("refuses a date that is not a calendar day", async () => {
    for (const date of ["2026-02-30", "2026-13-01", "20260310", "2026-3-1"]) {
      await expect(reports.endOfDay(date), date).rejects.toThrow(RangeError);
    }
  });
});

describe("balances at a past instant", () => {
  it("counts what was posted then and the holds live then", async () => {
    const balances = (hours: number) => reports.balancesAsOf(ids.alice, at(hours));
    expect(await balances(1)).toEqual({
      accountId: ids.alice,
      currency: "XCD",
      posted: "70.00",
      held: "0.00",
      available: "70.00",
      overdraftLimit: "0.00",
      asOf: at(1).toISOString(),
    });
    expect(await balances(5.5)).toMatchObject({
      posted: "120.00",
      held: "15.00",
      available: "105.00",
    });
    // Released at exactly 6 h: no longer held then.
    expect(await balances(6)).toMatchObject({ posted: "120.00", held: "0.00" });
    expect(await balances(-24)).toMatchObject({ posted: "0.00", held: "0.00" });
    expect(await balances(48)).toMatchObject({ posted: "112.75" });
  });

  it("answers undefined for an unknown account", async () => {
    expect(
      await reports.balancesAsOf("00000000-0000-4000-8000-000000000000", at(0)),
    ).toBeUndefined();
  });
});
