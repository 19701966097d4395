/**
 * Reversals and holds through LedgerCommands on the Postgres event store: what each writes,
 * the balances after each step, and every rejection a client can meet.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LedgerCommands } from "../../src/commands/ledger.js";
import { accountStream, postingStream } from "../../src/domain/streams.js";
import {
  actor,
  code,
  createTestLedger,
  defineTypes,
  ok,
  openAccount,
  replayStream,
  type TestLedger,
  transfer,
} from "./support.js";

/** The pipeline's `now`: real time unless a test moves it. */
let clockOffsetMs = 0;
const clock = () => new Date(Date.now() + clockOffsetMs);

let t: TestLedger;
let funding: string;
beforeAll(async () => {
  t = await createTestLedger({ clock });
  await defineTypes(t.ledger);
  funding = await openAccount(t.ledger, "SUSPENSE");
});
afterAll(async () => t.close());

async function fundedWallet(value: string): Promise<string> {
  const wallet = await openAccount(t.ledger);
  ok(await t.ledger.recordPosting(transfer(funding, wallet, value), actor()));
  return wallet;
}

async function balances(accountId: string, ledger: LedgerCommands = t.ledger) {
  const view = await ledger.balances(accountId, clock());
  return view && { posted: view.posted, held: view.held, available: view.available };
}

async function eventTypes(accountId: string): Promise<string[]> {
  return (await t.store.readStream(accountStream(accountId))).map((e) => e.type);
}

describe("reversals", () => {
  it("a reversal mirrors the posting's legs and restores both balances", async () => {
    const payer = await fundedWallet("30.00");
    const payee = await openAccount(t.ledger);
    const original = ok(await t.ledger.recordPosting(transfer(payer, payee, "10.00"), actor()));
    expect(await balances(payer)).toEqual({ posted: "20.00", held: "0.00", available: "20.00" });

    const reversal = ok(
      await t.ledger.reversePosting({ postingId: original.posting.id, reason: "error" }, actor()),
    );
    expect(reversal.posting.reverses).toBe(original.posting.id);
    expect(reversal.posting.entries).toEqual([
      { accountId: payer, side: "CREDIT", amount: "10.00", currency: "XCD" },
      { accountId: payee, side: "DEBIT", amount: "10.00", currency: "XCD" },
    ]);
    expect(reversal.balances.map((b) => [b.accountId, b.posted])).toEqual([
      [payer, "30.00"],
      [payee, "0.00"],
    ]);
    expect(await balances(payer)).toEqual({ posted: "30.00", held: "0.00", available: "30.00" });
    expect(await balances(payee)).toEqual({ posted: "0.00", held: "0.00", available: "0.00" });
    const stored = await replayStream(t.store, postingStream(original.posting.id));
    expect(stored.events.map((e) => e.type)).toEqual(["PostingRecorded", "PostingReversed"]);
    expect(stored.state).toMatchObject({ status: "REVERSED", reversedBy: reversal.posting.id });
  });

  it("a posting is reversed once; a reversal cannot be reversed; an unknown posting is not found", async () => {
    const payer = await fundedWallet("5.00");
    const payee = await openAccount(t.ledger);
    const original = ok(await t.ledger.recordPosting(transfer(payer, payee, "5.00"), actor()));
    const reversal = ok(
      await t.ledger.reversePosting({ postingId: original.posting.id, reason: "first" }, actor()),
    );
    const twice = await t.ledger.reversePosting(
      { postingId: original.posting.id, reason: "second" },
      actor(),
    );
    expect(code(twice)).toBe("ALREADY_REVERSED");
    const ofReversal = await t.ledger.reversePosting(
      { postingId: reversal.posting.id, reason: "undo the undo" },
      actor(),
    );
    expect(code(ofReversal)).toBe("CANNOT_REVERSE_REVERSAL");
    const unknown = await t.ledger.reversePosting(
      { postingId: "00000000-0000-4000-8000-000000000000", reason: "?" },
      actor(),
    );
    expect(code(unknown)).toBe("POSTING_NOT_FOUND");
    expect(await balances(payer)).toMatchObject({ posted: "5.00" });
    expect(await balances(payee)).toMatchObject({ posted: "0.00" });
  });

  it("reversals of one posting racing in one batch: exactly one is written", async () => {
    const payer = await fundedWallet("8.00");
    const payee = await openAccount(t.ledger);
    const original = ok(await t.ledger.recordPosting(transfer(payer, payee, "8.00"), actor()));
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, () =>
        t.ledger.reversePosting({ postingId: original.posting.id, reason: "race" }, actor()),
      ),
    );
    expect(outcomes.map(code).sort()).toEqual([
      "ALREADY_REVERSED",
      "ALREADY_REVERSED",
      "ALREADY_REVERSED",
      "ALREADY_REVERSED",
      "OK",
    ]);
    expect(await balances(payer)).toMatchObject({ posted: "8.00" });
    expect(await balances(payee)).toMatchObject({ posted: "0.00" });
  });

  it("a keyed reversal retried in the same process replays", async () => {
    const payer = await fundedWallet("6.00");
    const payee = await openAccount(t.ledger);
    const original = ok(await t.ledger.recordPosting(transfer(payer, payee, "6.00"), actor()));
    const who = actor({ idempotencyKey: "reverse-1" });
    const request = { postingId: original.posting.id, reason: "refund" };
    const first = await t.ledger.reversePosting(request, who);
    const again = await t.ledger.reversePosting(request, who);
    expect(first).toMatchObject({ ok: true, replayed: false });
    expect(again).toMatchObject({ ok: true, replayed: true });
    expect(ok(again).posting.id).toBe(ok(first).posting.id);
    expect((await eventTypes(payee)).filter((type) => type === "EntryPosted")).toHaveLength(2);
    expect(await balances(payer)).toMatchObject({ posted: "6.00" });
  });

  // The reversal's own stream is presumed new and not read first; a rejection (ALREADY_REVERSED
  // here) re-reads the rejected command's streams once and finds the reversal to replay.
  it("a keyed reversal retried in another process replays", async () => {
    const payer = await fundedWallet("6.00");
    const payee = await openAccount(t.ledger);
    const original = ok(await t.ledger.recordPosting(transfer(payer, payee, "6.00"), actor()));
    const who = actor({ idempotencyKey: "reverse-2" });
    const request = { postingId: original.posting.id, reason: "refund" };
    const first = await t.ledger.reversePosting(request, who);
    const elsewhere = await t.secondLedger().reversePosting(request, who);
    expect(first).toMatchObject({ ok: true, replayed: false });
    expect(elsewhere).toMatchObject({ ok: true, replayed: true });
  });

  it("a reversal the payee can no longer afford is refused and changes nothing", async () => {
    const payer = await fundedWallet("9.00");
    const payee = await openAccount(t.ledger);
    const elsewhere = await openAccount(t.ledger);
    const original = ok(await t.ledger.recordPosting(transfer(payer, payee, "9.00"), actor()));
    ok(await t.ledger.recordPosting(transfer(payee, elsewhere, "5.00"), actor()));
    const outcome = await t.ledger.reversePosting(
      { postingId: original.posting.id, reason: "too late" },
      actor(),
    );
    expect(code(outcome)).toBe("INSUFFICIENT_FUNDS");
    expect(await balances(payer)).toMatchObject({ posted: "0.00" });
    expect(await balances(payee)).toMatchObject({ posted: "4.00" });
    const stored = await replayStream(t.store, postingStream(original.posting.id));
    expect(stored.state).toMatchObject({ status: "POSTED", reversedBy: null });
  });

  it("a posting written by another process can be reversed by a third", async () => {
    const payer = await fundedWallet("3.00");
    const payee = await openAccount(t.ledger);
    const original = ok(
      await t.secondLedger().recordPosting(transfer(payer, payee, "3.00"), actor()),
    );
    ok(
      await t
        .secondLedger()
        .reversePosting({ postingId: original.posting.id, reason: "x" }, actor()),
    );
    const fresh = t.secondLedger();
    expect(await balances(payer, fresh)).toMatchObject({ posted: "3.00" });
    expect(await balances(payee, fresh)).toMatchObject({ posted: "0.00" });
  });
});

describe("holds", () => {
  it("a hold reserves funds until released; a release is final", async () => {
    const wallet = await fundedWallet("50.00");
    const payee = await openAccount(t.ledger);
    const hold = ok(
      await t.ledger.placeHold(
        { accountId: wallet, amount: { value: "20.00", currency: "XCD" } },
        actor(),
      ),
    );
    expect(hold).toMatchObject({ status: "ACTIVE", amount: "20.00", expiresAt: null });
    expect(hold.balances).toMatchObject({ posted: "50.00", held: "20.00", available: "30.00" });
    expect(await balances(wallet)).toEqual({ posted: "50.00", held: "20.00", available: "30.00" });

    const tooMuchHold = await t.ledger.placeHold(
      { accountId: wallet, amount: { value: "30.01", currency: "XCD" } },
      actor(),
    );
    expect(code(tooMuchHold)).toBe("INSUFFICIENT_FUNDS");
    const tooMuchPosting = await t.ledger.recordPosting(transfer(wallet, payee, "30.01"), actor());
    expect(code(tooMuchPosting)).toBe("INSUFFICIENT_FUNDS");
    ok(await t.ledger.recordPosting(transfer(wallet, payee, "30.00"), actor()));
    expect(await balances(wallet)).toEqual({ posted: "20.00", held: "20.00", available: "0.00" });

    const released = ok(await t.ledger.releaseHold({ holdId: hold.holdId }, actor()));
    expect(released).toMatchObject({ status: "RELEASED", amount: "20.00" });
    expect(released.balances).toMatchObject({ posted: "20.00", held: "0.00", available: "20.00" });
    expect(await balances(wallet)).toEqual({ posted: "20.00", held: "0.00", available: "20.00" });
    expect(code(await t.ledger.releaseHold({ holdId: hold.holdId }, actor()))).toBe(
      "HOLD_NOT_ACTIVE",
    );
    expect(
      code(await t.ledger.captureHold({ holdId: hold.holdId, toAccountId: payee }, actor())),
    ).toBe("HOLD_NOT_ACTIVE");
  });

  it("a full capture moves the whole hold to the payee", async () => {
    const wallet = await fundedWallet("40.00");
    const payee = await openAccount(t.ledger);
    const hold = ok(
      await t.ledger.placeHold(
        { accountId: wallet, amount: { value: "15.00", currency: "XCD" } },
        actor(),
      ),
    );
    const captured = ok(
      await t.ledger.captureHold({ holdId: hold.holdId, toAccountId: payee }, actor()),
    );
    expect(captured.posting).toMatchObject({
      holdId: hold.holdId,
      entries: [
        { accountId: wallet, side: "DEBIT", amount: "15.00", currency: "XCD" },
        { accountId: payee, side: "CREDIT", amount: "15.00", currency: "XCD" },
      ],
    });
    expect(await balances(wallet)).toEqual({ posted: "25.00", held: "0.00", available: "25.00" });
    expect(await balances(payee)).toEqual({ posted: "15.00", held: "0.00", available: "15.00" });
    expect(
      code(await t.ledger.captureHold({ holdId: hold.holdId, toAccountId: payee }, actor())),
    ).toBe("HOLD_NOT_ACTIVE");
    expect(await eventTypes(wallet)).toEqual([
      "AccountOpened",
      "EntryPosted",
      "HoldPlaced",
      "HoldCaptured",
      "EntryPosted",
    ]);
  });

  it("a partial capture moves part of the hold and releases the rest", async () => {
    const wallet = await fundedWallet("40.00");
    const payee = await openAccount(t.ledger);
    const hold = ok(
      await t.ledger.placeHold(
        { accountId: wallet, amount: { value: "15.00", currency: "XCD" } },
        actor(),
      ),
    );
    const tooMuch = await t.ledger.captureHold(
      { holdId: hold.holdId, toAccountId: payee, amount: { value: "15.01", currency: "XCD" } },
      actor(),
    );
    expect(code(tooMuch)).toBe("CAPTURE_EXCEEDS_HOLD");
    expect(await balances(wallet)).toEqual({ posted: "40.00", held: "15.00", available: "25.00" });
    const captured = ok(
      await t.ledger.captureHold(
        { holdId: hold.holdId, toAccountId: payee, amount: { value: "6.50", currency: "XCD" } },
        actor(),
      ),
    );
    expect(captured.balances.map((b) => [b.accountId, b.posted, b.held])).toEqual([
      [wallet, "33.50", "0.00"],
      [payee, "6.50", "0.00"],
    ]);
    expect(await balances(wallet)).toEqual({ posted: "33.50", held: "0.00", available: "33.50" });
    const events = await t.store.readStream(accountStream(wallet));
    expect(events.find((e) => e.type === "HoldCaptured")?.data).toMatchObject({
      amount: "6.50",
      released: "8.50",
    });
  });

  it("an unknown hold is HOLD_NOT_FOUND for release and capture", async () => {
    const payee = await openAccount(t.ledger);
    const holdId = "00000000-0000-4000-8000-00000000beef";
    expect(code(await t.ledger.releaseHold({ holdId }, actor()))).toBe("HOLD_NOT_FOUND");
    expect(code(await t.ledger.captureHold({ holdId, toAccountId: payee }, actor()))).toBe(
      "HOLD_NOT_FOUND",
    );
  });

  it("a frozen account takes no hold and gives no capture", async () => {
    const wallet = await fundedWallet("10.00");
    const payee = await openAccount(t.ledger);
    const hold = ok(
      await t.ledger.placeHold(
        { accountId: wallet, amount: { value: "4.00", currency: "XCD" } },
        actor(),
      ),
    );
    ok(
      await t.ledger.changeAccountStatus(
        { accountId: wallet, action: "freeze", reason: "kyc" },
        actor(),
      ),
    );
    const another = await t.ledger.placeHold(
      { accountId: wallet, amount: { value: "1.00", currency: "XCD" } },
      actor(),
    );
    expect(code(another)).toBe("ACCOUNT_NOT_ACTIVE");
    expect(
      code(await t.ledger.captureHold({ holdId: hold.holdId, toAccountId: payee }, actor())),
    ).toBe("ACCOUNT_NOT_ACTIVE");
    expect(await balances(wallet)).toEqual({ posted: "10.00", held: "4.00", available: "6.00" });
  });

  it("a hold stops counting when it expires, and the next command records HoldExpired", async () => {
    const wallet = await fundedWallet("10.00");
    const payee = await openAccount(t.ledger);
    clockOffsetMs = 0;
    const expiresAt = new Date(clock().getTime() + 60_000).toISOString();
    const hold = ok(
      await t.ledger.placeHold(
        { accountId: wallet, amount: { value: "7.00", currency: "XCD" }, expiresAt },
        actor(),
      ),
    );
    expect(hold.expiresAt).toBe(expiresAt);
    expect(await balances(wallet)).toEqual({ posted: "10.00", held: "7.00", available: "3.00" });
    expect(code(await t.ledger.recordPosting(transfer(wallet, payee, "5.00"), actor()))).toBe(
      "INSUFFICIENT_FUNDS",
    );

    clockOffsetMs = 61_000;
    try {
      // Nothing recorded yet, but the hold no longer counts.
      expect(await balances(wallet)).toEqual({ posted: "10.00", held: "0.00", available: "10.00" });
      expect(await eventTypes(wallet)).not.toContain("HoldExpired");
      ok(await t.ledger.recordPosting(transfer(funding, wallet, "1.00"), actor()));
      expect((await eventTypes(wallet)).slice(-2)).toEqual(["HoldExpired", "EntryPosted"]);
      const expired = (await t.store.readStream(accountStream(wallet))).find(
        (e) => e.type === "HoldExpired",
      );
      expect(expired?.data).toMatchObject({ holdId: hold.holdId, amount: "7.00" });
      ok(await t.ledger.recordPosting(transfer(wallet, payee, "11.00"), actor()));
      expect(await balances(wallet)).toEqual({ posted: "0.00", held: "0.00", available: "0.00" });
      expect(code(await t.ledger.releaseHold({ holdId: hold.holdId }, actor()))).toBe(
        "HOLD_NOT_ACTIVE",
      );
      const replayed = await replayStream(t.store, accountStream(wallet));
      expect([...(replayed.state as { holds: Map<string, unknown> }).holds.keys()]).toEqual([]);
    } finally {
      clockOffsetMs = 0;
    }
  });

  it("an expired hold cannot be captured; capturing it moves nothing", async () => {
    const wallet = await fundedWallet("10.00");
    const payee = await openAccount(t.ledger);
    const expiresAt = new Date(clock().getTime() + 1_000).toISOString();
    const hold = ok(
      await t.ledger.placeHold(
        { accountId: wallet, amount: { value: "2.00", currency: "XCD" }, expiresAt },
        actor(),
      ),
    );
    clockOffsetMs = 2_000;
    try {
      const outcome = await t.ledger.captureHold(
        { holdId: hold.holdId, toAccountId: payee },
        actor(),
      );
      expect(code(outcome)).toBe("HOLD_NOT_ACTIVE");
      expect(await balances(payee)).toMatchObject({ posted: "0.00" });
    } finally {
      clockOffsetMs = 0;
    }
  });

  // API.md "Idempotency": every POST that creates something replays the original response for
  // the same key and body: a keyed hold placement retried (e.g. after a lost reply) answers
  // with the hold, replayed, not HOLD_EXISTS.
  it("a keyed hold placement retried replays the hold", async () => {
    const wallet = await fundedWallet("10.00");
    const who = actor({ idempotencyKey: "hold-1" });
    const request = { accountId: wallet, amount: { value: "3.00", currency: "XCD" } };
    const first = await t.ledger.placeHold(request, who);
    const again = await t.ledger.placeHold(request, who);
    expect(first).toMatchObject({ ok: true, replayed: false });
    expect(again).toMatchObject({ ok: true, replayed: true });
    expect(ok(again).holdId).toBe(ok(first).holdId);
    expect(ok(again).amount).toBe("3.00");
    expect(await balances(wallet)).toMatchObject({ held: "3.00" });
  });

  it("a replayed hold placement answers with the hold as placed, even after its release", async () => {
    const wallet = await fundedWallet("10.00");
    const who = actor({ idempotencyKey: "hold-2" });
    const request = { accountId: wallet, amount: { value: "4.00", currency: "XCD" } };
    const first = ok(await t.ledger.placeHold(request, who));
    ok(await t.ledger.releaseHold({ holdId: first.holdId }, actor()));
    const again = await t.secondLedger().placeHold(request, who);
    expect(again).toMatchObject({ ok: true, replayed: true });
    expect(ok(again)).toMatchObject({ holdId: first.holdId, amount: "4.00", status: "ACTIVE" });
    expect(await balances(wallet)).toMatchObject({ held: "0.00" });
  });

  it("a hold key reused with a different body is refused and places nothing", async () => {
    const wallet = await fundedWallet("10.00");
    const who = actor({ idempotencyKey: "hold-3" });
    ok(
      await t.ledger.placeHold(
        { accountId: wallet, amount: { value: "1.00", currency: "XCD" } },
        who,
      ),
    );
    const reused = await t.ledger.placeHold(
      { accountId: wallet, amount: { value: "2.00", currency: "XCD" } },
      who,
    );
    expect(code(reused)).toBe("IDEMPOTENCY_KEY_REUSED");
    expect(await balances(wallet)).toMatchObject({ held: "1.00" });
  });
});
