/**
 * The account aggregate: its events, its state (folded from its stream) and the funds rules.
 * Entries reach an account through postings (src/domain/postings); holds through holds.ts.
 */
import type { NormalBalance } from "../account-types/account-type.js";
import { assert } from "../errors.js";
import { isoText } from "../instants.js";
import { type CurrencyCode, Decimal, formatAmount } from "../money/index.js";

export type AccountStatus = "ACTIVE" | "FROZEN" | "CLOSED";
export type Side = "DEBIT" | "CREDIT";
export type JsonRecord = Readonly<Record<string, unknown>>;

export interface AccountOpened {
  readonly type: "AccountOpened";
  readonly data: {
    readonly accountId: string;
    readonly accountType: string;
    readonly normalBalance: NormalBalance;
    readonly allowNegative: boolean;
    readonly currency: CurrencyCode;
    readonly country: string | null;
    readonly ownerId: string | null;
    readonly name: string | null;
    readonly metadata: JsonRecord;
    readonly openedAt: string;
    /** The opening request's hash when it was keyed, so a retry can be told from a reuse. */
    readonly requestHash?: string | null;
  };
}

export interface AccountStatusChanged {
  readonly type: "AccountStatusChanged";
  readonly data: {
    readonly accountId: string;
    readonly from: AccountStatus;
    readonly to: AccountStatus;
    readonly reason: string;
    readonly at: string;
  };
}

export interface OverdraftLineSet {
  readonly type: "OverdraftLineSet";
  readonly data: {
    readonly accountId: string;
    readonly limit: string;
    readonly currency: CurrencyCode;
    readonly expiresAt: string | null;
    readonly at: string;
  };
}

export interface EntryPosted {
  readonly type: "EntryPosted";
  readonly data: {
    readonly postingId: string;
    readonly side: Side;
    readonly amount: string;
    readonly currency: CurrencyCode;
    /** Posted balance after this entry, in the account's normal-balance sense. */
    readonly balanceAfter: string;
    readonly at: string;
    /**
     * The posting's transaction type, on the entries of a typed posting that is not a
     * reversal: what limits count (src/domain/limits).
     */
    readonly transactionType?: string;
  };
}

export interface HoldPlaced {
  readonly type: "HoldPlaced";
  readonly data: {
    readonly holdId: string;
    readonly amount: string;
    readonly currency: CurrencyCode;
    readonly reason: string | null;
    readonly expiresAt: string | null;
    readonly at: string;
  };
}

export interface HoldReleased {
  readonly type: "HoldReleased";
  readonly data: { readonly holdId: string; readonly amount: string; readonly at: string };
}

export interface HoldCaptured {
  readonly type: "HoldCaptured";
  readonly data: {
    readonly holdId: string;
    /** Moved by the capture posting. */
    readonly amount: string;
    /** The rest of the hold, released by the capture. */
    readonly released: string;
    readonly postingId: string;
    readonly toAccountId: string;
    readonly at: string;
  };
}

export interface HoldExpired {
  readonly type: "HoldExpired";
  readonly data: { readonly holdId: string; readonly amount: string; readonly at: string };
}

export type AccountEvent =
  | AccountOpened
  | AccountStatusChanged
  | OverdraftLineSet
  | EntryPosted
  | HoldPlaced
  | HoldReleased
  | HoldCaptured
  | HoldExpired;

export const accountEventTypes: readonly AccountEvent["type"][] = [
  "AccountOpened",
  "AccountStatusChanged",
  "OverdraftLineSet",
  "EntryPosted",
  "HoldPlaced",
  "HoldReleased",
  "HoldCaptured",
  "HoldExpired",
];

export interface ActiveHold {
  readonly holdId: string;
  readonly amount: Decimal;
  readonly expiresAt: string | null;
}

export interface Account {
  readonly id: string;
  readonly accountType: string;
  readonly normalBalance: NormalBalance;
  readonly allowNegative: boolean;
  readonly currency: CurrencyCode;
  readonly country: string | null;
  readonly ownerId: string | null;
  readonly name: string | null;
  readonly metadata: JsonRecord;
  readonly openedAt: string;
  /** Hash of the keyed request that opened the account (null when it was not keyed). */
  readonly openRequestHash: string | null;
  readonly status: AccountStatus;
  /** Σ entries in the normal-balance sense. */
  readonly posted: Decimal;
  /** Holds that have been placed and not released, captured or recorded as expired. */
  readonly holds: ReadonlyMap<string, ActiveHold>;
  readonly overdraftLimit: Decimal;
  readonly overdraftExpiresAt: string | null;
  /** What the account paid per transaction type in the UTC day and month of its last payment. */
  readonly paid?: ReadonlyMap<string, PaidWindow>;
}

/** Payments (DEBIT entries of typed postings) within one UTC day and one UTC month. */
export interface PaidWindow {
  /** "YYYY-MM-DD" (UTC) the day figures are for. */
  readonly day: string;
  readonly dayAmount: Decimal;
  readonly dayCount: number;
  /** "YYYY-MM" (UTC) the month figure is for. */
  readonly month: string;
  readonly monthAmount: Decimal;
  /** A posting with two DEBIT legs on the account counts once. */
  readonly lastPostingId: string;
}

/** Undefined: the stream has no AccountOpened (the account does not exist). */
export type AccountState = Account | undefined;

const zero = new Decimal(0);

export function evolveAccount(state: AccountState, event: AccountEvent): AccountState {
  if (event.type === "AccountOpened") return opened(event);
  assert(state !== undefined, `${event.type} on an account that was never opened`);
  switch (event.type) {
    case "AccountStatusChanged":
      return accountWith(state, { status: event.data.to });
    case "OverdraftLineSet":
      return accountWith(state, {
        overdraftLimit: new Decimal(event.data.limit),
        overdraftExpiresAt: event.data.expiresAt,
      });
    case "EntryPosted":
      return withEntry(state, event, new Decimal(event.data.balanceAfter));
    case "HoldPlaced":
      return accountWith(state, {
        holds: withHold(state.holds, {
          holdId: event.data.holdId,
          amount: new Decimal(event.data.amount),
          expiresAt: event.data.expiresAt,
        }),
      });
    case "HoldReleased":
    case "HoldCaptured":
    case "HoldExpired":
      return accountWith(state, { holds: withoutHold(state.holds, event.data.holdId) });
  }
}

/** What an event changes in an account; an absent member is kept. */
type AccountChange = Partial<
  Pick<Account, "status" | "posted" | "holds" | "overdraftLimit" | "overdraftExpiresAt" | "paid">
>;

/**
 * `{ ...account, ...change }`, written out member by member: V8 copies an object spread with
 * an overridden member some twenty times slower than it builds a literal, and every entry of
 * every posting copies its account. Members come in the order `opened` gives them, `paid`
 * last and only when there is one, as the spread would have it.
 */
function accountWith(account: Account, change: AccountChange): Account {
  const paid = change.paid ?? account.paid;
  const next: { -readonly [Member in keyof Account]: Account[Member] } = {
    id: account.id,
    accountType: account.accountType,
    normalBalance: account.normalBalance,
    allowNegative: account.allowNegative,
    currency: account.currency,
    country: account.country,
    ownerId: account.ownerId,
    name: account.name,
    metadata: account.metadata,
    openedAt: account.openedAt,
    openRequestHash: account.openRequestHash,
    status: change.status ?? account.status,
    posted: change.posted ?? account.posted,
    holds: change.holds ?? account.holds,
    overdraftLimit: change.overdraftLimit ?? account.overdraftLimit,
    overdraftExpiresAt:
      change.overdraftExpiresAt === undefined
        ? account.overdraftExpiresAt
        : change.overdraftExpiresAt,
  };
  if (paid !== undefined) next.paid = paid;
  return next;
}

/** The account as its opening left it: what a replayed opening answers with. */
export function asOpened(account: Account): Account {
  const { paid: _paid, ...opened } = account;
  return {
    ...opened,
    status: "ACTIVE",
    posted: zero,
    holds: new Map(),
    overdraftLimit: zero,
    overdraftExpiresAt: null,
  };
}

function opened(event: AccountOpened): Account {
  const data = event.data;
  return {
    id: data.accountId,
    accountType: data.accountType,
    normalBalance: data.normalBalance,
    allowNegative: data.allowNegative,
    currency: data.currency,
    country: data.country,
    ownerId: data.ownerId,
    name: data.name,
    metadata: data.metadata,
    openedAt: data.openedAt,
    openRequestHash: data.requestHash ?? null,
    status: "ACTIVE",
    posted: zero,
    holds: new Map(),
    overdraftLimit: zero,
    overdraftExpiresAt: null,
  };
}

/**
 * `evolveAccount` of an EntryPosted whose balance and amount the caller already holds as
 * decimals (a decider computed them; `posted` must equal `balanceAfter`, `amount` the entry's
 * amount): the same state, without parsing them back from the event's text.
 */
export function evolveAccountEntry(
  account: Account,
  event: EntryPosted,
  posted: Decimal,
  amount: Decimal,
): Account {
  // decimal.js spells every value one way, except zero's sign: the text "0.00" parses to +0.
  return withEntry(account, event, posted.isZero() ? zero : posted, amount);
}

function withEntry(
  account: Account,
  event: EntryPosted,
  posted: Decimal,
  amount?: Decimal,
): Account {
  const { transactionType, side } = event.data;
  // Only the DEBIT entries of typed postings count toward limits.
  if (transactionType === undefined || side !== "DEBIT") return accountWith(account, { posted });
  const paid = withPayment(
    account,
    event,
    transactionType,
    amount ?? new Decimal(event.data.amount),
  );
  return accountWith(account, { posted, paid });
}

/** The account's payment windows once a DEBIT entry of a typed posting is counted in them. */
function withPayment(
  account: Account,
  event: EntryPosted,
  transactionType: string,
  amount: Decimal,
): ReadonlyMap<string, PaidWindow> {
  const { postingId, at } = event.data;
  const before = windowAt(account, transactionType, at);
  const samePosting = before.lastPostingId === postingId;
  const window: PaidWindow = {
    day: before.day,
    dayAmount: before.dayAmount.plus(amount),
    dayCount: before.dayCount + (samePosting ? 0 : 1),
    month: before.month,
    monthAmount: before.monthAmount.plus(amount),
    lastPostingId: postingId,
  };
  const paid = new Map(account.paid ?? []);
  paid.set(transactionType, window);
  return paid;
}

/** The account's window for `transactionType` as of `at`: emptied when the day or month moved on. */
function windowAt(account: Account, transactionType: string, at: string): PaidWindow {
  const day = at.slice(0, 10);
  const month = at.slice(0, 7);
  const stored = account.paid?.get(transactionType);
  const sameMonth = stored?.month === month;
  const sameDay = sameMonth && stored?.day === day;
  return {
    day,
    dayAmount: sameDay && stored ? stored.dayAmount : zero,
    dayCount: sameDay && stored ? stored.dayCount : 0,
    month,
    monthAmount: sameMonth && stored ? stored.monthAmount : zero,
    lastPostingId: stored?.lastPostingId ?? "",
  };
}

/** What the account paid in `transactionType` postings in the UTC day and month of `now`. */
export function paidWithin(
  account: Account,
  transactionType: string,
  now: Date,
): { readonly dayAmount: Decimal; readonly dayCount: number; readonly monthAmount: Decimal } {
  return windowAt(account, transactionType, isoText(now));
}

function withHold(holds: ReadonlyMap<string, ActiveHold>, hold: ActiveHold) {
  const next = new Map(holds);
  next.set(hold.holdId, hold);
  return next;
}

function withoutHold(holds: ReadonlyMap<string, ActiveHold>, holdId: string) {
  const next = new Map(holds);
  next.delete(holdId);
  return next;
}

export function foldAccount(events: readonly AccountEvent[], state: AccountState = undefined) {
  return events.reduce(evolveAccount, state);
}

/** An expired hold stops counting at its expiry, whether or not HoldExpired is recorded yet. */
export function isHoldLive(hold: ActiveHold, now: Date): boolean {
  return hold.expiresAt === null || Date.parse(hold.expiresAt) > now.getTime();
}

export function heldAmount(account: Account, now: Date): Decimal {
  let held = zero;
  for (const hold of account.holds.values()) {
    if (isHoldLive(hold, now)) held = held.plus(hold.amount);
  }
  return held;
}

export function overdraftLimitAt(account: Account, now: Date): Decimal {
  const expiry = account.overdraftExpiresAt;
  const live = expiry === null || Date.parse(expiry) > now.getTime();
  return live ? account.overdraftLimit : zero;
}

export interface Balances {
  readonly posted: Decimal;
  readonly held: Decimal;
  readonly overdraftLimit: Decimal;
  /** posted − held + overdraftLimit (API.md BalanceSet). */
  readonly available: Decimal;
}

export function balancesOf(account: Account, now: Date): Balances {
  const held = heldAmount(account, now);
  const overdraftLimit = overdraftLimitAt(account, now);
  return {
    posted: account.posted,
    held,
    overdraftLimit,
    available: account.posted.minus(held).plus(overdraftLimit),
  };
}

/**
 * The posted balance after an entry of `amount` on `side`: an entry on the account's normal
 * side raises it, one on the other side lowers it.
 */
export function balanceAfter(account: Account, side: Side, amount: Decimal): Decimal {
  return side === account.normalBalance
    ? account.posted.plus(amount)
    : account.posted.minus(amount);
}

/**
 * The funds rule: an account whose type forbids negatives may not end a decrease with
 * available below zero (posted − live holds, less than −overdraft line). An increase is always
 * allowed, even when the account is already short (e.g. after its overdraft line expired).
 */
export function fundsAllowDecrease(account: Account, now: Date): boolean {
  if (account.allowNegative) return true;
  // available = posted − held + overdraftLimit; most accounts have neither holds nor a line,
  // and their available balance is the posted one (no decimal arithmetic needed).
  if (account.holds.size === 0 && account.overdraftLimit.isZero()) {
    return account.posted.greaterThanOrEqualTo(zero);
  }
  return balancesOf(account, now).available.greaterThanOrEqualTo(zero);
}

/** HoldExpired for every hold past its expiry: recorded by the next command that notices. */
export function expiredHoldEvents(account: Account, now: Date): HoldExpired[] {
  const events: HoldExpired[] = [];
  if (account.holds.size === 0) return events;
  const at = isoText(now);
  for (const hold of account.holds.values()) {
    if (!isHoldLive(hold, now)) {
      events.push({
        type: "HoldExpired",
        data: {
          holdId: hold.holdId,
          amount: formatAmount(hold.amount, account.currency),
          at,
        },
      });
    }
  }
  return events;
}
