/**
 * Money: the currency table, amount parsing and canonical formatting, minor units and
 * largest-remainder allocation. Pure; imports only decimal.js and the domain error-code type.
 */
export {
  ALLOCATION_WEIGHTS_MAX,
  allocate,
  allocateMinorUnits,
  WEIGHT_DECIMALS_MAX,
} from "./allocate.js";
export {
  CURRENCY_CODES,
  CURRENCY_SCALES,
  type CurrencyCode,
  currencyScale,
  isCurrencyCode,
} from "./currency.js";
export {
  AMOUNT_INTEGER_DIGITS_MAX,
  AMOUNT_TEXT_LENGTH_MAX,
  type AmountRejection,
  type AmountRejectionReason,
  type AmountText,
  addMoney,
  type CanonicalAmount,
  Decimal,
  formatAmount,
  formatMoney,
  fromMinorUnits,
  type Money,
  type ParseAmountOptions,
  type ParseResult,
  parseAmount,
  parseAmountWithText,
  parseMoney,
  subtractMoney,
  sumAmounts,
  sumAmountTexts,
  toMinorUnits,
} from "./money.js";
