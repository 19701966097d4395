import canonicalize from "canonicalize";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJsonOf } from "../../src/eventstore/canonical-json.js";

describe("canonical JSON (RFC 8785)", () => {
  it("is what the canonicalize package writes, for any JSON value", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(canonicalJsonOf(value)).toBe(canonicalize(value));
      }),
      { numRuns: 2_000 },
    );
  });

  it("sorts members by UTF-16 code units and writes numbers as ECMAScript does", () => {
    const value = { b: 1, a: [1e21, 0.1, -0, "é"], "€": null, "\u{1F600}": true, A: {} };
    expect(canonicalJsonOf(value)).toBe('{"A":{},"a":[1e+21,0.1,0,"é"],"b":1,"€":null,"😀":true}');
  });

  it("leaves out undefined members, writes undefined array items as null, refuses NaN", () => {
    expect(canonicalJsonOf({ a: undefined, b: [undefined] })).toBe('{"b":[null]}');
    expect(() => canonicalJsonOf({ a: Number.NaN })).toThrow(RangeError);
  });
});
