/**
 * The API.md shapes the read side answers with, and the mapping from read-model rows to them.
 * Rows come from pg as they are: numeric columns as strings (kept out of JS numbers: they go
 * through decimal.js to the currency's scale), timestamptz as Date (written out as ISO-8601).
 */
import type { NormalBalance } from "../domain/account-types/account-type.js";
import type { AccountStatus, Side } from "../domain/accounts/account.js";
import {
  type AmountText,
  type CurrencyCode,
  Decimal,
  formatAmount,
  isCurrencyCode,
} from "../domain/money/index.js";

type JsonObject = Readonly<Record<string, unknown>>;

/** API.md AccountType. */
export interface AccountTypeResource {
  readonly code: string;
  readonly name: string;
  readonly normalBalance: NormalBalance;
  readonly allowNegative: boolean;
  readonly metadataSchema: JsonObject | null;
  readonly createdAt: string;
}

/** API.md Account (without the command response's `position`). */
export interface AccountResource {
  readonly id: string;
  readonly accountType: string;
  readonly currency: CurrencyCode;
  readonly country: string | null;
  readonly ownerId: string | null;
  readonly name: string | null;
  readonly status: AccountStatus;
  readonly metadata: JsonObject;
  readonly createdAt: string;
}

/** API.md BalanceSet (the HTTP layer adds `position`). */
export interface BalanceSetResource {
  readonly accountId: string;
  readonly currency: CurrencyCode;
  readonly posted: string;
  readonly held: string;
  readonly available: string;
  readonly overdraftLimit: string;
  /** The instant the balances were evaluated at: what counts as held depends on it. */
  readonly asOf: string;
}

export interface PostingEntryResource {
  readonly accountId: string;
  readonly side: Side;
  readonly amount: AmountText;
}

/** API.md Posting. */
export interface PostingResource {
  readonly id: string;
  readonly status: "POSTED" | "REVERSED";
  readonly transactionType: string | null;
  readonly reference: string | null;
  readonly description: string | null;
  readonly entries: readonly PostingEntryResource[];
  readonly metadata: JsonObject;
  readonly createdAt: string;
  readonly reverses: string | null;
  readonly reversedBy: string | null;
  /** The event-store position of the posting's PostingRecorded event. */
  readonly position: string;
}

export type HoldStatus = "ACTIVE" | "RELEASED" | "CAPTURED" | "EXPIRED";

/** API.md Hold. */
export interface HoldResource {
  readonly id: string;
  readonly accountId: string;
  readonly amount: AmountText;
  readonly status: HoldStatus;
  readonly reason: string | null;
  readonly expiresAt: string | null;
  readonly createdAt: string;
}

/** API.md list: a page of items and the cursor of the next page (null on the last). */
export interface Page<Item> {
  readonly data: readonly Item[];
  readonly nextCursor: string | null;
}

export interface AccountTypeRow {
  code: string;
  name: string;
  normal_balance: NormalBalance;
  allow_negative: boolean;
  metadata_schema: JsonObject | null;
  created_at: Date;
}

export function accountTypeResource(row: AccountTypeRow): AccountTypeResource {
  return {
    code: row.code,
    name: row.name,
    normalBalance: row.normal_balance,
    allowNegative: row.allow_negative,
    metadataSchema: row.metadata_schema,
    createdAt: row.created_at.toISOString(),
  };
}

export interface AccountRow {
  id: string;
  account_type: string;
  currency: string;
  country: string | null;
  owner_id: string | null;
  name: string | null;
  status: AccountStatus;
  metadata: JsonObject;
  created_at: Date;
}

export function accountResource(row: AccountRow): AccountResource {
  return {
    id: row.id,
    accountType: row.account_type,
    currency: currencyOf(row.currency),
    country: row.country,
    ownerId: row.owner_id,
    name: row.name,
    status: row.status,
    metadata: row.metadata,
    createdAt: row.created_at.toISOString(),
  };
}

export interface BalanceRow {
  account_id: string;
  currency: string;
  posted: string;
  /** Σ live holds (ACTIVE and not expired at the evaluation instant). */
  held: string;
  overdraft_limit: string;
}

export function balanceSetResource(row: BalanceRow, asOf: Date): BalanceSetResource {
  const currency = currencyOf(row.currency);
  const posted = new Decimal(row.posted);
  const held = new Decimal(row.held);
  const overdraftLimit = new Decimal(row.overdraft_limit);
  return {
    accountId: row.account_id,
    currency,
    posted: formatAmount(posted, currency),
    held: formatAmount(held, currency),
    // API.md: available = posted − held + overdraftLimit.
    available: formatAmount(posted.minus(held).plus(overdraftLimit), currency),
    overdraftLimit: formatAmount(overdraftLimit, currency),
    asOf: asOf.toISOString(),
  };
}

export interface PostingRow {
  posting_id: string;
  status: "POSTED" | "REVERSED";
  transaction_type: string | null;
  reference: string | null;
  description: string | null;
  metadata: JsonObject;
  created_at: Date;
  reverses: string | null;
  reversed_by: string | null;
  position: string;
  /** The legs in the order they were requested (from PostingRecorded). */
  entries: readonly EntryJson[];
  /** created_at as µs UTC text: the sort key a cursor carries (Date keeps only ms). */
  sort_at: string;
}

/** A leg as ledger_transactions.entries keeps it: the write side's PostingEntry. */
export interface EntryJson {
  accountId: string;
  side: Side;
  amount: string;
  currency: string;
}

export function postingResource(row: PostingRow): PostingResource {
  return {
    id: row.posting_id,
    status: row.status,
    transactionType: row.transaction_type,
    reference: row.reference,
    description: row.description,
    entries: row.entries.map(entryResource),
    metadata: row.metadata,
    createdAt: row.created_at.toISOString(),
    reverses: row.reverses,
    reversedBy: row.reversed_by,
    position: row.position,
  };
}

function entryResource(entry: EntryJson): PostingEntryResource {
  return {
    accountId: entry.accountId,
    side: entry.side,
    amount: amountText(entry.amount, entry.currency),
  };
}

export interface HoldRow {
  id: string;
  account_id: string;
  amount: string;
  currency: string;
  status: HoldStatus;
  reason: string | null;
  expires_at: Date | null;
  created_at: Date;
}

export function holdResource(row: HoldRow, now: Date): HoldResource {
  return {
    id: row.id,
    accountId: row.account_id,
    amount: amountText(row.amount, row.currency),
    status: holdStatusAt(row, now),
    reason: row.reason,
    expiresAt: row.expires_at?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
  };
}

/**
 * A hold stops counting at its expiry, but HoldExpired is only recorded by the next command on
 * its account (src/domain/accounts/account.ts), so a row can still say ACTIVE past it. The
 * write side's rule decides: live while expiresAt is absent or after `now`.
 */
export function holdStatusAt(row: Pick<HoldRow, "status" | "expires_at">, now: Date): HoldStatus {
  const expired = row.expires_at !== null && row.expires_at.getTime() <= now.getTime();
  return row.status === "ACTIVE" && expired ? "EXPIRED" : row.status;
}

function amountText(value: string, currency: string): AmountText {
  const code = currencyOf(currency);
  return { value: formatAmount(new Decimal(value), code), currency: code };
}

/** A currency read back from a read model; the write side only ever stores known codes. */
function currencyOf(text: string): CurrencyCode {
  if (!isCurrencyCode(text)) {
    throw new Error(`read model holds an unknown currency ${JSON.stringify(text)}`);
  }
  return text;
}
