/**
 * `inMemberOrder` only reorders: canonical JSON, and so every event hash, stays what it is,
 * while data read back from jsonb (shorter names first) becomes writable by JSON.stringify.
 */
import canonicalize from "canonicalize";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { inMemberOrder } from "../../src/audit/member-order.js";
import { canonicalJsonOf } from "../../src/eventstore/canonical-json.js";
import { eventHash, genesisHash } from "../../src/eventstore/hash-chain.js";
import type { JsonObject } from "../../src/eventstore/port.js";

/** What the audit hashes: the value as JSON.parse gives it back. */
const reparsed = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

const metadata = {
  correlationId: "c",
  causationId: "c",
  principal: "auditor",
  occurredAt: "2026-11-26T00:00:00.000Z",
  schemaVersion: "1",
};

describe("inMemberOrder", () => {
  it("leaves canonical JSON as the canonicalize package writes it, for any JSON value", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const parsed = reparsed(value);
        expect(canonicalJsonOf(inMemberOrder(parsed))).toBe(canonicalize(parsed));
      }),
      { numRuns: 2_000 },
    );
  });

  it("puts every member in canonical order, so JSON.stringify writes canonical JSON", () => {
    // Object names as the ledger writes them: no integer-like names, no "__proto__".
    // (fast-check generates "__proto__" on purpose: left out here, tested below.)
    const name = fc
      .string({ minLength: 1, maxLength: 12 })
      .filter((text) => /^[^0-9]/.test(text) && text !== "__proto__");
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: "small" },
        fc.oneof(fc.string(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean()),
        fc.constant(null),
        fc.array(tie("value"), { maxLength: 4 }),
        fc.dictionary(name, tie("value"), { maxKeys: 6 }),
      ),
    }));
    fc.assert(
      fc.property(value, (generated) => {
        const parsed = reparsed(generated);
        expect(JSON.stringify(inMemberOrder(parsed))).toBe(canonicalize(parsed));
      }),
      { numRuns: 2_000 },
    );
  });

  it("reorders data read back from jsonb, and returns values already in order as they are", () => {
    const fromJsonb = JSON.parse(
      '{"at": "2026-11-26T15:29:13.298Z", "side": "CREDIT", "amount": "1000.00", ' +
        '"currency": "XCD", "postingId": "p", "balanceAfter": "1000.00", ' +
        '"entries": [{"side": "DEBIT", "amount": "1.00"}]}',
    );
    const ordered = inMemberOrder(fromJsonb);
    expect(Object.keys(ordered as object)).toEqual([
      "amount",
      "at",
      "balanceAfter",
      "currency",
      "entries",
      "postingId",
      "side",
    ]);
    expect(JSON.stringify(ordered)).toBe(canonicalize(fromJsonb));
    expect(inMemberOrder(ordered)).toBe(ordered);
    const sorted = { a: [1, { b: null, c: "x" }], d: {} };
    expect(inMemberOrder(sorted)).toBe(sorted);
  });

  it("leaves what it cannot order to the sorting writer: integer-like names, __proto__", () => {
    for (const text of ['{"b": 1, "10": 2, "9": 3}', '{"z": {"__proto__": {"y": 1}, "a": 2}}']) {
      const data = JSON.parse(text) as JsonObject;
      const event = { id: "e", type: "T", data, metadata };
      const ordered = { ...event, data: inMemberOrder(data) as JsonObject };
      expect(eventHash(genesisHash, ordered)).toBe(eventHash(genesisHash, event));
      expect(canonicalJsonOf(ordered.data)).toBe(canonicalize(data));
    }
    // Never a prototype set from data.
    const proto = inMemberOrder(JSON.parse('{"b": 1, "__proto__": {"polluted": true}}'));
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
  });

  it("keeps every event hash, for any data", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (value) => {
        const data = reparsed(value) as JsonObject;
        const event = { id: "e", type: "T", data, metadata };
        const ordered = { ...event, data: inMemberOrder(data) as JsonObject };
        expect(eventHash(genesisHash, ordered)).toBe(eventHash(genesisHash, event));
      }),
      { numRuns: 1_000 },
    );
  });
});
