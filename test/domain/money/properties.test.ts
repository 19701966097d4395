import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AMOUNT_INTEGER_DIGITS_MAX,
  allocate,
  allocateMinorUnits,
  CURRENCY_CODES,
  type CurrencyCode,
  currencyScale,
  Decimal,
  formatAmount,
  fromMinorUnits,
  parseAmount,
  parseAmountWithText,
  toMinorUnits,
} from "../../../src/domain/money/index.js";

const WEIGHT_DECIMALS = 6;
const WEIGHT_DENOMINATOR = 10n ** BigInt(WEIGHT_DECIMALS);

/** Amounts in minor units up to the 14 integer digits the read models hold. */
function amountMinorArbitrary(scale: number): fc.Arbitrary<bigint> {
  const max = 10n ** BigInt(AMOUNT_INTEGER_DIGITS_MAX + scale) - 1n;
  return fc.oneof(fc.bigInt({ min: 0n, max: 10_000n }), fc.bigInt({ min: 0n, max }));
}

/** Weights with six decimals that sum to exactly 1: cut points in [0, 10^6]. */
const weightsArbitrary: fc.Arbitrary<string[]> = fc
  .array(fc.bigInt({ min: 0n, max: WEIGHT_DENOMINATOR }), { minLength: 0, maxLength: 11 })
  .map((cuts) => {
    const points = [0n, ...cuts.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)), WEIGHT_DENOMINATOR];
    const weights: string[] = [];
    for (let index = 1; index < points.length; index += 1) {
      const numerator = (points[index] ?? 0n) - (points[index - 1] ?? 0n);
      weights.push(weightText(numerator));
    }
    return weights;
  });

function weightText(numerator: bigint): string {
  const whole = numerator / WEIGHT_DENOMINATOR;
  const fraction = (numerator % WEIGHT_DENOMINATOR).toString().padStart(WEIGHT_DECIMALS, "0");
  return `${whole}.${fraction}`;
}

function weightNumerator(weight: string): bigint {
  const [whole = "0", fraction = ""] = weight.split(".");
  return BigInt(whole + fraction.padEnd(WEIGHT_DECIMALS, "0"));
}

const currencyArbitrary: fc.Arbitrary<CurrencyCode> = fc.constantFrom(...CURRENCY_CODES);

describe("allocation properties", () => {
  it("the parts always sum exactly to the amount", () => {
    fc.assert(
      fc.property(
        currencyArbitrary.chain((currency) =>
          fc.tuple(
            fc.constant(currency),
            amountMinorArbitrary(currencyScale(currency)),
            weightsArbitrary,
          ),
        ),
        ([currency, amountMinor, weights]) => {
          const amount = fromMinorUnits(amountMinor, currency);
          const parts = allocate(amount, currency, weights);
          expect(parts).toHaveLength(weights.length);
          const total = parts.reduce((sum, part) => sum.plus(part), new Decimal(0));
          expect(total.equals(amount)).toBe(true);
          for (const part of parts) {
            expect(part.isNegative() && !part.isZero()).toBe(false);
            expect(part.decimalPlaces()).toBeLessThanOrEqual(currencyScale(currency));
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("each part is within one minor unit of its exact share, never below its floor", () => {
    fc.assert(
      fc.property(amountMinorArbitrary(2), weightsArbitrary, (amountMinor, weights) => {
        const parts = allocateMinorUnits(amountMinor, weights);
        for (const [index, part] of parts.entries()) {
          // Compare in units of 1/10^6 minor unit to stay in integers.
          const exactScaled = amountMinor * weightNumerator(weights[index] ?? "0");
          const partScaled = part * WEIGHT_DENOMINATOR;
          const distance = partScaled - exactScaled;
          expect(distance > -WEIGHT_DENOMINATOR && distance < WEIGHT_DENOMINATOR).toBe(true);
          // Largest remainder only ever adds to the floor.
          expect(part).toBeGreaterThanOrEqual(exactScaled / WEIGHT_DENOMINATOR);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("allocation is deterministic", () => {
    fc.assert(
      fc.property(amountMinorArbitrary(2), weightsArbitrary, (amountMinor, weights) => {
        expect(allocateMinorUnits(amountMinor, weights)).toEqual(
          allocateMinorUnits(amountMinor, weights),
        );
      }),
    );
  });
});

describe("parse and format properties", () => {
  it("parse(format(x)) round-trips for every currency and amount in range", () => {
    fc.assert(
      fc.property(
        currencyArbitrary.chain((currency) =>
          fc.tuple(
            fc.constant(currency),
            amountMinorArbitrary(currencyScale(currency)),
            fc.boolean(),
          ),
        ),
        ([currency, amountMinorAbsolute, negative]) => {
          const amountMinor = negative ? -amountMinorAbsolute : amountMinorAbsolute;
          const value = fromMinorUnits(amountMinor, currency);
          const text = formatAmount(value, currency);
          const parsed = parseAmount(text, currency, { allowZero: true, allowNegative: true });
          expect(parsed.ok).toBe(true);
          if (parsed.ok) {
            expect(parsed.value.equals(value)).toBe(true);
            expect(formatAmount(parsed.value, currency)).toBe(text);
            expect(toMinorUnits(parsed.value, currency)).toBe(amountMinor);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("parseAmount never throws, whatever it is given", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.anything(), fc.stringMatching(/^[-+0-9.eE ]{0,24}$/)),
        fc.oneof(fc.constantFrom(...CURRENCY_CODES), fc.string()),
        fc.boolean(),
        fc.boolean(),
        (text, currency, allowZero, allowNegative) => {
          const result = parseAmount(text, currency, { allowZero, allowNegative });
          if (result.ok) {
            // Whatever is accepted is already canonical up to trailing zeros.
            expect(typeof text).toBe("string");
            expect(result.value.isFinite()).toBe(true);
          } else {
            expect(result.code).toBe("VALIDATION_ERROR");
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("parseAmountWithText agrees with parseAmount, and its text is what formatAmount writes", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          // Written at the currency's scale, with fewer decimals, or not an amount at all.
          fc.stringMatching(/^-?(0|[1-9][0-9]{0,15})(\.[0-9]{1,7})?$/),
          fc.stringMatching(/^[-+0-9.eE ]{0,24}$/),
          fc.anything(),
        ),
        fc.oneof(fc.constantFrom(...CURRENCY_CODES), fc.string()),
        fc.boolean(),
        fc.boolean(),
        (text, currency, allowZero, allowNegative) => {
          const options = { allowZero, allowNegative };
          const withText = parseAmountWithText(text, currency, options);
          const plain = parseAmount(text, currency, options);
          if (!withText.ok || !plain.ok) {
            expect(withText).toEqual(plain);
            return;
          }
          expect(withText.value.value).toStrictEqual(plain.value);
          expect(withText.value.text).toBe(formatAmount(plain.value, currency as CurrencyCode));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("text written at the currency's scale is its own canonical text; other text is formatted", () => {
    const usd = (text: string) => {
      const parsed = parseAmountWithText(text, "USD", { allowNegative: true });
      return parsed.ok ? parsed.value.text : parsed.reason;
    };
    expect(usd("12.50")).toBe("12.50");
    expect(usd("12.5")).toBe("12.50");
    expect(usd("12")).toBe("12.00");
    expect(usd("-0.01")).toBe("-0.01");
    expect(usd("12.500")).toBe("TOO_MANY_DECIMALS");
    const jpy = parseAmountWithText("1200", "JPY");
    expect(jpy.ok && jpy.value.text).toBe("1200");
  });

  it("formatAmount writes what decimal.js's toFixed(scale) writes, for any amount it accepts", () => {
    fc.assert(
      fc.property(
        currencyArbitrary.chain((currency) =>
          fc.tuple(
            fc.constant(currency),
            // Far past the read models' range too: balances and sums are formatted as well.
            fc.oneof(
              fc.bigInt({ min: -10_000n, max: 10_000n }),
              fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }),
            ),
            fc.nat({ max: currencyScale(currency) }),
          ),
        ),
        ([currency, digits, decimals]) => {
          // `digits` with `decimals` decimals: every number of decimals up to the scale.
          const value = fromMinorUnits(digits, currency).times(
            10 ** (currencyScale(currency) - decimals),
          );
          const scale = currencyScale(currency);
          expect(formatAmount(value, currency)).toBe(value.toFixed(scale));
        },
      ),
      { numRuns: 2000 },
    );
    for (const currency of CURRENCY_CODES) {
      const scale = currencyScale(currency);
      for (const text of ["0", "-0", "1", "-1", "10", "100000000000000"]) {
        expect(formatAmount(new Decimal(text), currency)).toBe(new Decimal(text).toFixed(scale));
      }
    }
    expect(formatAmount(new Decimal("-0"), "USD")).toBe("0.00");
  });
});
