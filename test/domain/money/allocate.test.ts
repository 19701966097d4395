import { describe, expect, it } from "vitest";
import {
  ALLOCATION_WEIGHTS_MAX,
  allocate,
  allocateMinorUnits,
  type CurrencyCode,
  Decimal,
  formatAmount,
} from "../../../src/domain/money/index.js";

function split(amount: string, currency: CurrencyCode, weights: readonly string[]): string[] {
  return allocate(new Decimal(amount), currency, weights).map((part) =>
    formatAmount(part, currency),
  );
}

describe("allocate", () => {
  it("splits by the weights when the shares are whole minor units", () => {
    expect(split("100.00", "USD", ["0.75", "0.25"])).toEqual(["75.00", "25.00"]);
    expect(split("10.00", "XCD", ["1"])).toEqual(["10.00"]);
  });

  it("floors each share and gives the leftover cent to the largest remainder", () => {
    // Exact shares 33.3333, 33.3333, 33.3334 cents: the third has the largest remainder.
    expect(split("1.00", "USD", ["0.333333", "0.333333", "0.333334"])).toEqual([
      "0.33",
      "0.33",
      "0.34",
    ]);
    // Exact shares 0.75 and 0.25 of 5 cents: 3.75 and 1.25 → 3 + 1, leftover to the 0.75.
    expect(split("0.05", "USD", ["0.75", "0.25"])).toEqual(["0.04", "0.01"]);
  });

  it("breaks ties between equal remainders by the lowest index", () => {
    expect(split("0.01", "USD", ["0.5", "0.5"])).toEqual(["0.01", "0.00"]);
    expect(split("0.02", "USD", ["0.25", "0.25", "0.25", "0.25"])).toEqual([
      "0.01",
      "0.01",
      "0.00",
      "0.00",
    ]);
  });

  it("hands out several leftover units, one each, in remainder order", () => {
    // 7 cents: exact shares 2.1, 2.1, 2.8 → floors 2, 2, 2 and the one leftover to the 2.8.
    expect(split("0.07", "USD", ["0.3", "0.3", "0.4"])).toEqual(["0.02", "0.02", "0.03"]);
    // 11 cents over thirds-ish: 3.666663, 3.666663, 3.666674 → 3, 3, 3 + two leftovers.
    expect(split("0.11", "USD", ["0.333333", "0.333333", "0.333334"])).toEqual([
      "0.04",
      "0.03",
      "0.04",
    ]);
  });

  it("allocates to the currency's minor unit (JPY whole yen, KWD fils)", () => {
    expect(split("100", "JPY", ["0.333333", "0.333333", "0.333334"])).toEqual(["33", "33", "34"]);
    expect(split("1.000", "KWD", ["0.333333", "0.333333", "0.333334"])).toEqual([
      "0.333",
      "0.333",
      "0.334",
    ]);
  });

  it("a zero weight gets nothing and a zero amount splits into zeros", () => {
    expect(split("0.03", "USD", ["0", "0.5", "0.5"])).toEqual(["0.00", "0.02", "0.01"]);
    expect(split("0.00", "USD", ["0.75", "0.25"])).toEqual(["0.00", "0.00"]);
  });

  it("weights may be written with different numbers of decimals", () => {
    expect(split("10.00", "USD", ["0.5", "0.25", "0.125", "0.125"])).toEqual([
      "5.00",
      "2.50",
      "1.25",
      "1.25",
    ]);
  });

  it("stays exact on the largest amount the read models hold", () => {
    const parts = split("99999999999999.99", "USD", ["0.333333", "0.333333", "0.333334"]);
    // Exact shares in cents: …99999.666667 twice and …99999.666666; two leftover cents go to
    // the first two, whose remainders are larger by a millionth.
    expect(parts).toEqual(["33333300000000.00", "33333300000000.00", "33333399999999.99"]);
  });

  it("works on minor units directly", () => {
    expect(allocateMinorUnits(100n, ["0.5", "0.5"])).toEqual([50n, 50n]);
    expect(allocateMinorUnits(1n, ["0.1", "0.9"])).toEqual([0n, 1n]);
  });
});

describe("allocate asserts what must be true", () => {
  it("weights that do not sum to exactly 1 are a programmer error", () => {
    expect(() => split("1.00", "USD", ["0.5", "0.4"])).toThrow(/sum to exactly 1/);
    expect(() => split("1.00", "USD", ["0.5", "0.6"])).toThrow(/sum to exactly 1/);
    expect(() => split("1.00", "USD", ["0.333333", "0.333333", "0.333333"])).toThrow(
      /sum to exactly 1/,
    );
  });

  it("a negative weight is a programmer error, even when the sum is 1", () => {
    expect(() => split("1.00", "USD", ["1.25", "-0.25"])).toThrow(/negative/);
  });

  it("a weight that is not a plain decimal string is a programmer error", () => {
    for (const weight of ["1e0", " 1", "+1", ".5", "", "abc"]) {
      expect(() => split("1.00", "USD", [weight])).toThrow(/not a decimal/);
    }
    expect(() => split("1.00", "USD", [1 as unknown as string])).toThrow(/not a decimal/);
    expect(() => split("1.00", "USD", [`0.${"0".repeat(18)}1`])).toThrow(/decimals/);
  });

  it("no weights, or more than the bound, is a programmer error", () => {
    expect(() => split("1.00", "USD", [])).toThrow(/weights/);
    const tooMany = Array.from({ length: ALLOCATION_WEIGHTS_MAX + 1 }, () => "0");
    expect(() => split("1.00", "USD", tooMany)).toThrow(/weights/);
  });

  it("a negative amount is a programmer error", () => {
    expect(() => split("-1.00", "USD", ["1"])).toThrow(/negative/);
    expect(() => allocateMinorUnits(-1n, ["1"])).toThrow(/negative/);
  });

  it("an amount finer than the currency's minor unit is a programmer error", () => {
    expect(() => split("1.005", "USD", ["1"])).toThrow(/decimals/);
  });
});
