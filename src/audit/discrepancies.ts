/**
 * What `nova audit verify` reports: each discrepancy names the stream and revision where the
 * event store and the claim it was checked against part ways, with what the replay expected
 * and what it found, so an operator can go straight to the event (GET /v1/audit/streams/…).
 */

export type DiscrepancyKind =
  /** An event's prevHash is not the previous event's hash, or its hash is not its content's. */
  | "HASH_CHAIN"
  /** A stream's revisions are not 0, 1, 2, …: an event is missing or out of place. */
  | "REVISION_GAP"
  /** An event lacks fields the ledger writes (an edited or foreign event). */
  | "MALFORMED_EVENT"
  /** An EntryPosted's balanceAfter is not the previous balance plus its amount. */
  | "BALANCE_AFTER"
  /** An EntryPosted on a stream with no AccountOpened before it. */
  | "ENTRY_WITHOUT_ACCOUNT"
  /** An entry in another currency than its account's. */
  | "CURRENCY_MISMATCH"
  /** A PostingRecorded whose debits and credits differ in a currency, or with < 2 legs. */
  | "UNBALANCED_POSTING"
  /** A leg of a PostingRecorded with no EntryPosted on its account. */
  | "POSTING_LEG_MISSING"
  /** An EntryPosted that is no leg of its posting. */
  | "ENTRY_WITHOUT_LEG"
  /** account_balances.posted differs from the replayed balance. */
  | "READ_MODEL_BALANCE"
  /** An account the events opened has no read-model row, or a row has no AccountOpened. */
  | "READ_MODEL_ACCOUNT"
  /** An EntryPosted with no ledger_entries row. */
  | "READ_MODEL_ENTRY_MISSING"
  /** A ledger_entries row that differs from its EntryPosted. */
  | "READ_MODEL_ENTRY_DIFFERS"
  /** A ledger_entries row with no EntryPosted behind it. */
  | "READ_MODEL_ENTRY_UNKNOWN"
  /** An account's entries differ in count or content (not examined row by row: too many). */
  | "READ_MODEL_ENTRIES";

export interface Discrepancy {
  readonly kind: DiscrepancyKind;
  readonly stream: string;
  /** The event's revision in `stream`; null when no event is at fault (an unknown row). */
  readonly revision: number | null;
  readonly expected: string;
  readonly found: string;
  readonly message: string;
}

/**
 * A tampered store can produce a discrepancy per event; the report keeps the first ones in
 * full and counts the rest, so a verification of millions of events stays bounded in memory.
 */
export const discrepanciesKeptMax = 1_000;

export class DiscrepancyLog {
  readonly kept: Discrepancy[] = [];
  count = 0;

  add(discrepancy: Discrepancy): void {
    this.count++;
    if (this.kept.length < discrepanciesKeptMax) this.kept.push(discrepancy);
  }
}

/** One line for a terminal: `KIND stream@revision: message (expected …, found …)`. */
export function describeDiscrepancy(discrepancy: Discrepancy): string {
  const at = discrepancy.revision === null ? "" : `@${discrepancy.revision}`;
  return (
    `${discrepancy.kind} ${discrepancy.stream}${at}: ${discrepancy.message} ` +
    `(expected ${discrepancy.expected}, found ${discrepancy.found})`
  );
}
