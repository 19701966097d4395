/**
 * Account types (configuration): the normal balance and whether the balance may go negative.
 * Each type is its own stream, defined once; accounts copy the rules they need when opened, so
 * deciding on an account never needs its type loaded.
 */
import { type Rejection, reject } from "../errors.js";

export type NormalBalance = "DEBIT" | "CREDIT";

export const accountTypeCodePattern = /^[A-Z][A-Z0-9_]{1,31}$/;

export interface AccountType {
  readonly code: string;
  readonly name: string;
  readonly normalBalance: NormalBalance;
  readonly allowNegative: boolean;
  /** A JSON Schema that account metadata must satisfy (checked at the edge); null: any. */
  readonly metadataSchema: Readonly<Record<string, unknown>> | null;
  readonly definedAt: string;
}

export interface AccountTypeDefined {
  readonly type: "AccountTypeDefined";
  readonly data: AccountType;
}

export type AccountTypeEvent = AccountTypeDefined;

export type AccountTypeState = AccountType | undefined;

export function evolveAccountType(
  _state: AccountTypeState,
  event: AccountTypeEvent,
): AccountTypeState {
  return event.data;
}

export interface DefineAccountType {
  readonly code: string;
  readonly name: string;
  readonly normalBalance: NormalBalance;
  readonly allowNegative: boolean;
  readonly metadataSchema?: Readonly<Record<string, unknown>> | null;
}

export function decideDefineAccountType(
  command: DefineAccountType,
  state: AccountTypeState,
  now: Date,
): AccountTypeDefined | Rejection {
  if (state !== undefined) {
    return reject("DUPLICATE_CODE", `account type ${command.code} already exists`, {
      code: command.code,
    });
  }
  if (!accountTypeCodePattern.test(command.code)) {
    return reject("VALIDATION_ERROR", "an account type code is ^[A-Z][A-Z0-9_]{1,31}$");
  }
  return {
    type: "AccountTypeDefined",
    data: {
      code: command.code,
      name: command.name,
      normalBalance: command.normalBalance,
      allowNegative: command.allowNegative,
      metadataSchema: command.metadataSchema ?? null,
      definedAt: now.toISOString(),
    },
  };
}
