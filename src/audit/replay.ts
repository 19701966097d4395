/**
 * The auditor's replay: folds raw events, in log order, into what can be checked without
 * trusting anything but the events themselves:
 *
 * - each account's posted balance, recomputed from the entries' amounts, and the
 *   `balanceAfter` every EntryPosted claims;
 * - each posting's double entry (Σ debits = Σ credits per currency, ≥ 2 legs), and that every
 *   leg of a PostingRecorded has exactly one EntryPosted on its account and vice versa;
 * - per account, the balance, entry count and Σ entry digests the read models must hold at
 *   the projection's checkpoint (only events at or before it count there).
 *
 * Memory: one record per account; pending legs only while a posting's events are split across
 * pages.
 */
import { streamPrefixes } from "../domain/streams.js";
import type { RecordedEvent } from "../eventstore/port.js";
import type { DiscrepancyLog } from "./discrepancies.js";
import { type EntryFields, entryDigest } from "./entry-digest.js";
import { microsDecimal, parseMicros } from "./micros.js";
import { moneyText } from "./money-text.js";

type Side = "DEBIT" | "CREDIT";

/** An account as the events tell it, and as the read models should hold it. */
export interface AccountReplay {
  readonly accountId: string;
  readonly stream: string;
  readonly currency: string;
  readonly normalBalance: Side;
  /** Σ entries from their amounts, in the normal-balance sense, in micros (micros.ts). */
  posted: bigint;
  /** The balanceAfter the last EntryPosted claimed, in micros. */
  claimedBalance: bigint;
  lastRevision: number;
  /** Whether AccountOpened is at or before the checkpoint: the read models have the account. */
  projected: boolean;
  projectedPosted: bigint;
  projectedEntries: number;
  projectedDigest: bigint;
  projectedLastRevision: number;
}

/** A leg or an entry waiting for its other half, where it was seen. */
interface PendingLeg {
  readonly leg: Leg;
  /** +1: a PostingRecorded leg waiting for its entry; −1: an entry waiting for its leg. */
  readonly step: 1 | -1;
  readonly stream: string;
  readonly revision: number;
}

export interface ReplayOptions {
  /** Match legs with entries across streams; off when only one stream is replayed. */
  readonly matchLegs: boolean;
}

/**
 * What the replay reads of an event (the hash chains are chain.ts's). `data` is only read for
 * the events `replayReadsData` names: a reader may leave the others' unparsed.
 */
export type ReplayEvent = Pick<RecordedEvent, "stream" | "revision" | "type" | "data">;

const accountPrefix = streamPrefixes.account;
const postingPrefix = streamPrefixes.posting;

/** Whether the replay folds this event, i.e. reads its data. */
export function replayReadsData(type: string, stream: string): boolean {
  switch (type) {
    case "AccountOpened":
    case "EntryPosted":
      return stream.startsWith(accountPrefix);
    case "PostingRecorded":
      return stream.startsWith(postingPrefix);
    default:
      return false;
  }
}

export class LedgerReplay {
  readonly accounts = new Map<string, AccountReplay>();
  eventsRead = 0;
  postings = 0;
  entries = 0;
  eventsNotProjected = 0;
  /** Per posting id, its legs and entries that have not met their other half yet. */
  private readonly pendingLegs = new Map<string, PendingLeg[]>();

  constructor(
    private readonly log: DiscrepancyLog,
    private readonly options: ReplayOptions,
  ) {}

  /** One event, in log order; `projected`: at or before the read models' checkpoint. */
  apply(event: ReplayEvent, projected: boolean): void {
    this.eventsRead++;
    if (!projected) this.eventsNotProjected++;
    if (!replayReadsData(event.type, event.stream)) return;
    // Edited jsonb can be any JSON value, null too, which no destructuring below survives.
    if (event.data === null || typeof event.data !== "object" || Array.isArray(event.data)) {
      this.malformed(event, "data that is a JSON object");
    } else if (event.type === "AccountOpened") {
      this.accountOpened(event, projected);
    } else if (event.type === "EntryPosted") {
      this.entryPosted(event, projected);
    } else {
      this.postingRecorded(event);
    }
  }

  /** Legs and entries that never met their other half; call once every event is applied. */
  finish(): void {
    for (const pending of this.pendingLegs.values()) {
      for (const half of pending) this.reportUnmatched(half);
    }
    this.pendingLegs.clear();
  }

  private accountOpened(event: ReplayEvent, projected: boolean): void {
    const accountId = event.stream.slice(accountPrefix.length);
    const { currency, normalBalance } = event.data;
    if (typeof currency !== "string" || !isSide(normalBalance)) {
      this.malformed(event, "currency and normalBalance");
      return;
    }
    if (this.accounts.has(accountId)) {
      this.malformed(event, "one AccountOpened per account stream");
      return;
    }
    this.accounts.set(accountId, {
      accountId,
      stream: event.stream,
      currency,
      normalBalance,
      posted: 0n,
      claimedBalance: 0n,
      lastRevision: event.revision,
      projected,
      projectedPosted: 0n,
      projectedEntries: 0,
      projectedDigest: 0n,
      projectedLastRevision: event.revision,
    });
  }

  private entryPosted(event: ReplayEvent, projected: boolean): void {
    this.entries++;
    const account = this.accounts.get(event.stream.slice(accountPrefix.length));
    if (account === undefined) {
      this.report("ENTRY_WITHOUT_ACCOUNT", event, {
        expected: "AccountOpened before the first entry",
        found: "none",
        message: "an entry was posted to an account the stream never opened",
      });
      return;
    }
    const entry = entryOf(event);
    if (entry === undefined) {
      this.malformed(event, "postingId, side, a positive amount, currency, balanceAfter and at");
      return;
    }
    if (entry.currency !== account.currency) {
      this.report("CURRENCY_MISMATCH", event, {
        expected: account.currency,
        found: entry.currency,
        message: "the entry's currency is not its account's",
      });
    }
    const delta = entry.side === account.normalBalance ? entry.amount : -entry.amount;
    this.checkClaimedBalance(event, account, delta, entry.balanceAfter);
    account.posted += delta;
    account.lastRevision = event.revision;
    if (this.options.matchLegs) {
      this.tallyLeg(event, -1, entry);
    }
    if (projected) {
      account.projectedPosted += delta;
      account.projectedEntries++;
      account.projectedDigest += entryDigest(entryFields(event.revision, entry));
      account.projectedLastRevision = event.revision;
    }
  }

  /** balanceAfter must follow from the previous claim and this amount: no lost update. */
  private checkClaimedBalance(
    event: ReplayEvent,
    account: AccountReplay,
    delta: bigint,
    balanceAfter: bigint,
  ): void {
    const expected = account.claimedBalance + delta;
    if (expected !== balanceAfter) {
      this.report("BALANCE_AFTER", event, {
        expected: moneyText(microsDecimal(expected), account.currency),
        found: moneyText(microsDecimal(balanceAfter), account.currency),
        message: "balanceAfter is not the previous balance plus this entry",
      });
    }
    account.claimedBalance = balanceAfter;
  }

  private postingRecorded(event: ReplayEvent): void {
    this.postings++;
    const legs = legsOf(event);
    if (legs === undefined) {
      this.malformed(event, "postingId and entries with accountId, side, amount, currency");
      return;
    }
    this.checkDoubleEntry(event, legs);
    if (!this.options.matchLegs) return;
    for (const leg of legs) this.tallyLeg(event, +1, leg);
  }

  private checkDoubleEntry(event: ReplayEvent, legs: readonly Leg[]): void {
    if (legs.length < 2) {
      this.report("UNBALANCED_POSTING", event, {
        expected: "at least 2 legs",
        found: `${legs.length} leg(s)`,
        message: "a posting needs a debit and a credit",
      });
    }
    for (const [currency, sums] of sumsByCurrency(legs)) {
      if (sums.debits === sums.credits) continue;
      const debits = moneyText(microsDecimal(sums.debits), currency);
      const credits = moneyText(microsDecimal(sums.credits), currency);
      this.report("UNBALANCED_POSTING", event, {
        expected: `debits = credits in ${currency}`,
        found: `debits ${debits}, credits ${credits}`,
        message: "the posting's debits and credits differ",
      });
    }
  }

  /**
   * A leg meets its entry (or an entry its leg) by posting id and then by account, side,
   * amount and currency among the few halves of that posting still waiting: no key strings are
   * built for the hundreds of thousands of legs a log holds.
   */
  private tallyLeg(event: ReplayEvent, step: 1 | -1, leg: Leg): void {
    const pending = this.pendingLegs.get(leg.postingId);
    const index = pending?.findIndex((half) => half.step === -step && sameLeg(half.leg, leg));
    if (pending === undefined || index === undefined || index < 0) {
      const half = { leg, step, stream: event.stream, revision: event.revision };
      if (pending === undefined) this.pendingLegs.set(leg.postingId, [half]);
      else pending.push(half);
      return;
    }
    pending.splice(index, 1);
    if (pending.length === 0) this.pendingLegs.delete(leg.postingId);
  }

  private reportUnmatched(half: PendingLeg): void {
    if (half.step > 0) {
      this.report("POSTING_LEG_MISSING", half, {
        expected: `an EntryPosted for ${legText(half.leg)}`,
        found: "none",
        message: "a leg of the posting was never posted to its account",
      });
      return;
    }
    this.report("ENTRY_WITHOUT_LEG", half, {
      expected: "a leg of the posting",
      found: legText(half.leg),
      message: "the entry is no leg of its PostingRecorded",
    });
  }

  private malformed(event: ReplayEvent, what: string): void {
    this.report("MALFORMED_EVENT", event, {
      expected: what,
      found: JSON.stringify(event.data).slice(0, 200),
      message: `a ${event.type} the ledger could not have written`,
    });
  }

  private report(
    kind: Parameters<DiscrepancyLog["add"]>[0]["kind"],
    at: { readonly stream: string; readonly revision: number },
    details: { expected: string; found: string; message: string },
  ): void {
    this.log.add({ kind, stream: at.stream, revision: at.revision, ...details });
  }
}

export interface Leg {
  readonly postingId: string;
  readonly accountId: string;
  readonly side: Side;
  /** In micros. */
  readonly amount: bigint;
  readonly currency: string;
}

export interface Entry extends Leg {
  /** In micros. */
  readonly balanceAfter: bigint;
  readonly at: string;
}

/** An EntryPosted's fields, checked; undefined when the event is not one the ledger wrote. */
export function entryOf(event: ReplayEvent): Entry | undefined {
  const { postingId, side, amount, currency, balanceAfter, at } = event.data;
  const value = positiveMicros(amount);
  const after = parseMicros(balanceAfter);
  if (typeof postingId !== "string" || !isSide(side) || typeof currency !== "string") return;
  if (value === undefined || after === undefined || typeof at !== "string") return;
  const accountId = event.stream.slice(accountPrefix.length);
  return {
    postingId,
    accountId,
    side,
    amount: value,
    currency,
    balanceAfter: after,
    at,
  };
}

/** A PostingRecorded's legs, checked; undefined when the event is not one the ledger wrote. */
export function legsOf(event: ReplayEvent): Leg[] | undefined {
  const { postingId, entries } = event.data;
  if (typeof postingId !== "string" || !Array.isArray(entries)) return undefined;
  const legs: Leg[] = [];
  for (const raw of entries) {
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return undefined;
    const { accountId, side, amount, currency } = raw;
    const value = positiveMicros(amount);
    if (typeof accountId !== "string" || !isSide(side) || typeof currency !== "string") return;
    if (value === undefined) return undefined;
    legs.push({ postingId, accountId, side, amount: value, currency });
  }
  return legs;
}

function sumsByCurrency(legs: readonly Leg[]): Map<string, { debits: bigint; credits: bigint }> {
  const sums = new Map<string, { debits: bigint; credits: bigint }>();
  for (const leg of legs) {
    const sum = sums.get(leg.currency) ?? { debits: 0n, credits: 0n };
    if (leg.side === "DEBIT") sum.debits += leg.amount;
    else sum.credits += leg.amount;
    sums.set(leg.currency, sum);
  }
  return sums;
}

function legText(leg: Leg): string {
  const money = moneyText(microsDecimal(leg.amount), leg.currency);
  return `posting ${leg.postingId} ${leg.side} ${money} on account ${leg.accountId}`;
}

/** The fields an entry's digest and its read-model row are compared on. */
export function entryFields(revision: number, entry: Entry): EntryFields {
  return {
    postingId: entry.postingId,
    accountRevision: revision,
    side: entry.side,
    amountMicros: entry.amount,
    currency: entry.currency,
    balanceAfterMicros: entry.balanceAfter,
    postedAt: entry.at,
  };
}

function sameLeg(a: Leg, b: Leg): boolean {
  return (
    a.accountId === b.accountId &&
    a.side === b.side &&
    a.amount === b.amount &&
    a.currency === b.currency
  );
}

function isSide(value: unknown): value is Side {
  return value === "DEBIT" || value === "CREDIT";
}

/** Amounts cross the store as positive decimal strings; anything else the ledger never wrote. */
function positiveMicros(value: unknown): bigint | undefined {
  const parsed = parseMicros(value);
  return parsed !== undefined && parsed > 0n ? parsed : undefined;
}
