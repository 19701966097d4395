/**
 * Faults on the command side: an append the store refuses, an append that committed but whose
 * reply was lost, a decider that throws, a read that answers late. Each leaves the pipeline's
 * cache agreeing with the store and writes nothing twice.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LedgerCommands } from "../../src/commands/ledger.js";
import type {
  CommandOutcome,
  CommandPipeline,
  PlannedCommand,
} from "../../src/commands/pipeline.js";
import { accountStream, referenceStream } from "../../src/domain/streams.js";
import { EventStoreUnavailable } from "../../src/eventstore/errors.js";
import { verifyChain } from "../../src/eventstore/hash-chain.js";
import { PostgresEventStore } from "../../src/eventstore/postgres/postgres-event-store.js";
import {
  accountFacts,
  actor,
  balanceChainBreaks,
  code,
  createTestLedger,
  defineTypes,
  FaultyStore,
  ledgerOn,
  ok,
  openAccount,
  replayStream,
  type TestLedger,
  transfer,
} from "./support.js";

let t: TestLedger;
let faulty: FaultyStore;
let pipeline: CommandPipeline;
let ledger: LedgerCommands;
let funding: string;
const batches: number[] = [];

beforeAll(async () => {
  t = await createTestLedger();
  faulty = new FaultyStore(t.store);
  ({ pipeline, ledger } = ledgerOn(faulty, {
    observer: { batchAppended: ({ commands }) => batches.push(commands) },
  }));
  await defineTypes(ledger);
  funding = await openAccount(ledger, "SUSPENSE");
});
afterAll(async () => {
  await pipeline.drain();
  await t.close();
});

async function fundedWallet(value: string): Promise<string> {
  const wallet = await openAccount(ledger);
  ok(await ledger.recordPosting(transfer(funding, wallet, value), actor()));
  return wallet;
}

async function posted(accountId: string): Promise<string | undefined> {
  return (await ledger.balances(accountId, new Date()))?.posted;
}

/** The pipeline's cached account agrees with a replay of its stream from the store. */
async function expectCacheMatchesStore(accountId: string): Promise<void> {
  const stream = accountStream(accountId);
  const stored = await replayStream(t.store, stream);
  const cached = pipeline.cache.get(stream);
  expect(cached?.revision).toBe(stored.revision);
  expect(accountFacts(cached?.state)).toEqual(accountFacts(stored.state));
}

/** The store is called for an append beyond the `calls` counted before. */
async function untilAppendCalled(calls: number): Promise<void> {
  while (faulty.appendCalls === calls) await new Promise((resolve) => setTimeout(resolve, 1));
}

async function entryCount(accountId: string): Promise<number> {
  const events = await t.store.readStream(accountStream(accountId));
  return events.filter((e) => e.type === "EntryPosted").length;
}

describe("an append refused with a connection error", () => {
  it("rejects every command of the batch with that error and writes nothing", async () => {
    const payer = await fundedWallet("20.00");
    const payee = await openAccount(ledger);
    // A store whose pool is ended: the adapter's own "cannot connect" error.
    const deadPool = new pg.Pool({ connectionString: t.database.connectionString });
    await deadPool.end();
    faulty.failNextAppend("refuse", undefined, new PostgresEventStore(deadPool));
    const settled = await Promise.allSettled(
      Array.from({ length: 4 }, () =>
        ledger.recordPosting(transfer(payer, payee, "1.00"), actor()),
      ),
    );
    expect(settled.map((s) => s.status)).toEqual(Array(4).fill("rejected"));
    for (const s of settled) {
      if (s.status === "rejected") expect(s.reason).toBeInstanceOf(EventStoreUnavailable);
    }
    expect(await entryCount(payee)).toBe(0);
    await expectCacheMatchesStore(payer);

    const next = await ledger.recordPosting(transfer(payer, payee, "3.00"), actor());
    expect(next).toMatchObject({ ok: true, replayed: false });
    expect(await posted(payer)).toBe("17.00");
    expect(await posted(payee)).toBe("3.00");
    await expectCacheMatchesStore(payer);
    await expectCacheMatchesStore(payee);
  });

  it("an injected outage once: the batch fails, the next batch on the same accounts succeeds", async () => {
    const payer = await fundedWallet("5.00");
    const payee = await openAccount(ledger);
    faulty.failNextAppend("refuse");
    const outage = ledger.recordPosting(transfer(payer, payee, "5.00"), actor());
    await expect(outage).rejects.toBeInstanceOf(EventStoreUnavailable);
    const outcomes = await Promise.all([
      ledger.recordPosting(transfer(payer, payee, "4.00"), actor()),
      ledger.recordPosting(transfer(payer, payee, "4.00"), actor()),
    ]);
    expect(outcomes.map(code)).toEqual(["OK", "INSUFFICIENT_FUNDS"]);
    expect(await posted(payer)).toBe("1.00");
    await expectCacheMatchesStore(payer);
  });
});

describe("an append that committed but whose reply was lost", () => {
  it("fails for the client; a keyed retry replays and nothing is posted twice", async () => {
    const payers = [await fundedWallet("10.00"), await fundedWallet("10.00")];
    const payee = await openAccount(ledger);
    const keys = ["lost-1", "lost-2", "lost-3"];
    const requestOf = (i: number) => transfer(payers[i % 2] ?? funding, payee, `${i + 1}.00`);
    faulty.failNextAppend("lose-reply");
    const settled = await Promise.allSettled(
      keys.map((key, i) => ledger.recordPosting(requestOf(i), actor({ idempotencyKey: key }))),
    );
    expect(settled.map((s) => s.status)).toEqual(["rejected", "rejected", "rejected"]);
    // It did commit.
    expect(await entryCount(payee)).toBe(3);

    const retried = await Promise.all(
      keys.map((key, i) => ledger.recordPosting(requestOf(i), actor({ idempotencyKey: key }))),
    );
    expect(retried.map((o) => o.ok && o.replayed)).toEqual([true, true, true]);
    expect(await entryCount(payee)).toBe(3);
    expect(await posted(payee)).toBe("6.00");
    expect(await posted(payers[0] ?? "")).toBe("6.00");
    expect(await posted(payers[1] ?? "")).toBe("8.00");
    for (const account of [...payers, payee]) await expectCacheMatchesStore(account);
  });

  it("a later unkeyed command on the same accounts decides on what was committed", async () => {
    const payer = await fundedWallet("10.00");
    const payee = await openAccount(ledger);
    faulty.failNextAppend("lose-reply");
    await expect(
      ledger.recordPosting(transfer(payer, payee, "10.00"), actor()),
    ).rejects.toBeInstanceOf(EventStoreUnavailable);
    // The cache still says 10.00; the append's expected revision says otherwise.
    const next = await ledger.recordPosting(transfer(payer, payee, "1.00"), actor());
    expect(code(next)).toBe("INSUFFICIENT_FUNDS");
    expect(await entryCount(payee)).toBe(1);
    await expectCacheMatchesStore(payer);
  });

  // After an append whose outcome is unknown the cache still holds the streams as they were;
  // a strong read brings them up to date from the store before answering.
  it("after a lost reply, a strong balance read shows what was committed", async () => {
    const payer = await fundedWallet("10.00");
    const payee = await openAccount(ledger);
    faulty.failNextAppend("lose-reply");
    await expect(
      ledger.recordPosting(transfer(payer, payee, "10.00"), actor()),
    ).rejects.toBeInstanceOf(EventStoreUnavailable);
    expect(await posted(payer)).toBe("0.00");
    expect(await posted(payee)).toBe("10.00");
  });
});

describe("a decider that throws", () => {
  it("fails its own command alone; the batch goes on", async () => {
    const payer = await fundedWallet("10.00");
    const payee = await openAccount(ledger);
    const broken: PlannedCommand<never> = {
      streams: [accountStream(payer)],
      context: { ...actor(), occurredAt: new Date() },
      decide: () => {
        throw new Error("decider bug");
      },
    };
    batches.length = 0;
    const [first, thrown, second] = await Promise.allSettled([
      ledger.recordPosting(transfer(payer, payee, "2.00"), actor()),
      pipeline.submit(broken),
      ledger.recordPosting(transfer(payer, payee, "3.00"), actor()),
    ]);
    expect(thrown).toMatchObject({ status: "rejected", reason: { message: "decider bug" } });
    expect(first).toMatchObject({ status: "fulfilled", value: { ok: true } });
    expect(second).toMatchObject({ status: "fulfilled", value: { ok: true } });
    expect(batches).toEqual([3]);
    expect(await posted(payer)).toBe("5.00");
    await expectCacheMatchesStore(payer);
  });

  // The response is built before the command's events join the batch: a respond that throws
  // must not leave events behind that the client was told failed.
  it("a command whose response cannot be built fails alone and writes nothing", async () => {
    const stream = referenceStream("f".repeat(64));
    const broken: PlannedCommand<never> = {
      streams: [stream],
      context: { ...actor(), occurredAt: new Date() },
      decide: () => ({
        kind: "write",
        events: [
          {
            stream,
            events: [{ type: "ReferenceClaimed", data: { reference: "x", postingId: "p" } }],
          },
        ],
        respond: () => {
          throw new Error("respond bug");
        },
      }),
    };
    const payer = await fundedWallet("1.00");
    const payee = await openAccount(ledger);
    const [thrown, neighbour] = await Promise.allSettled([
      pipeline.submit(broken),
      ledger.recordPosting(transfer(payer, payee, "1.00"), actor()),
    ]);
    expect(thrown.status).toBe("rejected");
    expect(neighbour).toMatchObject({ status: "fulfilled", value: { ok: true } });
    expect(await t.store.readStream(stream)).toEqual([]);
  });
});

describe("a read that answers late", () => {
  // A `load()` whose answer arrives after a batch remembered a newer state must not put the
  // older one back: the acknowledged credit would vanish from strong reads.
  it("never moves the cache back past an acknowledged command", async () => {
    const wallet = await fundedWallet("10.00");
    const payee = await openAccount(ledger);
    const openAppends = faulty.holdAppends();
    const calls = faulty.appendCalls;
    const credit = ledger.recordPosting(transfer(funding, wallet, "5.00"), actor());
    await untilAppendCalled(calls);
    // A strong read of the wallet while its batch is in flight: it queries before the commit
    // and hears back after it.
    const slowRead = faulty.delayNextRead(accountStream(wallet));
    const read = ledger.balances(wallet, new Date());
    await slowRead.queried;
    openAppends();
    expect(await credit).toMatchObject({ ok: true });
    slowRead.release();
    await read;
    expect(await posted(wallet)).toBe("15.00");
    const debit = await ledger.recordPosting(transfer(wallet, payee, "12.00"), actor());
    expect(code(debit)).toBe("OK");
  });
});

describe.each([
  { sealAhead: true, way: "sealed ahead" },
  { sealAhead: false, way: "sealed when written" },
])("a batch chained on one that does not commit as decided ($way)", ({ sealAhead }) => {
  beforeAll(() => {
    faulty.sealAhead = sealAhead;
  });
  afterAll(() => {
    faulty.sealAhead = true;
  });

  // 64 postings on one account at once: the first 32 form a batch, the other 32 a batch chained
  // on it, decided on what the first will leave and appended once it has committed.
  const hotPostings = (payer: string, payees: readonly string[], value: string) =>
    Promise.allSettled(
      Array.from({ length: 64 }, (_, i) =>
        ledger.recordPosting(transfer(payer, payees[i % payees.length] ?? funding, value), actor()),
      ),
    );
  const codes = (settled: ReadonlyArray<PromiseSettledResult<CommandOutcome<unknown>>>) =>
    settled.map((s) => (s.status === "fulfilled" ? code(s.value) : "FAILED"));

  /** A wallet holding `value`, and four accounts for it to pay. */
  async function payerAndPayees(value: string) {
    const payer = await fundedWallet(value);
    const payees = await Promise.all(Array.from({ length: 4 }, () => openAccount(ledger)));
    return { payer, payees };
  }

  async function expectExactHistory(accountId: string): Promise<void> {
    const { events } = await replayStream(t.store, accountStream(accountId));
    expect(balanceChainBreaks(events)).toEqual([]);
    expect(verifyChain(events)).toEqual([]);
    await expectCacheMatchesStore(accountId);
  }

  it("(the first commits) the chained batch is sealed while the first is in flight, written after it", async () => {
    const { payer, payees } = await payerAndPayees("64.00");
    const openAppends = faulty.holdAppends();
    const [calls, sealed] = [faulty.appendCalls, faulty.sealedAhead];
    const racing = hotPostings(payer, payees, "1.00");
    await untilAppendCalled(calls);
    await new Promise((resolve) => setTimeout(resolve, 20));
    // The first batch waits at the store's door; the chained one waits for its commit.
    expect(faulty.appendCalls).toBe(calls + 1);
    expect(faulty.sealedAhead - sealed).toBe(sealAhead ? 2 : 0);
    openAppends();
    expect(codes(await racing)).toEqual(Array(64).fill("OK"));
    expect(await posted(payer)).toBe("0.00");
    for (const account of [payer, ...payees]) await expectExactHistory(account);
  });

  it("an outage on the first: the chained batch is decided again on what was committed", async () => {
    const { payer, payees } = await payerAndPayees("40.00");
    faulty.failNextAppend("refuse");
    batches.length = 0;
    const settled = await hotPostings(payer, payees, "1.00");
    // Decided on the 8.00 the first batch would have left, only 8 of the chained 32 could pay;
    // on the 40.00 actually there, all 32 do.
    expect(codes(settled)).toEqual([...Array(32).fill("FAILED"), ...Array(32).fill("OK")]);
    expect(batches).toEqual([32]);
    expect(await posted(payer)).toBe("8.00");
    for (const account of [payer, ...payees]) await expectExactHistory(account);
  });

  it("a lost reply on the first: the chained batch reads what it committed", async () => {
    const { payer, payees } = await payerAndPayees("40.00");
    faulty.failNextAppend("lose-reply");
    const settled = await hotPostings(payer, payees, "1.00");
    expect(codes(settled)).toEqual([
      ...Array(32).fill("FAILED"),
      ...Array(8).fill("OK"),
      ...Array(24).fill("INSUFFICIENT_FUNDS"),
    ]);
    expect(await posted(payer)).toBe("0.00");
    expect(await entryCount(payer)).toBe(1 + 32 + 8);
    await expectExactHistory(payer);
  });

  it("another process moves the account under the first: both are decided again, exactly", async () => {
    const { payer, payees } = await payerAndPayees("40.00");
    const openAppends = faulty.holdAppends();
    const calls = faulty.appendCalls;
    const racing = hotPostings(payer, payees, "1.00");
    await untilAppendCalled(calls);
    // The first batch is at the store's door, the chained one waits for it: another process
    // (its own pipeline) takes 10.00 from the account meanwhile.
    const other = await t.ledger.recordPosting(transfer(payer, funding, "10.00"), actor());
    expect(code(other)).toBe("OK");
    expect(faulty.appendCalls).toBe(calls + 1);
    openAppends();
    const settled = await racing;
    expect(codes(settled)).toEqual([
      ...Array(30).fill("OK"),
      ...Array(34).fill("INSUFFICIENT_FUNDS"),
    ]);
    expect(await posted(payer)).toBe("0.00");
    await expectExactHistory(payer);
  });
});
