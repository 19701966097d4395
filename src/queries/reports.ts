/**
 * Reports for finance from the read models: statements (statements.ts), the trial balance at
 * an instant, the end-of-day report of a UTC day, and an account's balances at a past
 * instant. Every figure is summed in Postgres `numeric` and carried to the currency-scaled
 * string through decimal.js, never through a JS number.
 *
 * Time windows: "as of T" counts what was posted at or before T; a day is [00:00, 24:00) UTC;
 * a statement period is [from, to).
 */
import type pg from "pg";
import type { NormalBalance } from "../domain/account-types/account-type.js";
import { type CurrencyCode, Decimal, formatAmount, isCurrencyCode } from "../domain/money/index.js";
import { uuidPattern } from "./cursor.js";
import { type BalanceRow, type BalanceSetResource, balanceSetResource } from "./resources.js";
import { readStatement, type Statement, type StatementRequest } from "./statements.js";

export interface TrialBalanceCurrency {
  readonly currency: CurrencyCode;
  readonly totalDebits: string;
  readonly totalCredits: string;
  /** Σ debit balances = Σ credit balances: what double entry guarantees. */
  readonly balanced: boolean;
}

/**
 * One account type in one currency. `debits` sums the balances of its accounts that stand on
 * the debit side, `credits` those on the credit side (the two columns of a trial balance), and
 * `balance` is their net in the type's normal-balance sense.
 */
export interface TrialBalanceAccountType {
  readonly accountType: string;
  readonly currency: CurrencyCode;
  readonly debits: string;
  readonly credits: string;
  readonly balance: string;
}

export interface TrialBalance {
  readonly asOf: string;
  readonly currencies: readonly TrialBalanceCurrency[];
  readonly accountTypes: readonly TrialBalanceAccountType[];
}

/** The postings of one transaction type in one currency created that day. */
export interface EndOfDayTransactionType {
  /** null: raw postings, which name no transaction type. */
  readonly transactionType: string | null;
  readonly currency: CurrencyCode;
  readonly count: number;
  /** Σ of the postings' debit legs (= Σ credit legs): the money they moved. */
  readonly amount: string;
}

/** One account type in one currency over the day, balances in the normal-balance sense. */
export interface EndOfDayAccountType {
  readonly accountType: string;
  readonly currency: CurrencyCode;
  readonly opening: string;
  readonly debits: string;
  readonly credits: string;
  readonly closing: string;
}

export interface EndOfDay {
  readonly date: string;
  readonly from: string;
  readonly to: string;
  readonly transactionTypes: readonly EndOfDayTransactionType[];
  readonly accountTypes: readonly EndOfDayAccountType[];
}

/**
 * Each account's balance as of $1 in the debit sense (debits − credits), summed from its
 * entries rather than read from balance_after, so the trial balance is an independent check
 * of the double entry the triggers enforce. Then the debit-side and credit-side balances per
 * account type and currency.
 */
const trialBalanceSql = `
  WITH per_account AS (
    SELECT e.account_id, e.currency,
           sum(CASE WHEN e.side = 'DEBIT' THEN e.amount ELSE -e.amount END) AS debit_sense
      FROM ledger_entries e
     WHERE e.posted_at <= $1
     GROUP BY e.account_id, e.currency
  )
  SELECT a.account_type, p.currency::text AS currency, t.normal_balance,
         sum(greatest(p.debit_sense, 0))::text AS debits,
         sum(greatest(-p.debit_sense, 0))::text AS credits
    FROM per_account p
    JOIN accounts a ON a.id = p.account_id
    JOIN account_types t ON t.code = a.account_type
   GROUP BY a.account_type, p.currency, t.normal_balance
   ORDER BY a.account_type, p.currency`;

/** Postings created in [$1, $2) by type and currency; posted_at = created_at prunes months. */
const transactionTypesSql = `
  SELECT t.transaction_type, e.currency::text AS currency,
         count(DISTINCT t.posting_id)::text AS count, sum(e.amount)::text AS amount
    FROM ledger_transactions t
    JOIN ledger_entries e ON e.posting_id = t.posting_id AND e.side = 'DEBIT'
   WHERE t.created_at >= $1 AND t.created_at < $2
     AND e.posted_at >= $1 AND e.posted_at < $2
   GROUP BY t.transaction_type, e.currency
   ORDER BY t.transaction_type NULLS FIRST, e.currency`;

/** Per account type and currency: the debit-sense balance before $1 and the day's movements. */
const accountTypesDaySql = `
  SELECT a.account_type, e.currency::text AS currency, t.normal_balance,
         COALESCE(sum(CASE WHEN e.side = 'DEBIT' THEN e.amount ELSE -e.amount END)
                    FILTER (WHERE e.posted_at < $1), 0)::text AS opening_debit_sense,
         COALESCE(sum(e.amount) FILTER (WHERE e.posted_at >= $1 AND e.side = 'DEBIT'), 0)::text
           AS debits,
         COALESCE(sum(e.amount) FILTER (WHERE e.posted_at >= $1 AND e.side = 'CREDIT'), 0)::text
           AS credits
    FROM ledger_entries e
    JOIN accounts a ON a.id = e.account_id
    JOIN account_types t ON t.code = a.account_type
   WHERE e.posted_at < $2
   GROUP BY a.account_type, e.currency, t.normal_balance
   ORDER BY a.account_type, e.currency`;

/**
 * Balances at $2: posted is the balance_after of the latest entry posted at or before it;
 * held sums the holds placed by then and not yet ended then (an ended hold's updated_at is
 * the instant it was released, captured or expired) nor past their expiry. The read models
 * keep no history of overdraft lines, so the line is the one that stands now, counted only if
 * it had not expired at $2 (as read-models.ts counts it at now).
 */
const balancesAsOfSql = `
  SELECT b.account_id, b.currency::text AS currency,
         (CASE WHEN b.overdraft_expires_at IS NULL OR b.overdraft_expires_at > $2
               THEN b.overdraft_limit ELSE 0 END)::text AS overdraft_limit,
         COALESCE((SELECT e.balance_after FROM ledger_entries e
                    WHERE e.account_id = b.account_id AND e.posted_at <= $2
                    ORDER BY e.posted_at DESC, e.account_revision DESC
                    LIMIT 1), 0)::text AS posted,
         (SELECT COALESCE(sum(h.amount), 0) FROM holds h
           WHERE h.account_id = b.account_id AND h.created_at <= $2
             AND (h.status = 'ACTIVE' OR h.updated_at > $2)
             AND (h.expires_at IS NULL OR h.expires_at > $2))::text AS held
    FROM account_balances b
   WHERE b.account_id = $1`;

interface TrialBalanceRow {
  account_type: string;
  currency: string;
  normal_balance: NormalBalance;
  debits: string;
  credits: string;
}

interface TransactionTypeRow {
  transaction_type: string | null;
  currency: string;
  count: string;
  amount: string;
}

interface AccountTypeDayRow {
  account_type: string;
  currency: string;
  normal_balance: NormalBalance;
  opening_debit_sense: string;
  debits: string;
  credits: string;
}

const dayPattern = /^(\d{4})-(\d{2})-(\d{2})$/;
const dayMs = 86_400_000;

export class Reports {
  constructor(private readonly pool: pg.Pool) {}

  /** See statements.ts; undefined when the account does not exist. */
  statement(request: StatementRequest): Promise<Statement | undefined> {
    return readStatement(this.pool, request);
  }

  async trialBalance(asOf: Date): Promise<TrialBalance> {
    assertInstant(asOf, "asOf");
    const result = await this.pool.query<TrialBalanceRow>(trialBalanceSql, [asOf]);
    const accountTypes = result.rows.map(trialBalanceAccountType);
    return { asOf: asOf.toISOString(), currencies: currencyTotals(result.rows), accountTypes };
  }

  /** The UTC day `date` (YYYY-MM-DD); a date that is not a calendar day is a RangeError. */
  async endOfDay(date: string): Promise<EndOfDay> {
    const from = dayStart(date);
    const to = new Date(from.getTime() + dayMs);
    const client = await this.pool.connect();
    try {
      // One snapshot: the two reports must describe the same state of the ledger.
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      const types = await client.query<TransactionTypeRow>(transactionTypesSql, [from, to]);
      const accounts = await client.query<AccountTypeDayRow>(accountTypesDaySql, [from, to]);
      await client.query("COMMIT");
      return {
        date,
        from: from.toISOString(),
        to: to.toISOString(),
        transactionTypes: types.rows.map(endOfDayTransactionType),
        accountTypes: accounts.rows.map(endOfDayAccountType),
      };
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** An account's balances as they stood at `asOf`; undefined when the account does not exist. */
  async balancesAsOf(accountId: string, asOf: Date): Promise<BalanceSetResource | undefined> {
    assertInstant(asOf, "asOf");
    if (!uuidPattern.test(accountId)) return undefined;
    const result = await this.pool.query<BalanceRow>(balancesAsOfSql, [accountId, asOf]);
    const row = result.rows[0];
    return row === undefined ? undefined : balanceSetResource(row, asOf);
  }
}

function trialBalanceAccountType(row: TrialBalanceRow): TrialBalanceAccountType {
  const currency = currencyOf(row.currency);
  const debits = new Decimal(row.debits);
  const credits = new Decimal(row.credits);
  return {
    accountType: row.account_type,
    currency,
    debits: formatAmount(debits, currency),
    credits: formatAmount(credits, currency),
    balance: formatAmount(normalSense(row.normal_balance, debits.minus(credits)), currency),
  };
}

/** Σ debit-side and Σ credit-side balances per currency, in currency order. */
function currencyTotals(rows: readonly TrialBalanceRow[]): TrialBalanceCurrency[] {
  const totals = new Map<CurrencyCode, { debits: Decimal; credits: Decimal }>();
  for (const row of rows) {
    const currency = currencyOf(row.currency);
    const total = totals.get(currency) ?? { debits: new Decimal(0), credits: new Decimal(0) };
    totals.set(currency, {
      debits: total.debits.plus(row.debits),
      credits: total.credits.plus(row.credits),
    });
  }
  return [...totals]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([currency, { debits, credits }]) => ({
      currency,
      totalDebits: formatAmount(debits, currency),
      totalCredits: formatAmount(credits, currency),
      balanced: debits.equals(credits),
    }));
}

function endOfDayTransactionType(row: TransactionTypeRow): EndOfDayTransactionType {
  const currency = currencyOf(row.currency);
  return {
    transactionType: row.transaction_type,
    currency,
    // A day's posting count fits a JS number by many orders of magnitude; it is not money.
    count: Number(row.count),
    amount: formatAmount(new Decimal(row.amount), currency),
  };
}

function endOfDayAccountType(row: AccountTypeDayRow): EndOfDayAccountType {
  const currency = currencyOf(row.currency);
  const debits = new Decimal(row.debits);
  const credits = new Decimal(row.credits);
  const openingDebitSense = new Decimal(row.opening_debit_sense);
  const closingDebitSense = openingDebitSense.plus(debits).minus(credits);
  return {
    accountType: row.account_type,
    currency,
    opening: formatAmount(normalSense(row.normal_balance, openingDebitSense), currency),
    debits: formatAmount(debits, currency),
    credits: formatAmount(credits, currency),
    closing: formatAmount(normalSense(row.normal_balance, closingDebitSense), currency),
  };
}

/** A debit-sense amount (debits − credits) in the sense of `normal`. */
function normalSense(normal: NormalBalance, debitSense: Decimal): Decimal {
  return normal === "DEBIT" ? debitSense : debitSense.negated();
}

/** Midnight UTC of a YYYY-MM-DD calendar day (2026-02-30 is not one). */
export function dayStart(date: string): Date {
  const match = dayPattern.exec(date);
  const start = match === null ? new Date(Number.NaN) : new Date(`${date}T00:00:00.000Z`);
  if (Number.isNaN(start.getTime()) || start.toISOString().slice(0, 10) !== date) {
    throw new RangeError(`${date} is not a calendar day (YYYY-MM-DD)`);
  }
  return start;
}

function currencyOf(text: string): CurrencyCode {
  if (!isCurrencyCode(text)) throw new Error(`assertion failed: unknown currency ${text}`);
  return text;
}

function assertInstant(instant: Date, name: string): void {
  if (Number.isNaN(instant.getTime())) throw new RangeError(`${name} is not a valid instant`);
}
