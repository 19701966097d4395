/**
 * Deciding domain transactions: resolve the template's roles to the request's accounts, check
 * that each account may take part, expand the template into one posting (each side's legs
 * split the amount by largest remainder, so they sum to it exactly) and decide that posting
 * like any other. Pure: every stream's state and `now` come in, events or a rejection go out.
 */
import type { Account, AccountState, JsonRecord } from "../accounts/account.js";
import { accountNotFound } from "../accounts/decide.js";
import {
  assert,
  type FieldError,
  isRejection,
  type Rejection,
  reject,
  rejectWithErrors,
} from "../errors.js";
import { checkPostingLimits, type Limit } from "../limits/limits.js";
import {
  allocate,
  type CurrencyCode,
  type Decimal,
  formatAmount,
  isCurrencyCode,
  parseAmount,
} from "../money/index.js";
import {
  decideRecordPosting,
  decideReversePosting,
  type EntryRequest,
  type PostingChanges,
} from "../postings/decide.js";
import type { PostingState } from "../postings/posting.js";
import {
  checkParticipation,
  notAllowed,
  type Permissions,
  unknownTransactionType,
} from "../transaction-types/permissions.js";
import { type TemplateLeg, templateRoles } from "../transaction-types/template.js";
import type {
  TransactionType,
  TransactionTypeState,
} from "../transaction-types/transaction-type.js";
import {
  type DomainTransaction,
  foldTransaction,
  type TransactionEvent,
  type TransactionFailed,
  type TransactionRequested,
  type TransactionState,
} from "./transaction.js";

export interface RecordTransaction {
  readonly transactionId: string;
  /** The id the expanded posting gets (derived from the transaction's id by the caller). */
  readonly postingId: string;
  readonly transactionType: string;
  readonly amount: { readonly value: string; readonly currency: string };
  /** Role → account id. */
  readonly parties: Readonly<Record<string, string>>;
  readonly reference?: string | null;
  readonly description?: string | null;
  readonly metadata?: JsonRecord;
  readonly requestHash: string;
  /** The id came from an idempotency key: an existing transaction means a retry. */
  readonly idempotent: boolean;
}

export interface TransactionInputs {
  readonly transaction: TransactionState;
  readonly transactionType: TransactionTypeState;
  readonly posting: PostingState;
  readonly accounts: ReadonlyMap<string, AccountState>;
  readonly permissions: Permissions;
  /** Account type → its limit for this transaction type (types without one are absent). */
  readonly limits: ReadonlyMap<string, Limit>;
  readonly referenceTaken: boolean;
}

export interface TransactionChanges {
  readonly kind: "accepted";
  readonly transaction: DomainTransaction;
  readonly events: readonly TransactionEvent[];
  /** The posting's changes; null when the transaction changes nothing but its own stream. */
  readonly posting: PostingChanges | null;
}

/** The request was already answered (same idempotency key, same body): answer it again. */
export interface TransactionReplay {
  readonly kind: "replay";
  readonly transaction: DomainTransaction;
}

export type TransactionDecision = TransactionChanges | TransactionReplay | Rejection;

/** A template leg with its account filled in from the request's parties. */
export interface ResolvedLeg extends TemplateLeg {
  readonly accountId: string;
}

export interface ParsedAmount {
  readonly value: Decimal;
  readonly currency: CurrencyCode;
}

export function decideRecordTransaction(
  command: RecordTransaction,
  inputs: TransactionInputs,
  now: Date,
): TransactionDecision {
  const existing = existingTransaction(command, inputs.transaction);
  if (existing !== undefined) return existing;
  const amount = parseTransactionAmount(command.amount);
  if (isRejection(amount)) return amount;
  const type = inputs.transactionType;
  if (type === undefined) return unknownTransactionType(command.transactionType);
  const legs = resolveParties(type, command.parties);
  if (isRejection(legs)) return legs;
  const refused = checkLegs(type, legs, inputs);
  if (refused !== undefined) return refused;
  const posting = decideRecordPosting(
    {
      postingId: command.postingId,
      transactionType: type.code,
      reference: command.reference ?? null,
      description: command.description ?? null,
      entries: expandTemplate(legs, amount),
      metadata: command.metadata ?? {},
      requestHash: command.requestHash,
      idempotent: false,
      transactionId: command.transactionId,
    },
    { posting: inputs.posting, accounts: inputs.accounts, referenceTaken: inputs.referenceTaken },
    now,
  );
  if (isRejection(posting)) return posting;
  assert(posting.kind === "accepted", "a transaction's posting is never keyed on its own");
  const overLimit = checkPostingLimits(posting.posting, inputs.accounts, inputs.limits, now);
  if (overLimit !== undefined) return overLimit;
  const events: TransactionEvent[] = [
    requestedEvent(command, type.version, involvedAccounts(type, command.parties), amount, now),
    {
      type: "TransactionPosted",
      data: {
        transactionId: command.transactionId,
        postingId: command.postingId,
        at: now.toISOString(),
      },
    },
  ];
  return { kind: "accepted", transaction: folded(events), events, posting };
}

/**
 * Records a transaction that `rejection` refused: kept, FAILED, with the rejection (API.md),
 * unless the stream already holds the transaction (then it is a replay or a conflict).
 */
export function decideFailTransaction(
  command: RecordTransaction,
  state: TransactionState,
  transactionType: TransactionTypeState,
  rejection: Rejection,
  now: Date,
): TransactionDecision {
  const existing = existingTransaction(command, state);
  if (existing !== undefined) return existing;
  const amount = parseTransactionAmount(command.amount);
  assert(!isRejection(amount), "a transaction with an invalid amount is refused, not recorded");
  const failed: TransactionFailed = {
    type: "TransactionFailed",
    data: {
      transactionId: command.transactionId,
      code: rejection.code,
      message: rejection.message,
      details: rejection.details ?? null,
      errors: rejection.errors ?? null,
      at: now.toISOString(),
    },
  };
  const accountIds = involvedAccounts(transactionType, command.parties);
  const version = transactionType?.version ?? null;
  const events = [requestedEvent(command, version, accountIds, amount, now), failed];
  return { kind: "accepted", transaction: folded(events), events, posting: null };
}

export interface ReverseTransaction {
  readonly transactionId: string;
  readonly reversalPostingId: string;
  readonly reason: string;
  readonly requestHash: string;
  readonly idempotent: boolean;
}

/** Reverses a POSTED transaction's posting and marks the transaction REVERSED, atomically. */
export function decideReverseTransaction(
  command: ReverseTransaction,
  inputs: {
    readonly transaction: TransactionState;
    readonly original: PostingState;
    readonly reversal: PostingState;
    readonly accounts: ReadonlyMap<string, AccountState>;
  },
  now: Date,
): TransactionDecision {
  const transaction = inputs.transaction;
  if (transaction === undefined) return transactionNotFound(command.transactionId);
  if (transaction.postingId === null) return notPosted(transaction);
  const posting = decideReversePosting(
    { ...command, postingId: transaction.postingId, reversalId: command.reversalPostingId },
    inputs,
    now,
  );
  if (isRejection(posting)) return posting;
  if (posting.kind === "replay") return { kind: "replay", transaction };
  const events: TransactionEvent[] = [
    {
      type: "TransactionReversed",
      data: {
        transactionId: transaction.id,
        reversalPostingId: command.reversalPostingId,
        reason: command.reason,
        at: now.toISOString(),
      },
    },
  ];
  return { kind: "accepted", transaction: folded(events, transaction), events, posting };
}

/** Request checks that need no state: a positive amount within its currency's decimals. */
export function parseTransactionAmount(amount: {
  readonly value: string;
  readonly currency: string;
}): ParsedAmount | Rejection {
  const currency = amount.currency;
  if (!isCurrencyCode(currency)) {
    return rejectWithErrors("VALIDATION_ERROR", `unsupported currency ${currency}`, [
      { path: "/amount/currency", message: `unsupported currency ${currency}` },
    ]);
  }
  const parsed = parseAmount(amount.value, currency);
  if (!parsed.ok) {
    return rejectWithErrors("VALIDATION_ERROR", `amount: ${parsed.message}`, [
      { path: "/amount/value", message: parsed.message },
    ]);
  }
  return { value: parsed.value, currency };
}

/**
 * Every account a transaction involves: its parties and, when the type is known, the
 * template's fixed accounts (a fee income account). The command side declares their streams.
 */
export function involvedAccounts(
  type: TransactionTypeState,
  parties: Readonly<Record<string, string>>,
): string[] {
  const fixed = (type?.postings ?? []).flatMap((leg) =>
    leg.accountId === null ? [] : [leg.accountId],
  );
  return [...new Set([...Object.values(parties), ...fixed])];
}

/** Each role of the template filled by exactly the request's parties, no more, no fewer. */
export function resolveParties(
  type: TransactionType,
  parties: Readonly<Record<string, string>>,
): ResolvedLeg[] | Rejection {
  const roles = templateRoles(type.postings);
  const errors: FieldError[] = [
    ...roles
      .filter((role) => !Object.hasOwn(parties, role))
      .map((role) => ({ path: `/parties/${role}`, message: `${type.code} needs a ${role}` })),
    ...Object.keys(parties)
      .filter((role) => !roles.includes(role))
      .map((role) => ({ path: `/parties/${role}`, message: `${type.code} has no role ${role}` })),
  ];
  if (errors.length > 0) {
    return rejectWithErrors(
      "VALIDATION_ERROR",
      `the parties do not match the roles of ${type.code}: ${roles.join(", ")}`,
      errors,
    );
  }
  return type.postings.map((leg) => {
    const accountId = leg.role === null ? leg.accountId : (parties[leg.role] ?? null);
    assert(accountId !== null, "every leg has a role filled above or a fixed account");
    return { ...leg, accountId };
  });
}

/**
 * The template as entries: each side's legs split the amount by their shares, largest
 * remainder, so each side sums to exactly the amount. A leg whose share rounds to zero minor
 * units (1 % of 0.01) moves nothing and is left out; each side keeps at least one leg, since
 * its shares sum to 1.
 */
export function expandTemplate(legs: readonly ResolvedLeg[], amount: ParsedAmount): EntryRequest[] {
  const parts = new Map<ResolvedLeg, Decimal>();
  for (const side of ["DEBIT", "CREDIT"] as const) {
    const sideLegs = legs.filter((leg) => leg.side === side);
    const split = allocate(
      amount.value,
      amount.currency,
      sideLegs.map((leg) => leg.percent),
    );
    sideLegs.forEach((leg, index) => {
      const part = split[index];
      assert(part !== undefined, "allocate returns one part per weight");
      parts.set(leg, part);
    });
  }
  return legs.flatMap((leg) => {
    const part = parts.get(leg);
    if (part === undefined || part.isZero()) return [];
    return [
      {
        accountId: leg.accountId,
        side: leg.side,
        amount: { value: formatAmount(part, amount.currency), currency: amount.currency },
      },
    ];
  });
}

/**
 * Every leg's account exists and has the type its leg and role demand, and every account's
 * type may take part in the transaction type.
 */
function checkLegs(
  type: TransactionType,
  legs: readonly ResolvedLeg[],
  inputs: TransactionInputs,
): Rejection | undefined {
  const accounts: Account[] = [];
  for (const leg of legs) {
    const account = inputs.accounts.get(leg.accountId);
    if (account === undefined) return accountNotFound(leg.accountId);
    const label = leg.role ?? `fixed account ${leg.accountId}`;
    const required = leg.accountType;
    if (required !== null && account.accountType !== required) {
      return notAllowed(account, type.code, `the ${label} must be a ${required} account`);
    }
    const allowed = leg.role === null ? undefined : type.allowedAccountTypes?.[leg.role];
    if (allowed !== undefined && !allowed.includes(account.accountType)) {
      return notAllowed(
        account,
        type.code,
        `the ${label} must be an account of type ${allowed.join(" or ")}`,
      );
    }
    accounts.push(account);
  }
  return checkParticipation(type.code, new Set(accounts), inputs.permissions);
}

function existingTransaction(
  command: RecordTransaction,
  state: TransactionState,
): TransactionReplay | Rejection | undefined {
  if (state === undefined) return undefined;
  if (!command.idempotent) {
    return reject("TRANSACTION_EXISTS", `transaction ${command.transactionId} already exists`, {
      transactionId: command.transactionId,
    });
  }
  if (state.requestHash !== command.requestHash) {
    return reject(
      "IDEMPOTENCY_KEY_REUSED",
      "this idempotency key was used for a different request",
      { transactionId: command.transactionId },
    );
  }
  return { kind: "replay", transaction: state };
}

function requestedEvent(
  command: RecordTransaction,
  version: number | null,
  accountIds: readonly string[],
  amount: ParsedAmount,
  now: Date,
): TransactionRequested {
  return {
    type: "TransactionRequested",
    data: {
      transactionId: command.transactionId,
      transactionType: command.transactionType,
      transactionTypeVersion: version,
      amount: { value: formatAmount(amount.value, amount.currency), currency: amount.currency },
      parties: command.parties,
      accountIds,
      reference: command.reference ?? null,
      description: command.description ?? null,
      metadata: command.metadata ?? {},
      requestHash: command.requestHash,
      at: now.toISOString(),
    },
  };
}

function folded(
  events: readonly TransactionEvent[],
  from: TransactionState = undefined,
): DomainTransaction {
  const transaction = foldTransaction(events, from);
  assert(transaction !== undefined, "a requested transaction exists");
  return transaction;
}

export function transactionNotFound(transactionId: string): Rejection {
  return reject("TRANSACTION_NOT_FOUND", `transaction ${transactionId} does not exist`, {
    transactionId,
  });
}

/** Only a transaction that was posted has a posting to reverse. */
export function notPosted(transaction: DomainTransaction): Rejection {
  return reject(
    "INVALID_STATUS_TRANSITION",
    `transaction ${transaction.id} is ${transaction.status}; only a posted one can be reversed`,
    { transactionId: transaction.id, status: transaction.status },
  );
}
