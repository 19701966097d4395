import { describe, expect, it } from "vitest";
import { isRejection, type Rejection } from "../../../src/domain/errors.js";
import {
  type AmountRejectionReason,
  addMoney,
  Decimal,
  formatAmount,
  formatMoney,
  fromMinorUnits,
  type ParseAmountOptions,
  parseAmount,
  parseMoney,
  subtractMoney,
  sumAmounts,
  sumAmountTexts,
  toMinorUnits,
} from "../../../src/domain/money/index.js";

function rejection(text: unknown, currency = "USD", options: ParseAmountOptions = {}) {
  const result = parseAmount(text, currency, options);
  if (result.ok) {
    throw new Error(`expected ${JSON.stringify(text)} to be rejected`);
  }
  return result;
}

function expectRejected(
  text: unknown,
  reason: AmountRejectionReason,
  currency = "USD",
  options: ParseAmountOptions = {},
): void {
  const result = rejection(text, currency, options);
  expect(result.code).toBe("VALIDATION_ERROR");
  expect(result.reason).toBe(reason);
  expect(result.message.length).toBeGreaterThan(0);
}

function parsed(text: string, currency = "USD", options: ParseAmountOptions = {}): string {
  const result = parseAmount(text, currency, options);
  if (!result.ok) {
    throw new Error(`expected ${text} to parse: ${result.message}`);
  }
  return result.value.toString();
}

describe("parseAmount accepts", () => {
  it("a positive amount with up to the currency's decimals", () => {
    expect(parsed("12.50")).toBe("12.5");
    expect(parsed("12.5")).toBe("12.5");
    expect(parsed("12")).toBe("12");
    expect(parsed("0.01")).toBe("0.01");
    expect(parsed("0.5")).toBe("0.5");
  });

  it("JPY amounts without decimals and KWD amounts with three", () => {
    expect(parsed("500", "JPY")).toBe("500");
    expect(parsed("1.005", "KWD")).toBe("1.005");
  });

  it("fourteen integer digits, the most numeric(20,6) holds", () => {
    expect(parsed("99999999999999.99")).toBe("99999999999999.99");
  });

  it("zero only when allowed", () => {
    expect(parsed("0", "USD", { allowZero: true })).toBe("0");
    expect(parsed("0.00", "USD", { allowZero: true })).toBe("0");
  });

  it("a negative amount only when allowed", () => {
    expect(parsed("-12.50", "USD", { allowNegative: true })).toBe("-12.5");
    expect(parsed("-0.01", "USD", { allowNegative: true })).toBe("-0.01");
  });
});

describe("parseAmount rejects with VALIDATION_ERROR", () => {
  it("a JSON number, null, or any non-string", () => {
    expectRejected(12.5, "NOT_A_STRING");
    expectRejected(0, "NOT_A_STRING");
    expectRejected(null, "NOT_A_STRING");
    expectRejected(undefined, "NOT_A_STRING");
    expectRejected({ value: "1" }, "NOT_A_STRING");
    expectRejected(12n, "NOT_A_STRING");
  });

  it("an unknown currency", () => {
    expectRejected("1.00", "UNKNOWN_CURRENCY", "XXX");
    expectRejected("1.00", "UNKNOWN_CURRENCY", "usd");
    expectRejected("1.00", "UNKNOWN_CURRENCY", "");
  });

  it("a rejection is a domain Rejection, so the one error mapper handles it", () => {
    const result: Rejection = rejection("1e3");
    expect(isRejection(result)).toBe(true);
    expect(result.code).toBe("VALIDATION_ERROR");
  });

  it("an empty string", () => {
    expectRejected("", "EMPTY");
  });

  it("whitespace anywhere", () => {
    expectRejected(" ", "MALFORMED");
    expectRejected(" 1.00", "MALFORMED");
    expectRejected("1.00 ", "MALFORMED");
    expectRejected("1 000", "MALFORMED");
    expectRejected("1.00\n", "MALFORMED");
    expect(rejection(" 1").message).toMatch(/whitespace/);
  });

  it("exponent notation", () => {
    expectRejected("1e3", "MALFORMED");
    expectRejected("1E3", "MALFORMED");
    expectRejected("1.5e-2", "MALFORMED");
    expect(rejection("1e3").message).toMatch(/exponent/);
  });

  it('a leading "+"', () => {
    expectRejected("+5", "MALFORMED");
    expectRejected("+5", "MALFORMED", "USD", { allowNegative: true });
    expect(rejection("+5").message).toMatch(/\+/);
  });

  it('a decimal point without digits on both sides (".5", "5.")', () => {
    expectRejected(".5", "MALFORMED");
    expectRejected("5.", "MALFORMED");
    expectRejected("-.5", "MALFORMED", "USD", { allowNegative: true });
    expectRejected(".", "MALFORMED");
  });

  it('leading zeros ("01.5", "00")', () => {
    expectRejected("01.5", "MALFORMED");
    expectRejected("00", "MALFORMED", "USD", { allowZero: true });
    expectRejected("-01", "MALFORMED", "USD", { allowNegative: true });
    expect(rejection("01.5").message).toMatch(/leading zeros/);
  });

  it("anything but ASCII digits, one point and a leading minus", () => {
    for (const text of [
      "abc",
      "1,000.00",
      "1.000,00",
      "$1",
      "1.2.3",
      "--1",
      "NaN",
      "Infinity",
      "0x10",
      "１２",
      "٣",
    ]) {
      expectRejected(text, "MALFORMED", "USD", { allowNegative: true });
    }
  });

  it("negative zero, even when negatives and zero are allowed", () => {
    expectRejected("-0", "MALFORMED", "USD", { allowNegative: true, allowZero: true });
    expectRejected("-0.00", "MALFORMED", "USD", { allowNegative: true, allowZero: true });
  });

  it("a negative amount unless allowed", () => {
    expectRejected("-1.00", "NEGATIVE_NOT_ALLOWED");
    expectRejected("-1.00", "NEGATIVE_NOT_ALLOWED", "USD", { allowZero: true });
  });

  it("zero unless allowed", () => {
    expectRejected("0", "ZERO_NOT_ALLOWED");
    expectRejected("0.00", "ZERO_NOT_ALLOWED");
    expectRejected("0", "ZERO_NOT_ALLOWED", "USD", { allowNegative: true });
  });

  it("more decimals than the currency's scale, trailing zeros included", () => {
    expectRejected("1.001", "TOO_MANY_DECIMALS");
    expectRejected("10.500", "TOO_MANY_DECIMALS");
    expectRejected("1.0", "TOO_MANY_DECIMALS", "JPY");
    expectRejected("1.0001", "TOO_MANY_DECIMALS", "KWD");
    expect(rejection("1.001").message).toMatch(/USD amounts have at most 2 decimals/);
  });

  it("more than fourteen integer digits", () => {
    expectRejected("100000000000000", "TOO_MANY_INTEGER_DIGITS");
    expectRejected("100000000000000.00", "TOO_MANY_INTEGER_DIGITS");
  });

  it("text longer than the bound, before any pattern runs", () => {
    expectRejected("1".repeat(41), "TOO_LONG");
    expectRejected(`1.${"0".repeat(1_000_000)}`, "TOO_LONG");
  });
});

describe("formatAmount", () => {
  it("writes exactly the currency's scale", () => {
    expect(formatAmount(new Decimal("10"), "USD")).toBe("10.00");
    expect(formatAmount(new Decimal("0.5"), "XCD")).toBe("0.50");
    expect(formatAmount(new Decimal("5"), "JPY")).toBe("5");
    expect(formatAmount(new Decimal("1.5"), "KWD")).toBe("1.500");
  });

  it("keeps the sign of a negative balance and never writes -0", () => {
    expect(formatAmount(new Decimal("-3.1"), "USD")).toBe("-3.10");
    expect(formatAmount(new Decimal("-0"), "USD")).toBe("0.00");
  });

  it("never uses exponent notation", () => {
    expect(formatAmount(new Decimal("99999999999999.99"), "USD")).toBe("99999999999999.99");
    expect(formatAmount(new Decimal("1e20"), "USD")).toBe("100000000000000000000.00");
    expect(formatAmount(new Decimal("0.001"), "KWD")).toBe("0.001");
  });

  it("refuses to round away money: more decimals than the scale is a programmer error", () => {
    expect(() => formatAmount(new Decimal("1.005"), "USD")).toThrow(/decimals/);
    expect(() => formatAmount(new Decimal("1.5"), "JPY")).toThrow(/decimals/);
    expect(() => formatAmount(new Decimal("NaN"), "USD")).toThrow(/finite/);
  });
});

describe("minor units", () => {
  it("an amount converts to its minor units and back", () => {
    expect(toMinorUnits(new Decimal("12.50"), "USD")).toBe(1250n);
    expect(toMinorUnits(new Decimal("500"), "JPY")).toBe(500n);
    expect(toMinorUnits(new Decimal("1.005"), "KWD")).toBe(1005n);
    expect(toMinorUnits(new Decimal("-0.01"), "USD")).toBe(-1n);
    expect(toMinorUnits(new Decimal("99999999999999.99"), "USD")).toBe(9999999999999999n);
    expect(formatAmount(fromMinorUnits(1250n, "USD"), "USD")).toBe("12.50");
    expect(formatAmount(fromMinorUnits(500n, "JPY"), "JPY")).toBe("500");
    expect(formatAmount(fromMinorUnits(-1n, "KWD"), "KWD")).toBe("-0.001");
  });

  it("an amount finer than the minor unit has no minor units (programmer error)", () => {
    expect(() => toMinorUnits(new Decimal("0.001"), "USD")).toThrow(/decimals/);
  });
});

describe("sums", () => {
  it("the sum of amounts is exact, beyond the 20 digits of default decimal.js precision", () => {
    const big = new Decimal("99999999999999.999");
    const total = sumAmounts([big, big, big, new Decimal("0.003")]);
    expect(formatAmount(total, "KWD")).toBe("300000000000000.000");
    expect(sumAmounts([]).isZero()).toBe(true);
  });

  it("summing decimal strings parses each and reports the first bad one by position", () => {
    const ok = sumAmountTexts(["0.10", "0.20", "0.30"], "USD");
    expect(ok.ok && formatAmount(ok.value, "USD")).toBe("0.60");
    const bad = sumAmountTexts(["0.10", 0.2, "0.30"], "USD");
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.reason).toBe("NOT_A_STRING");
    expect(!bad.ok && bad.message).toMatch(/^amount 1: /);
  });

  it("summing decimal strings honours the options", () => {
    const result = sumAmountTexts(["5.00", "-7.25"], "USD", { allowNegative: true });
    expect(result.ok && formatAmount(result.value, "USD")).toBe("-2.25");
  });
});

describe("Money", () => {
  it("parseMoney keeps the checked currency with the amount", () => {
    const result = parseMoney("12.50", "XCD");
    expect(result.ok && formatMoney(result.value)).toEqual({ value: "12.50", currency: "XCD" });
    const bad = parseMoney(12.5, "XCD");
    expect(!bad.ok && bad.code).toBe("VALIDATION_ERROR");
  });

  it("adds and subtracts in one currency", () => {
    const a = { amount: new Decimal("10.10"), currency: "USD" } as const;
    const b = { amount: new Decimal("0.20"), currency: "USD" } as const;
    expect(formatMoney(addMoney(a, b))).toEqual({ value: "10.30", currency: "USD" });
    expect(formatMoney(subtractMoney(b, a))).toEqual({ value: "-9.90", currency: "USD" });
  });

  it("mixing currencies is a programmer error", () => {
    const a = { amount: new Decimal("1"), currency: "USD" } as const;
    const b = { amount: new Decimal("1"), currency: "XCD" } as const;
    expect(() => addMoney(a, b)).toThrow(/currency mismatch/);
    expect(() => subtractMoney(a, b)).toThrow(/currency mismatch/);
  });
});
