/**
 * Applies the mobile-money catalogue (src/domain/catalogue/mobile-money.ts) through the
 * ordinary commands, so every piece of it is an event like any other configuration.
 *
 * Seeding never overrides an operator's choices: what exists is kept (a code already defined,
 * an account already open), a permission list only gains the catalogue's entries, and a limit
 * is set only for a pair the catalogue itself just introduced. So `nova seed catalogue` may
 * run any number of times, and a run cut short finishes on the next one.
 */
import { v5 as uuidv5 } from "uuid";
import type { AccountTypeState } from "../domain/account-types/account-type.js";
import {
  catalogueAccountTypes,
  catalogueLimits,
  cataloguePermissions,
  catalogueTransactionTypes,
  type OperatorAccount,
  operatorAccounts,
} from "../domain/catalogue/mobile-money.js";
import type { RejectionCode } from "../domain/errors.js";
import { accountTypeStream } from "../domain/streams.js";
import { LedgerCommands } from "./ledger.js";
import type { CommandOutcome, CommandPipeline } from "./pipeline.js";
import type { Actor } from "./requests.js";
import { TransactionCommands } from "./transactions.js";

/** Namespace of the operator accounts' ids (a fixed random UUID; keep it). */
const operatorAccountNamespace = "5b0e3d1c-8f2a-4c6e-9a7d-3e1f0b2c4d5a";

/** The id of the operator's `account` in `currency`: the same on every run and every server. */
export function operatorAccountId(account: OperatorAccount, currency: string): string {
  return uuidv5(`nova-catalogue\n${currency}\n${account}`, operatorAccountNamespace);
}

export interface CatalogueReport {
  readonly currency: string;
  readonly operatorAccounts: Readonly<Record<OperatorAccount, string>>;
  /** What this run created; empty on a store that already had the whole catalogue. */
  readonly accountTypesDefined: readonly string[];
  readonly operatorAccountsOpened: readonly string[];
  readonly transactionTypesDefined: readonly string[];
  readonly limitsSet: readonly string[];
}

/** A catalogue step refused for another reason than "it is already there". */
export class CatalogueError extends Error {
  override readonly name = "CatalogueError";
}

export async function seedCatalogue(
  pipeline: CommandPipeline,
  actor: Actor,
  currency = "XCD",
): Promise<CatalogueReport> {
  const ledger = new LedgerCommands(pipeline);
  const transactions = new TransactionCommands(pipeline);
  const accountTypesDefined: string[] = [];
  for (const type of catalogueAccountTypes) {
    const outcome = await ledger.defineAccountType(type, actor);
    if (created(outcome, "DUPLICATE_CODE", `account type ${type.code}`)) {
      accountTypesDefined.push(type.code);
    }
  }
  const operator = operatorIds(currency);
  const operatorAccountsOpened: string[] = [];
  for (const account of operatorAccounts) {
    const outcome = await ledger.openAccount(
      { id: operator[account], accountType: account, currency, ownerId: "operator", name: account },
      actor,
    );
    if (created(outcome, "ACCOUNT_EXISTS", `operator account ${account}`)) {
      operatorAccountsOpened.push(account);
    }
  }
  const transactionTypesDefined: string[] = [];
  for (const type of catalogueTransactionTypes(operator)) {
    const outcome = await transactions.defineTransactionType(type, actor);
    if (created(outcome, "DUPLICATE_CODE", `transaction type ${type.code}`)) {
      transactionTypesDefined.push(type.code);
    }
  }
  await grantPermissions(pipeline, transactions, actor);
  const introduced = new Set([...accountTypesDefined, ...transactionTypesDefined]);
  const limitsSet: string[] = [];
  for (const limit of catalogueLimits) {
    if (!introduced.has(limit.accountType) && !introduced.has(limit.transactionType)) continue;
    const outcome = await transactions.setLimit(limit, actor);
    created(outcome, undefined, `limit ${limit.accountType} × ${limit.transactionType}`);
    limitsSet.push(`${limit.accountType} × ${limit.transactionType}`);
  }
  return {
    currency,
    operatorAccounts: operator,
    accountTypesDefined,
    operatorAccountsOpened,
    transactionTypesDefined,
    limitsSet,
  };
}

function operatorIds(currency: string): Record<OperatorAccount, string> {
  return Object.fromEntries(
    operatorAccounts.map((account) => [account, operatorAccountId(account, currency)]),
  ) as Record<OperatorAccount, string>;
}

/** Each account type's list gains the catalogue's entries; an operator's own stay. */
async function grantPermissions(
  pipeline: CommandPipeline,
  transactions: TransactionCommands,
  actor: Actor,
): Promise<void> {
  for (const [code, catalogued] of Object.entries(cataloguePermissions)) {
    const current = (await pipeline.load(accountTypeStream(code))).state as AccountTypeState;
    const listed = current?.transactionTypes;
    const missing = catalogued.filter((type) => !(listed ?? []).includes(type));
    if (listed !== undefined && missing.length === 0) continue;
    const outcome = await transactions.setAccountTypeTransactionTypes(
      { code, transactionTypes: [...(listed ?? []), ...missing] },
      actor,
    );
    created(outcome, undefined, `permissions of ${code}`);
  }
}

/** Whether the step created something; "already there" is false, anything else throws. */
function created(
  outcome: CommandOutcome<unknown>,
  alreadyThere: RejectionCode | undefined,
  what: string,
): boolean {
  if (outcome.ok) return !outcome.replayed;
  if (outcome.rejection.code === alreadyThere) return false;
  throw new CatalogueError(`${what}: ${outcome.rejection.code} ${outcome.rejection.message}`);
}
