import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  comparePositions,
  type LogPosition,
  parsePosition as parse,
} from "../../src/eventstore/port.js";
import { LedgerProjection } from "../../src/projections/ledger-projection.js";
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

function parsePosition(text: string): LogPosition {
  const position = parse(text);
  if (position === undefined) throw new Error(`not a position: ${text}`);
  return position;
}

describe("the ledger projection", () => {
  let t: TestLedger;
  let runner: ProjectorRunner;
  let funding: string;

  const caughtUp = async (position: string) => {
    const reached = await runner.waitFor(parsePosition(position), 10_000);
    expect(reached ? "caught up" : runner.status()).toBe("caught up");
  };
  const balanceRow = async (accountId: string) =>
    (
      await t.database.pool.query(
        "SELECT posted::text, held::text, available::text, overdraft_limit::text FROM account_balances WHERE account_id = $1",
        [accountId],
      )
    ).rows[0];

  beforeAll(async () => {
    t = await createTestLedger();
    runner = new ProjectorRunner(t.store, t.database.pool, new LedgerProjection(), {
      batchSizeMax: 200,
    });
    await runner.start();
    await defineTypes(t.ledger);
    funding = await openAccount(t.ledger, "SUSPENSE");
  });
  afterAll(async () => {
    await runner.stop();
    await t.close();
  });

  it("projects accounts, postings, entries and balances as the write side decided them", async () => {
    const wallet = await openAccount(t.ledger);
    const posted = await t.ledger.recordPosting(
      { ...transfer(funding, wallet, "40.00"), reference: "ref-1" },
      actor(),
    );
    if (!posted.ok) throw new Error("posting failed");
    await caughtUp(posted.position);
    expect(await balanceRow(wallet)).toEqual({
      posted: "40.000000",
      held: "0.000000",
      available: "40.000000",
      overdraft_limit: "0.000000",
    });
    const header = await t.database.pool.query(
      "SELECT reference, status, principal FROM ledger_transactions WHERE posting_id = $1",
      [posted.result.posting.id],
    );
    expect(header.rows).toEqual([{ reference: "ref-1", status: "POSTED", principal: "key:test" }]);
    const entries = await t.database.pool.query(
      "SELECT account_id, side, amount::text FROM ledger_entries WHERE posting_id = $1 ORDER BY side",
      [posted.result.posting.id],
    );
    expect(entries.rows).toEqual([
      { account_id: wallet, side: "CREDIT", amount: "40.000000" },
      { account_id: funding, side: "DEBIT", amount: "40.000000" },
    ]);
    const history = await t.database.pool.query(
      "SELECT old_balance::text, new_balance::text FROM account_balance_history WHERE account_id = $1",
      [wallet],
    );
    expect(history.rows).toEqual([{ old_balance: "0.000000", new_balance: "40.000000" }]);
  });

  it("projects holds, captures, reversals, overdraft lines and status changes", async () => {
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
    ok(await t.ledger.reversePosting({ postingId: extra.posting.id, reason: "test" }, actor()));
    ok(
      await t.ledger.setOverdraftLine(
        { accountId: payee, limit: { value: "5.00", currency: "XCD" } },
        actor(),
      ),
    );
    const last = await t.ledger.changeAccountStatus(
      { accountId: payee, action: "freeze", reason: "kyc" },
      actor(),
    );
    if (!last.ok) throw new Error(last.rejection.message);
    await caughtUp(last.position);
    expect(await balanceRow(payer)).toMatchObject({ posted: "90.000000", held: "0.000000" });
    expect(await balanceRow(payee)).toMatchObject({
      posted: "10.000000",
      overdraft_limit: "5.000000",
      available: "15.000000",
    });
    const holds = await t.database.pool.query(
      "SELECT status, captured_amount::text FROM holds WHERE id = $1",
      [hold.holdId],
    );
    expect(holds.rows).toEqual([{ status: "CAPTURED", captured_amount: "10.000000" }]);
    const original = await t.database.pool.query(
      "SELECT status, reversed_by FROM ledger_transactions WHERE posting_id = $1",
      [extra.posting.id],
    );
    expect(original.rows[0]?.status).toBe("REVERSED");
    const status = await t.database.pool.query("SELECT status FROM accounts WHERE id = $1", [
      payee,
    ]);
    expect(status.rows).toEqual([{ status: "FROZEN" }]);
  }, 20_000);

  it("refuses a hand-inserted unbalanced ledger transaction at commit", async () => {
    const wallet = await openAccount(t.ledger);
    const posted = await t.ledger.recordPosting(transfer(funding, wallet, "1.00"), actor());
    if (!posted.ok) throw new Error("posting failed");
    await caughtUp(posted.position);
    const client = await t.database.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query(
        `INSERT INTO ledger_transactions (posting_id, status, principal, created_at, position)
         VALUES ('00000000-0000-4000-8000-000000000001', 'POSTED', 'hand', now(), '0.0')`,
      );
      // Each entry's balance_after is right, so only the double-entry check can object.
      await client.query(
        `INSERT INTO ledger_entries (posting_id, account_id, account_revision, side, amount, currency, balance_after, posted_at)
         SELECT '00000000-0000-4000-8000-000000000001', b.account_id, 999999, e.side, e.amount, 'XCD', b.posted + e.amount, now()
           FROM (VALUES ($1::uuid, 'DEBIT', 5::numeric), ($2::uuid, 'CREDIT', 4::numeric)) AS e(account_id, side, amount)
           JOIN account_balances b ON b.account_id = e.account_id`,
        [funding, wallet],
      );
      await expect(client.query("COMMIT")).rejects.toThrow(
        /does not balance|fewer than two entries/,
      );
    } finally {
      await client.query("ROLLBACK").catch(() => undefined);
      client.release();
    }
  });

  it("a burst of postings is projected completely: lag returns to 0 and balances match", async () => {
    const wallets = await Promise.all(Array.from({ length: 20 }, () => openAccount(t.ledger)));
    const outcomes = await Promise.all(
      Array.from({ length: 2_000 }, (_, i) =>
        t.ledger.recordPosting(transfer(funding, wallets[i % 20] ?? "", "0.01"), actor()),
      ),
    );
    const positions = outcomes.flatMap((o) => (o.ok ? [o.position] : []));
    expect(positions).toHaveLength(2_000);
    const latest = positions
      .flatMap((text) => parsePosition(text) ?? [])
      .sort(comparePositions)
      .at(-1);
    if (latest === undefined) throw new Error("no position");
    const reached = await runner.waitFor(latest, 20_000);
    expect(reached ? "caught up" : runner.status()).toBe("caught up");
    expect((await runner.lag()).events).toBe(0);
    for (const wallet of wallets) expect((await balanceRow(wallet))?.posted).toBe("1.000000");
  }, 30_000);

  it("stops on an event its re-checks refuse, names it, and does not skip it", async () => {
    const wallet = await openAccount(t.ledger);
    const opened = ok(await t.ledger.recordPosting(transfer(funding, wallet, "2.00"), actor()));
    void opened;
    const first = await t.ledger.recordPosting(transfer(funding, wallet, "1.00"), actor());
    if (!first.ok) throw new Error("posting failed");
    await caughtUp(first.position);
    // Someone edits a read-model balance by hand: the next entry's re-check must catch it.
    await t.database.pool.query(
      "UPDATE account_balances SET posted = posted + 100 WHERE account_id = $1",
      [wallet],
    );
    const next = await t.ledger.recordPosting(transfer(funding, wallet, "1.00"), actor());
    if (!next.ok) throw new Error("posting failed");
    expect(await runner.waitFor(parsePosition(next.position), 3_000)).toBe(false);
    const status = runner.status();
    expect(status.state).toBe("failed");
    expect(status.failure).toMatchObject({ stream: `account-${wallet}`, type: "EntryPosted" });
    expect(status.failure?.message).toMatch(/balance check failed/);
    // Repaired, a restart projects the refused event and goes on.
    await t.database.pool.query(
      "UPDATE account_balances SET posted = posted - 100 WHERE account_id = $1",
      [wallet],
    );
    await runner.stop();
    await runner.start();
    await caughtUp(next.position);
    expect((await balanceRow(wallet))?.posted).toBe("4.000000");
  }, 20_000);
});
