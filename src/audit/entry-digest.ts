/**
 * A fingerprint of one ledger entry that Postgres and the replay compute identically, so the
 * read model's entries can be compared with the events per account as (count, Σ digests)
 * without holding every entry in memory: a missing, extra or edited row changes the account's
 * sum (an accidental collision of 60-bit digests is a 2⁻⁶⁰ event). Accounts whose sums differ
 * are then compared row by row to name the revision.
 *
 * The digest is the first 60 bits of MD5 over the entry's canonical text. MD5 is no defence
 * against a forger here and needs none: the hash chain protects the events; this only has to
 * notice that the read model drifted from them.
 */
import { hash } from "node:crypto";
import { microsText } from "./micros.js";

export interface EntryFields {
  readonly postingId: string;
  readonly accountRevision: number;
  readonly side: string;
  readonly amountMicros: bigint;
  readonly currency: string;
  readonly balanceAfterMicros: bigint;
  /** ISO-8601 instant as the event carries it. */
  readonly postedAt: string;
}

/** The same text and digest for a ledger_entries row (`e` is the row's alias). */
export const entryDigestSql = `('x' || substr(md5(
    e.posting_id::text || '|' || e.account_revision::text || '|' || e.side || '|' ||
    e.amount::text || '|' || e.currency::text || '|' || e.balance_after::text || '|' ||
    to_char(e.posted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
  ), 1, 15))::bit(60)::bigint`;

export function entryText(entry: EntryFields): string {
  return `${entry.postingId}|${entry.accountRevision}|${entry.side}|${microsText(entry.amountMicros)}|${entry.currency}|${microsText(entry.balanceAfterMicros)}|${instantText(entry.postedAt)}`;
}

export function entryDigest(entry: EntryFields): bigint {
  // One-shot: no Hash object per entry, on a path taken once per entry of the whole ledger.
  const hex = hash("md5", entryText(entry), "hex");
  return BigInt(`0x${hex.slice(0, 15)}`);
}

/** What Date.prototype.toISOString writes, and the ledger stamps: checked without a Date. */
const isoMillisPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Milliseconds UTC like to_char above; text that is no instant stays as it is (and differs). */
function instantText(at: string): string {
  if (isoMillisPattern.test(at)) return at;
  const parsedMs = Date.parse(at);
  return Number.isNaN(parsedMs) ? at : new Date(parsedMs).toISOString();
}
