/**
 * Postings: balanced multi-leg movements between accounts. A posting's own stream holds what
 * was asked (PostingRecorded) and whether it was reversed; each account's stream holds its
 * legs (EntryPosted). Deciding a posting reads the posting and every account it touches.
 */
import type { JsonRecord, Side } from "../accounts/account.js";
import { assert } from "../errors.js";
import type { CurrencyCode } from "../money/index.js";

export interface PostingEntry {
  readonly accountId: string;
  readonly side: Side;
  readonly amount: string;
  readonly currency: CurrencyCode;
}

export interface PostingRecorded {
  readonly type: "PostingRecorded";
  readonly data: {
    readonly postingId: string;
    readonly transactionType: string | null;
    readonly reference: string | null;
    readonly description: string | null;
    readonly entries: readonly PostingEntry[];
    readonly metadata: JsonRecord;
    /** SHA-256 of the request: tells an idempotent replay from a reused key. */
    readonly requestHash: string;
    /** The posting this one reverses, if it is a reversal. */
    readonly reverses: string | null;
    /** The hold this posting captured, if it is a capture. */
    readonly holdId: string | null;
    readonly createdAt: string;
    /** The domain transaction this posting carries out (absent: a posting of its own). */
    readonly transactionId?: string;
  };
}

export interface PostingReversed {
  readonly type: "PostingReversed";
  readonly data: {
    readonly postingId: string;
    readonly reversalId: string;
    readonly reason: string;
    readonly at: string;
  };
}

/** In a `reference-<sha256>` stream: the posting that took the reference first. */
export interface ReferenceClaimed {
  readonly type: "ReferenceClaimed";
  readonly data: { readonly reference: string; readonly postingId: string };
}

export type PostingEvent = PostingRecorded | PostingReversed;

export interface Posting {
  readonly id: string;
  readonly transactionType: string | null;
  readonly reference: string | null;
  readonly description: string | null;
  readonly entries: readonly PostingEntry[];
  readonly metadata: JsonRecord;
  readonly requestHash: string;
  readonly reverses: string | null;
  readonly holdId: string | null;
  readonly createdAt: string;
  /** The domain transaction this posting carries out; null for a posting of its own. */
  readonly transactionId: string | null;
  readonly reversedBy: string | null;
  readonly status: "POSTED" | "REVERSED";
}

export type PostingState = Posting | undefined;

export function evolvePosting(state: PostingState, event: PostingEvent): PostingState {
  if (event.type === "PostingRecorded") {
    const data = event.data;
    return {
      id: data.postingId,
      transactionType: data.transactionType,
      reference: data.reference,
      description: data.description,
      entries: data.entries,
      metadata: data.metadata,
      requestHash: data.requestHash,
      reverses: data.reverses,
      holdId: data.holdId,
      createdAt: data.createdAt,
      transactionId: data.transactionId ?? null,
      reversedBy: null,
      status: "POSTED",
    };
  }
  assert(state !== undefined, "PostingReversed on a posting that was never recorded");
  return { ...state, reversedBy: event.data.reversalId, status: "REVERSED" };
}

export function foldPosting(events: readonly PostingEvent[], state: PostingState = undefined) {
  return events.reduce(evolvePosting, state);
}
