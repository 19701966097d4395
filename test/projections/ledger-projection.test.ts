import { Decimal } from "decimal.js";
import type pg from "pg";
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

  it("projects free text and JSON with tabs, newlines, backslashes and \\N exactly as written", async () => {
    const wallet = await openAccount(t.ledger);
    const awkward = "tab\there, new\nline, carriage\rreturn, back\\slash, \\N and ,commas,";
    const posted = await t.ledger.recordPosting(
      {
        ...transfer(funding, wallet, "3.00"),
        reference: `ref ${awkward} ${wallet}`,
        description: awkward,
        metadata: { note: awkward, nested: { list: [awkward, null] } },
      },
      actor(),
    );
    if (!posted.ok) throw new Error("posting failed");
    await caughtUp(posted.position);
    const header = await t.database.pool.query(
      "SELECT reference, description, metadata FROM ledger_transactions WHERE posting_id = $1",
      [posted.result.posting.id],
    );
    expect(header.rows).toEqual([
      {
        reference: `ref ${awkward} ${wallet}`,
        description: awkward,
        metadata: { note: awkward, nested: { list: [awkward, null] } },
      },
    ]);
  });

  it("projects holds, captures, reversals, overdraft lines and status changes", async () => {
    const payer = await projectedWallet();
    const payee = await projectedWallet();
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

  /**
   * Writes, as a hand at the database would, a POSTED ledger transaction `postingId` and what
   * `entries` inserts, then commits: the answer of the double-entry check.
   */
  const commitByHand = async (
    postingId: string,
    entries?: (client: pg.PoolClient) => Promise<unknown>,
  ): Promise<void> => {
    const client = await t.database.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query(
        `INSERT INTO ledger_transactions (posting_id, status, principal, created_at, position)
         VALUES ($1, 'POSTED', 'hand', now(), '0.0')`,
        [postingId],
      );
      await entries?.(client);
      await client.query("COMMIT");
    } finally {
      await client.query("ROLLBACK").catch(() => undefined);
      client.release();
    }
  };

  it("refuses a hand-inserted unbalanced ledger transaction at commit", async () => {
    const wallet = await openAccount(t.ledger);
    const posted = await t.ledger.recordPosting(transfer(funding, wallet, "1.00"), actor());
    if (!posted.ok) throw new Error("posting failed");
    await caughtUp(posted.position);
    const postingId = "00000000-0000-4000-8000-000000000001";
    // Each entry's balance_after is right, so only the double-entry check can object.
    const unbalanced = (client: pg.PoolClient) =>
      client.query(
        `INSERT INTO ledger_entries (posting_id, account_id, account_revision, side, amount, currency, balance_after, posted_at)
         SELECT $3::uuid, b.account_id, 999999, e.side, e.amount, 'XCD', b.posted + e.amount, now()
           FROM (VALUES ($1::uuid, 'DEBIT', 5::numeric), ($2::uuid, 'CREDIT', 4::numeric)) AS e(account_id, side, amount)
           JOIN account_balances b ON b.account_id = e.account_id`,
        [funding, wallet, postingId],
      );
    await expect(commitByHand(postingId, unbalanced)).rejects.toThrow(
      `ledger transaction ${postingId} does not balance in XCD: debits 5.000000, credits 4.000000`,
    );
  });

  it("refuses a hand-inserted ledger transaction with fewer than two entries at commit", async () => {
    const postingId = "00000000-0000-4000-8000-000000000002";
    await expect(commitByHand(postingId)).rejects.toThrow(
      `ledger transaction ${postingId} has fewer than two entries`,
    );
  });

  /** A new wallet whose balance row the projector has written. */
  const projectedWallet = async (): Promise<string> => {
    const opened = await t.ledger.openAccount({ accountType: "WALLET", currency: "XCD" }, actor());
    if (!opened.ok) throw new Error("opening failed");
    await caughtUp(opened.position);
    return opened.result.account.id;
  };
  /** Runs `statements` in one transaction that is always rolled back; returns its error. */
  const refusal = async (statements: ReadonlyArray<[string, unknown[]]>): Promise<unknown> => {
    const client = await t.database.pool.connect();
    try {
      await client.query("BEGIN");
      for (const [sql, params] of statements) await client.query(sql, params);
      return undefined;
    } catch (error) {
      return error;
    } finally {
      await client.query("ROLLBACK").catch(() => undefined);
      client.release();
    }
  };
  const header = (postingId: string): [string, unknown[]] => [
    `INSERT INTO ledger_transactions (posting_id, status, principal, created_at, position)
     VALUES ($1, 'POSTED', 'hand', now(), '0.0')`,
    [postingId],
  ];
  /** Two legs of 5.00: a debit of `debited` and a credit of `credited`, with the given balances after. */
  const legs = (
    postingId: string,
    debited: [account: string, balanceAfter: string],
    credited: [account: string, balanceAfter: string],
  ): [string, unknown[]] => [
    `INSERT INTO ledger_entries (posting_id, account_id, account_revision, side, amount, currency, balance_after, posted_at)
     VALUES ($1, $2, 999999, 'DEBIT', 5, 'XCD', $3, now()), ($1, $4, 999999, 'CREDIT', 5, 'XCD', $5, now())`,
    [postingId, debited[0], debited[1], credited[0], credited[1]],
  ];

  it("refuses hand-inserted entries for an account that has no balance row", async () => {
    const wallet = await projectedWallet();
    const postingId = "00000000-0000-4000-8000-000000000002";
    const error = await refusal([
      header(postingId),
      legs(postingId, ["00000000-0000-4000-8000-0000000000ff", "-5"], [wallet, "5"]),
    ]);
    expect(error).toMatchObject({
      code: "23503",
      message: "ledger entries for an account with no balance row",
    });
  });

  it("refuses entries added to a ledger transaction written in an earlier database transaction", async () => {
    const wallet = await projectedWallet();
    const posted = await t.ledger.recordPosting(transfer(funding, wallet, "1.00"), actor());
    if (!posted.ok) throw new Error("posting failed");
    await caughtUp(posted.position);
    const postingId = posted.result.posting.id;
    // Each leg's balance_after is right, so only the late-entry check can object.
    const fundingPosted = (
      await t.database.pool.query("SELECT posted FROM account_balances WHERE account_id = $1", [
        funding,
      ])
    ).rows[0]?.posted;
    const fundingAfter = new Decimal(fundingPosted).plus(5).toFixed(2);
    const error = await refusal([legs(postingId, [funding, fundingAfter], [wallet, "6.00"])]);
    expect(error).toMatchObject({
      code: "23514",
      message: `entries of ledger transaction ${postingId} must be written with its header`,
    });
  });

  it("refuses an entry that takes an account that may not go negative below zero, ", async () => {
    const payer = await projectedWallet();
    const payee = await projectedWallet();
    const postingId = "00000000-0000-4000-8000-000000000003";
    // A CREDIT-normal wallet debited 5.00 from 0: posted -5.00 (as its balance_after says).
    const error = await refusal([header(postingId), legs(postingId, [payer, "-5"], [payee, "5"])]);
    expect(error).toMatchObject({ code: "23514" });
    expect((error as Error).message).toBe(
      `account ${payer} balance check failed: posted -5.000000, write side says -5.000000, available -5.000000`,
    );
  });

  it("moves hand-inserted balanced entries into both balances, each in its normal-balance sense", async () => {
    const wallet = await projectedWallet();
    const postingId = "00000000-0000-4000-8000-000000000004";
    const client = await t.database.pool.connect();
    try {
      await client.query("BEGIN");
      const fundingBefore = (
        await client.query("SELECT posted FROM account_balances WHERE account_id = $1", [funding])
      ).rows[0]?.posted;
      // The SUSPENSE funding account is DEBIT-normal: a debit raises it; the wallet is CREDIT-normal.
      const fundingAfter = new Decimal(fundingBefore).plus(5).toFixed(2);
      await client.query(...header(postingId));
      await client.query(...legs(postingId, [funding, fundingAfter], [wallet, "5"]));
      const balances = await client.query(
        "SELECT account_id, posted::numeric(20,2)::text AS posted FROM account_balances WHERE account_id = ANY ($1::uuid[]) ORDER BY account_id = $2",
        [[funding, wallet], wallet],
      );
      expect(balances.rows).toEqual([
        { account_id: funding, posted: fundingAfter },
        { account_id: wallet, posted: "5.00" },
      ]);
    } finally {
      await client.query("ROLLBACK");
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
