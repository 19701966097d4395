import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isoText } from "../../src/domain/instants.js";

describe("instants", () => {
  it("isoText writes what toISOString writes, whatever instants it is asked in turn", () => {
    const instantMs = fc.integer({ min: -8.64e15, max: 8.64e15 });
    fc.assert(
      fc.property(fc.array(fc.oneof(instantMs, fc.constantFrom(0, 1_748_779_200_000))), (times) => {
        for (const timeMs of times) {
          const date = new Date(timeMs);
          expect(isoText(date)).toBe(date.toISOString());
        }
      }),
    );
  });

  it("a Date moved with setTime is written at its new instant", () => {
    const date = new Date("2025-06-01T12:00:00.000Z");
    expect(isoText(date)).toBe("2025-06-01T12:00:00.000Z");
    date.setTime(date.getTime() + 1);
    expect(isoText(date)).toBe("2025-06-01T12:00:00.001Z");
  });

  it("an invalid date is a RangeError, as with toISOString", () => {
    expect(() => isoText(new Date(Number.NaN))).toThrow(RangeError);
  });
});
