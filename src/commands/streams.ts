/**
 * How the command side folds each kind of stream into the state its deciders read. The kind
 * of a stream is told by its name's prefix (src/domain/streams.ts).
 */
import {
  type AccountType,
  type AccountTypeEvent,
  evolveAccountType,
} from "../domain/account-types/account-type.js";
import { type AccountEvent, type AccountState, evolveAccount } from "../domain/accounts/account.js";
import { evolvePosting, type PostingEvent, type PostingState } from "../domain/postings/posting.js";
import { streamPrefixes } from "../domain/streams.js";
import {
  evolveTransactionType,
  type TransactionTypeEvent,
  type TransactionTypeState,
} from "../domain/transaction-types/transaction-type.js";
import {
  evolveTransaction,
  type TransactionEvent,
  type TransactionState,
} from "../domain/transactions/transaction.js";

/** In a `hold-<id>` stream: which account holds the hold (so a capture can find it by id). */
export interface HoldOpened {
  readonly type: "HoldOpened";
  readonly data: {
    readonly holdId: string;
    readonly accountId: string;
    /** The placing request's hash when it was keyed (a retry replays, a reuse is refused). */
    readonly requestHash?: string;
    /** The hold as placed: what a replayed placement answers with. */
    readonly amount?: string;
    readonly expiresAt?: string | null;
  };
}

export interface HoldIndex {
  readonly accountId: string;
  readonly requestHash: string | null;
  readonly amount: string | null;
  readonly expiresAt: string | null;
}

export interface ReferenceIndex {
  readonly postingId: string;
}

/** Any event the command side writes, as plain typed data. */
export interface DomainEvent {
  readonly type: string;
  readonly data: object;
}

interface StreamKind<State> {
  readonly prefix: string;
  evolve(state: State, event: DomainEvent): State;
}

const kinds: readonly StreamKind<unknown>[] = [
  // Longest prefixes first: "config-account-type-" before anything shorter.
  {
    prefix: streamPrefixes.accountType,
    evolve: (state, event) =>
      evolveAccountType(state as AccountType | undefined, event as AccountTypeEvent),
  },
  {
    prefix: streamPrefixes.transactionType,
    evolve: (state, event) =>
      evolveTransactionType(state as TransactionTypeState, event as TransactionTypeEvent),
  },
  {
    prefix: streamPrefixes.transaction,
    evolve: (state, event) =>
      evolveTransaction(state as TransactionState, event as TransactionEvent),
  },
  {
    prefix: streamPrefixes.account,
    evolve: (state, event) => evolveAccount(state as AccountState, event as AccountEvent),
  },
  {
    prefix: streamPrefixes.posting,
    evolve: (state, event) => evolvePosting(state as PostingState, event as PostingEvent),
  },
  {
    prefix: streamPrefixes.hold,
    evolve: (state, event) => state ?? holdIndexOf(event as HoldOpened),
  },
  {
    prefix: streamPrefixes.reference,
    evolve: (state, event) => state ?? { postingId: (event.data as ReferenceIndex).postingId },
  },
];

function holdIndexOf({ data }: HoldOpened): HoldIndex {
  return {
    accountId: data.accountId,
    requestHash: data.requestHash ?? null,
    amount: data.amount ?? null,
    expiresAt: data.expiresAt ?? null,
  };
}

export function evolveStream(stream: string, state: unknown, event: DomainEvent): unknown {
  const kind = kinds.find((candidate) => stream.startsWith(candidate.prefix));
  if (kind === undefined) throw new Error(`no stream kind for "${stream}"`);
  return kind.evolve(state, event);
}
