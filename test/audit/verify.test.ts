/**
 * `verifyLedger` on a real ledger: a clean one verifies, and each kind of tampering an auditor
 * must catch is caught and named by stream and revision. Every tamper is undone after its test
 * (triggers switched off for the edit, as only a superuser could), so each test sees one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Discrepancy } from "../../src/audit/discrepancies.js";
import { verifyLedger } from "../../src/audit/verify.js";
import type { CommandOutcome } from "../../src/commands/pipeline.js";
import { eventHash } from "../../src/eventstore/hash-chain.js";
import { type LogPosition, parsePosition } from "../../src/eventstore/port.js";
import { LedgerProjection } from "../../src/projections/ledger-projection.js";
import { ProjectorRunner } from "../../src/projections/runner.js";
import { actor, createTestLedger, ok, type TestLedger, transfer } from "../commands/support.js";

let t: TestLedger;
let runner: ProjectorRunner;
let latest: LogPosition = { commit: 0n, prepare: 0n };
const ids = {} as Record<"funding" | "alice" | "bob" | "fees", string>;
let p1: string;
let p2: string;
let reversal: string;

async function command<Result>(run: Promise<CommandOutcome<Result>>): Promise<Result> {
  const outcome = await run;
  if (outcome.ok) latest = parsePosition(outcome.position) ?? latest;
  return ok(outcome);
}

async function open(accountType: string): Promise<string> {
  return (await command(t.ledger.openAccount({ accountType, currency: "XCD" }, actor()))).account
    .id;
}

async function projected(): Promise<void> {
  expect(await runner.waitFor(latest, 20_000)).toBe(true);
}

function verify(stream?: string, chainWorker = false) {
  return verifyLedger({ store: t.store, pool: t.database.pool, stream, pageSize: 7, chainWorker });
}

/**
 * The whole log through the store's port (`readAll`), as for a store other than Postgres: the
 * same store behind a plain object, which verifyLedger cannot read as rows.
 */
function verifyThroughPort(chainWorker = false) {
  const store = {
    readAll: t.store.readAll.bind(t.store),
    readStream: t.store.readStream.bind(t.store),
  };
  return verifyLedger({ store, pool: t.database.pool, pageSize: 7, chainWorker });
}

/** A report without its timings, to compare two verifications of one ledger. */
function untimed(report: Awaited<ReturnType<typeof verify>>) {
  return {
    ...report,
    discrepancies: sorted(report.discrepancies),
    durationMs: 0,
    eventsPerSecond: 0,
  };
}

/** Discrepancies in a fixed order: the chain worker's come after the replay's. */
function sorted(discrepancies: readonly Discrepancy[]) {
  return [...discrepancies].sort((a, b) =>
    `${a.kind}${a.stream}${a.revision}`.localeCompare(`${b.kind}${b.stream}${b.revision}`),
  );
}

/** Runs `sql` with the tables' user triggers off (the append-only guard, the read-model checks). */
async function asSuperuser(table: string, sql: string, params: unknown[] = []): Promise<void> {
  const client = await t.database.pool.connect();
  try {
    await client.query("BEGIN");
    await client.query(`ALTER TABLE ${table} DISABLE TRIGGER USER`);
    await client.query(sql, params);
    await client.query(`ALTER TABLE ${table} ENABLE TRIGGER USER`);
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK");
    throw error;
  } finally {
    client.release();
  }
}

/** The event at (stream, revision) as stored. */
async function storedEvent(stream: string, revision: number) {
  const [event] = await t.store.readStream(stream, { fromRevision: revision, limit: 1 });
  if (event === undefined) throw new Error(`no event ${stream}@${revision}`);
  return event;
}

/** The revision of the EntryPosted of `postingId` in an account's stream. */
async function entryRevision(accountId: string, postingId: string): Promise<number> {
  const events = await t.store.readStream(`account-${accountId}`, { limit: 100 });
  const entry = events.find((e) => e.type === "EntryPosted" && e.data.postingId === postingId);
  if (entry === undefined) throw new Error(`no entry of ${postingId} on ${accountId}`);
  return entry.revision;
}

function kinds(discrepancies: readonly Discrepancy[]) {
  return discrepancies.map((d) => `${d.kind} ${d.stream}@${d.revision}`);
}

beforeAll(async () => {
  t = await createTestLedger();
  runner = new ProjectorRunner(t.store, t.database.pool, new LedgerProjection());
  await runner.start();
  for (const [code, normalBalance, allowNegative] of [
    ["WALLET", "CREDIT", false],
    ["SUSPENSE", "DEBIT", true],
  ] as const) {
    await command(
      t.ledger.defineAccountType({ code, name: code, normalBalance, allowNegative }, actor()),
    );
  }
  ids.funding = await open("SUSPENSE");
  ids.alice = await open("WALLET");
  ids.bob = await open("WALLET");
  ids.fees = await open("WALLET");
  p1 = (await command(t.ledger.recordPosting(transfer(ids.funding, ids.alice, "100.00"), actor())))
    .posting.id;
  p2 = (
    await command(
      t.ledger.recordPosting(
        {
          entries: [
            { accountId: ids.alice, side: "DEBIT", amount: { value: "30.00", currency: "XCD" } },
            { accountId: ids.bob, side: "CREDIT", amount: { value: "29.50", currency: "XCD" } },
            { accountId: ids.fees, side: "CREDIT", amount: { value: "0.50", currency: "XCD" } },
          ],
        },
        actor(),
      ),
    )
  ).posting.id;
  reversal = (await command(t.ledger.reversePosting({ postingId: p2, reason: "dispute" }, actor())))
    .posting.id;
  const hold = await command(
    t.ledger.placeHold(
      { accountId: ids.alice, amount: { value: "10.00", currency: "XCD" } },
      actor(),
    ),
  );
  await command(
    t.ledger.captureHold(
      { holdId: hold.holdId, toAccountId: ids.bob, amount: { value: "4.00", currency: "XCD" } },
      actor(),
    ),
  );
  await command(t.ledger.recordPosting(transfer(ids.bob, ids.alice, "1.25"), actor()));
  await projected();
});

afterAll(async () => {
  await runner.stop();
  await t.close();
});

describe("a ledger nobody tampered with", () => {
  it("verifies: every chain, balance and posting matches, with counts of what was read", async () => {
    const report = await verify();
    expect(report.discrepancies).toEqual([]);
    const { rows } = await t.database.pool.query<{ events: string; streams: string }>(
      "SELECT count(*)::text AS events, count(DISTINCT stream)::text AS streams FROM events",
    );
    expect(report).toMatchObject({
      ok: true,
      stream: null,
      eventsRead: Number(rows[0]?.events),
      streams: Number(rows[0]?.streams),
      accounts: 4,
      // p1, p2, its reversal, the capture and the last transfer.
      postings: 5,
      eventsNotProjected: 0,
      discrepancyCount: 0,
    });
    expect(report.comparedAt).toMatch(/^\d+\.\d+$/);
    expect(report.eventsPerSecond).toBeGreaterThan(0);
    // The same with the hash chains checked on a worker thread.
    const threaded = await verify(undefined, true);
    expect({ ...threaded, durationMs: 0, eventsPerSecond: 0 }).toEqual({
      ...report,
      durationMs: 0,
      eventsPerSecond: 0,
    });
    // The same through the store's readAll, here and on the worker.
    expect(untimed(await verifyThroughPort())).toEqual(untimed(report));
    expect(untimed(await verifyThroughPort(true))).toEqual(untimed(report));
  });

  it("verifies one stream on its own: an account's or a posting's", async () => {
    const account = await verify(`account-${ids.alice}`);
    expect(account).toMatchObject({ ok: true, stream: `account-${ids.alice}`, accounts: 1 });
    const posting = await verify(`posting-${reversal}`);
    expect(posting).toMatchObject({ ok: true, postings: 1, eventsRead: 1 });
    const unknown = await verify("account-00000000-0000-4000-8000-000000000000");
    expect(unknown).toMatchObject({ ok: true, eventsRead: 0 });
  });

  it("counts events the projector has not reached as not projected, not as discrepancies", async () => {
    await runner.stop();
    try {
      await command(t.ledger.recordPosting(transfer(ids.funding, ids.bob, "2.00"), actor()));
      const report = await verify();
      expect(report.discrepancies).toEqual([]);
      // The posting stream and two account streams.
      expect(report.eventsNotProjected).toBe(3);
    } finally {
      await runner.start();
      await projected();
    }
  });
});

describe("tampering verify must catch", () => {
  it("an event edited in the store: its hash no longer matches, at that stream and revision", async () => {
    const stream = `account-${ids.alice}`;
    const revision = await entryRevision(ids.alice, p1);
    const original = await storedEvent(stream, revision);
    await asSuperuser(
      "events",
      `UPDATE events SET data = jsonb_set(data, '{amount}', '"1000.00"')
        WHERE stream = $1 AND revision = $2`,
      [stream, revision],
    );
    try {
      const report = await verify();
      expect(report.ok).toBe(false);
      const edited = { ...original.data, amount: "1000.00" };
      expect(report.discrepancies).toContainEqual({
        kind: "HASH_CHAIN",
        stream,
        revision,
        expected: eventHash(original.metadata.prevHash, { ...original, data: edited }),
        found: original.metadata.hash,
        message: expect.stringContaining("was changed"),
      });
      // The replayed amount no longer adds up to balanceAfter, nor matches the posting's leg,
      // nor the balance the read models hold.
      expect(kinds(report.discrepancies)).toEqual(
        expect.arrayContaining([
          `BALANCE_AFTER ${stream}@${revision}`,
          `POSTING_LEG_MISSING posting-${p1}@0`,
          `ENTRY_WITHOUT_LEG ${stream}@${revision}`,
        ]),
      );
      const balance = report.discrepancies.find((d) => d.kind === "READ_MODEL_BALANCE");
      expect(balance).toMatchObject({ stream, found: expect.stringMatching(/ XCD$/) });
      // The chain worker finds the same, and so does a read through the store's readAll.
      const threaded = await verify(undefined, true);
      expect(sorted(threaded.discrepancies)).toEqual(sorted(report.discrepancies));
      expect(untimed(await verifyThroughPort(true))).toEqual(untimed(report));
    } finally {
      await asSuperuser(
        "events",
        "UPDATE events SET data = $3 WHERE stream = $1 AND revision = $2",
        [stream, revision, JSON.stringify(original.data)],
      );
    }
    expect((await verify()).ok).toBe(true);
  });

  it("an event whose data was replaced by a JSON array: its hash, and a malformed entry", async () => {
    const stream = `account-${ids.alice}`;
    const revision = await entryRevision(ids.alice, p1);
    const original = await storedEvent(stream, revision);
    await asSuperuser(
      "events",
      "UPDATE events SET data = '[]'::jsonb WHERE stream = $1 AND revision = $2",
      [stream, revision],
    );
    try {
      for (const chainWorker of [false, true]) {
        const report = await verify(undefined, chainWorker);
        expect(kinds(report.discrepancies)).toEqual(
          expect.arrayContaining([
            `HASH_CHAIN ${stream}@${revision}`,
            `MALFORMED_EVENT ${stream}@${revision}`,
          ]),
        );
        const malformed = report.discrepancies.find((d) => d.kind === "MALFORMED_EVENT");
        expect(malformed).toMatchObject({ expected: "data that is a JSON object", found: "[]" });
      }
      expect(untimed(await verifyThroughPort())).toEqual(untimed(await verify()));
    } finally {
      await asSuperuser(
        "events",
        "UPDATE events SET data = $3 WHERE stream = $1 AND revision = $2",
        [stream, revision, JSON.stringify(original.data)],
      );
    }
    expect((await verify()).ok).toBe(true);
  });

  it("an event removed from the store: the revisions skip and the chain breaks", async () => {
    const stream = `account-${ids.bob}`;
    const revision = await entryRevision(ids.bob, p2);
    const { rows } = await t.database.pool.query(
      "SELECT * FROM events WHERE stream = $1 AND revision = $2",
      [stream, revision],
    );
    await asSuperuser("events", "DELETE FROM events WHERE stream = $1 AND revision = $2", [
      stream,
      revision,
    ]);
    try {
      const report = await verify();
      expect(kinds(report.discrepancies)).toEqual(
        expect.arrayContaining([
          `REVISION_GAP ${stream}@${revision + 1}`,
          `HASH_CHAIN ${stream}@${revision + 1}`,
          `POSTING_LEG_MISSING posting-${p2}@0`,
        ]),
      );
      const gap = report.discrepancies.find((d) => d.kind === "REVISION_GAP");
      expect(gap).toMatchObject({
        expected: `revision ${revision}`,
        found: `revision ${revision + 1}`,
      });
    } finally {
      await asSuperuser(
        "events",
        `INSERT INTO events (transaction_id, position, id, stream, revision, type, data, metadata, recorded_at)
         OVERRIDING SYSTEM VALUE
         SELECT transaction_id, position, id, stream, revision, type, data, metadata, recorded_at
           FROM jsonb_populate_record(NULL::events, $1::jsonb)`,
        [JSON.stringify(rows[0])],
      );
    }
    expect((await verify()).ok).toBe(true);
  });

  it("a posting whose legs were edited to unbalance it", async () => {
    const stream = `posting-${p1}`;
    const original = await storedEvent(stream, 0);
    await asSuperuser(
      "events",
      `UPDATE events SET data = jsonb_set(data, '{entries,0,amount}', '"99.00"')
        WHERE stream = $1 AND revision = 0`,
      [stream],
    );
    try {
      const report = await verify();
      const unbalanced = report.discrepancies.find((d) => d.kind === "UNBALANCED_POSTING");
      expect(unbalanced).toEqual({
        kind: "UNBALANCED_POSTING",
        stream,
        revision: 0,
        expected: "debits = credits in XCD",
        found: "debits 99.00 XCD, credits 100.00 XCD",
        message: expect.any(String),
      });
      expect(kinds(report.discrepancies)).toContain(`HASH_CHAIN ${stream}@0`);
    } finally {
      await asSuperuser(
        "events",
        "UPDATE events SET data = $2 WHERE stream = $1 AND revision = 0",
        [stream, JSON.stringify(original.data)],
      );
    }
  });

  it("a read-model balance edited by hand: expected the replayed balance, found the edit", async () => {
    const { rows } = await t.database.pool.query<{ posted: string }>(
      "SELECT posted::text FROM account_balances WHERE account_id = $1",
      [ids.bob],
    );
    const posted = rows[0]?.posted ?? "";
    await t.database.pool.query(
      "UPDATE account_balances SET posted = posted + 5 WHERE account_id = $1",
      [ids.bob],
    );
    try {
      const report = await verify();
      const events = await t.store.readStream(`account-${ids.bob}`, { limit: 100 });
      const lastEntry = events.filter((event) => event.type === "EntryPosted").at(-1);
      expect(report.discrepancies).toEqual([
        {
          kind: "READ_MODEL_BALANCE",
          stream: `account-${ids.bob}`,
          revision: lastEntry?.revision,
          expected: `${Number(posted).toFixed(2)} XCD`,
          found: `${(Number(posted) + 5).toFixed(2)} XCD`,
          message: expect.any(String),
        },
      ]);
      // The same, verifying only that account.
      const one = await verify(`account-${ids.bob}`);
      expect(kinds(one.discrepancies)).toEqual([
        `READ_MODEL_BALANCE account-${ids.bob}@${lastEntry?.revision}`,
      ]);
    } finally {
      await t.database.pool.query(
        "UPDATE account_balances SET posted = posted - 5 WHERE account_id = $1",
        [ids.bob],
      );
    }
  });

  it("a ledger entry missing from the read model: named by its account stream and revision", async () => {
    const revision = await entryRevision(ids.fees, p2);
    const { rows } = await t.database.pool.query(
      "SELECT * FROM ledger_entries WHERE account_id = $1 AND account_revision = $2",
      [ids.fees, revision],
    );
    expect(rows).toHaveLength(1);
    await t.database.pool.query(
      "DELETE FROM ledger_entries WHERE account_id = $1 AND account_revision = $2",
      [ids.fees, revision],
    );
    try {
      const report = await verify();
      expect(report.discrepancies).toEqual([
        {
          kind: "READ_MODEL_ENTRY_MISSING",
          stream: `account-${ids.fees}`,
          revision,
          expected: expect.stringMatching(new RegExp(`^CREDIT 0\\.50 XCD of posting ${p2}`)),
          found: "no ledger_entries row",
          message: expect.any(String),
        },
      ]);
      // Verifying the posting's stream alone finds the missing leg too.
      const posting = await verify(`posting-${p2}`);
      expect(kinds(posting.discrepancies)).toEqual([`READ_MODEL_ENTRY_MISSING posting-${p2}@0`]);
    } finally {
      await asSuperuser(
        "ledger_entries",
        `INSERT INTO ledger_entries SELECT * FROM jsonb_populate_record(NULL::ledger_entries, $1::jsonb)`,
        [JSON.stringify(rows[0])],
      );
    }
    expect((await verify()).ok).toBe(true);
  });

  it("a ledger entry edited in the read model, and one added with no event behind it", async () => {
    const revision = await entryRevision(ids.alice, p1);
    await asSuperuser(
      "ledger_entries",
      "UPDATE ledger_entries SET amount = 90 WHERE account_id = $1 AND account_revision = $2",
      [ids.alice, revision],
    );
    await asSuperuser(
      "ledger_entries",
      `INSERT INTO ledger_entries (posting_id, account_id, account_revision, side, amount, currency, balance_after, posted_at)
       VALUES ($1, $2, 999, 'CREDIT', 1, 'XCD', 1, now())`,
      [p1, ids.bob],
    );
    try {
      const report = await verify();
      expect(kinds(report.discrepancies).sort()).toEqual(
        [
          `READ_MODEL_ENTRY_DIFFERS account-${ids.alice}@${revision}`,
          `READ_MODEL_ENTRY_UNKNOWN account-${ids.bob}@999`,
        ].sort(),
      );
      const differs = report.discrepancies.find((d) => d.kind === "READ_MODEL_ENTRY_DIFFERS");
      expect(differs?.expected).toContain("CREDIT 100.00 XCD");
      expect(differs?.found).toContain("CREDIT 90.00 XCD");
    } finally {
      await asSuperuser(
        "ledger_entries",
        "UPDATE ledger_entries SET amount = 100 WHERE account_id = $1 AND account_revision = $2",
        [ids.alice, revision],
      );
      await asSuperuser(
        "ledger_entries",
        "DELETE FROM ledger_entries WHERE account_id = $1 AND account_revision = 999",
        [ids.bob],
      );
    }
    expect((await verify()).ok).toBe(true);
  });
});
