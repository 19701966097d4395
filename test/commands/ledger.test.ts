import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LedgerCommands } from "../../src/commands/ledger.js";
import { CommandPipeline } from "../../src/commands/pipeline.js";
import { verifyChain } from "../../src/eventstore/hash-chain.js";
import { PostgresEventStore } from "../../src/eventstore/postgres/postgres-event-store.js";
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

describe("ledger commands on the Postgres event store", () => {
  let t: TestLedger;
  let funding: string;
  beforeAll(async () => {
    t = await createTestLedger();
    await defineTypes(t.ledger);
    funding = await openAccount(t.ledger, "SUSPENSE");
  });
  afterAll(async () => t.close());

  it("a posting moves money and answers with the position and the touched balances", async () => {
    const wallet = await openAccount(t.ledger);
    const outcome = await t.ledger.recordPosting(transfer(funding, wallet, "25.50"), actor());
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    expect(outcome.position).toMatch(/^\d+\.\d+$/);
    expect(outcome.result.balances).toEqual([
      {
        accountId: funding,
        currency: "XCD",
        posted: expect.any(String),
        held: "0.00",
        available: expect.any(String),
        overdraftLimit: "0.00",
      },
      {
        accountId: wallet,
        currency: "XCD",
        posted: "25.50",
        held: "0.00",
        available: "25.50",
        overdraftLimit: "0.00",
      },
    ]);
    const events = await t.store.readStream(`account-${wallet}`);
    expect(events.map((e) => e.type)).toEqual(["AccountOpened", "EntryPosted"]);
    expect(events[1]?.metadata.principal).toBe("key:test");
  });

  it("500 concurrent 1.00 debits against 100.00: exactly 100 accepted, balance 0.00", async () => {
    const payer = await openAccount(t.ledger);
    const payee = await openAccount(t.ledger);
    ok(await t.ledger.recordPosting(transfer(funding, payer, "100.00"), actor()));
    const outcomes = await Promise.all(
      Array.from({ length: 500 }, () =>
        t.ledger.recordPosting(transfer(payer, payee, "1.00"), actor()),
      ),
    );
    expect(outcomes.filter((o) => o.ok)).toHaveLength(100);
    expect(outcomes.filter((o) => !o.ok).map(code)).toEqual(Array(400).fill("INSUFFICIENT_FUNDS"));
    expect((await t.ledger.balances(payer, new Date()))?.posted).toBe("0.00");
    const entries = await t.store.readStream(`account-${payer}`, { limit: 1000 });
    expect(entries.at(-1)?.data).toMatchObject({ balanceAfter: "0.00" });
  });

  it("the same idempotency key and body replays the original; a different body is refused", async () => {
    const wallet = await openAccount(t.ledger);
    const who = actor({ idempotencyKey: "key-1" });
    const first = await t.ledger.recordPosting(transfer(funding, wallet, "5.00"), who);
    const again = await t.ledger.recordPosting(transfer(funding, wallet, "5.00"), {
      ...who,
      correlationId: "other",
    });
    expect(again).toMatchObject({ ok: true, replayed: true });
    if (!first.ok || !again.ok) return;
    expect(again.result.posting).toEqual(first.result.posting);
    expect(again.position).toBe(first.position);
    const reused = await t.ledger.recordPosting(transfer(funding, wallet, "6.00"), who);
    expect(code(reused)).toBe("IDEMPOTENCY_KEY_REUSED");
    expect((await t.ledger.balances(wallet, new Date()))?.posted).toBe("5.00");
  });

  it("two pipelines (two processes) racing on the same accounts stay exactly correct", async () => {
    const other = t.secondLedger();
    const payer = await openAccount(t.ledger);
    const payee = await openAccount(t.ledger);
    ok(await t.ledger.recordPosting(transfer(funding, payer, "50.00"), actor()));
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        (i % 2 === 0 ? t.ledger : other).recordPosting(transfer(payer, payee, "0.50"), actor()),
      ),
    );
    expect(outcomes.filter((o) => o.ok)).toHaveLength(100);
    expect((await other.balances(payee, new Date()))?.posted).toBe("50.00");
    const events = await t.store.readStream(`account-${payer}`, { limit: 1000 });
    expect(events.at(-1)?.data).toMatchObject({ balanceAfter: "0.00" });
  });

  it("two processes, each with its own store, racing chained batches on one account: exact, gap-free, chained", async () => {
    // Each process seals its next batch ahead on what it remembers; the other moves the stream
    // under it, so sealed batches meet taken revisions and are decided again.
    let conflicts = 0;
    const observer = { conflict: () => conflicts++ };
    const [first, second] = [0, 1].map(() => {
      const store = new PostgresEventStore(t.database.pool);
      return { store, ledger: new LedgerCommands(new CommandPipeline(store, { observer })) };
    });
    if (first === undefined || second === undefined) throw new Error("unreachable");
    const payer = await openAccount(first.ledger);
    const payees = await Promise.all(Array.from({ length: 8 }, () => openAccount(first.ledger)));
    ok(await first.ledger.recordPosting(transfer(funding, payer, "60.00"), actor()));
    const outcomes = await Promise.all(
      Array.from({ length: 320 }, (_, i) =>
        (i % 2 === 0 ? first : second).ledger.recordPosting(
          transfer(payer, payees[i % payees.length] ?? funding, "0.25"),
          actor(),
        ),
      ),
    );
    expect(conflicts).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o.ok)).toHaveLength(240);
    expect(outcomes.filter((o) => !o.ok).map(code)).toEqual(Array(80).fill("INSUFFICIENT_FUNDS"));
    const events = await t.store.readStream(`account-${payer}`, { limit: 1000 });
    expect(events.map((e) => e.revision)).toEqual(events.map((_, at) => at));
    expect(verifyChain(events)).toEqual([]);
    expect(events.at(-1)?.data).toMatchObject({ balanceAfter: "0.00" });
    for (const payee of payees) {
      const credits = await t.store.readStream(`account-${payee}`, { limit: 1000 });
      expect(verifyChain(credits)).toEqual([]);
    }
    expect((await second.ledger.balances(payer, new Date()))?.posted).toBe("0.00");
  });
});
