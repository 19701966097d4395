/**
 * Holds reserve funds on an account: placing one needs available funds; releasing or expiring
 * gives them back; capturing moves (part of) them through a posting (src/domain/postings).
 */
import { isRejection, type Rejection, reject } from "../errors.js";
import { formatAmount } from "../money/index.js";
import {
  type Account,
  type AccountEvent,
  type AccountState,
  type ActiveHold,
  expiredHoldEvents,
  foldAccount,
  fundsAllowDecrease,
  isHoldLive,
} from "./account.js";
import { accountNotFound, parsePositiveAmount } from "./decide.js";

export interface PlaceHold {
  readonly holdId: string;
  readonly accountId: string;
  readonly amount: { readonly value: string; readonly currency: string };
  readonly reason?: string | null;
  readonly expiresAt?: string | null;
}

export function decidePlaceHold(
  command: PlaceHold,
  state: AccountState,
  now: Date,
): AccountEvent[] | Rejection {
  if (state === undefined) return accountNotFound(command.accountId);
  if (state.status !== "ACTIVE") return notActive(state);
  if (state.holds.has(command.holdId)) {
    return reject("HOLD_EXISTS", `hold ${command.holdId} already exists`, {
      holdId: command.holdId,
    });
  }
  const amount = parsePositiveAmount(command.amount, state.currency, "amount");
  if (isRejection(amount)) return amount;
  const expiresAt = command.expiresAt ?? null;
  if (expiresAt !== null && !(Date.parse(expiresAt) > now.getTime())) {
    return reject("VALIDATION_ERROR", "expiresAt must be an instant in the future");
  }
  const events: AccountEvent[] = [
    ...expiredHoldEvents(state, now),
    {
      type: "HoldPlaced",
      data: {
        holdId: command.holdId,
        amount: formatAmount(amount, state.currency),
        currency: state.currency,
        reason: command.reason ?? null,
        expiresAt,
        at: now.toISOString(),
      },
    },
  ];
  const after = foldAccount(events, state);
  if (after === undefined || !fundsAllowDecrease(after, now)) {
    return insufficientFunds(state);
  }
  return events;
}

export function decideReleaseHold(
  command: { readonly holdId: string; readonly accountId: string },
  state: AccountState,
  now: Date,
): AccountEvent[] | Rejection {
  if (state === undefined) return accountNotFound(command.accountId);
  const hold = liveHold(state, command.holdId, now);
  if (isRejection(hold)) return hold;
  return [
    ...expiredHoldEvents(state, now),
    {
      type: "HoldReleased",
      data: {
        holdId: hold.holdId,
        amount: formatAmount(hold.amount, state.currency),
        at: now.toISOString(),
      },
    },
  ];
}

/**
 * The hold a command acts on: it must exist and be live. An expired hold is HOLD_NOT_ACTIVE
 * (its expiry is recorded by the command's events); a released or captured one too.
 */
export function liveHold(account: Account, holdId: string, now: Date): ActiveHold | Rejection {
  const hold = account.holds.get(holdId);
  if (hold === undefined || !isHoldLive(hold, now)) {
    return reject("HOLD_NOT_ACTIVE", `hold ${holdId} is not active`, { holdId });
  }
  return hold;
}

export function notActive(account: Account): Rejection {
  return reject("ACCOUNT_NOT_ACTIVE", `account ${account.id} is ${account.status}`, {
    accountId: account.id,
    status: account.status,
  });
}

export function insufficientFunds(account: Account): Rejection {
  return reject("INSUFFICIENT_FUNDS", `account ${account.id} has not enough available funds`, {
    accountId: account.id,
  });
}
