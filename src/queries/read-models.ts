/**
 * The query side behind the HTTP GET endpoints: reads the Postgres read models that
 * src/projections builds (migrations/002) and answers in the API.md shapes. Lists are keyset
 * paginated (no OFFSET: a page costs the same on page 1 and page 10,000, and a row inserted
 * meanwhile cannot shift a later page into repeating or skipping rows), each ordered by a
 * unique key an index serves.
 */
import type pg from "pg";
import type { AccountStatus } from "../domain/accounts/account.js";
import {
  decodeAccountCursor,
  decodeAccountTypeCursor,
  decodePostingCursor,
  encodeAccountCursor,
  encodeAccountTypeCursor,
  encodePostingCursor,
  uuidPattern,
} from "./cursor.js";
import {
  type AccountResource,
  type AccountRow,
  type AccountTypeResource,
  type AccountTypeRow,
  accountResource,
  accountTypeResource,
  type BalanceRow,
  type BalanceSetResource,
  balanceSetResource,
  type HoldResource,
  type HoldRow,
  holdResource,
  type Page,
  type PostingResource,
  type PostingRow,
  postingResource,
} from "./resources.js";

/** API.md: `?limit=` is 1–500, default 50. The HTTP layer validates; this asserts. */
export const LIST_LIMIT_MAX = 500;
export const LIST_LIMIT_DEFAULT = 50;

export interface PageRequest {
  /** 1–LIST_LIMIT_MAX rows. */
  readonly limit: number;
  /** The `nextCursor` of the page before; absent for the first page. */
  readonly cursor?: string | undefined;
}

/** Filters are exact matches; an absent filter does not filter. */
export interface ListAccountsQuery extends PageRequest {
  readonly ownerId?: string | undefined;
  readonly accountType?: string | undefined;
  readonly status?: AccountStatus | undefined;
}

/**
 * Filters are exact matches; `from` and `to` bound the creation instant, `from` inclusive and
 * `to` exclusive, so consecutive windows [a, b), [b, c) neither overlap nor leave a gap.
 * `accountId` keeps the postings with at least one entry on that account.
 */
export interface ListPostingsQuery extends PageRequest {
  readonly accountId?: string | undefined;
  readonly transactionType?: string | undefined;
  readonly status?: "POSTED" | "REVERSED" | undefined;
  readonly from?: Date | undefined;
  readonly to?: Date | undefined;
}

export interface ReadModelsOptions {
  /** What "now" is for hold expiry; the real clock unless a test says otherwise. */
  readonly clock?: () => Date;
}

/** created_at as µs UTC text (a JS Date would drop the microseconds a cursor needs). */
const sortAtSql = (column: string) =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

const accountTypeColumns =
  "code, name, normal_balance, allow_negative, metadata_schema, created_at";
const accountColumns =
  "id, account_type, currency::text AS currency, country, owner_id, name, status, metadata, created_at";
const postingColumns = `t.posting_id, t.status, t.transaction_type, t.reference, t.description,
  t.metadata, t.created_at, t.reverses, t.reversed_by, t.position, t.entries`;

/**
 * Only holds that still count: ACTIVE and not past their expiry at $2. The projection's
 * account_balances.held keeps an expired hold until a command records HoldExpired, so it is
 * recomputed here (holds_account_idx finds an account's ACTIVE holds).
 */
const balanceSql = `
  SELECT b.account_id, b.currency::text AS currency, b.posted::text AS posted,
         (CASE WHEN b.overdraft_expires_at IS NULL OR b.overdraft_expires_at > $2
               THEN b.overdraft_limit ELSE 0 END)::text AS overdraft_limit,
         (SELECT COALESCE(sum(h.amount), 0)
            FROM holds h
           WHERE h.account_id = b.account_id AND h.status = 'ACTIVE'
             AND (h.expires_at IS NULL OR h.expires_at > $2))::text AS held
    FROM account_balances b
   WHERE b.account_id = $1`;

export class ReadModels {
  private readonly clock: () => Date;

  constructor(
    private readonly pool: pg.Pool,
    options: ReadModelsOptions = {},
  ) {
    this.clock = options.clock ?? (() => new Date());
  }

  async getAccountType(code: string): Promise<AccountTypeResource | undefined> {
    const result = await this.pool.query<AccountTypeRow>(
      `SELECT ${accountTypeColumns} FROM account_types WHERE code = $1`,
      [code],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : accountTypeResource(row);
  }

  /** Every account type by code; a list like the others, though a ledger has a handful. */
  async listAccountTypes(
    page: PageRequest = { limit: LIST_LIMIT_DEFAULT },
  ): Promise<Page<AccountTypeResource>> {
    assertLimit(page.limit);
    const after = page.cursor === undefined ? undefined : decodeAccountTypeCursor(page.cursor);
    const where = new Conditions();
    if (after !== undefined) where.add((p) => `code > ${p}`, after.code);
    const result = await this.pool.query<AccountTypeRow>(
      `SELECT ${accountTypeColumns} FROM account_types ${where.sql()}
        ORDER BY code LIMIT ${where.param(page.limit + 1)}`,
      where.values,
    );
    return pageOf(result.rows, page.limit, accountTypeResource, (row) =>
      encodeAccountTypeCursor({ code: row.code }),
    );
  }

  async getAccount(id: string): Promise<AccountResource | undefined> {
    if (!isUuid(id)) return undefined;
    const result = await this.pool.query<AccountRow>(
      `SELECT ${accountColumns} FROM accounts WHERE id = $1`,
      [id],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : accountResource(row);
  }

  /**
   * Accounts by id. Each filter has an index led by it and followed by id (migrations/002),
   * so a page is one index range scan whichever filter is given.
   */
  async listAccounts(query: ListAccountsQuery): Promise<Page<AccountResource>> {
    assertLimit(query.limit);
    const after = query.cursor === undefined ? undefined : decodeAccountCursor(query.cursor);
    const where = new Conditions();
    if (query.ownerId !== undefined) where.add((p) => `owner_id = ${p}`, query.ownerId);
    if (query.accountType !== undefined) {
      where.add((p) => `account_type = ${p}`, query.accountType);
    }
    if (query.status !== undefined) where.add((p) => `status = ${p}`, query.status);
    if (after !== undefined) where.add((p) => `id > ${p}::uuid`, after.id);
    const result = await this.pool.query<AccountRow>(
      `SELECT ${accountColumns} FROM accounts ${where.sql()}
        ORDER BY id LIMIT ${where.param(query.limit + 1)}`,
      where.values,
    );
    return pageOf(result.rows, query.limit, accountResource, (row) =>
      encodeAccountCursor({ id: row.id }),
    );
  }

  /** Balances now: `held` counts only live holds, and `asOf` is the instant evaluated at. */
  async getBalances(accountId: string): Promise<BalanceSetResource | undefined> {
    if (!isUuid(accountId)) return undefined;
    const now = this.clock();
    const result = await this.pool.query<BalanceRow>(balanceSql, [accountId, now]);
    const row = result.rows[0];
    return row === undefined ? undefined : balanceSetResource(row, now);
  }

  async getPosting(id: string): Promise<PostingResource | undefined> {
    if (!isUuid(id)) return undefined;
    const result = await this.pool.query<PostingRow>(
      `SELECT ${postingColumns}, ${sortAtSql("t.created_at")} AS sort_at
         FROM ledger_transactions t WHERE t.posting_id = $1`,
      [id],
    );
    const [posting] = result.rows.map(postingResource);
    return posting;
  }

  /** Postings ordered by (createdAt, id); see ListPostingsQuery for the filters. */
  async listPostings(query: ListPostingsQuery): Promise<Page<PostingResource>> {
    assertLimit(query.limit);
    assertInstant(query.from, "from");
    assertInstant(query.to, "to");
    const after = query.cursor === undefined ? undefined : decodePostingCursor(query.cursor);
    if (query.accountId !== undefined && !isUuid(query.accountId)) {
      // No entry can name an account id that is not a UUID: the exact match is empty.
      return { data: [], nextCursor: null };
    }
    const where = new Conditions();
    if (query.transactionType !== undefined) {
      where.add((p) => `t.transaction_type = ${p}`, query.transactionType);
    }
    if (query.status !== undefined) where.add((p) => `t.status = ${p}`, query.status);
    const sql =
      query.accountId === undefined
        ? allPostingsSql(where, query, after)
        : accountPostingsSql(where, query.accountId, query, after);
    const result = await this.pool.query<PostingRow>(sql, where.values);
    const rows = result.rows.slice(0, query.limit);
    const data = rows.map(postingResource);
    const last = rows.at(-1);
    const more = result.rows.length > query.limit && last !== undefined;
    return {
      data,
      nextCursor: more ? encodePostingCursor({ at: last.sort_at, id: last.posting_id }) : null,
    };
  }

  async getHold(id: string): Promise<HoldResource | undefined> {
    if (!isUuid(id)) return undefined;
    const result = await this.pool.query<HoldRow>(
      `SELECT id, account_id, amount::text AS amount, currency::text AS currency, status, reason,
              expires_at, created_at
         FROM holds WHERE id = $1`,
      [id],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : holdResource(row, this.clock());
  }

  /** The postings with their legs: one query for the legs of the whole page, not one each. */
}

type PostingKey = { readonly at: string; readonly id: string } | undefined;

/** Every posting: ledger_transactions_created_idx (created_at, posting_id) gives the order. */
function allPostingsSql(where: Conditions, query: ListPostingsQuery, after: PostingKey): string {
  addWindow(where, "t.created_at", query);
  if (after !== undefined) {
    const at = where.param(after.at);
    const id = where.param(after.id);
    where.add(() => `(t.created_at, t.posting_id) > (${at}::timestamptz, ${id}::uuid)`);
  }
  return `SELECT ${postingColumns}, ${sortAtSql("t.created_at")} AS sort_at
            FROM ledger_transactions t ${where.sql()}
           ORDER BY t.created_at, t.posting_id
           LIMIT ${where.param(query.limit + 1)}`;
}

/**
 * One account's postings, walked through its entries in (posted_at, posting_id) order. An
 * entry's posted_at is its posting's createdAt (the write side stamps both with one instant),
 * so this is the (createdAt, id) order of the other lists, and a time window also prunes the
 * monthly partitions. ledger_entries_account_idx (account_id, posted_at) yields posted_at order
 * per partition, merged, and only the rows sharing one instant get sorted by id: a hot account
 * with millions of entries reads about one page's worth (checked with EXPLAIN on 300,000
 * postings; the type and status filters work the same way on their (…, created_at) indexes, so
 * no index was added). DISTINCT ON lists a posting with two legs on the account once.
 */
function accountPostingsSql(
  where: Conditions,
  accountId: string,
  query: ListPostingsQuery,
  after: PostingKey,
): string {
  where.add((p) => `e.account_id = ${p}::uuid`, accountId);
  addWindow(where, "e.posted_at", query);
  if (after !== undefined) {
    const at = where.param(after.at);
    const id = where.param(after.id);
    where.add(() => `(e.posted_at, e.posting_id) > (${at}::timestamptz, ${id}::uuid)`);
  }
  return `SELECT DISTINCT ON (e.posted_at, e.posting_id)
                 ${postingColumns}, ${sortAtSql("e.posted_at")} AS sort_at
            FROM ledger_entries e
            JOIN ledger_transactions t ON t.posting_id = e.posting_id
           ${where.sql()}
           ORDER BY e.posted_at, e.posting_id
           LIMIT ${where.param(query.limit + 1)}`;
}

function addWindow(where: Conditions, column: string, query: ListPostingsQuery): void {
  if (query.from !== undefined) where.add((p) => `${column} >= ${p}`, query.from);
  if (query.to !== undefined) where.add((p) => `${column} < ${p}`, query.to);
}

/**
 * A WHERE clause built from fixed SQL fragments, every value a bind parameter: nothing a
 * client sends is ever spliced into SQL text.
 */
class Conditions {
  readonly values: unknown[] = [];
  private readonly clauses: string[] = [];

  /** Binds `value` and returns its placeholder. */
  param(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }

  /** Adds a clause; with a value, the clause is built around that value's placeholder. */
  add(clause: (placeholder: string) => string, ...value: [] | [unknown]): void {
    this.clauses.push(clause(value.length === 0 ? "" : this.param(value[0])));
  }

  sql(): string {
    return this.clauses.length === 0 ? "" : `WHERE ${this.clauses.join(" AND ")}`;
  }
}

/** Rows fetched with LIMIT limit + 1: the extra row only says that another page exists. */
function pageOf<Row, Item>(
  rows: readonly Row[],
  limit: number,
  toItem: (row: Row) => Item,
  cursorOf: (row: Row) => string,
): Page<Item> {
  const pageRows = rows.slice(0, limit);
  const last = pageRows.at(-1);
  const more = rows.length > limit && last !== undefined;
  return { data: pageRows.map(toItem), nextCursor: more ? cursorOf(last) : null };
}

function assertLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > LIST_LIMIT_MAX) {
    throw new RangeError(`limit ${limit}: a page has 1 to ${LIST_LIMIT_MAX} rows`);
  }
}

function assertInstant(instant: Date | undefined, name: string): void {
  if (instant !== undefined && Number.isNaN(instant.getTime())) {
    throw new RangeError(`${name} is not a valid instant`);
  }
}

function isUuid(text: string): boolean {
  return typeof text === "string" && uuidPattern.test(text);
}
