/**
 * Percentage splits of an amount (posting templates: "75% to the agent, 25% to fees"),
 * allocated to the minor unit by the largest-remainder method so the parts always sum to
 * exactly the amount. All arithmetic is on bigint minor units: exact at any size.
 */
import type { CurrencyCode } from "./currency.js";
import { type Decimal, fromMinorUnits, toMinorUnits } from "./money.js";

/** Most parts one allocation produces; a template has a handful of legs. */
export const ALLOCATION_WEIGHTS_MAX = 100;

/** Most decimals a weight may have ("0.333334" has 6); far beyond any template's need. */
export const WEIGHT_DECIMALS_MAX = 18;

/** A non-negative decimal weight: "1", "0.75", "0.333334". No sign, exponent or spaces. */
const WEIGHT_PATTERN = /^(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;

/**
 * Splits `amount` (≥ 0, at most the currency's decimals) over `weights`, decimal strings
 * that are each ≥ 0 and sum to exactly 1. Each part is its exact share rounded down to the
 * minor unit; the minor units left over go one each to the largest remainders, ties to the
 * lowest index. So the parts sum exactly to `amount`, each is within one minor unit of its
 * exact share, and the result is deterministic. Weights that do not sum to 1 or a negative
 * amount are programmer errors (templates are validated when they are defined) and throw.
 */
export function allocate(
  amount: Decimal,
  currency: CurrencyCode,
  weights: readonly string[],
): Decimal[] {
  if (amount.isNegative() && !amount.isZero()) {
    throw new Error(`allocate: amount ${amount.toString()} is negative`);
  }
  const partsMinor = allocateMinorUnits(toMinorUnits(amount, currency), weights);
  return partsMinor.map((partMinor) => fromMinorUnits(partMinor, currency));
}

/** `allocate` on minor units: 100n over ["0.5", "0.5"] → [50n, 50n]. */
export function allocateMinorUnits(amountMinor: bigint, weights: readonly string[]): bigint[] {
  if (amountMinor < 0n) {
    throw new Error(`allocate: amount ${amountMinor} minor units is negative`);
  }
  const { numerators, denominator } = weightsAsFractions(weights);
  const floors: bigint[] = [];
  const remainders: bigint[] = [];
  for (const numerator of numerators) {
    // amountMinor * numerator / denominator is the exact share; both operands are ≥ 0, so
    // bigint division (which truncates) is the floor.
    const scaled = amountMinor * numerator;
    floors.push(scaled / denominator);
    remainders.push(scaled % denominator);
  }
  const parts = handOutLeftover(amountMinor, floors, remainders);
  assertSumsTo(parts, amountMinor);
  return parts;
}

/**
 * The minor units the floors left over, one each to the largest remainders (ties: lowest
 * index). The leftover is Σ remainders / denominator, which is less than the number of
 * parts with a non-zero remainder, so no part receives more than one.
 */
function handOutLeftover(
  amountMinor: bigint,
  floors: readonly bigint[],
  remainders: readonly bigint[],
): bigint[] {
  const parts = [...floors];
  let leftover = amountMinor - floors.reduce((total, floor) => total + floor, 0n);
  const order = remainders
    .map((remainder, index) => ({ remainder, index }))
    .sort((a, b) => compareBigintDescending(a.remainder, b.remainder) || a.index - b.index);
  for (const { index } of order) {
    if (leftover === 0n) {
      break;
    }
    parts[index] = (parts[index] ?? 0n) + 1n;
    leftover -= 1n;
  }
  if (leftover !== 0n) {
    throw new Error(`allocate: ${leftover} minor units left over after handing out`);
  }
  return parts;
}

function compareBigintDescending(a: bigint, b: bigint): number {
  if (a === b) {
    return 0;
  }
  return a > b ? -1 : 1;
}

/** Weights as integers over one common power-of-ten denominator; asserts they sum to 1. */
function weightsAsFractions(weights: readonly string[]): {
  numerators: bigint[];
  denominator: bigint;
} {
  if (weights.length === 0 || weights.length > ALLOCATION_WEIGHTS_MAX) {
    throw new Error(
      `allocate: ${weights.length} weights; between 1 and ${ALLOCATION_WEIGHTS_MAX} needed`,
    );
  }
  const parsed = weights.map(parseWeight);
  const decimals = Math.max(...parsed.map((weight) => weight.fraction.length));
  const denominator = 10n ** BigInt(decimals);
  const numerators = parsed.map((weight) =>
    BigInt(weight.integer + weight.fraction.padEnd(decimals, "0")),
  );
  const total = numerators.reduce((sum, numerator) => sum + numerator, 0n);
  if (total !== denominator) {
    throw new Error(`allocate: weights ${JSON.stringify(weights)} do not sum to exactly 1`);
  }
  return { numerators, denominator };
}

function parseWeight(weight: string): { integer: string; fraction: string } {
  const match = typeof weight === "string" ? WEIGHT_PATTERN.exec(weight) : null;
  if (typeof weight === "string" && weight.startsWith("-")) {
    throw new Error(`allocate: weight ${weight} is negative`);
  }
  if (match === null) {
    throw new Error(`allocate: weight ${JSON.stringify(weight)} is not a decimal ≥ 0`);
  }
  const fraction = match[2] ?? "";
  if (fraction.length > WEIGHT_DECIMALS_MAX) {
    throw new Error(`allocate: weight ${weight} has more than ${WEIGHT_DECIMALS_MAX} decimals`);
  }
  return { integer: match[1] ?? "0", fraction };
}

function assertSumsTo(parts: readonly bigint[], amountMinor: bigint): void {
  const total = parts.reduce((sum, part) => sum + part, 0n);
  if (total !== amountMinor) {
    throw new Error(`allocate: parts sum to ${total}, not ${amountMinor}`);
  }
}
