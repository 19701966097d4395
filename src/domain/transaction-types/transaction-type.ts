/**
 * Transaction types (configuration): a code, whether it needs step-up 2FA, and the posting
 * template a domain transaction of the type expands into. Each type is its own stream
 * (`config-transaction-type-<code>`); its `version` counts the definitions in that stream, so
 * a transaction records which version of the template it was expanded from.
 */
import type { AccountTypeState } from "../account-types/account-type.js";
import { accountTypeCodePattern } from "../account-types/account-type.js";
import { type Rejection, reject, rejectWithErrors } from "../errors.js";
import {
  type AllowedAccountTypes,
  canonicalLegs,
  type TemplateLeg,
  type TemplateLegRequest,
  templateViolations,
} from "./template.js";

/** A transaction type code has the shape of an account type code (API.md). */
export const transactionTypeCodePattern = accountTypeCodePattern;

export interface TransactionTypeDefinition {
  readonly code: string;
  readonly description: string;
  readonly requiresTwoFactor: boolean;
  readonly postings: readonly TemplateLeg[];
  /** Which account types may fill each role; null: any type (permissions still apply). */
  readonly allowedAccountTypes: AllowedAccountTypes | null;
}

export interface TransactionTypeDefined {
  readonly type: "TransactionTypeDefined";
  readonly data: TransactionTypeDefinition & { readonly definedAt: string };
}

export type TransactionTypeEvent = TransactionTypeDefined;

export interface TransactionType extends TransactionTypeDefinition {
  readonly definedAt: string;
  /** 1 for the first definition; a transaction records the version it was expanded from. */
  readonly version: number;
}

export type TransactionTypeState = TransactionType | undefined;

export function evolveTransactionType(
  state: TransactionTypeState,
  event: TransactionTypeEvent,
): TransactionTypeState {
  return { ...event.data, version: (state?.version ?? 0) + 1 };
}

export interface DefineTransactionType {
  readonly code: string;
  readonly description: string;
  readonly requiresTwoFactor: boolean;
  readonly postings: readonly TemplateLegRequest[];
  readonly allowedAccountTypes?: AllowedAccountTypes | null;
}

/**
 * Defines a type once (a second definition of a code is DUPLICATE_CODE). `accountTypes`
 * holds the state of every account type the template names, read by the caller.
 */
export function decideDefineTransactionType(
  command: DefineTransactionType,
  state: TransactionTypeState,
  accountTypes: ReadonlyMap<string, AccountTypeState>,
  now: Date,
): TransactionTypeDefined | Rejection {
  if (state !== undefined) {
    return reject("DUPLICATE_CODE", `transaction type ${command.code} already exists`, {
      code: command.code,
    });
  }
  if (!transactionTypeCodePattern.test(command.code)) {
    return reject("VALIDATION_ERROR", "a transaction type code is ^[A-Z][A-Z0-9_]{1,31}$");
  }
  const violations = templateViolations(command, accountTypes);
  if (violations.length > 0) {
    return rejectWithErrors(
      "INVALID_TEMPLATE",
      `the posting template has ${violations.length} problem(s)`,
      violations,
    );
  }
  return {
    type: "TransactionTypeDefined",
    data: {
      code: command.code,
      description: command.description,
      requiresTwoFactor: command.requiresTwoFactor,
      postings: canonicalLegs(command.postings),
      allowedAccountTypes: sortedAllowed(command.allowedAccountTypes ?? null),
      definedAt: now.toISOString(),
    },
  };
}

/** Each role's list de-duplicated and sorted: the same permission reads the same. */
function sortedAllowed(allowed: AllowedAccountTypes | null): AllowedAccountTypes | null {
  if (allowed === null) return null;
  return Object.fromEntries(
    Object.entries(allowed).map(([role, codes]) => [role, [...new Set(codes)].sort()]),
  );
}
