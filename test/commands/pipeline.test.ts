/**
 * The batching pipeline on the Postgres event store: batches share one append, a rejection
 * stays with its command, each account's commands apply in submission order, a hot account
 * commits far less often than it is posted to; references and idempotency keys hold within a
 * batch, across time and across processes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CommandOutcome } from "../../src/commands/pipeline.js";
import { accountStream, postingStream } from "../../src/domain/streams.js";
import {
  actor,
  code,
  createTestLedger,
  defineTypes,
  ok,
  openAccount,
  type TestLedger,
  transfer,
} from "./support.js";

interface BatchStats {
  commands: number;
  events: number;
}

describe("the batching pipeline", () => {
  let t: TestLedger;
  let funding: string;
  const batches: BatchStats[] = [];
  beforeAll(async () => {
    t = await createTestLedger({
      observer: { batchAppended: ({ commands, events }) => batches.push({ commands, events }) },
    });
    await defineTypes(t.ledger);
    funding = await openAccount(t.ledger, "SUSPENSE");
  });
  afterAll(async () => t.close());

  async function fundedWallet(value: string): Promise<string> {
    const wallet = await openAccount(t.ledger);
    ok(await t.ledger.recordPosting(transfer(funding, wallet, value), actor()));
    return wallet;
  }

  async function entriesOf(accountId: string) {
    const events = await t.store.readStream(accountStream(accountId), { limit: 10_000 });
    return events.filter((event) => event.type === "EntryPosted");
  }

  it("commands submitted together share one append; a rejected one does not fail its neighbours", async () => {
    const payer = await fundedWallet("10.00");
    const payee = await openAccount(t.ledger);
    batches.length = 0;
    const outcomes = await Promise.all(
      Array.from({ length: 15 }, () =>
        t.ledger.recordPosting(transfer(payer, payee, "1.00"), actor()),
      ),
    );
    expect(outcomes.map(code)).toEqual([
      ...Array(10).fill("OK"),
      ...Array(5).fill("INSUFFICIENT_FUNDS"),
    ]);
    // One append for all fifteen: ten postings written, five rejections answered with it.
    expect(batches).toEqual([{ commands: 15, events: 30 }]);
    const positions = new Set(outcomes.flatMap((o) => (o.ok ? [o.position] : [])));
    expect(positions.size).toBe(1);
    expect((await t.ledger.balances(payer, new Date()))?.posted).toBe("0.00");
    expect((await t.ledger.balances(payee, new Date()))?.posted).toBe("10.00");
  });

  it("a batch mixing accounts keeps each rejection to its own command", async () => {
    const rich = await fundedWallet("50.00");
    const poor = await fundedWallet("1.00");
    const payee = await openAccount(t.ledger);
    batches.length = 0;
    const outcomes = await Promise.all([
      t.ledger.recordPosting(transfer(rich, payee, "5.00"), actor()),
      t.ledger.recordPosting(transfer(poor, payee, "2.00"), actor()),
      t.ledger.recordPosting(transfer(rich, payee, "5.00"), actor()),
      t.ledger.recordPosting(transfer(poor, payee, "1.00"), actor()),
      t.ledger.recordPosting(transfer("no-such-account", payee, "1.00"), actor()),
      t.ledger.recordPosting(transfer(rich, payee, "1.001"), actor()),
    ]);
    expect(outcomes.map(code)).toEqual([
      "OK",
      "INSUFFICIENT_FUNDS",
      "OK",
      "OK",
      "ACCOUNT_NOT_FOUND",
      "VALIDATION_ERROR",
    ]);
    expect(batches.some((batch) => batch.commands > 1)).toBe(true);
    expect((await t.ledger.balances(rich, new Date()))?.posted).toBe("40.00");
    expect((await t.ledger.balances(poor, new Date()))?.posted).toBe("0.00");
    expect((await t.ledger.balances(payee, new Date()))?.posted).toBe("11.00");
  });

  it("an account's commands apply in the order they were submitted, across many small batches", async () => {
    // Small batches and several in flight: the queue must hold back every later command on a
    // busy stream, or a later credit could overtake an earlier one.
    const small = t.secondLedger({ batchSizeMax: 3, batchesInFlightMax: 4 });
    const sources = [
      await openAccount(small, "SUSPENSE"),
      await openAccount(small, "SUSPENSE"),
      await openAccount(small, "SUSPENSE"),
    ];
    const wallet = await openAccount(small);
    const others = [await openAccount(small), await openAccount(small)];
    const submitted: Array<Promise<CommandOutcome<unknown>>> = [];
    for (let i = 1; i <= 60; i++) {
      const source = sources[i % sources.length] ?? funding;
      submitted.push(small.recordPosting(transfer(source, wallet, `${i}.00`), actor()));
      // Unrelated traffic that may go ahead, and debits of the wallet that depend on order.
      const other = others[i % others.length] ?? funding;
      submitted.push(small.recordPosting(transfer(source, other, "0.01"), actor()));
      if (i % 10 === 0)
        submitted.push(small.recordPosting(transfer(wallet, other, `${i}.00`), actor()));
    }
    const outcomes = await Promise.all(submitted);
    expect(outcomes.map(code).filter((c) => c !== "OK")).toEqual([]);
    const entries = await entriesOf(wallet);
    const expected: Array<{ side: string; amount: string; balanceAfter: string }> = [];
    let balanceMinor = 0;
    for (let i = 1; i <= 60; i++) {
      balanceMinor += i * 100;
      expected.push({ side: "CREDIT", amount: `${i}.00`, balanceAfter: money(balanceMinor) });
      if (i % 10 === 0) {
        balanceMinor -= i * 100;
        expected.push({ side: "DEBIT", amount: `${i}.00`, balanceAfter: money(balanceMinor) });
      }
    }
    expect(
      entries.map((e) => ({
        side: e.data.side,
        amount: e.data.amount,
        balanceAfter: e.data.balanceAfter,
      })),
    ).toEqual(expected);
  });

  it("commands waiting together on disjoint accounts are split over batches in flight at once; a hot account's are chained, in order", async () => {
    const sizes: number[] = [];
    const second = t.secondLedger({
      observer: {
        batchAppended: ({ commands }) => {
          sizes.push(commands);
        },
      },
    });
    const payers = await Promise.all(Array.from({ length: 64 }, () => fundedWallet("5.00")));
    const payees = await Promise.all(Array.from({ length: 64 }, () => openAccount(t.ledger)));
    const disjoint = await Promise.all(
      payers.map((payer, i) =>
        second.recordPosting(transfer(payer, payees[i] ?? funding, "1.00"), actor()),
      ),
    );
    expect(disjoint.map(code)).toEqual(Array(64).fill("OK"));
    // 64 waiting commands on 128 accounts: two batches of 32 (two commits), taken at once.
    expect(sizes).toEqual([32, 32]);
    const positions = new Set(disjoint.flatMap((o) => (o.ok ? [o.position] : [])));
    expect(positions.size).toBe(2);

    sizes.length = 0;
    const hot = payers[0] ?? funding;
    const serial = await Promise.all(
      payees.map((payee) => second.recordPosting(transfer(hot, payee, "0.01"), actor())),
    );
    expect(serial.map(code)).toEqual(Array(64).fill("OK"));
    // Two batches of 32, the second decided on what the first leaves and committed after it.
    expect(sizes).toEqual([32, 32]);
    const commits = serial.flatMap((o) => (o.ok ? [o.position] : []));
    expect(new Set(commits.slice(0, 32)).size).toBe(1);
    expect(new Set(commits.slice(32)).size).toBe(1);
    expect(commits[32]).not.toBe(commits[0]);
    // In submission order: each debit's balance after is 0.01 below the one before.
    const debits = (await entriesOf(hot)).slice(-64);
    expect(debits.map((e) => e.data.balanceAfter)).toEqual(
      Array.from({ length: 64 }, (_, i) => money(400 - 1 - i)),
    );
    expect((await t.ledger.balances(hot, new Date()))?.posted).toBe("3.36");
  });

  it("keeps an unkeyed posting's own stream out of the cache (no retry can name it), a keyed one in; both reverse", async () => {
    const payer = await fundedWallet("5.00");
    const payee = await openAccount(t.ledger);
    const plain = ok(await t.ledger.recordPosting(transfer(payer, payee, "1.00"), actor()));
    const keyed = ok(
      await t.ledger.recordPosting(
        transfer(payer, payee, "1.00"),
        actor({ idempotencyKey: "cache-key-1" }),
      ),
    );
    expect(t.pipeline.cache.get(postingStream(plain.posting.id))).toBeUndefined();
    expect(t.pipeline.cache.get(postingStream(keyed.posting.id))).toBeDefined();
    expect(t.pipeline.cache.get(accountStream(payer))).toBeDefined();
    for (const postingId of [plain.posting.id, keyed.posting.id]) {
      const reversed = await t.ledger.reversePosting({ postingId, reason: "test" }, actor());
      expect(code(reversed)).toBe("OK");
    }
    expect((await t.ledger.balances(payer, new Date()))?.posted).toBe("5.00");
  });

  it("a hot account posted to 300 times at once commits far fewer times, with exact balances", async () => {
    const hot = await openAccount(t.ledger, "SUSPENSE");
    const wallets = await Promise.all(Array.from({ length: 10 }, () => openAccount(t.ledger)));
    batches.length = 0;
    const submitted: Array<Promise<CommandOutcome<unknown>>> = [];
    const creditedMinor = new Map<string, number>();
    // Spread over 30 turns of the event loop, as requests arriving over a few milliseconds.
    for (let turn = 0; turn < 30; turn++) {
      for (let i = 0; i < 10; i++) {
        const wallet = wallets[(turn + i) % wallets.length] ?? funding;
        const minor = 1 + ((turn * 10 + i) % 97);
        creditedMinor.set(wallet, (creditedMinor.get(wallet) ?? 0) + minor);
        submitted.push(t.ledger.recordPosting(transfer(hot, wallet, money(minor)), actor()));
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    const outcomes = await Promise.all(submitted);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    const entries = await entriesOf(hot);
    expect(entries).toHaveLength(300);
    const commits = new Set(entries.map((e) => e.position.commit));
    expect(commits.size).toBeLessThanOrEqual(30);
    expect(batches.length).toBe(commits.size);
    expect(batches.reduce((sum, b) => sum + b.commands, 0)).toBe(300);
    const totalMinor = [...creditedMinor.values()].reduce((a, b) => a + b, 0);
    expect((await t.ledger.balances(hot, new Date()))?.posted).toBe(money(totalMinor));
    for (const [wallet, minor] of creditedMinor) {
      expect((await t.ledger.balances(wallet, new Date()))?.posted).toBe(money(minor));
    }
    expect(entries.at(-1)?.data.balanceAfter).toBe(money(totalMinor));
  });
});

describe("references", () => {
  let t: TestLedger;
  let funding: string;
  beforeAll(async () => {
    t = await createTestLedger();
    await defineTypes(t.ledger);
    funding = await openAccount(t.ledger, "SUSPENSE");
  });
  afterAll(async () => t.close());

  it("a reference is taken once within one batch: the others are DUPLICATE_REFERENCE", async () => {
    const wallet = await openAccount(t.ledger);
    const outcomes = await Promise.all(
      Array.from({ length: 6 }, () =>
        t.ledger.recordPosting({ ...transfer(funding, wallet, "2.00"), reference: "R-1" }, actor()),
      ),
    );
    expect(outcomes.map(code)).toEqual(["OK", ...Array(5).fill("DUPLICATE_REFERENCE")]);
    expect((await t.ledger.balances(wallet, new Date()))?.posted).toBe("2.00");
  });

  it("a reference is taken once across time", async () => {
    const wallet = await openAccount(t.ledger);
    ok(
      await t.ledger.recordPosting(
        { ...transfer(funding, wallet, "3.00"), reference: "R-2" },
        actor(),
      ),
    );
    ok(await t.ledger.recordPosting(transfer(funding, wallet, "1.00"), actor()));
    const again = await t.ledger.recordPosting(
      { ...transfer(funding, wallet, "3.00"), reference: "R-2" },
      actor(),
    );
    expect(code(again)).toBe("DUPLICATE_REFERENCE");
    expect((await t.ledger.balances(wallet, new Date()))?.posted).toBe("4.00");
  });

  it("a reference is taken once across two processes, sequentially and racing", async () => {
    const other = t.secondLedger();
    const wallet = await openAccount(t.ledger);
    ok(
      await t.ledger.recordPosting(
        { ...transfer(funding, wallet, "3.00"), reference: "R-3" },
        actor(),
      ),
    );
    const later = await other.recordPosting(
      { ...transfer(funding, wallet, "3.00"), reference: "R-3" },
      actor(),
    );
    expect(code(later)).toBe("DUPLICATE_REFERENCE");

    const racing = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        (i % 2 === 0 ? t.ledger : other).recordPosting(
          { ...transfer(funding, wallet, "1.00"), reference: "R-4" },
          actor(),
        ),
      ),
    );
    expect(racing.filter((o) => o.ok)).toHaveLength(1);
    expect(racing.filter((o) => !o.ok).map(code)).toEqual(Array(7).fill("DUPLICATE_REFERENCE"));
    const entries = (await t.store.readStream(accountStream(wallet))).filter(
      (e) => e.type === "EntryPosted",
    );
    expect(entries.map((e) => e.data.balanceAfter)).toEqual(["3.00", "4.00"]);
  });

  it("an idempotent retry of the posting that holds a reference replays instead of refusing", async () => {
    const wallet = await openAccount(t.ledger);
    const who = actor({ idempotencyKey: "ref-retry" });
    const request = { ...transfer(funding, wallet, "7.00"), reference: "R-5" };
    const first = await t.ledger.recordPosting(request, who);
    const again = await t.secondLedger().recordPosting(request, who);
    expect(first).toMatchObject({ ok: true, replayed: false });
    expect(again).toMatchObject({ ok: true, replayed: true });
  });
});

describe("idempotency keys", () => {
  let t: TestLedger;
  let funding: string;
  beforeAll(async () => {
    t = await createTestLedger();
    await defineTypes(t.ledger);
    funding = await openAccount(t.ledger, "SUSPENSE");
  });
  afterAll(async () => t.close());

  async function postedEntries(accountId: string): Promise<number> {
    const events = await t.store.readStream(accountStream(accountId));
    return events.filter((e) => e.type === "EntryPosted").length;
  }

  it("a retry reaching another process (cold cache) replays the original posting", async () => {
    const wallet = await openAccount(t.ledger);
    const who = actor({ idempotencyKey: "cold-1" });
    const first = await t.ledger.recordPosting(transfer(funding, wallet, "12.00"), who);
    const other = t.secondLedger();
    const again = await other.recordPosting(transfer(funding, wallet, "12.00"), who);
    expect(first).toMatchObject({ ok: true, replayed: false });
    expect(again).toMatchObject({ ok: true, replayed: true });
    expect(ok(again).posting).toEqual(ok(first).posting);
    expect(ok(again).balances.find((b) => b.accountId === wallet)?.posted).toBe("12.00");
    expect(await postedEntries(wallet)).toBe(1);
    expect((await other.balances(wallet, new Date()))?.posted).toBe("12.00");
  });

  // A stream read from the store knows its first event's position, inside the commit; the
  // replay answers with the commit's position, as the original response did.
  it("a replay in another process answers with the original commit position", async () => {
    const wallet = await openAccount(t.ledger);
    const who = actor({ idempotencyKey: "cold-2" });
    const first = await t.ledger.recordPosting(transfer(funding, wallet, "12.00"), who);
    const again = await t.secondLedger().recordPosting(transfer(funding, wallet, "12.00"), who);
    expect(first.ok && again.ok).toBe(true);
    if (!first.ok || !again.ok) return;
    expect(again.position).toBe(first.position);
  });

  // The posting stream is presumed new and not read first. A rejection appends nothing, so no
  // `no_stream` check would reveal the original; rejected commands' streams are re-read once.
  it("a keyed retry in another process replays even when the funds are now spent", async () => {
    const payer = await openAccount(t.ledger);
    const payee = await openAccount(t.ledger);
    ok(await t.ledger.recordPosting(transfer(funding, payer, "5.00"), actor()));
    const who = actor({ idempotencyKey: "spent-1" });
    const first = await t.ledger.recordPosting(transfer(payer, payee, "5.00"), who);
    const again = await t.secondLedger().recordPosting(transfer(payer, payee, "5.00"), who);
    expect(first).toMatchObject({ ok: true, replayed: false });
    expect(again).toMatchObject({ ok: true, replayed: true });
  });

  // API.md "Idempotency": a POST that creates something replays for the same key and body.
  // The account id is derived from the key; the retry finds the account opened by the same
  // request and replays it.
  it("a keyed account opening retried replays the account", async () => {
    const who = actor({ idempotencyKey: "open-1" });
    const request = { accountType: "WALLET", currency: "XCD" };
    const first = await t.ledger.openAccount(request, who);
    const again = await t.ledger.openAccount(request, who);
    expect(first).toMatchObject({ ok: true, replayed: false });
    expect(again).toMatchObject({ ok: true, replayed: true });
    if (!first.ok || !again.ok) return;
    expect(again.result.account).toEqual(first.result.account);
    expect(again.position).toBe(first.position);
  });

  it("a keyed account opening replays the account as opened, and a reused key is refused", async () => {
    const who = actor({ idempotencyKey: "open-2" });
    const request = { accountType: "WALLET", currency: "XCD", name: "Ana" };
    const first = await t.ledger.openAccount(request, who);
    if (!first.ok) throw new Error("open failed");
    const id = first.result.account.id;
    ok(
      await t.ledger.changeAccountStatus(
        { accountId: id, action: "freeze", reason: "kyc" },
        actor(),
      ),
    );
    const again = await t.secondLedger().openAccount(request, who);
    expect(again).toMatchObject({ ok: true, replayed: true });
    if (!again.ok) return;
    expect(again.result.account).toEqual(first.result.account);
    expect(again.result.account.status).toBe("ACTIVE");
    const reused = await t.ledger.openAccount({ ...request, name: "Bea" }, who);
    expect(code(reused)).toBe("IDEMPOTENCY_KEY_REUSED");
    expect((await t.ledger.balances(id, new Date()))?.posted).toBe("0.00");
  });

  it("identical keyed requests at once write exactly one posting", async () => {
    const wallet = await openAccount(t.ledger);
    const who = actor({ idempotencyKey: "burst-1" });
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, () =>
        t.ledger.recordPosting(transfer(funding, wallet, "4.00"), who),
      ),
    );
    const accepted = outcomes.flatMap((o) => (o.ok ? [o] : []));
    expect(accepted).toHaveLength(8);
    expect(accepted.filter((o) => !o.replayed)).toHaveLength(1);
    expect(new Set(accepted.map((o) => o.result.posting.id)).size).toBe(1);
    expect(new Set(accepted.map((o) => o.position)).size).toBe(1);
    expect(await postedEntries(wallet)).toBe(1);
    expect((await t.ledger.balances(wallet, new Date()))?.posted).toBe("4.00");
  });

  it("identical keyed requests racing in two processes write exactly one posting", async () => {
    const other = t.secondLedger();
    const wallet = await openAccount(t.ledger);
    const who = actor({ idempotencyKey: "burst-2" });
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 === 0 ? t.ledger : other).recordPosting(transfer(funding, wallet, "4.00"), who),
      ),
    );
    const accepted = outcomes.flatMap((o) => (o.ok ? [o] : []));
    expect(accepted).toHaveLength(10);
    expect(accepted.filter((o) => !o.replayed)).toHaveLength(1);
    expect(new Set(accepted.map((o) => o.result.posting.id)).size).toBe(1);
    expect(await postedEntries(wallet)).toBe(1);
    const postingId = accepted[0]?.result.posting.id ?? "";
    expect(await t.store.readStream(postingStream(postingId))).toHaveLength(1);
  });
});

describe("two processes on one store", () => {
  let t: TestLedger;
  let funding: string;
  beforeAll(async () => {
    t = await createTestLedger();
    await defineTypes(t.ledger);
    funding = await openAccount(t.ledger, "SUSPENSE");
  });
  afterAll(async () => t.close());

  it("a debit that outruns the cache is re-decided on the store's state", async () => {
    const other = t.secondLedger();
    const payer = await openAccount(t.ledger);
    const payee = await openAccount(t.ledger);
    ok(await t.ledger.recordPosting(transfer(funding, payer, "10.00"), actor()));
    ok(await other.recordPosting(transfer(payer, payee, "10.00"), actor()));
    // This process still believes the payer holds 10.00: the append's expected revision
    // catches it and the retry decides on the real balance.
    const outcome = await t.ledger.recordPosting(transfer(payer, payee, "1.00"), actor());
    expect(code(outcome)).toBe("INSUFFICIENT_FUNDS");
    expect((await t.ledger.balances(payer, new Date()))?.posted).toBe("0.00");
  });

  // A cached account that another process credited is stale low, and a rejection appends
  // nothing, so no expected-revision check reveals it: the rejected streams are re-read once.
  it("a wallet credited by another process can pay here", async () => {
    const other = t.secondLedger();
    const payer = await openAccount(t.ledger);
    const payee = await openAccount(t.ledger);
    ok(await other.recordPosting(transfer(funding, payer, "10.00"), actor()));
    const outcome = await t.ledger.recordPosting(transfer(payer, payee, "5.00"), actor());
    expect(code(outcome)).toBe("OK");
  });
});

function money(minor: number): string {
  const sign = minor < 0 ? "-" : "";
  const abs = Math.abs(minor);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
}
