/**
 * Limits per account type × transaction type (API.md "Configuration"): a per-transaction
 * maximum, a daily amount, a daily count and a monthly amount, over UTC days and months. A
 * limit counts what an account pays: the postings of the type in which it stands on the DEBIT
 * side. Reversals do not count (they give nothing back either).
 *
 * What an account has paid lives in its own aggregate (account.ts `paid`, folded from its
 * EntryPosted events), so the check runs inside the account's decision: two transactions
 * decided one after the other in a batch, or retried after an append conflict with another
 * process, each see what the other paid; they cannot both squeeze under a limit.
 *
 * A limit is an event on the account type's stream (LimitSet), read with the permissions.
 */
import type { Account } from "../accounts/account.js";
import { paidWithin } from "../accounts/account.js";
import { type FieldError, type Rejection, reject, rejectWithErrors } from "../errors.js";
import { Decimal, formatAmount } from "../money/index.js";
import type { Posting } from "../postings/posting.js";

export interface Limit {
  readonly accountType: string;
  readonly transactionType: string;
  /** Amounts are decimal strings in the paying account's currency; null: no such limit. */
  readonly perTransactionMax: string | null;
  readonly dailyAmountMax: string | null;
  readonly dailyCountMax: number | null;
  readonly monthlyAmountMax: string | null;
  readonly setAt: string;
}

/** On `config-account-type-<code>`: replaces the type's limit for one transaction type. */
export interface LimitSet {
  readonly type: "LimitSet";
  readonly data: Limit;
}

export type LimitName =
  | "perTransactionMax"
  | "dailyAmountMax"
  | "dailyCountMax"
  | "monthlyAmountMax";

export interface LimitViolation {
  readonly limit: LimitName;
  readonly max: string;
  /** What the account already paid in the window (a count for dailyCountMax). */
  readonly current: string;
  /** What this payment adds: its amount, or 1 for the count. */
  readonly attempted: string;
}

export interface LimitRemaining {
  readonly perTransaction?: string;
  readonly dailyAmount?: string;
  readonly dailyCount?: string;
  readonly monthlyAmount?: string;
}

/** API.md LimitCheckResponse. */
export interface LimitCheck {
  readonly allowed: boolean;
  readonly violations: readonly LimitViolation[];
  readonly remaining: LimitRemaining;
}

/** An amount limit: up to 14 integer digits and 6 decimals (the read models' numeric(20,6)). */
const limitAmountPattern = /^(0|[1-9][0-9]{0,13})(\.[0-9]{1,6})?$/;
/** The most payments a daily count may allow. */
export const dailyCountMaxLimit = 1_000_000;

export interface SetLimit {
  readonly accountType: string;
  readonly transactionType: string;
  readonly perTransactionMax?: string | null;
  readonly dailyAmountMax?: string | null;
  readonly dailyCountMax?: number | null;
  readonly monthlyAmountMax?: string | null;
}

/**
 * Sets (replaces) the limit of an account type for a transaction type. The caller says
 * whether both exist (read from their streams). Every field null removes the limit.
 */
export function decideSetLimit(
  command: SetLimit,
  existing: { readonly accountType: boolean; readonly transactionType: boolean },
  now: Date,
): LimitSet | Rejection {
  if (!existing.accountType) {
    return reject("UNKNOWN_ACCOUNT_TYPE", `no account type ${command.accountType}`, {
      code: command.accountType,
    });
  }
  if (!existing.transactionType) {
    return reject("UNKNOWN_TRANSACTION_TYPE", `no transaction type ${command.transactionType}`, {
      transactionType: command.transactionType,
    });
  }
  const errors = limitFieldErrors(command);
  if (errors.length > 0) return rejectWithErrors("VALIDATION_ERROR", "invalid limit", errors);
  return {
    type: "LimitSet",
    data: {
      accountType: command.accountType,
      transactionType: command.transactionType,
      perTransactionMax: command.perTransactionMax ?? null,
      dailyAmountMax: command.dailyAmountMax ?? null,
      dailyCountMax: command.dailyCountMax ?? null,
      monthlyAmountMax: command.monthlyAmountMax ?? null,
      setAt: now.toISOString(),
    },
  };
}

/** Whether `account` may pay `amount` more in a `limit.transactionType` payment at `now`. */
export function checkLimit(
  account: Account,
  limit: Limit | undefined,
  amount: Decimal,
  now: Date,
): LimitCheck {
  if (limit === undefined) return { allowed: true, violations: [], remaining: {} };
  const paid = paidWithin(account, limit.transactionType, now);
  const violations = limitViolations(account, limit, amount, paid, false);
  return {
    allowed: violations.length === 0,
    violations,
    remaining: remainingOf(account, limit, paid),
  };
}

type Paid = ReturnType<typeof paidWithin>;

/**
 * What paying `amount` more would break, in the order the limits are checked: per transaction,
 * daily amount, daily count, monthly amount. `firstOnly`: stop at the first (a posting is
 * refused for it alone, and the rest need not be worked out).
 */
function limitViolations(
  account: Account,
  limit: Limit,
  amount: Decimal,
  paid: Paid,
  firstOnly: boolean,
): LimitViolation[] {
  const violations: LimitViolation[] = [];
  const found = (violation: LimitViolation | undefined) => {
    if (violation !== undefined) violations.push(violation);
    return firstOnly && violations.length > 0;
  };
  // Each payment on its own: nothing counts as paid before it.
  const perTransaction = limit.perTransactionMax;
  if (found(amountViolation(account, "perTransactionMax", perTransaction, zero, amount))) {
    return violations;
  }
  const daily = limit.dailyAmountMax;
  if (found(amountViolation(account, "dailyAmountMax", daily, paid.dayAmount, amount))) {
    return violations;
  }
  if (found(countViolation(limit.dailyCountMax, paid.dayCount))) return violations;
  const monthly = limit.monthlyAmountMax;
  found(amountViolation(account, "monthlyAmountMax", monthly, paid.monthAmount, amount));
  return violations;
}

const zero = new Decimal(0);

function amountViolation(
  account: Account,
  name: LimitName,
  max: string | null,
  current: Decimal,
  amount: Decimal,
): LimitViolation | undefined {
  if (max === null || !current.plus(amount).greaterThan(max)) return undefined;
  // Figures in the account's currency and scale, as its balances are shown.
  return {
    limit: name,
    max,
    current: formatAmount(current, account.currency),
    attempted: formatAmount(amount, account.currency),
  };
}

function countViolation(max: number | null, dayCount: number): LimitViolation | undefined {
  if (max === null || !(dayCount + 1 > max)) return undefined;
  return { limit: "dailyCountMax", max: String(max), current: String(dayCount), attempted: "1" };
}

/** What the account may still pay under each limit (API.md LimitCheckResponse). */
function remainingOf(account: Account, limit: Limit, paid: Paid): LimitRemaining {
  const remaining: { -readonly [Key in keyof LimitRemaining]: string } = {};
  const left = (max: string, current: Decimal) =>
    formatAmount(Decimal.max(new Decimal(max).minus(current), 0), account.currency);
  // Each payment on its own: what remains per transaction is the maximum itself.
  if (limit.perTransactionMax !== null) remaining.perTransaction = limit.perTransactionMax;
  if (limit.dailyAmountMax !== null) {
    remaining.dailyAmount = left(limit.dailyAmountMax, paid.dayAmount);
  }
  if (limit.dailyCountMax !== null) {
    remaining.dailyCount = String(Math.max(limit.dailyCountMax - paid.dayCount, 0));
  }
  if (limit.monthlyAmountMax !== null) {
    remaining.monthlyAmount = left(limit.monthlyAmountMax, paid.monthAmount);
  }
  return remaining;
}

/**
 * LIMIT_EXCEEDED for the first paying account of `posting` over its type's limit, where
 * `accounts` are the accounts before the posting and `limits` each account type's limit for
 * the posting's transaction type.
 */
export function checkPostingLimits(
  posting: Posting,
  accounts: ReadonlyMap<string, Account | undefined>,
  limits: ReadonlyMap<string, Limit>,
  now: Date,
): Rejection | undefined {
  if (posting.transactionType === null || posting.reverses !== null) return undefined;
  for (const [accountId, paying] of debitsByAccount(posting)) {
    const account = accounts.get(accountId);
    if (account === undefined) continue;
    const limit = limits.get(account.accountType);
    if (limit === undefined) continue;
    const paid = paidWithin(account, limit.transactionType, now);
    const [first] = limitViolations(account, limit, paying, paid, true);
    if (first !== undefined) return limitExceeded(account, posting.transactionType, first);
  }
  return undefined;
}

function limitExceeded(account: Account, transactionType: string, violation: LimitViolation) {
  return reject(
    "LIMIT_EXCEEDED",
    `account ${account.id} would exceed its ${violation.limit} of ${violation.max} for ${transactionType}`,
    {
      accountId: account.id,
      accountType: account.accountType,
      transactionType,
      ...violation,
    },
  );
}

/** What each account pays in the posting: the sum of its DEBIT legs. */
function debitsByAccount(posting: Posting): Map<string, Decimal> {
  const debits = new Map<string, Decimal>();
  for (const entry of posting.entries) {
    if (entry.side !== "DEBIT") continue;
    const before = debits.get(entry.accountId);
    debits.set(
      entry.accountId,
      before === undefined ? new Decimal(entry.amount) : before.plus(entry.amount),
    );
  }
  return debits;
}

function limitFieldErrors(command: SetLimit): FieldError[] {
  const errors: FieldError[] = [];
  for (const field of ["perTransactionMax", "dailyAmountMax", "monthlyAmountMax"] as const) {
    const value = command[field];
    if (value === null || value === undefined) continue;
    if (!limitAmountPattern.test(value) || new Decimal(value).isZero()) {
      errors.push({ path: `/${field}`, message: "must be a positive decimal string like 500.00" });
    }
  }
  const count = command.dailyCountMax;
  if (count !== null && count !== undefined) {
    if (!Number.isInteger(count) || count < 1 || count > dailyCountMaxLimit) {
      errors.push({
        path: "/dailyCountMax",
        message: `must be a whole number 1–${dailyCountMaxLimit}`,
      });
    }
  }
  return errors;
}

/** Whether a limit limits anything (all fields null: the limit was removed). */
export function isUnlimited(limit: Limit): boolean {
  return (
    limit.perTransactionMax === null &&
    limit.dailyAmountMax === null &&
    limit.dailyCountMax === null &&
    limit.monthlyAmountMax === null
  );
}
