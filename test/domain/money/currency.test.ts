import { describe, expect, it } from "vitest";
import {
  CURRENCY_CODES,
  CURRENCY_SCALES,
  currencyScale,
  isCurrencyCode,
} from "../../../src/domain/money/index.js";

describe("currency table", () => {
  it("the Caribbean currencies and USD, EUR, GBP have two decimals", () => {
    for (const code of [
      "XCD",
      "USD",
      "BBD",
      "TTD",
      "JMD",
      "GYD",
      "BSD",
      "BZD",
      "HTG",
      "DOP",
      "EUR",
      "GBP",
    ] as const) {
      expect(currencyScale(code)).toBe(2);
    }
  });

  it("JPY has no decimals and KWD has three", () => {
    expect(currencyScale("JPY")).toBe(0);
    expect(currencyScale("KWD")).toBe(3);
  });

  it("no scale exceeds the six decimals of the numeric(20,6) read models", () => {
    for (const code of CURRENCY_CODES) {
      expect(CURRENCY_SCALES[code]).toBeGreaterThanOrEqual(0);
      expect(CURRENCY_SCALES[code]).toBeLessThanOrEqual(6);
    }
  });

  it("every code is three upper-case letters", () => {
    for (const code of CURRENCY_CODES) {
      expect(code).toMatch(/^[A-Z]{3}$/);
    }
  });

  it("isCurrencyCode accepts exactly the table's codes", () => {
    expect(isCurrencyCode("XCD")).toBe(true);
    expect(isCurrencyCode("KWD")).toBe(true);
    expect(isCurrencyCode("xcd")).toBe(false);
    expect(isCurrencyCode("XXX")).toBe(false);
    expect(isCurrencyCode("")).toBe(false);
    expect(isCurrencyCode(" USD")).toBe(false);
    expect(isCurrencyCode(840)).toBe(false);
    expect(isCurrencyCode(undefined)).toBe(false);
  });

  it("inherited object properties are not currencies", () => {
    expect(isCurrencyCode("toString")).toBe(false);
    expect(isCurrencyCode("__proto__")).toBe(false);
    expect(isCurrencyCode("constructor")).toBe(false);
  });

  it("asking the scale of an unchecked unknown code is a programmer error", () => {
    expect(() => currencyScale("XXX" as never)).toThrow(/unknown currency/);
  });
});
