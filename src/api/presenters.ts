/**
 * The write side's results in the API.md shapes, so a command's response and a later GET of
 * the same resource (src/queries) read alike.
 */
import type { BalanceView, HoldResult } from "../commands/ledger.js";
import type { AccountType } from "../domain/account-types/account-type.js";
import type { Account } from "../domain/accounts/account.js";
import type { Posting } from "../domain/postings/posting.js";

export function accountTypeBody(type: AccountType) {
  return {
    code: type.code,
    name: type.name,
    normalBalance: type.normalBalance,
    allowNegative: type.allowNegative,
    metadataSchema: (type.metadataSchema ?? null) as Record<string, unknown> | null,
    createdAt: type.definedAt,
  };
}

export function accountBody(account: Account, position: string) {
  return {
    id: account.id,
    accountType: account.accountType,
    currency: account.currency,
    country: account.country,
    ownerId: account.ownerId,
    name: account.name,
    status: account.status,
    metadata: account.metadata,
    createdAt: account.openedAt,
    position,
  };
}

export function overdraftBody(account: Account, balances: BalanceView, position: string) {
  return {
    accountId: account.id,
    limit: { value: balances.overdraftLimit, currency: account.currency },
    expiresAt: account.overdraftExpiresAt,
    position,
  };
}

export function balanceBody(balances: BalanceView, position: string | null, asOf: Date) {
  return { ...balances, position, asOf: asOf.toISOString() };
}

export function postingBody(posting: Posting, position: string) {
  return {
    id: posting.id,
    status: posting.status,
    transactionType: posting.transactionType,
    reference: posting.reference,
    description: posting.description,
    entries: posting.entries.map((entry) => ({
      accountId: entry.accountId,
      side: entry.side,
      amount: { value: entry.amount, currency: entry.currency },
    })),
    metadata: posting.metadata,
    createdAt: posting.createdAt,
    reverses: posting.reverses,
    reversedBy: posting.reversedBy,
    position,
  };
}

export function holdBody(
  hold: HoldResult,
  position: string,
  details: { reason: string | null; createdAt: string | null },
) {
  return {
    id: hold.holdId,
    accountId: hold.accountId,
    amount: { value: hold.amount, currency: hold.currency },
    status: hold.status,
    reason: details.reason,
    expiresAt: hold.expiresAt,
    ...(details.createdAt === null ? {} : { createdAt: details.createdAt }),
    position,
  };
}
