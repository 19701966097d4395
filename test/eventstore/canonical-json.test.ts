import { createHash } from "node:crypto";
import canonicalize from "canonicalize";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJsonOf } from "../../src/eventstore/canonical-json.js";
import {
  eventHash,
  genesisHash,
  sealEvents,
  verifyChain,
} from "../../src/eventstore/hash-chain.js";
import type { JsonObject, JsonValue } from "../../src/eventstore/port.js";

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

  it("writes values whose members are already in order as it writes any other", () => {
    const sortedDeep = (value: JsonValue): JsonValue => {
      if (Array.isArray(value)) return value.map(sortedDeep);
      if (value === null || typeof value !== "object") return value;
      return Object.fromEntries(
        Object.keys(value)
          .sort()
          .map((key) => [key, sortedDeep(value[key] as JsonValue)]),
      );
    };
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const ordered = sortedDeep(value as JsonValue);
        expect(canonicalJsonOf(ordered)).toBe(canonicalize(value));
      }),
      { numRuns: 2_000 },
    );
    // Integer-like names come first whatever the insertion order: "10" sorts before "9".
    expect(canonicalJsonOf({ "10": 1, "9": 2, a: { c: 1, b: 2 } })).toBe(
      '{"10":1,"9":2,"a":{"b":2,"c":1}}',
    );
    expect(canonicalJsonOf({ a: new Date(0), b: Object.create(null) })).toBe(
      '{"a":"1970-01-01T00:00:00.000Z","b":{}}',
    );
  });

  it("writes values in any member order as canonicalize does, names that objects order themselves included", () => {
    const shuffledDeep = (value: JsonValue, seed: number): JsonValue => {
      if (Array.isArray(value)) return value.map((item) => shuffledDeep(item, seed + 1));
      if (value === null || typeof value !== "object") return value;
      const keys = Object.keys(value);
      const order = keys.map((key, at) => [key, (at * 7919 + seed) % keys.length] as const);
      order.sort((a, b) => a[1] - b[1]);
      return Object.fromEntries(
        order.map(([key]) => [key, shuffledDeep(value[key] as JsonValue, seed + 3)]),
      );
    };
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(), (value, seed) => {
        expect(canonicalJsonOf(shuffledDeep(value as JsonValue, seed))).toBe(canonicalize(value));
      }),
      { numRuns: 2_000 },
    );
    // A request body as a client sends it: members out of order, nested.
    const body = {
      operation: "posting",
      body: {
        reference: "r-1",
        entries: [{ side: "DEBIT", amount: { value: "1.00", currency: "XCD" }, accountId: "a" }],
      },
    };
    expect(canonicalJsonOf(body)).toBe(canonicalize(body));
    // Parsed JSON may hold an own "__proto__" member, and integer-like names next to others.
    const parsed = JSON.parse('{"b":1,"__proto__":{"y":2,"x":1},"a":[{"9":1,"10":2,"z":0}]}');
    expect(canonicalJsonOf(parsed)).toBe(canonicalize(parsed));
    expect(canonicalJsonOf(parsed)).toBe(
      '{"__proto__":{"x":1,"y":2},"a":[{"10":2,"9":1,"z":0}],"b":1}',
    );
  });

  it("leaves out undefined members, writes undefined array items as null, refuses NaN", () => {
    expect(canonicalJsonOf({ a: undefined, b: [undefined] })).toBe('{"b":[null]}');
    expect(() => canonicalJsonOf({ a: Number.NaN })).toThrow(RangeError);
  });
});

describe("the hash chain's covered text", () => {
  const text = fc.string({ unit: "binary", maxLength: 12 });
  it("hashes RFC 8785 JSON of the documented object, for any event and metadata", () => {
    fc.assert(
      fc.property(
        fc.record({
          prevHash: text,
          id: text,
          type: text,
          data: fc.dictionary(text, fc.jsonValue()),
          correlationId: text,
          causationId: text,
          principal: text,
          occurredAt: text,
          schemaVersion: text,
          idempotencyKey: fc.option(text, { nil: undefined }),
        }),
        ({ prevHash, id, type, data, ...metadata }) => {
          const covered = { prevHash, type, data, id, ...metadata };
          const expected = createHash("sha256")
            .update(canonicalize(covered) ?? "")
            .digest("hex");
          expect(eventHash(prevHash, { id, type, data: data as JsonObject, metadata })).toBe(
            expected,
          );
        },
      ),
      { numRuns: 1_000 },
    );
  });
});

describe("sealing", () => {
  const text = fc.string({ unit: "binary", maxLength: 12 });
  it("stamps what verifyChain recomputes, and metadata JSON that is the metadata, for any events and contexts", () => {
    const context = fc.record({
      correlationId: text,
      causationId: fc.option(text, { nil: undefined }),
      principal: text,
      occurredAt: fc.date({ noInvalidDate: true }),
      idempotencyKey: fc.option(text, { nil: undefined }),
    });
    fc.assert(
      fc.property(
        context,
        fc.array(
          fc.record({
            type: text,
            data: fc.dictionary(text, fc.jsonValue()),
            schemaVersion: fc.option(fc.integer({ min: 1, max: 9 }), { nil: undefined }),
            context: fc.option(context, { nil: undefined }),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        (appendContext, drafts) => {
          const events = drafts.map((draft) => ({ ...draft, data: draft.data as JsonObject }));
          const sealed = sealEvents(genesisHash, events, appendContext);
          const recorded = sealed.map((event, revision) => ({
            ...event,
            stream: "s",
            revision,
            position: { commit: 1n, prepare: BigInt(revision) },
            recordedAt: new Date(0),
          }));
          expect(verifyChain(recorded)).toEqual([]);
          for (const [index, event] of sealed.entries()) {
            expect(JSON.parse(event.metadataJson)).toEqual(event.metadata);
            expect(JSON.parse(event.dataJson)).toEqual(JSON.parse(JSON.stringify(event.data)));
            const own = events[index]?.context ?? appendContext;
            expect(event.metadata).toMatchObject({
              correlationId: own.correlationId,
              causationId: own.causationId ?? own.correlationId,
              principal: own.principal,
              occurredAt: own.occurredAt.toISOString(),
              schemaVersion: String(events[index]?.schemaVersion ?? 1),
            });
            expect(event.metadata.idempotencyKey).toBe(own.idempotencyKey);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
