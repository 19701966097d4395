import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventStore, ReadAllOptions, ReadAllResult } from "../../src/eventstore/port.js";
import { readCheckpoint } from "../../src/projections/checkpoints.js";
import { LedgerProjection } from "../../src/projections/ledger-projection.js";
import { ledgerReadModels } from "../../src/projections/read-models.js";
import { RebuildRefused, rebuildProjection } from "../../src/projections/rebuild.js";
import { ProjectorRunner } from "../../src/projections/runner.js";
import {
  actor,
  createTestLedger,
  defineTypes,
  ok,
  openAccount,
  type TestLedger,
  transfer,
} from "../commands/support.js";
import { appendUnprojectableAccount } from "../support/events.js";
import { checksums, discrepancies, position, transfers } from "./support.js";

/**
 * A real store whose n-th readAll (counted from `pauseRead`) is held until released; every
 * other member is the real store's, whatever the port grows.
 */
class PausableStore {
  readonly store: EventStore;
  private reads = 0;
  private pause: { at: number; reached: () => void; released: Promise<void> } | undefined;

  constructor(real: EventStore) {
    const readAll = (options?: ReadAllOptions) => this.readAll(real, options);
    this.store = new Proxy(real, {
      get(target, property) {
        if (property === "readAll") return readAll;
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  }

  pauseRead(at: number): { reached: Promise<void>; release: () => void } {
    let reached = () => {};
    let release = () => {};
    const reachedPromise = new Promise<void>((resolve) => {
      reached = resolve;
    });
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.pause = { at: this.reads + at, reached, released };
    return { reached: reachedPromise, release };
  }

  private async readAll(real: EventStore, options?: ReadAllOptions): Promise<ReadAllResult> {
    this.reads++;
    const pause = this.pause;
    if (pause !== undefined && pause.at === this.reads) {
      pause.reached();
      await pause.released;
    }
    return real.readAll(options);
  }
}

describe("nova projections rebuild", () => {
  let t: TestLedger;
  let live: ProjectorRunner;
  let funding: string;
  let wallets: string[];
  let head: string;

  const tableOid = async (table: string) =>
    (await t.database.pool.query("SELECT $1::regclass::oid AS oid", [table])).rows[0]?.oid;
  const scratchSchemas = async () =>
    (
      await t.database.pool.query(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'nova_rebuild_%'",
      )
    ).rows;
  /** What the server's least-privilege role may do (migration 007), per table and function. */
  const rights = async () =>
    (
      await t.database.pool.query(
        `SELECT relname, relacl::text FROM pg_class
          WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p', 'S')
          UNION ALL
         SELECT proname, prosecdef::text FROM pg_proc WHERE pronamespace = 'public'::regnamespace
          ORDER BY 1`,
      )
    ).rows;
  const rebuild = (store: EventStore = t.store, batchSizeMax = 50) =>
    rebuildProjection({
      pool: t.database.pool,
      store,
      projection: new LedgerProjection(),
      batchSizeMax,
    });

  /** Every event type the ledger projection shows, so a rebuild has all of them to replay. */
  async function everyKindOfEvent(): Promise<string> {
    const payer = await openAccount(t.ledger);
    const payee = await openAccount(t.ledger);
    ok(await t.ledger.recordPosting(transfer(funding, payer, "100.00"), actor()));
    const extra = ok(await t.ledger.recordPosting(transfer(funding, payer, "20.00"), actor()));
    const hold = ok(
      await t.ledger.placeHold(
        { accountId: payer, amount: { value: "30.00", currency: "XCD" } },
        actor(),
      ),
    );
    ok(
      await t.ledger.captureHold(
        { holdId: hold.holdId, toAccountId: payee, amount: { value: "10.00", currency: "XCD" } },
        actor(),
      ),
    );
    const released = ok(
      await t.ledger.placeHold(
        { accountId: payee, amount: { value: "1.00", currency: "XCD" } },
        actor(),
      ),
    );
    ok(await t.ledger.releaseHold({ holdId: released.holdId }, actor()));
    ok(await t.ledger.reversePosting({ postingId: extra.posting.id, reason: "test" }, actor()));
    ok(
      await t.ledger.setOverdraftLine(
        { accountId: payee, limit: { value: "5.00", currency: "XCD" } },
        actor(),
      ),
    );
    const frozen = await t.ledger.changeAccountStatus(
      { accountId: payee, action: "freeze", reason: "kyc" },
      actor(),
    );
    if (!frozen.ok) throw new Error(frozen.rejection.message);
    return frozen.position;
  }

  beforeAll(async () => {
    t = await createTestLedger();
    live = new ProjectorRunner(t.store, t.database.pool, new LedgerProjection(), {
      batchSizeMax: 100,
    });
    await live.start();
    await defineTypes(t.ledger);
    funding = await openAccount(t.ledger, "SUSPENSE");
    wallets = await Promise.all(Array.from({ length: 6 }, () => openAccount(t.ledger)));
    await transfers(t, funding, wallets, 120);
    await transfers(t, funding, wallets.slice(0, 1), 10);
    await everyKindOfEvent();
    head = await transfers(t, funding, wallets, 60);
    expect(await live.waitFor(position(head), 15_000)).toBe(true);
  }, 60_000);
  afterAll(async () => {
    await live.stop();
    await t.close();
  });

  it("produces tables identical to the live ones, replaces them and moves nothing else", async () => {
    const before = await checksums(t.database.pool);
    const entriesBefore = await tableOid("ledger_entries");
    const checkpointBefore = await readCheckpoint(t.database.pool, "ledger");
    const rightsBefore = await rights();
    expect(rightsBefore).toContainEqual({
      relname: "ensure_ledger_entry_partitions",
      relacl: "true",
    });

    const report = await rebuild();

    expect(await checksums(t.database.pool)).toEqual(before);
    expect(await rights()).toEqual(rightsBefore);
    expect(await tableOid("ledger_entries")).not.toBe(entriesBefore);
    expect(await scratchSchemas()).toEqual([]);
    const after = await readCheckpoint(t.database.pool, "ledger");
    expect(after?.position).toEqual(checkpointBefore?.position);
    expect(after?.eventsProjected).toBe(checkpointBefore?.eventsProjected);
    expect(report.eventsProjected).toBe(checkpointBefore?.eventsProjected);
    // The rebuilt indexes and triggers are in place: the unbalanced-posting re-check still fires.
    const indexes = await t.database.pool.query(
      "SELECT count(*) AS n FROM pg_indexes WHERE indexname = 'ledger_transactions_created_idx'",
    );
    expect(indexes.rows[0]?.n).toBe("1");
    await expect(
      t.database.pool.query(
        `INSERT INTO ledger_transactions (posting_id, status, principal, created_at, position)
         VALUES ('00000000-0000-4000-8000-00000000000a', 'POSTED', 'hand', now(), '0.0')`,
      ),
    ).rejects.toThrow(/fewer than two entries/);
  }, 30_000);

  it("keeps the live tables serving and the live projector projecting during the rebuild, and projection goes on after the switch", async () => {
    const pausable = new PausableStore(t.store);
    const paused = pausable.pauseRead(3);
    const rebuilt = rebuild(pausable.store);
    await paused.reached;

    // Mid-replay: the live read models answer, and new postings are projected into them.
    const during = await transfers(t, funding, wallets, 30);
    expect(await live.waitFor(position(during), 10_000)).toBe(true);
    expect(await discrepancies(t.database.pool)).toEqual([]);
    expect(await scratchSchemas()).toHaveLength(1);

    paused.release();
    await rebuilt;
    expect(await scratchSchemas()).toEqual([]);

    const after = await transfers(t, funding, wallets, 30);
    expect(await live.waitFor(position(after), 10_000)).toBe(true);
    expect(live.status()).toMatchObject({ state: "running", failure: null });
    expect(await discrepancies(t.database.pool)).toEqual([]);
    const events = await t.database.pool.query("SELECT count(*) AS n FROM events");
    expect((await readCheckpoint(t.database.pool, "ledger"))?.eventsProjected).toBe(
      Number(events.rows[0]?.n),
    );
  }, 30_000);

  it("switches over safely while postings keep arriving and the live projector keeps running", async () => {
    let writing = true;
    const writer = (async () => {
      let last = "";
      while (writing) last = await transfers(t, funding, wallets, 6, 2);
      return last;
    })();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await rebuild(t.store, 200);
    writing = false;
    const last = await writer;
    expect(await live.waitFor(position(last), 10_000)).toBe(true);
    expect(live.status()).toMatchObject({ state: "running", failure: null });
    expect(await discrepancies(t.database.pool)).toEqual([]);
  }, 30_000);

  it("refuses to switch when a live table differs from what the read-model migrations make, and changes nothing", async () => {
    await t.database.pool.query("ALTER TABLE holds ADD COLUMN note text");
    try {
      const entries = await tableOid("ledger_entries");
      await expect(rebuild()).rejects.toThrow(RebuildRefused);
      await expect(rebuild()).rejects.toThrow(/live table public\.holds differs/);
      expect(await tableOid("ledger_entries")).toBe(entries);
      expect(await scratchSchemas()).toEqual([]);
    } finally {
      await t.database.pool.query("ALTER TABLE holds DROP COLUMN note");
    }
  }, 30_000);

  it("builds partitioned indexes after the replay, partitions included, and adds the foreign keys back", async () => {
    const before = await checksums(t.database.pool);
    const foreignKeys = async () =>
      (
        await t.database.pool.query(
          `SELECT conrelid::regclass::text AS table, conname, pg_get_constraintdef(oid) AS definition
             FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND contype = 'f'
            ORDER BY 1, 2`,
        )
      ).rows;
    /** Each partition of ledger_entries with the indexes it has, by their parents' names. */
    const partitionIndexes = async () =>
      (
        await t.database.pool.query(
          `SELECT p.inhrelid::regclass::text AS partition,
                  string_agg(parent.relname, ', ' ORDER BY parent.relname) AS indexes
             FROM pg_inherits p
             JOIN pg_index i ON i.indrelid = p.inhrelid
             JOIN pg_inherits ip ON ip.inhrelid = i.indexrelid
             JOIN pg_class parent ON parent.oid = ip.inhparent
            WHERE p.inhparent = 'ledger_entries'::regclass
            GROUP BY 1 ORDER BY 1`,
        )
      ).rows;
    const keysBefore = await foreignKeys();
    const indexesBefore = await partitionIndexes();
    expect(keysBefore.length).toBeGreaterThan(0);
    expect(indexesBefore[0]?.indexes).toBe(
      "ledger_entries_account_idx, ledger_entries_pkey, ledger_entries_posting_idx",
    );

    await rebuildProjection({
      pool: t.database.pool,
      store: t.store,
      projection: new LedgerProjection(),
      batchSizeMax: 50,
      readModels: {
        ...ledgerReadModels,
        indexesBuiltAfterReplay: [
          ...ledgerReadModels.indexesBuiltAfterReplay,
          "ledger_entries_account_idx",
          "ledger_entries_posting_idx",
        ],
      },
    });

    expect(await checksums(t.database.pool)).toEqual(before);
    expect(await foreignKeys()).toEqual(keysBefore);
    expect(await partitionIndexes()).toEqual(indexesBefore);
  }, 30_000);

  it("refuses a second rebuild of the same projection while one runs", async () => {
    const holder = await t.database.pool.connect();
    try {
      await holder.query("SELECT pg_advisory_lock(1313821251, hashtext('ledger'))");
      await expect(rebuild()).rejects.toThrow(/another rebuild of projection "ledger" is running/);
    } finally {
      await holder.query("SELECT pg_advisory_unlock(1313821251, hashtext('ledger'))");
      holder.release();
    }
  });
});

describe("nova projections rebuild, on a log with a write-side bug", () => {
  let t: TestLedger;

  beforeAll(async () => {
    t = await createTestLedger();
  });
  afterAll(async () => {
    await t.close();
  });

  it("refuses to switch over when the set-based double-entry re-check finds an unbalanced posting", async () => {
    await defineTypes(t.ledger);
    const debited = await openAccount(t.ledger, "SUSPENSE");
    const credited = await openAccount(t.ledger, "SUSPENSE");
    // What a buggy write side could append: legs that do not balance (5 against 4), each with
    // a correct running balance, so only the double-entry check can object.
    const postingId = randomUUID();
    const at = new Date().toISOString();
    const leg = (side: "DEBIT" | "CREDIT", amount: string, balanceAfter: string) => ({
      type: "EntryPosted",
      data: { postingId, side, amount, currency: "XCD", balanceAfter, at },
    });
    await t.store.appendMulti(
      [
        {
          stream: `posting-${postingId}`,
          expected: "no_stream",
          events: [
            {
              type: "PostingRecorded",
              data: {
                postingId,
                transactionType: null,
                reference: null,
                description: null,
                entries: [],
                metadata: {},
                requestHash: "bug",
                reverses: null,
                holdId: null,
                createdAt: at,
              },
            },
          ],
        },
        { stream: `account-${debited}`, expected: 0, events: [leg("DEBIT", "5.00", "5.00")] },
        { stream: `account-${credited}`, expected: 0, events: [leg("CREDIT", "4.00", "-4.00")] },
      ],
      { correlationId: randomUUID(), principal: "bug", occurredAt: new Date() },
    );
    const ledgerEntries = async () =>
      (await t.database.pool.query("SELECT $1::regclass::oid AS oid", ["ledger_entries"])).rows[0];
    const before = await ledgerEntries();

    const rebuilt = rebuildProjection({
      pool: t.database.pool,
      store: t.store,
      projection: new LedgerProjection(),
    });

    await expect(rebuilt).rejects.toThrow(RebuildRefused);
    await expect(rebuilt).rejects.toThrow(
      new RegExp(`ledger transaction ${postingId} does not balance`),
    );
    expect(await ledgerEntries()).toEqual(before);
    const scratch = await t.database.pool.query(
      "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'nova_rebuild_%'",
    );
    expect(scratch.rows).toEqual([]);
  });
});

describe("nova projections rebuild, on a log whose rows break a foreign key", () => {
  let t: TestLedger;

  beforeAll(async () => {
    t = await createTestLedger();
  });
  afterAll(async () => {
    await t.close();
  });

  it("refuses to switch over when a foreign key, added back after the replay, finds a row without its parent", async () => {
    await defineTypes(t.ledger);
    await openAccount(t.ledger);
    // What a buggy write side could append: an account of a type that was never defined.
    await appendUnprojectableAccount(t.store);
    const ledgerEntries = async () =>
      (await t.database.pool.query("SELECT $1::regclass::oid AS oid", ["ledger_entries"])).rows[0];
    const before = await ledgerEntries();

    const rebuilt = rebuildProjection({
      pool: t.database.pool,
      store: t.store,
      projection: new LedgerProjection(),
    });

    await expect(rebuilt).rejects.toThrow(RebuildRefused);
    await expect(rebuilt).rejects.toThrow(/accounts_account_type_fkey/);
    expect(await ledgerEntries()).toEqual(before);
    const scratch = await t.database.pool.query(
      "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'nova_rebuild_%'",
    );
    expect(scratch.rows).toEqual([]);
  });
});
