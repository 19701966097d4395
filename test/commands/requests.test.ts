import { validate, version } from "uuid";
import { describe, expect, it } from "vitest";
import { creationId, timeOrderedUuid } from "../../src/commands/requests.js";

const actor = { principal: "p-1", correlationId: "c-1" };

describe("creationId", () => {
  it("gives a request without a key a fresh, time-ordered id (UUIDv7): later ids sort after", () => {
    const ids = Array.from({ length: 200 }, () => creationId(actor, "posting"));
    for (const { id, idempotent } of ids) {
      expect(validate(id) && version(id)).toBe(7);
      expect(idempotent).toBe(false);
    }
    const texts = ids.map(({ id }) => id);
    expect(new Set(texts).size).toBe(texts.length);
    expect([...texts].sort()).toEqual(texts);
  });

  it("derives a keyed request's id from principal, operation and key (UUIDv5), the same every time", () => {
    const keyed = { ...actor, idempotencyKey: "k-1" };
    const first = creationId(keyed, "posting");
    expect(first).toEqual({ id: expect.any(String), idempotent: true });
    expect(version(first.id)).toBe(5);
    expect(creationId(keyed, "posting")).toEqual(first);
    expect(creationId(keyed, "account").id).not.toBe(first.id);
    expect(creationId({ ...keyed, principal: "p-2" }, "posting").id).not.toBe(first.id);
  });

  it("keeps the client's own id, idempotent only when a key came with it", () => {
    const own = "0190f3c2-7d1e-7a4b-9c3d-2e1f0a9b8c7d";
    expect(creationId(actor, "posting", own)).toEqual({ id: own, idempotent: false });
    expect(creationId({ ...actor, idempotencyKey: "k" }, "posting", own)).toEqual({
      id: own,
      idempotent: true,
    });
  });
});

describe("timeOrderedUuid", () => {
  it("writes a valid UUIDv7 whose first 48 bits are the millisecond given", () => {
    const id = timeOrderedUuid(Date.UTC(2030, 10, 27, 5, 0, 0, 123));
    expect(validate(id) && version(id)).toBe(7);
    expect(Number.parseInt(id.replaceAll("-", "").slice(0, 12), 16)).toBe(
      Date.UTC(2030, 10, 27, 5, 0, 0, 123),
    );
    expect("89ab").toContain(id.charAt(19));
  });

  it("orders the ids of one millisecond by a counter; 4,096 of them move on to the next millisecond", () => {
    const ms = Date.UTC(2031, 0, 1);
    const ids = Array.from({ length: 5_000 }, () => timeOrderedUuid(ms));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    const millisOf = (id: string) => Number.parseInt(id.replaceAll("-", "").slice(0, 12), 16);
    expect(millisOf(ids[4_095] ?? "")).toBe(ms);
    expect(millisOf(ids[4_096] ?? "")).toBe(ms + 1);
    // A clock that steps back does not take the ids back with it.
    expect(timeOrderedUuid(ms - 1_000) > (ids.at(-1) ?? "")).toBe(true);
  });
});
