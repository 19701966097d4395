/**
 * Domain transactions: business-level movements made through a transaction type's template
 * (a cash-in, a P2P transfer). The `transaction-<id>` stream records what was asked and how it
 * ended: TransactionRequested, then TransactionPosted (in the same atomic append as the
 * posting it expanded into) or TransactionFailed with the rejection; a posted one may later
 * be TransactionReversed. A FAILED transaction is kept: it is part of the audit trail.
 */
import type { JsonRecord } from "../accounts/account.js";
import { assert, type FieldError, type RejectionCode } from "../errors.js";
import type { CurrencyCode } from "../money/index.js";

export type TransactionStatus = "PENDING" | "POSTED" | "FAILED" | "REVERSED";

export interface TransactionAmount {
  readonly value: string;
  readonly currency: CurrencyCode;
}

export interface TransactionRequested {
  readonly type: "TransactionRequested";
  readonly data: {
    readonly transactionId: string;
    readonly transactionType: string;
    /** The template version it was expanded from; null when the type did not exist. */
    readonly transactionTypeVersion: number | null;
    readonly amount: TransactionAmount;
    /** Role → account id, as the request filled them. */
    readonly parties: Readonly<Record<string, string>>;
    /** Every account the transaction involves: the parties and the template's fixed accounts. */
    readonly accountIds: readonly string[];
    readonly reference: string | null;
    readonly description: string | null;
    readonly metadata: JsonRecord;
    /** SHA-256 of the request: tells an idempotent replay from a reused key. */
    readonly requestHash: string;
    readonly at: string;
  };
}

export interface TransactionPosted {
  readonly type: "TransactionPosted";
  readonly data: {
    readonly transactionId: string;
    readonly postingId: string;
    readonly at: string;
  };
}

/** Why a transaction failed: the rejection, kept so a replay answers with the same problem. */
export interface TransactionFailure {
  readonly code: RejectionCode;
  readonly message: string;
  readonly details: Readonly<Record<string, string>> | null;
  readonly errors: readonly FieldError[] | null;
}

export interface TransactionFailed {
  readonly type: "TransactionFailed";
  readonly data: TransactionFailure & { readonly transactionId: string; readonly at: string };
}

export interface TransactionReversed {
  readonly type: "TransactionReversed";
  readonly data: {
    readonly transactionId: string;
    readonly reversalPostingId: string;
    readonly reason: string;
    readonly at: string;
  };
}

export type TransactionEvent =
  | TransactionRequested
  | TransactionPosted
  | TransactionFailed
  | TransactionReversed;

export interface StatusChange {
  readonly status: TransactionStatus;
  readonly at: string;
  readonly reason?: string;
}

export interface DomainTransaction {
  readonly id: string;
  readonly transactionType: string;
  readonly transactionTypeVersion: number | null;
  readonly amount: TransactionAmount;
  readonly parties: Readonly<Record<string, string>>;
  readonly accountIds: readonly string[];
  readonly reference: string | null;
  readonly description: string | null;
  readonly metadata: JsonRecord;
  readonly requestHash: string;
  readonly status: TransactionStatus;
  readonly postingId: string | null;
  readonly reversalPostingId: string | null;
  readonly failure: TransactionFailure | null;
  readonly history: readonly StatusChange[];
  readonly createdAt: string;
}

export type TransactionState = DomainTransaction | undefined;

export function evolveTransaction(
  state: TransactionState,
  event: TransactionEvent,
): TransactionState {
  if (event.type === "TransactionRequested") return requested(event);
  assert(state !== undefined, `${event.type} on a transaction that was never requested`);
  switch (event.type) {
    case "TransactionPosted":
      return {
        ...state,
        status: "POSTED",
        postingId: event.data.postingId,
        history: [...state.history, { status: "POSTED", at: event.data.at }],
      };
    case "TransactionFailed":
      return {
        ...state,
        status: "FAILED",
        failure: failureOf(event),
        history: [
          ...state.history,
          { status: "FAILED", at: event.data.at, reason: event.data.message },
        ],
      };
    case "TransactionReversed":
      return {
        ...state,
        status: "REVERSED",
        reversalPostingId: event.data.reversalPostingId,
        history: [
          ...state.history,
          { status: "REVERSED", at: event.data.at, reason: event.data.reason },
        ],
      };
  }
}

export function foldTransaction(
  events: readonly TransactionEvent[],
  state: TransactionState = undefined,
): TransactionState {
  return events.reduce(evolveTransaction, state);
}

function requested(event: TransactionRequested): DomainTransaction {
  const data = event.data;
  return {
    id: data.transactionId,
    transactionType: data.transactionType,
    transactionTypeVersion: data.transactionTypeVersion,
    amount: data.amount,
    parties: data.parties,
    accountIds: data.accountIds,
    reference: data.reference,
    description: data.description,
    metadata: data.metadata,
    requestHash: data.requestHash,
    status: "PENDING",
    postingId: null,
    reversalPostingId: null,
    failure: null,
    history: [{ status: "PENDING", at: data.at }],
    createdAt: data.at,
  };
}

function failureOf(event: TransactionFailed): TransactionFailure {
  const { code, message, details, errors } = event.data;
  return { code, message, details, errors };
}
