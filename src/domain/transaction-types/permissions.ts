/**
 * Which accounts may take part in which transaction types (API.md "Configuration"): each
 * account type lists the transaction types its accounts may take part in, and a type with no
 * list takes part in none (default deny). A posting or transaction that names a type is
 * refused when any of its accounts' types does not list it.
 */
import type { Account, AccountState } from "../accounts/account.js";
import { type Rejection, reject } from "../errors.js";
import type { TransactionTypeState } from "./transaction-type.js";

/** Account type code → the transaction types its accounts may take part in. */
export type Permissions = ReadonlyMap<string, readonly string[]>;

export function unknownTransactionType(code: string): Rejection {
  return reject("UNKNOWN_TRANSACTION_TYPE", `no transaction type ${code}`, {
    transactionType: code,
  });
}

export function notAllowed(account: Account, transactionType: string, why?: string): Rejection {
  return reject(
    "TRANSACTION_TYPE_NOT_ALLOWED",
    why ??
      `accounts of type ${account.accountType} may not take part in ${transactionType} transactions`,
    { accountId: account.id, accountType: account.accountType, transactionType },
  );
}

/** The first account whose type may not use `transactionType`, refused; else undefined. */
export function checkParticipation(
  transactionType: string,
  accounts: Iterable<Account>,
  permissions: Permissions,
): Rejection | undefined {
  for (const account of accounts) {
    const listed = permissions.get(account.accountType) ?? [];
    if (!listed.includes(transactionType)) return notAllowed(account, transactionType);
  }
  return undefined;
}

/**
 * The check a raw posting that names a type goes through: the type exists and every account
 * that exists may use it (a missing account is the posting decider's ACCOUNT_NOT_FOUND).
 */
export function checkTypedPosting(
  transactionType: string,
  type: TransactionTypeState,
  accounts: ReadonlyMap<string, AccountState>,
  permissions: Permissions,
): Rejection | undefined {
  if (type === undefined) return unknownTransactionType(transactionType);
  const existing = [...accounts.values()].filter((account) => account !== undefined);
  return checkParticipation(type.code, existing, permissions);
}
