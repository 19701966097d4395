/**
 * Projects the ledger's events into the read models of migrations/002. A batch is applied in
 * one SQL transaction: first the records everything else refers to (account types, accounts,
 * posting headers), then the rest in log order, with entries written set-based (one INSERT
 * for a run of entries, so the balance trigger runs once per run, not once per row). A hold or
 * an overdraft change ends a run, so the balance checks see each account as the write side did.
 */
import type pg from "pg";
import { streamPrefixes } from "../domain/streams.js";
import {
  comparePositions,
  formatPosition,
  type LogPosition,
  type RecordedEvent,
} from "../eventstore/port.js";

const accountPrefix = streamPrefixes.account;

type Data = Record<string, unknown>;

interface EntryRow {
  posting_id: string;
  account_id: string;
  account_revision: number;
  side: string;
  amount: string;
  currency: string;
  balance_after: string;
  posted_at: string;
}

/** Months of ledger_entries partitions kept ready beyond the newest entry seen. */
const partitionMonthsAhead = 2;

export class LedgerProjection {
  readonly name = "ledger";
  private readonly partitionMonthsReady = new Set<string>();

  /** The tables were replaced or a transaction that made partitions rolled back. */
  reset(): void {
    this.partitionMonthsReady.clear();
  }

  async apply(client: pg.PoolClient, events: readonly RecordedEvent[]): Promise<void> {
    await this.insertRecords(client, events);
    let entries: EntryRow[] = [];
    const flush = async () => {
      if (entries.length === 0) return;
      await this.insertEntries(client, entries);
      entries = [];
    };
    for (const event of events) {
      const data = event.data as Data;
      if (event.type === "EntryPosted") {
        entries.push(entryRow(event, data));
        continue;
      }
      if (changesBalances(event.type)) await flush();
      await applyChange(client, event, data);
    }
    await flush();
  }

  /** Account types, accounts with their balance rows, and posting headers: the referenced rows. */
  private async insertRecords(
    client: pg.PoolClient,
    events: readonly RecordedEvent[],
  ): Promise<void> {
    const types: Data[] = [];
    const accounts: Data[] = [];
    const postings: Data[] = [];
    const keyed: Data[] = [];
    const commits = commitPositions(events);
    for (const event of events) {
      const data = event.data as Data;
      const created = keyedCreation(event, data);
      if (created !== undefined) {
        keyed.push({
          ...created,
          principal: event.metadata.principal,
          key: event.metadata.idempotencyKey,
          at: event.metadata.occurredAt,
          position: formatPosition(commits.get(event.position.commit) ?? event.position),
        });
      }
      if (event.type === "AccountTypeDefined") types.push(data);
      else if (event.type === "AccountOpened") accounts.push(data);
      else if (event.type === "PostingRecorded") {
        // The legs' amounts and balances come as EntryPosted events; these are only their order.
        postings.push({
          postingId: data.postingId,
          entries: data.entries,
          reference: data.reference,
          transactionType: data.transactionType,
          description: data.description,
          reverses: data.reverses,
          holdId: data.holdId,
          metadata: data.metadata,
          createdAt: data.createdAt,
          principal: event.metadata.principal,
          // The commit's position, as the command answered it (not the event's own).
          position: formatPosition(commits.get(event.position.commit) ?? event.position),
        });
      }
    }
    if (types.length > 0) {
      await client.query(
        `INSERT INTO account_types (code, name, normal_balance, allow_negative, metadata_schema, created_at)
         SELECT code, name, "normalBalance", "allowNegative", "metadataSchema", "definedAt"
           FROM jsonb_to_recordset($1::jsonb) AS x(code text, name text, "normalBalance" text,
                "allowNegative" boolean, "metadataSchema" jsonb, "definedAt" timestamptz)`,
        [JSON.stringify(types)],
      );
    }
    if (accounts.length > 0) {
      await client.query(
        `WITH opened AS (
           SELECT * FROM jsonb_to_recordset($1::jsonb) AS x("accountId" uuid, "accountType" text,
             "normalBalance" text, "allowNegative" boolean, currency text, country text,
             "ownerId" text, name text, metadata jsonb, "openedAt" timestamptz)
         ), inserted AS (
           INSERT INTO accounts (id, account_type, currency, country, owner_id, name, status, metadata, created_at, updated_at)
           SELECT "accountId", "accountType", currency, country, "ownerId", name, 'ACTIVE', metadata, "openedAt", "openedAt"
             FROM opened
         )
         INSERT INTO account_balances (account_id, currency, normal_balance, allow_negative, updated_at)
         SELECT "accountId", currency, "normalBalance", "allowNegative", "openedAt" FROM opened`,
        [JSON.stringify(accounts)],
      );
    }
    if (keyed.length > 0) {
      await client.query(
        `INSERT INTO idempotency_keys (principal, idempotency_key, resource_type, resource_id, created_at, position)
         SELECT principal, key, type, id, at, position
           FROM jsonb_to_recordset($1::jsonb) AS x(principal text, key text, type text, id uuid,
                at timestamptz, position text)
         ON CONFLICT DO NOTHING`,
        [JSON.stringify(keyed)],
      );
    }
    if (postings.length > 0) {
      await client.query(
        `WITH recorded AS (
           SELECT * FROM jsonb_to_recordset($1::jsonb) AS x("postingId" uuid, reference text,
             "transactionType" text, description text, reverses uuid, "holdId" uuid,
             metadata jsonb, principal text, "createdAt" timestamptz, position text, entries jsonb)
         ), inserted AS (
           INSERT INTO ledger_transactions (posting_id, reference, transaction_type, description, status,
             reverses, hold_id, metadata, principal, created_at, position, entries)
           SELECT "postingId", reference, "transactionType", description, 'POSTED', reverses, "holdId",
                  metadata, principal, "createdAt", position, entries
             FROM recorded
         )
         INSERT INTO ledger_transaction_history (posting_id, status, changed_at)
         SELECT "postingId", 'POSTED', "createdAt" FROM recorded`,
        [JSON.stringify(postings)],
      );
    }
  }

  private async insertEntries(client: pg.PoolClient, entries: readonly EntryRow[]): Promise<void> {
    await this.ensurePartitions(client, entries);
    await client.query(
      `INSERT INTO ledger_entries (posting_id, account_id, account_revision, side, amount, currency, balance_after, posted_at)
       SELECT posting_id, account_id, account_revision, side, amount, currency, balance_after, posted_at
         FROM jsonb_to_recordset($1::jsonb) AS x(posting_id uuid, account_id uuid, account_revision bigint,
              side text, amount numeric, currency text, balance_after numeric, posted_at timestamptz)`,
      [JSON.stringify(entries)],
    );
  }

  private async ensurePartitions(
    client: pg.PoolClient,
    entries: readonly EntryRow[],
  ): Promise<void> {
    for (const entry of entries) {
      const month = entry.posted_at.slice(0, 7);
      if (this.partitionMonthsReady.has(month)) continue;
      await client.query("SELECT ensure_ledger_entry_partitions($1::timestamptz, $2)", [
        entry.posted_at,
        partitionMonthsAhead + 1,
      ]);
      this.partitionMonthsReady.add(month);
    }
  }
}

/** What a keyed request's creating event created, for the idempotency key registry. */
const creations: Readonly<Record<string, { type: string; id: string }>> = {
  AccountOpened: { type: "account", id: "accountId" },
  PostingRecorded: { type: "posting", id: "postingId" },
  HoldPlaced: { type: "hold", id: "holdId" },
  TransactionRequested: { type: "transaction", id: "transactionId" },
};

function keyedCreation(event: RecordedEvent, data: Data): { type: string; id: string } | undefined {
  const creation = creations[event.type];
  if (creation === undefined || event.metadata.idempotencyKey === undefined) return undefined;
  return { type: creation.type, id: String(data[creation.id]) };
}

/**
 * The position of each commit in the batch: its last event's. A page of the log never ends
 * inside a commit (the event store's promise), so each commit is here whole.
 */
function commitPositions(events: readonly RecordedEvent[]): Map<bigint, LogPosition> {
  const commits = new Map<bigint, LogPosition>();
  for (const event of events) {
    const seen = commits.get(event.position.commit);
    if (seen === undefined || comparePositions(event.position, seen) > 0) {
      commits.set(event.position.commit, event.position);
    }
  }
  return commits;
}

function changesBalances(type: string): boolean {
  return type.startsWith("Hold") || type === "OverdraftLineSet";
}

function entryRow(event: RecordedEvent, data: Data): EntryRow {
  return {
    posting_id: String(data.postingId),
    account_id: event.stream.slice(accountPrefix.length),
    account_revision: event.revision,
    side: String(data.side),
    amount: String(data.amount),
    currency: String(data.currency),
    balance_after: String(data.balanceAfter),
    posted_at: String(data.at),
  };
}

async function applyChange(client: pg.PoolClient, event: RecordedEvent, data: Data): Promise<void> {
  const accountId = event.stream.slice(accountPrefix.length);
  switch (event.type) {
    case "AccountStatusChanged":
      await client.query("UPDATE accounts SET status = $2, updated_at = $3 WHERE id = $1", [
        accountId,
        data.to,
        data.at,
      ]);
      return;
    case "OverdraftLineSet":
      await client.query(
        `UPDATE account_balances SET overdraft_limit = $2, overdraft_expires_at = $4, updated_at = $3
          WHERE account_id = $1`,
        [accountId, data.limit, data.at, data.expiresAt ?? null],
      );
      return;
    case "HoldPlaced":
      await client.query(
        `WITH hold AS (
           INSERT INTO holds (id, account_id, amount, currency, status, reason, expires_at, created_at, updated_at)
           VALUES ($1, $2, $3, $4, 'ACTIVE', $5, $6, $7, $7)
         )
         UPDATE account_balances SET held = held + $3, updated_at = $7 WHERE account_id = $2`,
        [data.holdId, accountId, data.amount, data.currency, data.reason, data.expiresAt, data.at],
      );
      return;
    case "HoldReleased":
    case "HoldExpired":
    case "HoldCaptured":
      await endHold(client, accountId, event.type, data);
      return;
    case "PostingReversed":
      await client.query(
        `WITH reversed AS (
           UPDATE ledger_transactions SET status = 'REVERSED', reversed_by = $2 WHERE posting_id = $1
         )
         INSERT INTO ledger_transaction_history (posting_id, status, reason, changed_at)
         VALUES ($1, 'REVERSED', $3, $4)`,
        [data.postingId, data.reversalId, data.reason, data.at],
      );
      return;
    default:
      // Types the ledger read models do not show (e.g. HoldOpened, ReferenceClaimed).
      return;
  }
}

async function endHold(
  client: pg.PoolClient,
  accountId: string,
  type: string,
  data: Data,
): Promise<void> {
  const status =
    type === "HoldReleased" ? "RELEASED" : type === "HoldExpired" ? "EXPIRED" : "CAPTURED";
  const captured = type === "HoldCaptured" ? data.amount : null;
  const capturePosting = type === "HoldCaptured" ? data.postingId : null;
  await client.query(
    `WITH ended AS (
       UPDATE holds SET status = $3, captured_amount = $4, capture_posting_id = $5, updated_at = $6
        WHERE id = $1 AND status = 'ACTIVE'
       RETURNING amount
     )
     UPDATE account_balances SET held = held - (SELECT amount FROM ended), updated_at = $6
      WHERE account_id = $2 AND EXISTS (SELECT 1 FROM ended)`,
    [data.holdId, accountId, status, captured, capturePosting, data.at],
  );
}
