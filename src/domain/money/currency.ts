/**
 * The currency table: the single source of truth for which ISO 4217 codes Nova Ledger
 * accepts and how many minor-unit decimals each allows. Everything that needs a scale asks
 * here, so adding a currency is one line.
 */

/**
 * ISO 4217 code → minor-unit scale (decimals). Read models store numeric(20,6), so no scale
 * may exceed 6 (a test holds the table to that).
 */
export const CURRENCY_SCALES = {
  // Caribbean currencies the platform operates in.
  XCD: 2,
  BBD: 2,
  TTD: 2,
  JMD: 2,
  GYD: 2,
  BSD: 2,
  BZD: 2,
  HTG: 2,
  DOP: 2,
  // Settlement and remittance currencies.
  USD: 2,
  EUR: 2,
  GBP: 2,
  CAD: 2,
  // Off-the-common-case scales, kept so every scale path is exercised.
  JPY: 0,
  KWD: 3,
} as const satisfies Readonly<Record<string, number>>;

export type CurrencyCode = keyof typeof CURRENCY_SCALES;

/** Every supported code, in table order. */
export const CURRENCY_CODES: readonly CurrencyCode[] = Object.freeze(
  Object.keys(CURRENCY_SCALES) as CurrencyCode[],
);

/**
 * True when `value` is a supported ISO 4217 code. Case-sensitive on purpose: "usd" is not a
 * code, and accepting it would give one currency two spellings in events.
 */
export function isCurrencyCode(value: unknown): value is CurrencyCode {
  // Object.hasOwn, not `in`: "toString" must not count as a currency.
  return typeof value === "string" && Object.hasOwn(CURRENCY_SCALES, value);
}

/** Minor-unit decimals of `code` (USD 2, JPY 0, KWD 3). */
export function currencyScale(code: CurrencyCode): number {
  if (!isCurrencyCode(code)) {
    // The type says this cannot happen; an unchecked cast upstream is a programmer error.
    throw new Error(`currencyScale: unknown currency ${JSON.stringify(code)}`);
  }
  const scale: number = CURRENCY_SCALES[code];
  return scale;
}
