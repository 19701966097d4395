/**
 * Given-when-then helpers for the pure domain: build aggregate states by folding events (as the
 * store would), and unwrap decisions into events or rejections. No I/O, no clock.
 */
import { expect } from "vitest";
import type { AccountType, NormalBalance } from "../../src/domain/account-types/account-type.js";
import {
  type Account,
  type AccountEvent,
  type AccountOpened,
  type AccountState,
  type AccountStatus,
  type AccountStatusChanged,
  type EntryPosted,
  foldAccount,
  type HoldPlaced,
  type OverdraftLineSet,
  type Side,
} from "../../src/domain/accounts/account.js";
import { isRejection, type Rejection, type RejectionCode } from "../../src/domain/errors.js";
import type { CurrencyCode } from "../../src/domain/money/index.js";
import type {
  EntryRequest,
  PostingChanges,
  PostingDecision,
} from "../../src/domain/postings/decide.js";
import {
  foldPosting,
  type Posting,
  type PostingEntry,
  type PostingEvent,
} from "../../src/domain/postings/posting.js";

/** The instant every command is decided at, unless a test says otherwise. */
export const now = new Date("2025-06-01T12:00:00.000Z");
export const nowIso = now.toISOString();
/** Instants relative to `now`, as ISO strings. */
export const minutesFromNow = (minutes: number) =>
  new Date(now.getTime() + minutes * 60_000).toISOString();
export const anHourAgo = minutesFromNow(-60);
export const inAnHour = minutesFromNow(60);

// ---------------------------------------------------------------- account types

export function anAccountType(overrides: Partial<AccountType> = {}): AccountType {
  return {
    code: "WALLET",
    name: "Customer wallet",
    normalBalance: "CREDIT",
    allowNegative: false,
    metadataSchema: null,
    definedAt: "2025-01-01T00:00:00.000Z",
    ...overrides,
  };
}

// ---------------------------------------------------------------- account events

export interface OpenedOptions {
  readonly accountType?: string;
  readonly normalBalance?: NormalBalance;
  readonly allowNegative?: boolean;
  readonly currency?: CurrencyCode;
}

export function accountOpened(accountId: string, options: OpenedOptions = {}): AccountOpened {
  return {
    type: "AccountOpened",
    data: {
      accountId,
      accountType: options.accountType ?? "WALLET",
      normalBalance: options.normalBalance ?? "CREDIT",
      allowNegative: options.allowNegative ?? false,
      currency: options.currency ?? "XCD",
      country: null,
      ownerId: null,
      name: null,
      metadata: {},
      openedAt: "2025-01-01T00:00:00.000Z",
    },
  };
}

export function entryPosted(
  postingId: string,
  side: Side,
  amount: string,
  balanceAfter: string,
  currency: CurrencyCode = "XCD",
): EntryPosted {
  return {
    type: "EntryPosted",
    data: { postingId, side, amount, currency, balanceAfter, at: "2025-05-01T00:00:00.000Z" },
  };
}

export function statusChanged(
  accountId: string,
  from: AccountStatus,
  to: AccountStatus,
): AccountStatusChanged {
  return {
    type: "AccountStatusChanged",
    data: { accountId, from, to, reason: "test", at: "2025-05-01T00:00:00.000Z" },
  };
}

export function overdraftLineSet(
  accountId: string,
  limit: string,
  expiresAt: string | null = null,
  currency: CurrencyCode = "XCD",
): OverdraftLineSet {
  return {
    type: "OverdraftLineSet",
    data: { accountId, limit, currency, expiresAt, at: "2025-05-01T00:00:00.000Z" },
  };
}

export function holdPlaced(
  holdId: string,
  amount: string,
  expiresAt: string | null = null,
  currency: CurrencyCode = "XCD",
): HoldPlaced {
  return {
    type: "HoldPlaced",
    data: { holdId, amount, currency, reason: null, expiresAt, at: "2025-05-01T00:00:00.000Z" },
  };
}

/** The account state after `events`, folded from scratch; the stream must open the account. */
export function givenAccount(...events: AccountEvent[]): Account {
  const state = foldAccount(events);
  if (state === undefined) throw new Error("fixture: the events do not open an account");
  return state;
}

/**
 * A CREDIT-normal wallet (no negatives) holding `balance` after one deposit: the usual payer.
 */
export function fundedWallet(accountId: string, balance: string, ...more: AccountEvent[]): Account {
  return givenAccount(
    accountOpened(accountId),
    entryPosted("deposit", "CREDIT", balance, balance),
    ...more,
  );
}

/** A DEBIT-normal settlement account that may go negative: the usual counterparty. */
export function settlementAccount(
  accountId: string,
  currency: CurrencyCode = "XCD",
  ...more: AccountEvent[]
): Account {
  return givenAccount(
    accountOpened(accountId, {
      accountType: "SETTLEMENT",
      normalBalance: "DEBIT",
      allowNegative: true,
      currency,
    }),
    ...more,
  );
}

export function accountsById(...accounts: Account[]): Map<string, AccountState> {
  return new Map(accounts.map((account) => [account.id, account]));
}

// ---------------------------------------------------------------- postings

export function leg(
  accountId: string,
  side: Side,
  value: string,
  currency: string = "XCD",
): EntryRequest {
  return { accountId, side, amount: { value, currency } };
}

export function postingRecordedEvent(
  postingId: string,
  entries: readonly PostingEntry[],
  options: {
    requestHash?: string;
    reverses?: string | null;
    reference?: string | null;
    transactionType?: string | null;
  } = {},
): PostingEvent {
  return {
    type: "PostingRecorded",
    data: {
      postingId,
      transactionType: options.transactionType ?? null,
      reference: options.reference ?? null,
      description: null,
      entries,
      metadata: {},
      requestHash: options.requestHash ?? "hash-1",
      reverses: options.reverses ?? null,
      holdId: null,
      createdAt: "2025-05-01T00:00:00.000Z",
    },
  };
}

export function givenPosting(...events: PostingEvent[]): Posting {
  const state = foldPosting(events);
  if (state === undefined) throw new Error("fixture: the events do not record a posting");
  return state;
}

// ---------------------------------------------------------------- outcomes

/** Then: this rejection, with this code. */
export function expectRejection(result: unknown, code: RejectionCode): Rejection {
  if (!isRejection(result)) {
    throw new Error(`expected a ${code} rejection, got ${JSON.stringify(result)}`);
  }
  expect(result.code).toBe(code);
  return result;
}

/** Then: events (not a rejection). */
export function expectEvents<E>(result: readonly E[] | Rejection): readonly E[] {
  if (isRejection(result)) {
    throw new Error(`expected events, got ${result.code}: ${result.message}`);
  }
  return result;
}

/** Then: an accepted posting (not a rejection nor a replay). */
export function expectAccepted(decision: PostingDecision): PostingChanges {
  if (isRejection(decision)) {
    throw new Error(`expected an accepted posting, got ${decision.code}: ${decision.message}`);
  }
  if (decision.kind !== "accepted") throw new Error("expected an accepted posting, got a replay");
  return decision;
}

/** The events an accepted posting appends to one account's stream. */
export function eventsFor(changes: PostingChanges, accountId: string): readonly AccountEvent[] {
  return changes.accountEvents.get(accountId) ?? [];
}

/** The accounts after an accepted posting: each touched account folds its new events. */
export function applyChanges(
  accounts: ReadonlyMap<string, AccountState>,
  changes: PostingChanges,
): Map<string, AccountState> {
  const next = new Map(accounts);
  for (const [accountId, events] of changes.accountEvents) {
    next.set(accountId, foldAccount(events, next.get(accountId)));
  }
  return next;
}

/** The account `accountId` in `accounts`; it must exist. */
export function accountIn(accounts: ReadonlyMap<string, AccountState>, accountId: string): Account {
  const account = accounts.get(accountId);
  if (account === undefined) throw new Error(`fixture: no account ${accountId}`);
  return account;
}
