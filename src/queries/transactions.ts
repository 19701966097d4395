/**
 * The query side of configuration and domain transactions: reads the read models of
 * migrations/008 (built by src/projections/transactions-projection.ts) into the API.md shapes.
 * Lists are keyset paginated like the ledger's (read-models.ts): transaction types by code,
 * transactions by (createdAt, id), with opaque cursors checked before they reach SQL.
 */
import type pg from "pg";
import type { Side } from "../domain/accounts/account.js";
import { type AmountText, Decimal, formatAmount, isCurrencyCode } from "../domain/money/index.js";
import type { TransactionStatus } from "../domain/transactions/transaction.js";
import { CURSOR_TEXT_LENGTH_MAX, InvalidCursor, uuidPattern } from "./cursor.js";
import { LIST_LIMIT_MAX, type PageRequest } from "./read-models.js";
import type { Page } from "./resources.js";

type JsonObject = Readonly<Record<string, unknown>>;

export interface TemplateLegResource {
  readonly side: Side;
  readonly role: string | null;
  readonly accountId: string | null;
  readonly accountType: string | null;
  /** The leg's share as a fraction of 1 ("0.75" is 75 %). */
  readonly percent: string;
}

/** API.md TransactionType. */
export interface TransactionTypeResource {
  readonly code: string;
  readonly description: string;
  readonly requiresTwoFactor: boolean;
  readonly postings: readonly TemplateLegResource[];
  readonly allowedAccountTypes: Readonly<Record<string, readonly string[]>> | null;
  readonly version: number;
  readonly createdAt: string;
  readonly position: string;
}

export interface AccountTypePermissionsResource {
  readonly accountType: string;
  readonly transactionTypes: readonly string[];
}

export interface TransactionFailureResource {
  readonly code: string;
  readonly message: string;
  readonly details: Readonly<Record<string, string>> | null;
  readonly errors: ReadonlyArray<{ readonly path: string; readonly message: string }> | null;
}

export interface StatusChangeResource {
  readonly status: TransactionStatus;
  readonly at: string;
  readonly reason?: string;
}

/** API.md Transaction. */
export interface TransactionResource {
  readonly id: string;
  readonly transactionType: string;
  readonly transactionTypeVersion: number | null;
  readonly status: TransactionStatus;
  readonly amount: AmountText;
  readonly parties: Readonly<Record<string, string>>;
  readonly postingId: string | null;
  readonly reversalPostingId: string | null;
  readonly reference: string | null;
  readonly description: string | null;
  readonly metadata: JsonObject;
  readonly failure: TransactionFailureResource | null;
  readonly history: readonly StatusChangeResource[];
  readonly createdAt: string;
  readonly position: string;
}

/** API.md Limit: amounts as they were set, in the paying account's currency. */
export interface LimitResource {
  readonly accountType: string;
  readonly transactionType: string;
  readonly perTransactionMax: string | null;
  readonly dailyAmountMax: string | null;
  readonly dailyCountMax: number | null;
  readonly monthlyAmountMax: string | null;
  readonly updatedAt: string;
  readonly position: string;
}

export interface ListLimitsQuery extends PageRequest {
  readonly accountType?: string | undefined;
  readonly transactionType?: string | undefined;
}

interface LimitRow {
  account_type: string;
  transaction_type: string;
  per_transaction_max: string | null;
  daily_amount_max: string | null;
  daily_count_max: number | null;
  monthly_amount_max: string | null;
  updated_at: Date;
  position: string;
}

/** Exact-match filters; `from` inclusive, `to` exclusive on the creation instant. */
export interface ListTransactionsQuery extends PageRequest {
  readonly accountId?: string | undefined;
  readonly status?: TransactionStatus | undefined;
  readonly transactionType?: string | undefined;
  readonly from?: Date | undefined;
  readonly to?: Date | undefined;
}

interface TransactionTypeRow {
  code: string;
  description: string;
  requires_two_factor: boolean;
  allowed_account_types: Record<string, string[]> | null;
  version: number;
  created_at: Date;
  position: string;
}

interface LegRow {
  transaction_type: string;
  side: Side;
  role: string | null;
  account_id: string | null;
  account_type: string | null;
  percent: string;
}

interface TransactionRow {
  id: string;
  transaction_type: string;
  transaction_type_version: number | null;
  status: TransactionStatus;
  amount: string;
  currency: string;
  parties: Record<string, string>;
  posting_id: string | null;
  reversal_posting_id: string | null;
  reference: string | null;
  description: string | null;
  metadata: JsonObject;
  failure: TransactionFailureResource | null;
  created_at: Date;
  position: string;
  sort_at: string;
}

interface HistoryRow {
  transaction_id: string;
  status: TransactionStatus;
  reason: string | null;
  changed_at: Date;
}

const transactionTypeColumns = `code, description, requires_two_factor, allowed_account_types,
  version, created_at, position`;
const transactionColumns = `id, transaction_type, transaction_type_version, status,
  amount::text AS amount, currency::text AS currency, parties, posting_id, reversal_posting_id,
  reference, description, metadata, failure, created_at, position,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS sort_at`;
const codePattern = /^[A-Z][A-Z0-9_]{1,31}$/;

export class TransactionQueries {
  constructor(private readonly pool: pg.Pool) {}

  async getTransactionType(code: string): Promise<TransactionTypeResource | undefined> {
    if (!codePattern.test(code)) return undefined;
    const result = await this.pool.query<TransactionTypeRow>(
      `SELECT ${transactionTypeColumns} FROM transaction_types WHERE code = $1`,
      [code],
    );
    const [type] = await this.withLegs(result.rows);
    return type;
  }

  async listTransactionTypes(page: PageRequest): Promise<Page<TransactionTypeResource>> {
    assertLimit(page.limit);
    const after = page.cursor === undefined ? undefined : decodeCodeCursor(page.cursor);
    const result = await this.pool.query<TransactionTypeRow>(
      `SELECT ${transactionTypeColumns} FROM transaction_types
        WHERE $1::text IS NULL OR code > $1 ORDER BY code LIMIT $2`,
      [after ?? null, page.limit + 1],
    );
    const rows = result.rows.slice(0, page.limit);
    const last = rows.at(-1);
    return {
      data: await this.withLegs(rows),
      nextCursor:
        result.rows.length > page.limit && last !== undefined ? encodeCodeCursor(last.code) : null,
    };
  }

  /** The transaction types an account type lists; undefined when the type does not exist. */
  async getAccountTypePermissions(
    code: string,
  ): Promise<AccountTypePermissionsResource | undefined> {
    if (!codePattern.test(code)) return undefined;
    const result = await this.pool.query<{ exists: boolean; transaction_types: string[] }>(
      `SELECT EXISTS (SELECT 1 FROM account_types WHERE code = $1) AS exists,
              ARRAY(SELECT transaction_type FROM account_type_transaction
                     WHERE account_type = $1 ORDER BY transaction_type) AS transaction_types`,
      [code],
    );
    const row = result.rows[0];
    if (row === undefined || !row.exists) return undefined;
    return { accountType: code, transactionTypes: row.transaction_types };
  }

  /** Limits by (accountType, transactionType). */
  async listLimits(query: ListLimitsQuery): Promise<Page<LimitResource>> {
    assertLimit(query.limit);
    const after = query.cursor === undefined ? undefined : decodeLimitCursor(query.cursor);
    const result = await this.pool.query<LimitRow>(
      `SELECT account_type, transaction_type, per_transaction_max::text AS per_transaction_max,
              daily_amount_max::text AS daily_amount_max, daily_count_max,
              monthly_amount_max::text AS monthly_amount_max, updated_at, position
         FROM transaction_limits
        WHERE ($1::text IS NULL OR account_type = $1)
          AND ($2::text IS NULL OR transaction_type = $2)
          AND ($3::text IS NULL OR (account_type, transaction_type) > ($3, $4::text))
        ORDER BY account_type, transaction_type
        LIMIT $5`,
      [
        query.accountType ?? null,
        query.transactionType ?? null,
        after?.accountType ?? null,
        after?.transactionType ?? null,
        query.limit + 1,
      ],
    );
    const rows = result.rows.slice(0, query.limit);
    const last = rows.at(-1);
    const more = result.rows.length > query.limit && last !== undefined;
    return {
      data: rows.map((row) => ({
        accountType: row.account_type,
        transactionType: row.transaction_type,
        perTransactionMax: row.per_transaction_max,
        dailyAmountMax: row.daily_amount_max,
        dailyCountMax: row.daily_count_max,
        monthlyAmountMax: row.monthly_amount_max,
        updatedAt: row.updated_at.toISOString(),
        position: row.position,
      })),
      nextCursor: more ? encodeLimitCursor(last.account_type, last.transaction_type) : null,
    };
  }

  async getTransaction(id: string): Promise<TransactionResource | undefined> {
    if (!uuidPattern.test(id)) return undefined;
    const result = await this.pool.query<TransactionRow>(
      `SELECT ${transactionColumns} FROM domain_transactions WHERE id = $1`,
      [id],
    );
    const [transaction] = await this.withHistory(result.rows);
    return transaction;
  }

  /** Transactions by (createdAt, id); `accountId` keeps those that involve the account. */
  async listTransactions(query: ListTransactionsQuery): Promise<Page<TransactionResource>> {
    assertLimit(query.limit);
    const after = query.cursor === undefined ? undefined : decodeTransactionCursor(query.cursor);
    if (query.accountId !== undefined && !uuidPattern.test(query.accountId)) {
      return { data: [], nextCursor: null };
    }
    const result = await this.pool.query<TransactionRow>(
      `SELECT ${transactionColumns} FROM domain_transactions
        WHERE ($1::uuid IS NULL OR account_ids @> ARRAY[$1::uuid])
          AND ($2::text IS NULL OR status = $2)
          AND ($3::text IS NULL OR transaction_type = $3)
          AND ($4::timestamptz IS NULL OR created_at >= $4)
          AND ($5::timestamptz IS NULL OR created_at < $5)
          AND ($6::timestamptz IS NULL OR (created_at, id) > ($6, $7::uuid))
        ORDER BY created_at, id
        LIMIT $8`,
      [
        query.accountId ?? null,
        query.status ?? null,
        query.transactionType ?? null,
        query.from ?? null,
        query.to ?? null,
        after?.at ?? null,
        after?.id ?? null,
        query.limit + 1,
      ],
    );
    const rows = result.rows.slice(0, query.limit);
    const last = rows.at(-1);
    const more = result.rows.length > query.limit && last !== undefined;
    return {
      data: await this.withHistory(rows),
      nextCursor: more ? encodeTransactionCursor(last.sort_at, last.id) : null,
    };
  }

  /** The types with their legs: one query for the legs of the whole page. */
  private async withLegs(rows: readonly TransactionTypeRow[]): Promise<TransactionTypeResource[]> {
    if (rows.length === 0) return [];
    const legs = await this.pool.query<LegRow>(
      `SELECT transaction_type, side, role, account_id, account_type, percent::text AS percent
         FROM transaction_type_postings WHERE transaction_type = ANY($1::text[])
        ORDER BY transaction_type, leg`,
      [rows.map((row) => row.code)],
    );
    const byType = groupBy(legs.rows, (leg) => leg.transaction_type);
    return rows.map((row) => ({
      code: row.code,
      description: row.description,
      requiresTwoFactor: row.requires_two_factor,
      postings: (byType.get(row.code) ?? []).map((leg) => ({
        side: leg.side,
        role: leg.role,
        accountId: leg.account_id,
        accountType: leg.account_type,
        percent: leg.percent,
      })),
      allowedAccountTypes: row.allowed_account_types,
      version: row.version,
      createdAt: row.created_at.toISOString(),
      position: row.position,
    }));
  }

  /** The transactions with their status history: one query for the whole page. */
  private async withHistory(rows: readonly TransactionRow[]): Promise<TransactionResource[]> {
    if (rows.length === 0) return [];
    const history = await this.pool.query<HistoryRow>(
      `SELECT transaction_id, status, reason, changed_at FROM domain_transaction_history
        WHERE transaction_id = ANY($1::uuid[]) ORDER BY transaction_id, id`,
      [rows.map((row) => row.id)],
    );
    const byTransaction = groupBy(history.rows, (change) => change.transaction_id);
    return rows.map((row) => transactionResource(row, byTransaction.get(row.id) ?? []));
  }
}

function transactionResource(
  row: TransactionRow,
  history: readonly HistoryRow[],
): TransactionResource {
  return {
    id: row.id,
    transactionType: row.transaction_type,
    transactionTypeVersion: row.transaction_type_version,
    status: row.status,
    amount: amountText(row.amount, row.currency),
    parties: row.parties,
    postingId: row.posting_id,
    reversalPostingId: row.reversal_posting_id,
    reference: row.reference,
    description: row.description,
    metadata: row.metadata,
    failure: row.failure,
    history: history.map((change) => ({
      status: change.status,
      at: change.changed_at.toISOString(),
      ...(change.reason === null ? {} : { reason: change.reason }),
    })),
    createdAt: row.created_at.toISOString(),
    position: row.position,
  };
}

function amountText(value: string, currency: string): AmountText {
  if (!isCurrencyCode(currency)) {
    throw new Error(`read model holds an unknown currency ${JSON.stringify(currency)}`);
  }
  return { value: formatAmount(new Decimal(value), currency), currency };
}

function groupBy<Row>(rows: readonly Row[], keyOf: (row: Row) => string): Map<string, Row[]> {
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const key = keyOf(row);
    const group = groups.get(key) ?? [];
    group.push(row);
    groups.set(key, group);
  }
  return groups;
}

function assertLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > LIST_LIMIT_MAX) {
    throw new RangeError(`limit ${limit}: a page has 1 to ${LIST_LIMIT_MAX} rows`);
  }
}

// --- Cursors: base64url JSON naming the list and the last row's key ---------------------------

const instantPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

function encodeCodeCursor(code: string): string {
  return encode({ list: "transaction-types", code });
}

function decodeCodeCursor(text: string): string {
  const code = decode(text, "transaction-types").code;
  if (typeof code !== "string" || !codePattern.test(code))
    throw new InvalidCursor("malformed code");
  return code;
}

function encodeLimitCursor(accountType: string, transactionType: string): string {
  return encode({ list: "limits", accountType, transactionType });
}

function decodeLimitCursor(text: string): { accountType: string; transactionType: string } {
  const { accountType, transactionType } = decode(text, "limits");
  for (const code of [accountType, transactionType]) {
    if (typeof code !== "string" || !codePattern.test(code)) {
      throw new InvalidCursor("malformed code");
    }
  }
  return { accountType: String(accountType), transactionType: String(transactionType) };
}

function encodeTransactionCursor(at: string, id: string): string {
  return encode({ list: "transactions", at, id });
}

function decodeTransactionCursor(text: string): { at: string; id: string } {
  const { at, id } = decode(text, "transactions");
  if (typeof id !== "string" || !uuidPattern.test(id)) throw new InvalidCursor("malformed id");
  if (typeof at !== "string" || !instantPattern.test(at) || !isCalendarInstant(at)) {
    throw new InvalidCursor("malformed instant");
  }
  return { at, id };
}

/** The round trip through Date gives the same text only for a real calendar instant. */
function isCalendarInstant(at: string): boolean {
  const parsedMs = Date.parse(at);
  if (Number.isNaN(parsedMs) || at.startsWith("0000")) return false;
  return new Date(parsedMs).toISOString().slice(0, 23) === at.slice(0, 23);
}

function encode(fields: Readonly<Record<string, string>>): string {
  return Buffer.from(JSON.stringify(fields), "utf8").toString("base64url");
}

function decode(text: string, list: string): Readonly<Record<string, unknown>> {
  if (text.length === 0 || text.length > CURSOR_TEXT_LENGTH_MAX || !/^[\w-]+$/.test(text)) {
    throw new InvalidCursor("not a cursor");
  }
  let fields: unknown;
  try {
    fields = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    throw new InvalidCursor("not a cursor");
  }
  if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
    throw new InvalidCursor("not a cursor");
  }
  const record = fields as Readonly<Record<string, unknown>>;
  if (record.list !== list) throw new InvalidCursor(`not a cursor of the ${list} list`);
  return record;
}
