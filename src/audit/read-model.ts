/**
 * The read models as the audit compares them: one REPEATABLE READ, read-only transaction that
 * first reads the ledger projection's checkpoint, so every later read in it shows exactly the
 * events up to that checkpoint (the projector writes its tables and its checkpoint in one
 * transaction). The replay then folds only those events into what it compares.
 */
import type pg from "pg";
import type { LogPosition } from "../eventstore/port.js";
import { entryDigestSql } from "./entry-digest.js";

/** The projection whose tables (account_balances, ledger_entries) the audit compares. */
export const ledgerProjectionName = "ledger";

/**
 * The snapshot stays open while the whole log is replayed, idle between its reads: the
 * sessions' 5 s idle-in-transaction limit (src/db/pool.ts) would end it. These bounds replace
 * it for this transaction only. A long snapshot holds back vacuum's horizon meanwhile, the
 * price of comparing every table at one instant.
 */
export const snapshotIdleMsMax = 3_600_000;
export const snapshotStatementMsMax = 600_000;

export interface BalanceRow {
  readonly accountId: string;
  readonly posted: string;
}

/** An account's ledger_entries as a count and a Σ of entry digests (entry-digest.ts). */
export interface EntryAggregate {
  readonly accountId: string;
  readonly count: number;
  readonly digest: bigint;
}

export interface EntryRow {
  readonly postingId: string;
  readonly accountId: string;
  readonly accountRevision: number;
  readonly side: string;
  readonly amount: string;
  readonly currency: string;
  readonly balanceAfter: string;
  readonly postedAt: string;
}

interface RawEntryRow {
  posting_id: string;
  account_id: string;
  account_revision: string;
  side: string;
  amount: string;
  currency: string;
  balance_after: string;
  posted_at: Date;
}

const entryColumns = `e.posting_id::text, e.account_id::text, e.account_revision::text, e.side,
  e.amount::text, e.currency::text, e.balance_after::text, e.posted_at`;

export class ReadModelSnapshot {
  private constructor(
    private readonly client: pg.PoolClient,
    /** Undefined: the projection has not projected anything. */
    readonly checkpoint: LogPosition | undefined,
  ) {}

  static async open(pool: pg.Pool): Promise<ReadModelSnapshot> {
    const client = await pool.connect();
    try {
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      await client.query(
        `SET LOCAL idle_in_transaction_session_timeout = ${snapshotIdleMsMax};
         SET LOCAL statement_timeout = ${snapshotStatementMsMax}`,
      );
      const result = await client.query<{ commit: string; prepare: string }>(
        `SELECT commit_position::text AS commit, prepare_position::text AS prepare
           FROM projection_checkpoints WHERE name = $1`,
        [ledgerProjectionName],
      );
      const row = result.rows[0];
      const checkpoint =
        row === undefined
          ? undefined
          : { commit: BigInt(row.commit), prepare: BigInt(row.prepare) };
      return new ReadModelSnapshot(client, checkpoint);
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      client.release();
      throw error;
    }
  }

  /** Every account's posted balance, or one account's. */
  async balances(accountId?: string): Promise<BalanceRow[]> {
    const result = await this.client.query<{ account_id: string; posted: string }>(
      `SELECT account_id::text, posted::text FROM account_balances
        ${accountId === undefined ? "" : "WHERE account_id = $1"}`,
      accountId === undefined ? [] : [accountId],
    );
    return result.rows.map((row) => ({ accountId: row.account_id, posted: row.posted }));
  }

  /** Per account: how many ledger_entries and the Σ of their digests. */
  async entryAggregates(accountId?: string): Promise<EntryAggregate[]> {
    const result = await this.client.query<{ account_id: string; count: string; digest: string }>(
      `SELECT e.account_id::text, count(*)::text AS count, sum(${entryDigestSql})::text AS digest
         FROM ledger_entries e
        ${accountId === undefined ? "" : "WHERE e.account_id = $1"}
        GROUP BY e.account_id`,
      accountId === undefined ? [] : [accountId],
    );
    return result.rows.map((row) => ({
      accountId: row.account_id,
      count: Number(row.count),
      digest: BigInt(row.digest),
    }));
  }

  /** One account's entries in revision order, for the row-by-row comparison. */
  async entriesOfAccount(accountId: string): Promise<EntryRow[]> {
    const result = await this.client.query<RawEntryRow>(
      `SELECT ${entryColumns} FROM ledger_entries e WHERE e.account_id = $1
        ORDER BY e.account_revision`,
      [accountId],
    );
    return result.rows.map(entryRow);
  }

  /** One posting's entries: its legs as the read model holds them. */
  async entriesOfPosting(postingId: string): Promise<EntryRow[]> {
    const result = await this.client.query<RawEntryRow>(
      `SELECT ${entryColumns} FROM ledger_entries e WHERE e.posting_id = $1
        ORDER BY e.account_id, e.account_revision`,
      [postingId],
    );
    return result.rows.map(entryRow);
  }

  async close(): Promise<void> {
    try {
      await this.client.query("COMMIT");
    } finally {
      this.client.release();
    }
  }

  /** After a failure: ends the transaction if the connection still can, and never throws. */
  async abandon(): Promise<void> {
    await this.client.query("ROLLBACK").catch(() => undefined);
    this.client.release(true);
  }
}

function entryRow(row: RawEntryRow): EntryRow {
  return {
    postingId: row.posting_id,
    accountId: row.account_id,
    accountRevision: Number(row.account_revision),
    side: row.side,
    amount: row.amount,
    currency: row.currency,
    balanceAfter: row.balance_after,
    postedAt: row.posted_at.toISOString(),
  };
}
