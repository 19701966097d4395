/**
 * Amounts as integers of millionths ("micros"), the read models' numeric(20,6) scale. The
 * replay adds hundreds of thousands of amounts a second; bigint sums of micros are exact like
 * decimal.js and allocate far less, which is most of what the audit's throughput is made of.
 * Every amount the ledger writes fits: no currency has more than 6 decimals.
 */
import { Decimal } from "../domain/money/index.js";

export const microsScale = 6;

/** At most 14 integer digits (numeric(20,6)); an optional sign; 1 to 6 decimals. */
const amountPattern = /^(-?)(\d{1,14})(?:\.(\d{1,6}))?$/;

/** The micros of a decimal string; undefined for anything else (not a string, a 7th decimal…). */
export function parseMicros(text: unknown): bigint | undefined {
  if (typeof text !== "string") return undefined;
  const match = amountPattern.exec(text);
  if (match === null) return undefined;
  const units = BigInt(`${match[2]}${(match[3] ?? "").padEnd(microsScale, "0")}`);
  return match[1] === "-" ? -units : units;
}

/** The text Postgres prints for numeric(20,6): always six decimals, zero unsigned. */
export function microsText(micros: bigint): string {
  const negative = micros < 0n;
  const digits = (negative ? -micros : micros).toString().padStart(microsScale + 1, "0");
  const text = `${digits.slice(0, -microsScale)}.${digits.slice(-microsScale)}`;
  return negative ? `-${text}` : text;
}

export function microsDecimal(micros: bigint): Decimal {
  return new Decimal(microsText(micros));
}
