/**
 * Deciding postings, reversals and hold captures. Each decision sees the posting stream, every
 * account it touches and `now`; it returns the events for every stream or one rejection, so a
 * rejected posting changes nothing.
 */
import {
  type Account,
  type AccountEvent,
  type AccountState,
  balanceAfter,
  type EntryPosted,
  evolveAccount,
  evolveAccountEntry,
  expiredHoldEvents,
  fundsAllowDecrease,
  type JsonRecord,
  type Side,
} from "../accounts/account.js";
import { accountNotFound, parsePositiveAmount } from "../accounts/decide.js";
import { insufficientFunds, liveHold, notActive } from "../accounts/holds.js";
import { assert, isRejection, type Rejection, reject } from "../errors.js";
import { isoText } from "../instants.js";
import {
  type CanonicalAmount,
  type CurrencyCode,
  Decimal,
  formatAmount,
  isCurrencyCode,
  parseAmountWithText,
} from "../money/index.js";
import {
  evolvePosting,
  type Posting,
  type PostingEntry,
  type PostingEvent,
  type PostingRecorded,
  type PostingState,
} from "./posting.js";

/** A posting has at least two legs and at most this many. */
export const postingEntriesMax = 100;

export interface EntryRequest {
  readonly accountId: string;
  readonly side: Side;
  readonly amount: { readonly value: string; readonly currency: string };
}

export interface RecordPosting {
  readonly postingId: string;
  readonly transactionType?: string | null;
  readonly reference?: string | null;
  readonly description?: string | null;
  readonly entries: readonly EntryRequest[];
  readonly metadata?: JsonRecord;
  readonly requestHash: string;
  /** The posting id came from an idempotency key: an existing posting means a retry. */
  readonly idempotent: boolean;
  /** The domain transaction this posting carries out, if any (it is reversed through it). */
  readonly transactionId?: string | null;
}

/** What a posting decision reads: the posting's stream and each touched account. */
export interface PostingInputs {
  readonly posting: PostingState;
  readonly accounts: ReadonlyMap<string, AccountState>;
  /** Whether the request's reference is already taken by another posting. */
  readonly referenceTaken: boolean;
}

export interface PostingChanges {
  readonly kind: "accepted";
  /** The posting as recorded (for the response). */
  readonly posting: Posting;
  readonly postingEvents: ReadonlyMap<string, readonly PostingEvent[]>;
  readonly accountEvents: ReadonlyMap<string, readonly AccountEvent[]>;
  /**
   * Each account the posting touches as its events leave it: what folding `accountEvents`
   * onto the account the decision read gives (the decider folded them to check the funds).
   */
  readonly accountsAfter: ReadonlyMap<string, Account>;
  /** The reference to claim in its own stream, if the posting has one. */
  readonly reference: string | null;
}

/** The request was already applied (same idempotency key, same body): answer it again. */
export interface PostingReplay {
  readonly kind: "replay";
  readonly posting: Posting;
}

export type PostingDecision = PostingChanges | PostingReplay | Rejection;

export function decideRecordPosting(
  command: RecordPosting,
  inputs: PostingInputs,
  now: Date,
): PostingDecision {
  const existing = existingPosting(command, inputs.posting);
  if (existing !== undefined) return existing;
  const entries = parseEntries(command.entries);
  if (isRejection(entries)) return entries;
  const accountsOk = checkAccounts(entries, inputs.accounts);
  if (accountsOk !== undefined) return accountsOk;
  if (inputs.referenceTaken) return duplicateReference(command.reference);
  const recorded = postingRecorded(command, entries, now, { reverses: null, holdId: null });
  return applyPosting(recorded, entries, inputs.accounts, noPostingEvents, noAccountEvents, now);
}

export interface ReversePosting {
  readonly postingId: string;
  readonly reversalId: string;
  readonly reason: string;
  readonly requestHash: string;
  readonly idempotent: boolean;
}

export function decideReversePosting(
  command: ReversePosting,
  inputs: { readonly original: PostingState; readonly reversal: PostingState } & Omit<
    PostingInputs,
    "posting" | "referenceTaken"
  >,
  now: Date,
): PostingDecision {
  const existing = existingPosting({ ...command, postingId: command.reversalId }, inputs.reversal);
  if (existing !== undefined) return existing;
  const original = inputs.original;
  if (original === undefined) {
    return reject("POSTING_NOT_FOUND", `posting ${command.postingId} does not exist`, {
      postingId: command.postingId,
    });
  }
  if (original.reverses !== null) {
    return reject("CANNOT_REVERSE_REVERSAL", "a reversal cannot be reversed", {
      postingId: original.id,
    });
  }
  if (original.reversedBy !== null) {
    return reject("ALREADY_REVERSED", `posting ${original.id} is already reversed`, {
      postingId: original.id,
      reversedBy: original.reversedBy,
    });
  }
  const mirrored = original.entries.map((entry) =>
    toParsedEntry({ ...entry, side: opposite(entry.side) }),
  );
  const accountsOk = checkAccounts(mirrored, inputs.accounts);
  if (accountsOk !== undefined) return accountsOk;
  const recorded = postingRecorded(
    {
      postingId: command.reversalId,
      transactionType: original.transactionType,
      reference: null,
      description: `reversal of ${original.id}: ${command.reason}`,
      metadata: {},
      requestHash: command.requestHash,
    },
    mirrored,
    now,
    { reverses: original.id, holdId: null },
  );
  const reversed: PostingEvent = {
    type: "PostingReversed",
    data: {
      postingId: original.id,
      reversalId: command.reversalId,
      reason: command.reason,
      at: isoText(now),
    },
  };
  return applyPosting(
    recorded,
    mirrored,
    inputs.accounts,
    new Map([[original.id, [reversed]]]),
    noAccountEvents,
    now,
  );
}

export interface CaptureHold {
  readonly holdId: string;
  readonly accountId: string;
  readonly toAccountId: string;
  /** Default: the whole hold. */
  readonly amount?: { readonly value: string; readonly currency: string } | null;
  readonly postingId: string;
  readonly transactionType?: string | null;
  readonly description?: string | null;
  readonly requestHash: string;
  readonly idempotent: boolean;
}

export function decideCaptureHold(
  command: CaptureHold,
  inputs: Omit<PostingInputs, "referenceTaken">,
  now: Date,
): PostingDecision {
  const existing = existingPosting(command, inputs.posting);
  if (existing !== undefined) return existing;
  const account = inputs.accounts.get(command.accountId);
  if (account === undefined) return accountNotFound(command.accountId);
  const hold = liveHold(account, command.holdId, now);
  if (isRejection(hold)) return hold;
  const amount =
    command.amount === undefined || command.amount === null
      ? hold.amount
      : parsePositiveAmount(command.amount, account.currency, "amount");
  if (isRejection(amount)) return amount;
  if (amount.greaterThan(hold.amount)) {
    return reject("CAPTURE_EXCEEDS_HOLD", "a capture cannot move more than the hold", {
      holdId: hold.holdId,
      held: formatAmount(hold.amount, account.currency),
    });
  }
  // The payer's balance goes down: the side opposite its normal balance.
  const payerSide = opposite(account.normalBalance);
  const text = formatAmount(amount, account.currency);
  const entries: ParsedEntry[] = [
    { accountId: account.id, side: payerSide, amount, text, currency: account.currency },
    {
      accountId: command.toAccountId,
      side: opposite(payerSide),
      amount,
      text,
      currency: account.currency,
    },
  ];
  const accountsOk = checkAccounts(entries, inputs.accounts);
  if (accountsOk !== undefined) return accountsOk;
  const recorded = postingRecorded({ ...command, reference: null, metadata: {} }, entries, now, {
    reverses: null,
    holdId: hold.holdId,
  });
  const captured: AccountEvent = {
    type: "HoldCaptured",
    data: {
      holdId: hold.holdId,
      amount: text,
      released: formatAmount(hold.amount.minus(amount), account.currency),
      postingId: command.postingId,
      toAccountId: command.toAccountId,
      at: isoText(now),
    },
  };
  return applyPosting(
    recorded,
    entries,
    inputs.accounts,
    noPostingEvents,
    new Map([[account.id, [captured]]]),
    now,
  );
}

interface ParsedEntry {
  readonly accountId: string;
  readonly side: Side;
  readonly amount: Decimal;
  /** `amount`'s canonical text: what `formatAmount` writes for it. */
  readonly text: string;
  readonly currency: CurrencyCode;
}

const zero = new Decimal(0);
const noPostingEvents: ReadonlyMap<string, readonly PostingEvent[]> = new Map();
const noAccountEvents: ReadonlyMap<string, readonly AccountEvent[]> = new Map();

function existingPosting(
  command: {
    readonly postingId: string;
    readonly requestHash: string;
    readonly idempotent: boolean;
  },
  posting: PostingState,
): PostingReplay | Rejection | undefined {
  if (posting === undefined) return undefined;
  if (!command.idempotent) {
    return reject("POSTING_EXISTS", `posting ${command.postingId} already exists`, {
      postingId: command.postingId,
    });
  }
  if (posting.requestHash !== command.requestHash) {
    return reject(
      "IDEMPOTENCY_KEY_REUSED",
      "this idempotency key was used for a different request",
      { postingId: command.postingId },
    );
  }
  return { kind: "replay", posting };
}

function parseEntries(requests: readonly EntryRequest[]): ParsedEntry[] | Rejection {
  if (requests.length < 2 || requests.length > postingEntriesMax) {
    return reject("VALIDATION_ERROR", `a posting has 2 to ${postingEntriesMax} entries`);
  }
  const entries: ParsedEntry[] = [];
  // Legs often repeat the previous leg's amount (a transfer's two always do): the same text in
  // the same currency parses to the same value, and a Decimal is immutable, so it is shared.
  let amount: CanonicalAmount | undefined;
  let amountValue: unknown;
  let amountCurrency: CurrencyCode | undefined;
  for (let index = 0; index < requests.length; index++) {
    const request = requests[index] as EntryRequest;
    const { value, currency } = request.amount;
    if (!isCurrencyCode(currency)) {
      return reject(
        "VALIDATION_ERROR",
        `entries[${index}].amount: unsupported currency ${currency}`,
      );
    }
    if (amount === undefined || value !== amountValue || currency !== amountCurrency) {
      const parsed = parseAmountWithText(value, currency);
      if (!parsed.ok) {
        return reject("VALIDATION_ERROR", `entries[${index}].amount: ${parsed.message}`);
      }
      amount = parsed.value;
      amountValue = value;
      amountCurrency = currency;
    }
    entries.push({
      accountId: request.accountId,
      side: request.side,
      amount: amount.value,
      text: amount.text,
      currency,
    });
  }
  return checkBalanced(entries) ?? entries;
}

/** Σ debits = Σ credits in every currency of the posting. */
function checkBalanced(entries: readonly ParsedEntry[]): Rejection | undefined {
  // Currencies in the order they first appear; nearly every posting has one.
  const checked: CurrencyCode[] = [];
  for (const { currency } of entries) {
    if (checked.includes(currency)) continue;
    checked.push(currency);
    const debits = sideTotal(entries, currency, "DEBIT");
    const credits = sideTotal(entries, currency, "CREDIT");
    if (!debits.equals(credits)) {
      return reject("UNBALANCED", `debits and credits differ in ${currency}`, {
        currency,
        difference: formatAmount(debits.minus(credits), currency),
      });
    }
  }
  return undefined;
}

/**
 * Σ amounts of the entries on `side` in `currency`. A one-leg side is its leg's amount, so a
 * transfer's check is one comparison.
 */
function sideTotal(entries: readonly ParsedEntry[], currency: CurrencyCode, side: Side): Decimal {
  let total: Decimal | undefined;
  for (const entry of entries) {
    if (entry.currency !== currency || entry.side !== side) continue;
    total = total === undefined ? entry.amount : total.plus(entry.amount);
  }
  return total ?? zero;
}

function checkAccounts(
  entries: readonly ParsedEntry[],
  accounts: ReadonlyMap<string, AccountState>,
): Rejection | undefined {
  for (const entry of entries) {
    const account = accounts.get(entry.accountId);
    if (account === undefined) return accountNotFound(entry.accountId);
    if (account.currency !== entry.currency) {
      return reject("CURRENCY_MISMATCH", `account ${account.id} is in ${account.currency}`, {
        accountId: account.id,
        currency: account.currency,
      });
    }
    if (account.status !== "ACTIVE") return notActive(account);
  }
  return undefined;
}

function duplicateReference(reference: string | null | undefined): Rejection {
  return reject("DUPLICATE_REFERENCE", "another posting already has this reference", {
    reference: reference ?? "",
  });
}

function postingRecorded(
  command: {
    readonly postingId: string;
    readonly transactionType?: string | null;
    readonly reference?: string | null;
    readonly description?: string | null;
    readonly metadata?: JsonRecord;
    readonly requestHash: string;
    readonly transactionId?: string | null;
  },
  entries: readonly ParsedEntry[],
  now: Date,
  links: { readonly reverses: string | null; readonly holdId: string | null },
): PostingRecorded {
  // Members in sorted order (here and in EntryPosted): the hash chain's canonical JSON of
  // such data is plain JSON.stringify, its fast path. Each shape is written out in full, not
  // spread, so V8 builds it as one literal.
  const createdAt = isoText(now);
  const description = command.description ?? null;
  const postingEntries = entries.map(
    (entry): PostingEntry => ({
      accountId: entry.accountId,
      amount: entry.text,
      currency: entry.currency,
      side: entry.side,
    }),
  );
  const metadata = command.metadata ?? {};
  const reference = command.reference ?? null;
  const transactionType = command.transactionType ?? null;
  if (command.transactionId) {
    return {
      type: "PostingRecorded",
      data: {
        createdAt,
        description,
        entries: postingEntries,
        holdId: links.holdId,
        metadata,
        postingId: command.postingId,
        reference,
        requestHash: command.requestHash,
        reverses: links.reverses,
        transactionId: command.transactionId,
        transactionType,
      },
    };
  }
  return {
    type: "PostingRecorded",
    data: {
      createdAt,
      description,
      entries: postingEntries,
      holdId: links.holdId,
      metadata,
      postingId: command.postingId,
      reference,
      requestHash: command.requestHash,
      reverses: links.reverses,
      transactionType,
    },
  };
}

/** Where an account stands while a posting's entries are applied to it. */
interface Touched {
  account: Account;
  /** The posted balance before the posting's first entry on the account. */
  readonly postedBefore: Decimal;
  readonly events: AccountEvent[];
}

/**
 * Turns a recorded posting into the events of every stream it touches, applying the funds rule
 * to each account whose balance it lowers. `entries` are the recorded entries as decimals (in
 * the same order). `leading` events (a hold's capture) apply to an account before its entries.
 */
function applyPosting(
  recorded: PostingRecorded,
  entries: readonly ParsedEntry[],
  accounts: ReadonlyMap<string, AccountState>,
  otherPostingEvents: ReadonlyMap<string, readonly PostingEvent[]>,
  leading: ReadonlyMap<string, readonly AccountEvent[]>,
  now: Date,
): PostingChanges | Rejection {
  assert(entries.length === recorded.data.entries.length, "one parsed entry per recorded entry");
  const accountEvents = new Map<string, AccountEvent[]>();
  const touched = new Map<string, Touched>();
  const at = recorded.data.createdAt;
  // Entries name their typed posting's type so accounts can count payments (limits);
  // a reversal gives nothing back to a limit, so it counts nothing either.
  const countsTowardLimits = recorded.data.reverses === null ? recorded.data.transactionType : null;
  for (const entry of entries) {
    let current = touched.get(entry.accountId);
    if (current === undefined) {
      const initial = accounts.get(entry.accountId);
      assert(initial !== undefined, "entries are checked against their accounts first");
      const events: AccountEvent[] = expiredHoldEvents(initial, now);
      events.push(...(leading.get(entry.accountId) ?? []));
      accountEvents.set(entry.accountId, events);
      const account = fold(initial, events);
      current = { account, postedBefore: account.posted, events };
      touched.set(entry.accountId, current);
    }
    const balance = balanceAfter(current.account, entry.side, entry.amount);
    const posted = entryPosted(
      entry,
      formatAmount(balance, entry.currency),
      at,
      recorded.data.postingId,
      countsTowardLimits,
    );
    current.events.push(posted);
    current.account = evolveAccountEntry(current.account, posted, balance, entry.amount);
  }
  for (const { account, postedBefore } of touched.values()) {
    // The posting lowered the balance (its entries' net is negative): the funds rule applies.
    const lowered = account.posted.lessThan(postedBefore);
    if (lowered && !fundsAllowDecrease(account, now)) return insufficientFunds(account);
  }
  const postingEvents = new Map<string, readonly PostingEvent[]>(otherPostingEvents);
  postingEvents.set(recorded.data.postingId, [recorded]);
  const accountsAfter = new Map<string, Account>();
  for (const [accountId, { account }] of touched) accountsAfter.set(accountId, account);
  return {
    kind: "accepted",
    posting: evolvePostingRecorded(recorded),
    postingEvents,
    accountEvents,
    accountsAfter,
    reference: recorded.data.reference,
  };
}

function entryPosted(
  entry: ParsedEntry,
  balanceAfter: string,
  at: string,
  postingId: string,
  transactionType: string | null,
): EntryPosted {
  // Members in sorted order, written out in full (see postingRecorded).
  if (transactionType === null) {
    return {
      type: "EntryPosted",
      data: {
        amount: entry.text,
        at,
        balanceAfter,
        currency: entry.currency,
        postingId,
        side: entry.side,
      },
    };
  }
  return {
    type: "EntryPosted",
    data: {
      amount: entry.text,
      at,
      balanceAfter,
      currency: entry.currency,
      postingId,
      side: entry.side,
      transactionType,
    },
  };
}

function fold(account: Account, events: readonly AccountEvent[]): Account {
  let current = account;
  for (const event of events) {
    const next = evolveAccount(current, event);
    assert(next !== undefined, "an open account stays open while folding its events");
    current = next;
  }
  return current;
}

function evolvePostingRecorded(recorded: PostingRecorded): Posting {
  const posting = evolvePosting(undefined, recorded);
  assert(posting !== undefined, "a recorded posting exists");
  return posting;
}

function toParsedEntry(entry: PostingEntry): ParsedEntry {
  const amount = new Decimal(entry.amount);
  return { ...entry, amount, text: formatAmount(amount, entry.currency) };
}

export function opposite(side: Side): Side {
  return side === "DEBIT" ? "CREDIT" : "DEBIT";
}
