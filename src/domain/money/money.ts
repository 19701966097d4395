/**
 * Money as decimal strings and `decimal.js` values: parsing untrusted text into amounts,
 * the canonical string format, minor-unit conversion and the few sums the ledger needs.
 * A JS `number` never holds money here.
 */
import { Decimal as DecimalJs } from "decimal.js";
import type { RejectionCode } from "../errors.js";
import { type CurrencyCode, currencyScale, isCurrencyCode } from "./currency.js";

/**
 * The Decimal constructor every money computation uses. Amounts have at most 20 significant
 * digits (numeric(20,6)); 40 digits of precision keeps sums of any realistic number of them
 * exact. Exponent notation is switched off so `toString()` never yields "1e+21".
 */
export const Decimal = DecimalJs.clone({
  precision: 40,
  rounding: DecimalJs.ROUND_HALF_EVEN,
  toExpNeg: -9e15,
  toExpPos: 9e15,
});
export type Decimal = DecimalJs;

/** Read models store numeric(20,6): at most 14 digits before the point. */
export const AMOUNT_INTEGER_DIGITS_MAX = 14;

/**
 * Longest amount text examined at all. A valid amount has at most 1 + 14 + 1 + 6 = 22
 * characters; the bound leaves room so near-misses get a precise reason, while megabyte
 * strings are turned away before any pattern runs on them.
 */
export const AMOUNT_TEXT_LENGTH_MAX = 40;

/** Why an amount text was rejected; `code` is always the API's VALIDATION_ERROR. */
export type AmountRejectionReason =
  | "NOT_A_STRING"
  | "UNKNOWN_CURRENCY"
  | "EMPTY"
  | "TOO_LONG"
  | "MALFORMED"
  | "TOO_MANY_INTEGER_DIGITS"
  | "TOO_MANY_DECIMALS"
  | "NEGATIVE_NOT_ALLOWED"
  | "ZERO_NOT_ALLOWED";

/**
 * A bad amount. It is also a domain `Rejection` (kind, code, message), so the one error
 * mapper turns it into problem+json like any other business rejection.
 */
export type AmountRejection = {
  readonly ok: false;
  readonly kind: "rejection";
  /** API.md: a bad amount is `400 VALIDATION_ERROR`, whatever the reason. */
  readonly code: Extract<RejectionCode, "VALIDATION_ERROR">;
  readonly reason: AmountRejectionReason;
  readonly message: string;
};

export type ParseResult<T> = { readonly ok: true; readonly value: T } | AmountRejection;

export type ParseAmountOptions = {
  /** Accept "0" / "0.00" (e.g. balances, limits). Default false: API amounts are positive. */
  readonly allowZero?: boolean;
  /** Accept a leading "-" (e.g. balances). Default false. */
  readonly allowNegative?: boolean;
};

/**
 * The one amount grammar: optional "-", an integer part without leading zeros, and an
 * optional fraction with at least one digit. So "0.5" and "10" pass; ".5", "5.", "01.5",
 * "+5", "1e3", " 5" and "1,000.00" do not.
 */
const AMOUNT_PATTERN = /^(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;

/**
 * Parses untrusted amount text for `currency`. Never throws: every bad input (a JS number,
 * whitespace, an exponent, too many decimals, ...) is a typed rejection. The fraction is
 * counted as written: "10.500" has three decimals and is rejected for USD, so the text a
 * client sent is always the canonical text or a rejection, never silently rewritten.
 */
export function parseAmount(
  text: unknown,
  currency: string,
  options: ParseAmountOptions = {},
): ParseResult<Decimal> {
  const parsed = parseAmountWithText(text, currency, options);
  return parsed.ok ? { ok: true, value: parsed.value.value } : parsed;
}

/** An accepted amount with its canonical text: exactly what `formatAmount` writes for it. */
export type CanonicalAmount = { readonly value: Decimal; readonly text: string };

/**
 * `parseAmount`, also giving the amount's canonical text. Text already written at the
 * currency's scale ("12.50" for USD) is its own canonical text: the grammar allows no leading
 * zeros and no negative zero, so `formatAmount` would write it back unchanged, and it is
 * returned as it is (formatting costs as much as parsing). Other text ("12.5") is formatted.
 */
export function parseAmountWithText(
  text: unknown,
  currency: string,
  options: ParseAmountOptions = {},
): ParseResult<CanonicalAmount> {
  if (typeof text !== "string") {
    return reject("NOT_A_STRING", "an amount must be a decimal string, not a JSON number");
  }
  if (!isCurrencyCode(currency)) {
    return reject("UNKNOWN_CURRENCY", "unknown or unsupported currency code");
  }
  if (text.length === 0) {
    return reject("EMPTY", "an amount must not be empty");
  }
  if (text.length > AMOUNT_TEXT_LENGTH_MAX) {
    return reject("TOO_LONG", `an amount has at most ${AMOUNT_TEXT_LENGTH_MAX} characters`);
  }
  const match = AMOUNT_PATTERN.exec(text);
  if (match === null) {
    return reject("MALFORMED", describeMalformed(text));
  }
  return checkParts(
    { negative: match[1] === "-", integer: match[2] ?? "", fraction: match[3] ?? "" },
    text,
    currency,
    options,
  );
}

type AmountParts = { negative: boolean; integer: string; fraction: string };

function checkParts(
  parts: AmountParts,
  text: string,
  currency: CurrencyCode,
  options: ParseAmountOptions,
): ParseResult<CanonicalAmount> {
  const scale = currencyScale(currency);
  if (parts.integer.length > AMOUNT_INTEGER_DIGITS_MAX) {
    return reject(
      "TOO_MANY_INTEGER_DIGITS",
      `an amount has at most ${AMOUNT_INTEGER_DIGITS_MAX} digits before the decimal point`,
    );
  }
  if (parts.fraction.length > scale) {
    return reject("TOO_MANY_DECIMALS", `${currency} amounts have at most ${scale} decimals`);
  }
  const value = new Decimal(text);
  if (parts.negative && value.isZero()) {
    // "-0" would be a second spelling of zero in events and hashes.
    return reject("MALFORMED", "negative zero is not an amount; write 0");
  }
  if (parts.negative && options.allowNegative !== true) {
    return reject("NEGATIVE_NOT_ALLOWED", "the amount must not be negative");
  }
  if (value.isZero() && options.allowZero !== true) {
    return reject("ZERO_NOT_ALLOWED", "the amount must not be zero");
  }
  const canonical = parts.fraction.length === scale ? text : formatAmount(value, currency);
  return { ok: true, value: { value, text: canonical } };
}

/** A precise message for text that fails the grammar, so a client can fix its request. */
function describeMalformed(text: string): string {
  if (/\s/.test(text)) {
    return "an amount must not contain whitespace";
  }
  if (/[eE]/.test(text)) {
    return "exponent notation is not accepted; write the digits out";
  }
  if (text.startsWith("+")) {
    return 'a leading "+" is not accepted';
  }
  if (text.startsWith(".") || text.startsWith("-.") || text.endsWith(".")) {
    return "a decimal point needs digits on both sides (write 0.5, 5)";
  }
  if (/^-?0[0-9]/.test(text)) {
    return "leading zeros are not accepted";
  }
  return "an amount is digits with an optional decimal point, e.g. 12.50";
}

function reject(reason: AmountRejectionReason, message: string): AmountRejection {
  return { ok: false, kind: "rejection", code: "VALIDATION_ERROR", reason, message };
}

/**
 * The canonical text of `value` in `currency`: exactly the currency's scale ("10.00", "5",
 * "1.500"), no exponent, zero never negative. An amount with more decimals than the
 * currency allows is a programmer error (rounding here would create or destroy money).
 */
export function formatAmount(value: Decimal, currency: CurrencyCode): string {
  const scale = currencyScale(currency);
  assertRepresentable(value, currency, scale, "formatAmount");
  // What toFixed(scale) writes, for about a fifth of its cost (it rounds a copy first): with
  // exponent notation switched off, toString writes every digit, and -0 as "0"; the value has
  // at most `scale` decimals, so padding with zeros is all that is left. A property test holds
  // the two equal.
  return padDecimals(value.toString(), scale);
}

/** Zero runs for padding, by length: every scale in the currency table is at most 6. */
const zeroRuns = ["", "0", "00", "000", "0000", "00000", "000000"];

/** `text` (digits with at most `scale` decimals) written with exactly `scale` decimals. */
function padDecimals(text: string, scale: number): string {
  if (scale === 0) return text;
  const point = text.indexOf(".");
  const missing = point === -1 ? scale : scale - (text.length - point - 1);
  if (missing === 0) return text;
  const zeros = zeroRuns[missing] ?? "0".repeat(missing);
  return point === -1 ? `${text}.${zeros}` : text + zeros;
}

/** `value` in minor units (cents): "12.50" USD → 1250n. Asserts the scale fits. */
export function toMinorUnits(value: Decimal, currency: CurrencyCode): bigint {
  const scale = currencyScale(currency);
  assertRepresentable(value, currency, scale, "toMinorUnits");
  return BigInt(new Decimal(value).times(new Decimal(10).pow(scale)).toFixed(0));
}

/** Minor units back to an amount: 1250n USD → 12.5 (format it for "12.50"). Exact. */
export function fromMinorUnits(amountMinor: bigint, currency: CurrencyCode): Decimal {
  const scale = currencyScale(currency);
  // The constructor keeps every digit (precision only applies to operations).
  return new Decimal(`${amountMinor.toString()}e-${scale}`);
}

/** Σ values, exact. The empty sum is 0. */
export function sumAmounts(values: readonly Decimal[]): Decimal {
  let total = new Decimal(0);
  for (const value of values) {
    total = total.plus(value);
  }
  return total;
}

/**
 * Parses every text with `options` and sums them; the first bad text is the rejection,
 * its message prefixed with the position, so "Σ debits" of a request never throws.
 */
export function sumAmountTexts(
  texts: readonly unknown[],
  currency: string,
  options: ParseAmountOptions = {},
): ParseResult<Decimal> {
  const values: Decimal[] = [];
  for (const [index, text] of texts.entries()) {
    const parsed = parseAmount(text, currency, options);
    if (!parsed.ok) {
      return { ...parsed, message: `amount ${index}: ${parsed.message}` };
    }
    values.push(parsed.value);
  }
  return { ok: true, value: sumAmounts(values) };
}

/** An amount with its currency; built from strings by `parseMoney`. */
export type Money = { readonly amount: Decimal; readonly currency: CurrencyCode };

/** The API's `Amount` shape: `{ value: "12.50", currency: "XCD" }`. */
export type AmountText = { readonly value: string; readonly currency: CurrencyCode };

/** `parseAmount`, keeping the (checked) currency with the amount. */
export function parseMoney(
  text: unknown,
  currency: string,
  options: ParseAmountOptions = {},
): ParseResult<Money> {
  const parsed = parseAmount(text, currency, options);
  if (!parsed.ok) {
    return parsed;
  }
  // parseAmount accepted the currency, so the check cannot fail; it only narrows the type.
  if (!isCurrencyCode(currency)) {
    throw new Error("parseMoney: parseAmount accepted an unknown currency");
  }
  return { ok: true, value: { amount: parsed.value, currency } };
}

/** The canonical `{ value, currency }` of `money`. */
export function formatMoney(money: Money): AmountText {
  return { value: formatAmount(money.amount, money.currency), currency: money.currency };
}

/** a + b. Mixing currencies is a programmer error: callers reject CURRENCY_MISMATCH first. */
export function addMoney(a: Money, b: Money): Money {
  assertSameCurrency(a, b, "addMoney");
  return { amount: new Decimal(a.amount).plus(b.amount), currency: a.currency };
}

/** a − b. Mixing currencies is a programmer error: callers reject CURRENCY_MISMATCH first. */
export function subtractMoney(a: Money, b: Money): Money {
  assertSameCurrency(a, b, "subtractMoney");
  return { amount: new Decimal(a.amount).minus(b.amount), currency: a.currency };
}

function assertSameCurrency(a: Money, b: Money, where: string): void {
  if (a.currency !== b.currency) {
    throw new Error(`${where}: currency mismatch ${a.currency} vs ${b.currency}`);
  }
}

function assertRepresentable(
  value: Decimal,
  currency: CurrencyCode,
  scale: number,
  where: string,
): void {
  if (!value.isFinite()) {
    throw new Error(`${where}: amount is not finite`);
  }
  if (value.decimalPlaces() > scale) {
    throw new Error(
      `${where}: ${value.toString()} has more than the ${scale} decimals ${currency} allows`,
    );
  }
}
