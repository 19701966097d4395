/**
 * Account statements (API.md `POST /v1/statements`) from the read models: the opening balance
 * at `from`, every entry in [from, to) with the running balance after it, the totals and the
 * closing balance. Balances are in the account's normal-balance sense, as `balance_after`
 * stores them (CREDIT-normal: credits − debits), so a wallet's statement reads as its owner
 * expects. Money stays in decimal.js from the row to the currency-scaled string.
 */
import type pg from "pg";
import type { Side } from "../domain/accounts/account.js";
import { type CurrencyCode, Decimal, formatAmount, isCurrencyCode } from "../domain/money/index.js";
import { uuidPattern } from "./cursor.js";

/**
 * Most lines one statement carries: a hot account's year is millions of entries, and one
 * response must stay a bounded amount of memory and rendering work. Past it the caller is
 * told to ask for a shorter period (StatementTooLarge).
 */
export const STATEMENT_LINES_MAX = 50_000;

export interface StatementRequest {
  readonly accountId: string;
  /** Inclusive. */
  readonly from: Date;
  /** Exclusive: consecutive periods [a, b), [b, c) neither overlap nor leave a gap. */
  readonly to: Date;
}

/** One entry on the account: exactly one of `debit` and `credit` is set. */
export interface StatementLine {
  readonly postedAt: string;
  readonly postingId: string;
  readonly transactionType: string | null;
  readonly reference: string | null;
  readonly description: string | null;
  readonly debit: string | null;
  readonly credit: string | null;
  /** The account's posted balance right after this entry. */
  readonly balance: string;
}

export interface Statement {
  readonly accountId: string;
  readonly currency: CurrencyCode;
  readonly from: string;
  readonly to: string;
  readonly openingBalance: string;
  readonly closingBalance: string;
  readonly totalDebits: string;
  readonly totalCredits: string;
  readonly lines: readonly StatementLine[];
}

/** The period holds more than STATEMENT_LINES_MAX entries. */
export class StatementTooLarge extends Error {
  override readonly name = "StatementTooLarge";
  readonly code = "STATEMENT_TOO_LARGE";

  constructor(readonly linesMax: number) {
    super(`the period holds more than ${linesMax} entries; ask for a shorter one`);
  }
}

interface LineRow {
  posted_at: Date;
  posting_id: string;
  side: Side;
  amount: string;
  balance_after: string;
  transaction_type: string | null;
  reference: string | null;
  description: string | null;
}

/**
 * The last balance before the period: the `balance_after` of the account's latest entry
 * posted before `from` (ledger_entries_account_idx walks it backwards, one row).
 */
const openingSql = `
  SELECT balance_after::text AS balance_after
    FROM ledger_entries
   WHERE account_id = $1 AND posted_at < $2
   ORDER BY posted_at DESC, account_revision DESC
   LIMIT 1`;

/** The period's entries in the order they happened to the account. */
const linesSql = `
  SELECT e.posted_at, e.posting_id, e.side, e.amount::text AS amount,
         e.balance_after::text AS balance_after,
         t.transaction_type, t.reference, t.description
    FROM ledger_entries e
    JOIN ledger_transactions t ON t.posting_id = e.posting_id
   WHERE e.account_id = $1 AND e.posted_at >= $2 AND e.posted_at < $3
   ORDER BY e.posted_at, e.account_revision
   LIMIT $4`;

/**
 * The statement, or undefined when the account does not exist. The three reads run in one
 * REPEATABLE READ transaction: the projector may commit between them, and the opening
 * balance, the lines and the closing balance must describe the same state of the ledger.
 */
export async function readStatement(
  pool: pg.Pool,
  request: StatementRequest,
): Promise<Statement | undefined> {
  assertPeriod(request);
  if (!uuidPattern.test(request.accountId)) return undefined;
  const client = await pool.connect();
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const statement = await readInSnapshot(client, request);
    await client.query("COMMIT");
    return statement;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

async function readInSnapshot(
  client: pg.PoolClient,
  request: StatementRequest,
): Promise<Statement | undefined> {
  const { accountId, from, to } = request;
  const account = await client.query<{ currency: string }>(
    "SELECT currency::text AS currency FROM accounts WHERE id = $1",
    [accountId],
  );
  const currencyText = account.rows[0]?.currency;
  if (currencyText === undefined) return undefined;
  if (!isCurrencyCode(currencyText)) {
    throw new Error(`assertion failed: account ${accountId} has unknown currency ${currencyText}`);
  }
  const opening = await client.query<{ balance_after: string }>(openingSql, [accountId, from]);
  const lines = await client.query<LineRow>(linesSql, [
    accountId,
    from,
    to,
    STATEMENT_LINES_MAX + 1,
  ]);
  if (lines.rows.length > STATEMENT_LINES_MAX) throw new StatementTooLarge(STATEMENT_LINES_MAX);
  const openingBalance = new Decimal(opening.rows[0]?.balance_after ?? 0);
  return statementOf(request, currencyText, openingBalance, lines.rows);
}

function statementOf(
  request: StatementRequest,
  currency: CurrencyCode,
  openingBalance: Decimal,
  rows: readonly LineRow[],
): Statement {
  let totalDebits = new Decimal(0);
  let totalCredits = new Decimal(0);
  let closingBalance = openingBalance;
  const lines = rows.map((row) => {
    const amount = new Decimal(row.amount);
    if (row.side === "DEBIT") totalDebits = totalDebits.plus(amount);
    else totalCredits = totalCredits.plus(amount);
    closingBalance = new Decimal(row.balance_after);
    const money = formatAmount(amount, currency);
    return {
      postedAt: row.posted_at.toISOString(),
      postingId: row.posting_id,
      transactionType: row.transaction_type,
      reference: row.reference,
      description: row.description,
      debit: row.side === "DEBIT" ? money : null,
      credit: row.side === "CREDIT" ? money : null,
      balance: formatAmount(closingBalance, currency),
    };
  });
  return {
    accountId: request.accountId,
    currency,
    from: request.from.toISOString(),
    to: request.to.toISOString(),
    openingBalance: formatAmount(openingBalance, currency),
    closingBalance: formatAmount(closingBalance, currency),
    totalDebits: formatAmount(totalDebits, currency),
    totalCredits: formatAmount(totalCredits, currency),
    lines,
  };
}

/** The HTTP layer refuses a bad period with 400; reaching here with one is a bug. */
function assertPeriod(request: StatementRequest): void {
  const fromMs = request.from.getTime();
  const toMs = request.to.getTime();
  if (Number.isNaN(fromMs) || Number.isNaN(toMs) || fromMs >= toMs) {
    throw new RangeError("a statement period needs valid instants with from < to");
  }
}
