/**
 * Projects configuration and domain transactions into the read models of migrations/008:
 * transaction types with their template legs, the account-type permissions, the limits and
 * the domain transactions with their status history. It runs beside the ledger projection on a
 * checkpoint of its own ("transactions"), so neither waits for the other.
 *
 * Transactions are written set-based: a batch's new transactions are folded in memory (a
 * transaction's TransactionRequested and its TransactionPosted or TransactionFailed arrive in
 * one commit) and inserted in one statement, their history rows in another. Only a change to
 * a transaction from an earlier batch (a reversal) is an UPDATE of its own.
 */
import type pg from "pg";
import { streamPrefixes } from "../domain/streams.js";
import { formatPosition, type RecordedEvent } from "../eventstore/port.js";

type Data = Record<string, unknown>;

interface TransactionRow {
  id: string;
  transaction_type: string;
  transaction_type_version: number | null;
  status: string;
  amount: string;
  currency: string;
  parties: unknown;
  account_ids: unknown;
  posting_id: string | null;
  reversal_posting_id: string | null;
  reference: string | null;
  description: string | null;
  metadata: unknown;
  failure: unknown;
  principal: string;
  created_at: string;
  updated_at: string;
  position: string;
}

interface StatusChange {
  id: string;
  status: string;
  posting_id: string | null;
  reversal_posting_id: string | null;
  failure: unknown;
  at: string;
  position: string;
}

interface HistoryRow {
  transaction_id: string;
  status: string;
  reason: string | null;
  changed_at: string;
}

/** The configuration events apply() writes; the rest it reads are the transactions' own. */
const configurationTypes = ["TransactionTypeDefined", "AccountTypeTransactionTypesSet", "LimitSet"];

export class TransactionsProjection {
  readonly name = "transactions";
  /**
   * Only what apply() writes is read: the ledger's own events (most of the log) are passed
   * over in the database, their data and metadata never sent.
   */
  readonly filter = {
    streamPrefixes: [streamPrefixes.transaction],
    eventTypes: configurationTypes,
  };

  async apply(client: pg.PoolClient, events: readonly RecordedEvent[]): Promise<void> {
    const batch = new TransactionBatch();
    for (const event of events) {
      const data = event.data as Data;
      if (event.stream.startsWith(streamPrefixes.transaction)) {
        batch.add(event, data);
      } else if (event.type === "TransactionTypeDefined") {
        await defineTransactionType(client, event, data);
      } else if (event.type === "AccountTypeTransactionTypesSet") {
        await setPermissions(client, data);
      } else if (event.type === "LimitSet") {
        await setLimit(client, event, data);
      }
    }
    await batch.write(client);
  }
}

/**
 * The transaction events of one projector batch, folded before they are written. A FAILED
 * transaction may name parties that are not account ids at all (it failed for that): only
 * UUIDs go into account_ids, the parties are kept as asked.
 */
class TransactionBatch {
  private readonly created = new Map<string, TransactionRow>();
  private readonly changes: StatusChange[] = [];
  private readonly history: HistoryRow[] = [];

  add(event: RecordedEvent, data: Data): void {
    const position = formatPosition(event.position);
    const id = String(data.transactionId);
    const at = String(data.at);
    if (event.type === "TransactionRequested") {
      this.created.set(id, requestedRow(event, data, position));
      this.history.push({ transaction_id: id, status: "PENDING", reason: null, changed_at: at });
      return;
    }
    const change = statusChange(event.type, id, data, position);
    if (change === undefined) return;
    this.history.push({
      transaction_id: id,
      status: change.status,
      reason: reasonOf(event.type, data),
      changed_at: at,
    });
    const row = this.created.get(id);
    if (row === undefined) {
      this.changes.push(change);
      return;
    }
    row.status = change.status;
    row.posting_id = change.posting_id ?? row.posting_id;
    row.reversal_posting_id = change.reversal_posting_id ?? row.reversal_posting_id;
    row.failure = change.failure ?? row.failure;
    row.updated_at = at;
    row.position = position;
  }

  async write(client: pg.PoolClient): Promise<void> {
    if (this.created.size > 0) {
      await client.query(
        `INSERT INTO domain_transactions (id, transaction_type, transaction_type_version, status,
           amount, currency, parties, account_ids, posting_id, reversal_posting_id, reference,
           description, metadata, failure, principal, created_at, updated_at, position)
         SELECT id, transaction_type, transaction_type_version, status, amount, currency, parties,
                ARRAY(SELECT a FROM jsonb_array_elements_text(account_ids) AS a
                       WHERE a ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                     )::uuid[], posting_id,
                reversal_posting_id, reference, description, metadata, failure, principal,
                created_at, updated_at, position
           FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, transaction_type text,
                transaction_type_version integer, status text, amount numeric, currency text,
                parties jsonb, account_ids jsonb, posting_id uuid, reversal_posting_id uuid,
                reference text, description text, metadata jsonb, failure jsonb,
                principal text, created_at timestamptz, updated_at timestamptz, position text)`,
        [JSON.stringify([...this.created.values()])],
      );
    }
    for (const change of this.changes) await applyChange(client, change);
    if (this.history.length > 0) {
      await client.query(
        `INSERT INTO domain_transaction_history (transaction_id, status, reason, changed_at)
         SELECT transaction_id, status, reason, changed_at
           FROM jsonb_to_recordset($1::jsonb) AS x(transaction_id uuid, status text,
                reason text, changed_at timestamptz, n integer)
          ORDER BY n`,
        [JSON.stringify(this.history.map((row, n) => ({ ...row, n })))],
      );
    }
  }
}

function requestedRow(event: RecordedEvent, data: Data, position: string): TransactionRow {
  const amount = data.amount as { value: string; currency: string };
  return {
    id: String(data.transactionId),
    transaction_type: String(data.transactionType),
    transaction_type_version: (data.transactionTypeVersion as number | null) ?? null,
    status: "PENDING",
    amount: amount.value,
    currency: amount.currency,
    parties: data.parties,
    account_ids: data.accountIds,
    posting_id: null,
    reversal_posting_id: null,
    reference: (data.reference as string | null) ?? null,
    description: (data.description as string | null) ?? null,
    metadata: data.metadata ?? {},
    failure: null,
    principal: event.metadata.principal,
    created_at: String(data.at),
    updated_at: String(data.at),
    position,
  };
}

function statusChange(
  type: string,
  id: string,
  data: Data,
  position: string,
): StatusChange | undefined {
  const at = String(data.at);
  const base = { id, at, position, posting_id: null, reversal_posting_id: null, failure: null };
  switch (type) {
    case "TransactionPosted":
      return { ...base, status: "POSTED", posting_id: String(data.postingId) };
    case "TransactionFailed":
      return {
        ...base,
        status: "FAILED",
        failure: {
          code: data.code,
          message: data.message,
          details: data.details ?? null,
          errors: data.errors ?? null,
        },
      };
    case "TransactionReversed":
      return { ...base, status: "REVERSED", reversal_posting_id: String(data.reversalPostingId) };
    default:
      return undefined;
  }
}

function reasonOf(type: string, data: Data): string | null {
  if (type === "TransactionFailed") return String(data.message);
  if (type === "TransactionReversed") return String(data.reason);
  return null;
}

async function applyChange(client: pg.PoolClient, change: StatusChange): Promise<void> {
  const updated = await client.query(
    `UPDATE domain_transactions
        SET status = $2, posting_id = COALESCE($3, posting_id),
            reversal_posting_id = COALESCE($4, reversal_posting_id),
            failure = COALESCE($5::jsonb, failure), updated_at = $6, position = $7
      WHERE id = $1`,
    [
      change.id,
      change.status,
      change.posting_id,
      change.reversal_posting_id,
      change.failure === null ? null : JSON.stringify(change.failure),
      change.at,
      change.position,
    ],
  );
  // The write side appends a change only to a requested transaction: its row must exist.
  if (updated.rowCount !== 1) {
    throw new Error(`transaction ${change.id} changed to ${change.status} before it was requested`);
  }
}

async function defineTransactionType(
  client: pg.PoolClient,
  event: RecordedEvent,
  data: Data,
): Promise<void> {
  await client.query(
    `INSERT INTO transaction_types (code, description, requires_two_factor, allowed_account_types,
       version, created_at, position)
     VALUES ($1, $2, $3, $4, 1, $5, $6)
     ON CONFLICT (code) DO UPDATE
       SET description = EXCLUDED.description, requires_two_factor = EXCLUDED.requires_two_factor,
           allowed_account_types = EXCLUDED.allowed_account_types,
           version = transaction_types.version + 1, position = EXCLUDED.position`,
    [
      data.code,
      data.description,
      data.requiresTwoFactor,
      data.allowedAccountTypes === null ? null : JSON.stringify(data.allowedAccountTypes),
      data.definedAt,
      formatPosition(event.position),
    ],
  );
  await client.query("DELETE FROM transaction_type_postings WHERE transaction_type = $1", [
    data.code,
  ]);
  await client.query(
    `INSERT INTO transaction_type_postings (transaction_type, leg, side, role, account_id,
       account_type, percent)
     SELECT $1, leg, side, role, "accountId", "accountType", percent
       FROM jsonb_to_recordset($2::jsonb) AS x(leg integer, side text, role text,
            "accountId" uuid, "accountType" text, percent numeric)`,
    [
      data.code,
      JSON.stringify((data.postings as Data[]).map((leg, index) => ({ ...leg, leg: index }))),
    ],
  );
}

async function setPermissions(client: pg.PoolClient, data: Data): Promise<void> {
  await client.query("DELETE FROM account_type_transaction WHERE account_type = $1", [data.code]);
  await client.query(
    `INSERT INTO account_type_transaction (account_type, transaction_type, granted_at)
     SELECT $1, unnest($2::text[]), $3`,
    [data.code, data.transactionTypes, data.at],
  );
}

/** A limit with every field null was removed: its row goes. */
async function setLimit(client: pg.PoolClient, event: RecordedEvent, data: Data): Promise<void> {
  const removed =
    data.perTransactionMax === null &&
    data.dailyAmountMax === null &&
    data.dailyCountMax === null &&
    data.monthlyAmountMax === null;
  if (removed) {
    await client.query(
      "DELETE FROM transaction_limits WHERE account_type = $1 AND transaction_type = $2",
      [data.accountType, data.transactionType],
    );
    return;
  }
  await client.query(
    `INSERT INTO transaction_limits (account_type, transaction_type, per_transaction_max,
       daily_amount_max, daily_count_max, monthly_amount_max, updated_at, position)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (account_type, transaction_type) DO UPDATE
       SET per_transaction_max = EXCLUDED.per_transaction_max,
           daily_amount_max = EXCLUDED.daily_amount_max,
           daily_count_max = EXCLUDED.daily_count_max,
           monthly_amount_max = EXCLUDED.monthly_amount_max,
           updated_at = EXCLUDED.updated_at, position = EXCLUDED.position`,
    [
      data.accountType,
      data.transactionType,
      data.perTransactionMax,
      data.dailyAmountMax,
      data.dailyCountMax,
      data.monthlyAmountMax,
      data.setAt,
      formatPosition(event.position),
    ],
  );
}
