/**
 * Money as an audit report prints it. The values come from events and rows that may have been
 * tampered with, so unlike formatAmount (which asserts the currency's scale) this never
 * throws: a value the currency cannot hold is printed with every digit it has.
 */
import { currencyScale, type Decimal, isCurrencyCode } from "../domain/money/index.js";

export function moneyText(value: Decimal, currency: string): string {
  if (!isCurrencyCode(currency)) return `${value.toFixed()} ${currency}`;
  const scale = currencyScale(currency);
  const digits = value.decimalPlaces() <= scale ? value.toFixed(scale) : value.toFixed();
  return `${value.isZero() ? digits.replace(/^-/, "") : digits} ${currency}`;
}
