/**
 * Account commands: open, freeze, unfreeze, close, set the overdraft line. Each decision is
 * pure: state and `now` in, events or a typed rejection out.
 */
import type { AccountType } from "../account-types/account-type.js";
import { type Rejection, reject } from "../errors.js";
import {
  type CurrencyCode,
  Decimal,
  formatAmount,
  isCurrencyCode,
  parseAmount,
} from "../money/index.js";
import {
  type AccountEvent,
  type AccountOpened,
  type AccountState,
  type AccountStatus,
  expiredHoldEvents,
  heldAmount,
  type JsonRecord,
} from "./account.js";

export interface OpenAccount {
  readonly accountId: string;
  readonly currency: string;
  readonly country?: string | null;
  readonly ownerId?: string | null;
  readonly name?: string | null;
  readonly metadata?: JsonRecord;
  /** Set when the request was keyed: the hash its retries must match. */
  readonly requestHash?: string | null;
}

export function decideOpenAccount(
  command: OpenAccount,
  state: AccountState,
  accountType: AccountType | undefined,
  now: Date,
): AccountOpened | Rejection {
  if (state !== undefined) {
    return reject("ACCOUNT_EXISTS", `account ${command.accountId} already exists`, {
      accountId: command.accountId,
    });
  }
  if (accountType === undefined) {
    return reject("UNKNOWN_ACCOUNT_TYPE", "no such account type");
  }
  if (!isCurrencyCode(command.currency)) {
    return reject("VALIDATION_ERROR", `unsupported currency ${command.currency}`);
  }
  return {
    type: "AccountOpened",
    data: {
      accountId: command.accountId,
      accountType: accountType.code,
      normalBalance: accountType.normalBalance,
      allowNegative: accountType.allowNegative,
      currency: command.currency,
      country: command.country ?? null,
      ownerId: command.ownerId ?? null,
      name: command.name ?? null,
      metadata: command.metadata ?? {},
      openedAt: now.toISOString(),
      ...(command.requestHash ? { requestHash: command.requestHash } : {}),
    },
  };
}

export type StatusAction = "freeze" | "unfreeze" | "close";

const transitions: Readonly<Record<StatusAction, { from: AccountStatus; to: AccountStatus }>> = {
  freeze: { from: "ACTIVE", to: "FROZEN" },
  unfreeze: { from: "FROZEN", to: "ACTIVE" },
  close: { from: "ACTIVE", to: "CLOSED" },
};

export function decideChangeStatus(
  command: { readonly accountId: string; readonly action: StatusAction; readonly reason: string },
  state: AccountState,
  now: Date,
): AccountEvent[] | Rejection {
  if (state === undefined) return accountNotFound(command.accountId);
  const transition = transitions[command.action];
  if (state.status !== transition.from) {
    const code = command.action === "close" ? "ACCOUNT_NOT_ACTIVE" : "INVALID_STATUS_TRANSITION";
    return reject(code, `cannot ${command.action} an account that is ${state.status}`, {
      accountId: state.id,
      status: state.status,
    });
  }
  if (command.action === "close") {
    const held = heldAmount(state, now);
    if (!state.posted.isZero() || !held.isZero()) {
      return reject(
        "ACCOUNT_NOT_EMPTY",
        "an account closes only at a zero balance with no active hold",
        {
          accountId: state.id,
          posted: formatAmount(state.posted, state.currency),
          held: formatAmount(held, state.currency),
        },
      );
    }
  }
  return [
    ...expiredHoldEvents(state, now),
    {
      type: "AccountStatusChanged",
      data: {
        accountId: state.id,
        from: state.status,
        to: transition.to,
        reason: command.reason,
        at: now.toISOString(),
      },
    },
  ];
}

export interface SetOverdraftLine {
  readonly accountId: string;
  readonly limit: { readonly value: string; readonly currency: string };
  readonly expiresAt?: string | null;
}

export function decideSetOverdraftLine(
  command: SetOverdraftLine,
  state: AccountState,
  now: Date,
): AccountEvent[] | Rejection {
  if (state === undefined) return accountNotFound(command.accountId);
  if (state.status === "CLOSED") {
    return reject("ACCOUNT_NOT_ACTIVE", "a closed account takes no overdraft line", {
      accountId: state.id,
    });
  }
  if (command.limit.currency !== state.currency) {
    return reject("CURRENCY_MISMATCH", `the account is in ${state.currency}`, {
      accountId: state.id,
      currency: state.currency,
    });
  }
  const limit = parseAmount(command.limit.value, state.currency, { allowZero: true });
  if (!limit.ok) return reject("VALIDATION_ERROR", `limit: ${limit.message}`);
  const expiresAt = command.expiresAt ?? null;
  if (expiresAt !== null && !(Date.parse(expiresAt) > now.getTime())) {
    return reject("VALIDATION_ERROR", "expiresAt must be an instant in the future");
  }
  return [
    {
      type: "OverdraftLineSet",
      data: {
        accountId: state.id,
        limit: formatAmount(limit.value, state.currency),
        currency: state.currency,
        expiresAt,
        at: now.toISOString(),
      },
    },
  ];
}

export function accountNotFound(accountId: string): Rejection {
  return reject("ACCOUNT_NOT_FOUND", `account ${accountId} does not exist`, { accountId });
}

/** Parses a positive amount in the account's currency, or says why it is not one. */
export function parsePositiveAmount(
  amount: { readonly value: string; readonly currency: string },
  currency: CurrencyCode,
  field: string,
): Decimal | Rejection {
  if (amount.currency !== currency) {
    return reject(
      "CURRENCY_MISMATCH",
      `${field} is in ${amount.currency}; the account is in ${currency}`,
    );
  }
  const parsed = parseAmount(amount.value, currency);
  return parsed.ok ? parsed.value : reject("VALIDATION_ERROR", `${field}: ${parsed.message}`);
}

export const decimalZero = new Decimal(0);
