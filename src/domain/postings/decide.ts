/**
 * Deciding postings, reversals and hold captures. Each decision sees the posting stream, every
 * account it touches and `now`; it returns the events for every stream or one rejection, so a
 * rejected posting changes nothing.
 */
import {
  type Account,
  type AccountEvent,
  type AccountState,
  type EntryPosted,
  evolveAccount,
  expiredHoldEvents,
  fundsAllowDecrease,
  type JsonRecord,
  type Side,
  signedAmount,
} from "../accounts/account.js";
import { accountNotFound, parsePositiveAmount } from "../accounts/decide.js";
import { insufficientFunds, liveHold, notActive } from "../accounts/holds.js";
import { assert, isRejection, type Rejection, reject } from "../errors.js";
import {
  type CurrencyCode,
  Decimal,
  formatAmount,
  isCurrencyCode,
  parseAmount,
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
  return applyPosting(recorded, inputs.accounts, new Map(), new Map(), now);
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
  const mirrored = original.entries.map((entry) => ({ ...entry, side: opposite(entry.side) }));
  const accountsOk = checkAccounts(mirrored.map(toParsedEntry), inputs.accounts);
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
    mirrored.map(toParsedEntry),
    now,
    { reverses: original.id, holdId: null },
  );
  const reversed: PostingEvent = {
    type: "PostingReversed",
    data: {
      postingId: original.id,
      reversalId: command.reversalId,
      reason: command.reason,
      at: now.toISOString(),
    },
  };
  return applyPosting(
    recorded,
    inputs.accounts,
    new Map([[original.id, [reversed]]]),
    new Map(),
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
  const entries: ParsedEntry[] = [
    { accountId: account.id, side: payerSide, amount, currency: account.currency },
    {
      accountId: command.toAccountId,
      side: opposite(payerSide),
      amount,
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
      amount: formatAmount(amount, account.currency),
      released: formatAmount(hold.amount.minus(amount), account.currency),
      postingId: command.postingId,
      toAccountId: command.toAccountId,
      at: now.toISOString(),
    },
  };
  return applyPosting(
    recorded,
    inputs.accounts,
    new Map(),
    new Map([[account.id, [captured]]]),
    now,
  );
}

interface ParsedEntry {
  readonly accountId: string;
  readonly side: Side;
  readonly amount: Decimal;
  readonly currency: CurrencyCode;
}

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
  for (const [index, request] of requests.entries()) {
    const currency = request.amount.currency;
    if (!isCurrencyCode(currency)) {
      return reject(
        "VALIDATION_ERROR",
        `entries[${index}].amount: unsupported currency ${currency}`,
      );
    }
    const amount = parseAmount(request.amount.value, currency);
    if (!amount.ok) {
      return reject("VALIDATION_ERROR", `entries[${index}].amount: ${amount.message}`);
    }
    entries.push({
      accountId: request.accountId,
      side: request.side,
      amount: amount.value,
      currency,
    });
  }
  return checkBalanced(entries) ?? entries;
}

/** Σ debits = Σ credits in every currency of the posting. */
function checkBalanced(entries: readonly ParsedEntry[]): Rejection | undefined {
  const net = new Map<string, Decimal>();
  for (const entry of entries) {
    const signed = entry.side === "DEBIT" ? entry.amount : entry.amount.negated();
    net.set(entry.currency, (net.get(entry.currency) ?? new Decimal(0)).plus(signed));
  }
  for (const [currency, difference] of net) {
    if (!difference.isZero()) {
      return reject("UNBALANCED", `debits and credits differ in ${currency}`, {
        currency,
        difference: formatAmount(difference, currency as CurrencyCode),
      });
    }
  }
  return undefined;
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
  // such data is plain JSON.stringify, its fast path.
  return {
    type: "PostingRecorded",
    data: {
      createdAt: now.toISOString(),
      description: command.description ?? null,
      entries: entries.map(
        (entry): PostingEntry => ({
          accountId: entry.accountId,
          amount: formatAmount(entry.amount, entry.currency),
          currency: entry.currency,
          side: entry.side,
        }),
      ),
      holdId: links.holdId,
      metadata: command.metadata ?? {},
      postingId: command.postingId,
      reference: command.reference ?? null,
      requestHash: command.requestHash,
      reverses: links.reverses,
      ...(command.transactionId ? { transactionId: command.transactionId } : {}),
      transactionType: command.transactionType ?? null,
    },
  };
}

/**
 * Turns a recorded posting into the events of every stream it touches, applying the funds rule
 * to each account whose balance it lowers. `leading` events (a hold's capture) apply to an
 * account before its entries.
 */
function applyPosting(
  recorded: PostingRecorded,
  accounts: ReadonlyMap<string, AccountState>,
  otherPostingEvents: ReadonlyMap<string, readonly PostingEvent[]>,
  leading: ReadonlyMap<string, readonly AccountEvent[]>,
  now: Date,
): PostingChanges | Rejection {
  const accountEvents = new Map<string, AccountEvent[]>();
  const touched = new Map<string, { account: Account; net: Decimal }>();
  const at = now.toISOString();
  // Entries name their typed posting's type so accounts can count payments (limits);
  // a reversal gives nothing back to a limit, so it counts nothing either.
  const countsTowardLimits = recorded.data.reverses === null ? recorded.data.transactionType : null;
  for (const entry of recorded.data.entries) {
    let current = touched.get(entry.accountId);
    if (current === undefined) {
      const initial = accounts.get(entry.accountId);
      assert(initial !== undefined, "entries are checked against their accounts first");
      const events = [...expiredHoldEvents(initial, now), ...(leading.get(entry.accountId) ?? [])];
      accountEvents.set(entry.accountId, events);
      current = { account: fold(initial, events), net: new Decimal(0) };
    }
    const amount = new Decimal(entry.amount);
    const delta = signedAmount(current.account, entry.side, amount);
    const posted: EntryPosted = {
      type: "EntryPosted",
      data: {
        amount: entry.amount,
        at,
        balanceAfter: formatAmount(current.account.posted.plus(delta), entry.currency),
        currency: entry.currency,
        postingId: recorded.data.postingId,
        side: entry.side,
        ...(countsTowardLimits === null ? {} : { transactionType: countsTowardLimits }),
      },
    };
    accountEvents.get(entry.accountId)?.push(posted);
    touched.set(entry.accountId, {
      account: fold(current.account, [posted]),
      net: current.net.plus(delta),
    });
  }
  for (const { account, net } of touched.values()) {
    if (net.isNegative() && !fundsAllowDecrease(account, now)) return insufficientFunds(account);
  }
  const postingEvents = new Map<string, readonly PostingEvent[]>(otherPostingEvents);
  postingEvents.set(recorded.data.postingId, [recorded]);
  const posting = evolvePostingRecorded(recorded);
  return {
    kind: "accepted",
    posting,
    postingEvents,
    accountEvents,
    reference: recorded.data.reference,
  };
}

function fold(account: Account, events: readonly AccountEvent[]): Account {
  const next = events.reduce<AccountState>(evolveAccount, account);
  assert(next !== undefined, "an open account stays open while folding its events");
  return next;
}

function evolvePostingRecorded(recorded: PostingRecorded): Posting {
  const posting = evolvePosting(undefined, recorded);
  assert(posting !== undefined, "a recorded posting exists");
  return posting;
}

function toParsedEntry(entry: PostingEntry): ParsedEntry {
  return { ...entry, amount: new Decimal(entry.amount) };
}

export function opposite(side: Side): Side {
  return side === "DEBIT" ? "CREDIT" : "DEBIT";
}
