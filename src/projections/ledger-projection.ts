/**
 * Projects the ledger's events into the read models of migrations/002. A batch is applied in
 * one SQL transaction: first the records everything else refers to (account types, accounts,
 * posting headers), then the rest in log order, with entries written set-based (one COPY
 * for a run of entries, so the balance trigger runs once per run, not once per row). A hold or
 * an overdraft change ends a run, so the balance checks see each account as the write side did.
 * `prepare` does the CPU work of a batch (its rows encoded) apart from the writes, so that a
 * caller can overlap the two.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
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

/** A batch's writes, prepared: run them in the batch's transaction. */
export type BatchWrites = (client: pg.PoolClient) => Promise<unknown>;

/** The events applyChange writes; of the others, the ledger read models show nothing. */
const changeTypes = new Set([
  "AccountStatusChanged",
  "OverdraftLineSet",
  "HoldPlaced",
  "HoldReleased",
  "HoldExpired",
  "HoldCaptured",
  "PostingReversed",
]);

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
    await this.prepare(events)(client);
  }

  /**
   * Everything `apply` does short of the database: the batch's rows encoded, its statements in
   * order. A rebuild prepares the next batch while the current one is being written.
   */
  prepare(events: readonly RecordedEvent[]): BatchWrites {
    const writes = this.recordWrites(events);
    let entries: EntryRow[] = [];
    const flush = () => {
      if (entries.length > 0) writes.push(this.entriesWrite(entries));
      entries = [];
    };
    for (const event of events) {
      const data = event.data as Data;
      if (event.type === "EntryPosted") {
        entries.push(entryRow(event, data));
        continue;
      }
      if (changesBalances(event.type)) flush();
      if (changeTypes.has(event.type)) writes.push((client) => applyChange(client, event, data));
    }
    flush();
    return async (client) => {
      for (const write of writes) await write(client);
    };
  }

  /** Account types, accounts with their balance rows, and posting headers: the referenced rows. */
  private recordWrites(events: readonly RecordedEvent[]): BatchWrites[] {
    const writes: BatchWrites[] = [];
    const types: Data[] = [];
    const accounts: Data[] = [];
    const postings: PostingRow[] = [];
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
          data,
          principal: event.metadata.principal,
          // The commit's position, as the command answered it (not the event's own).
          position: formatPosition(commits.get(event.position.commit) ?? event.position),
        });
      }
    }
    if (types.length > 0) {
      const rows = JSON.stringify(types);
      writes.push((client) =>
        client.query(
          `INSERT INTO account_types (code, name, normal_balance, allow_negative, metadata_schema, created_at)
         SELECT code, name, "normalBalance", "allowNegative", "metadataSchema", "definedAt"
           FROM jsonb_to_recordset($1::jsonb) AS x(code text, name text, "normalBalance" text,
                "allowNegative" boolean, "metadataSchema" jsonb, "definedAt" timestamptz)`,
          [rows],
        ),
      );
    }
    if (accounts.length > 0) {
      const rows = JSON.stringify(accounts);
      writes.push((client) =>
        client.query(
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
          [rows],
        ),
      );
    }
    if (keyed.length > 0) {
      const rows = JSON.stringify(keyed);
      writes.push((client) =>
        client.query(
          `INSERT INTO idempotency_keys (principal, idempotency_key, resource_type, resource_id, created_at, position)
         SELECT principal, key, type, id, at, position
           FROM jsonb_to_recordset($1::jsonb) AS x(principal text, key text, type text, id uuid,
                at timestamptz, position text)
         ON CONFLICT DO NOTHING`,
          [rows],
        ),
      );
    }
    if (postings.length > 0) writes.push(postingsWrite(postings));
    return writes;
  }

  /** One COPY for a run of entries: the balance trigger runs once for the run. */
  private entriesWrite(entries: readonly EntryRow[]): BatchWrites {
    let rows = "";
    for (const entry of entries) {
      rows +=
        `${copyText(entry.posting_id)}\t${copyText(entry.account_id)}\t${entry.account_revision}\t` +
        `${copyText(entry.side)}\t${copyText(entry.amount)}\t${copyText(entry.currency)}\t` +
        `${copyText(entry.balance_after)}\t${copyText(entry.posted_at)}\n`;
    }
    return async (client) => {
      await this.ensurePartitions(client, entries);
      await copyIn(client, copyEntriesSql, rows);
    };
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

/**
 * The numerous rows (entries, posting headers and their history) cross to Postgres by COPY, in
 * its text format: parsed straight into the columns, it costs the read models' backend a
 * fraction of what an array of JSON documents (jsonb_to_recordset) cost per row. COPY fires
 * the same constraints and triggers as INSERT (statement triggers once per COPY, with the same
 * transition table). The rare rows (account types, accounts, idempotency keys) stay JSON.
 */
const copyEntriesSql = `COPY ledger_entries (posting_id, account_id, account_revision, side, amount,
  currency, balance_after, posted_at) FROM STDIN`;

const copyPostingsSql = `COPY ledger_transactions (posting_id, reference, transaction_type, description,
  status, reverses, hold_id, metadata, principal, created_at, position, entries) FROM STDIN`;

const copyPostingHistorySql = `COPY ledger_transaction_history (posting_id, status, changed_at) FROM STDIN`;

interface PostingRow {
  readonly data: Data;
  readonly principal: string;
  readonly position: string;
}

/** Headers (status POSTED) and their first history row, in log order: two COPYs. */
function postingsWrite(postings: readonly PostingRow[]): BatchWrites {
  let headers = "";
  let history = "";
  for (const { data, principal, position } of postings) {
    const postingId = copyValue(data.postingId);
    const createdAt = copyValue(data.createdAt);
    headers +=
      `${postingId}\t${copyValue(data.reference)}\t${copyValue(data.transactionType)}\t` +
      `${copyValue(data.description)}\tPOSTED\t${copyValue(data.reverses)}\t${copyValue(data.holdId)}\t` +
      `${copyJson(data.metadata)}\t${copyValue(principal)}\t${createdAt}\t${copyValue(position)}\t` +
      `${copyJson(data.entries)}\n`;
    history += `${postingId}\tPOSTED\t${createdAt}\n`;
  }
  return async (client) => {
    await copyIn(client, copyPostingsSql, headers);
    await copyIn(client, copyPostingHistorySql, history);
  };
}

async function copyIn(client: pg.PoolClient, sql: string, rows: string): Promise<void> {
  await pipeline(Readable.from([rows]), client.query(copyFrom(sql)));
}

/** A value in COPY's text format: null and undefined as \N, the rest as text, escaped. */
function copyValue(value: unknown): string {
  return value == null ? "\\N" : copyText(String(value));
}

/** A JSON document in COPY's text format (null and undefined as SQL NULL, as jsonb_to_recordset read them). */
function copyJson(value: unknown): string {
  return value == null ? "\\N" : copyText(JSON.stringify(value));
}

/** Text in COPY's text format: backslash, tab, newline and carriage return escaped. */
function copyText(value: string): string {
  return copySpecials.test(value) ? value.replace(copySpecialsAll, copyEscape) : value;
}

const copySpecials = /[\\\t\n\r]/;
const copySpecialsAll = /[\\\t\n\r]/g;
const copyEscapes: Readonly<Record<string, string>> = {
  "\\": "\\\\",
  "\t": "\\t",
  "\n": "\\n",
  "\r": "\\r",
};
const copyEscape = (special: string): string => copyEscapes[special] ?? special;

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
