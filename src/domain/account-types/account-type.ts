/**
 * Account types (configuration): the normal balance and whether the balance may go negative.
 * Each type is its own stream, defined once; accounts copy the rules they need when opened, so
 * deciding on an account never needs its type loaded. The same stream records which
 * transaction types the type's accounts may take part in (API.md: default deny).
 */
import { assert, type Rejection, reject, rejectWithErrors } from "../errors.js";
import { isUnlimited, type Limit, type LimitSet } from "../limits/limits.js";

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

/** Replaces the list of transaction types the type's accounts may take part in. */
export interface AccountTypeTransactionTypesSet {
  readonly type: "AccountTypeTransactionTypesSet";
  readonly data: {
    readonly code: string;
    readonly transactionTypes: readonly string[];
    readonly at: string;
  };
}

export type AccountTypeEvent = AccountTypeDefined | AccountTypeTransactionTypesSet | LimitSet;

/**
 * The type as configured. `transactionTypes` is absent until a list is set: such a type's
 * accounts take part in no typed posting at all (default deny).
 */
export type ConfiguredAccountType = AccountType & {
  readonly transactionTypes?: readonly string[];
  /** Transaction type → the limit on what the type's accounts pay in it (absent: none). */
  readonly limits?: Readonly<Record<string, Limit>>;
};

export type AccountTypeState = ConfiguredAccountType | undefined;

export function evolveAccountType(
  state: AccountTypeState,
  event: AccountTypeEvent,
): AccountTypeState {
  if (event.type === "AccountTypeDefined") return event.data;
  assert(state !== undefined, `${event.type} on an undefined account type`);
  if (event.type === "LimitSet") {
    const { [event.data.transactionType]: _replaced, ...others } = state.limits ?? {};
    const limits = isUnlimited(event.data)
      ? others
      : { ...others, [event.data.transactionType]: event.data };
    return { ...state, limits };
  }
  return { ...state, transactionTypes: event.data.transactionTypes };
}

/** Most transaction types one account type may list (a catalogue has a few dozen). */
export const permittedTransactionTypesMax = 200;

export interface SetAccountTypeTransactionTypes {
  readonly code: string;
  readonly transactionTypes: readonly string[];
}

/**
 * Sets the list. `known` says which of the named transaction types exist (read from their
 * streams by the caller): a permission for a type that does not exist is refused, so the list
 * never names a code that a later definition could give an unintended meaning.
 */
export function decideSetAccountTypeTransactionTypes(
  command: SetAccountTypeTransactionTypes,
  state: AccountTypeState,
  known: ReadonlySet<string>,
  now: Date,
): AccountTypeTransactionTypesSet | Rejection {
  if (state === undefined) {
    return reject("UNKNOWN_ACCOUNT_TYPE", `no account type ${command.code}`, {
      code: command.code,
    });
  }
  const listed = [...new Set(command.transactionTypes)].sort();
  if (listed.length > permittedTransactionTypesMax) {
    return reject(
      "VALIDATION_ERROR",
      `an account type lists at most ${permittedTransactionTypesMax} transaction types`,
    );
  }
  const unknown = listed.filter((code) => !known.has(code));
  if (unknown.length > 0) {
    return rejectWithErrors(
      "UNKNOWN_TRANSACTION_TYPE",
      `no transaction type ${unknown.join(", ")}`,
      unknown.map((code) => ({
        path: `/transactionTypes/${command.transactionTypes.indexOf(code)}`,
        message: `no transaction type ${code}`,
      })),
    );
  }
  return {
    type: "AccountTypeTransactionTypesSet",
    data: { code: state.code, transactionTypes: listed, at: now.toISOString() },
  };
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
