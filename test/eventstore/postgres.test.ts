import { randomUUID } from "node:crypto";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidAppend, WrongExpectedRevision } from "../../src/eventstore/errors.js";
import { verifyChain } from "../../src/eventstore/hash-chain.js";
import { comparePositions, type RecordedEvent } from "../../src/eventstore/port.js";
import { eventText } from "../../src/eventstore/postgres/event-text.js";
import { PostgresNotificationListener } from "../../src/eventstore/postgres/listener.js";
import { PostgresEventStore } from "../../src/eventstore/postgres/postgres-event-store.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { describeEventStoreContract } from "./contract.js";

describeEventStoreContract("postgres", async () => {
  const database = await createTestDatabase({ poolSizeMax: 40 });
  const listener = new PostgresNotificationListener({
    connectionString: database.connectionString,
  });
  await listener.start();
  let appends = 0;
  return {
    store: new PostgresEventStore(database.pool, { listener }),
    lateCommitStore: new PostgresEventStore(database.pool, {
      listener,
      // Every other append of a late writer sits on its open transaction for up to 60 ms.
      beforeCommit: async () => {
        appends++;
        if (appends % 2 === 0) await sleep(20 + (appends % 4) * 20);
      },
    }),
    teardown: async () => {
      await listener.close();
      await database.drop();
    },
  };
});

describe("postgres event store", () => {
  let database: TestDatabase;
  let store: PostgresEventStore;
  const context = () => ({
    correlationId: randomUUID(),
    principal: "test",
    occurredAt: new Date(),
  });

  beforeAll(async () => {
    database = await createTestDatabase();
    store = new PostgresEventStore(database.pool);
  });
  afterAll(async () => {
    await database.drop();
  });

  it("refuses to update, delete or truncate an event, whoever asks", async () => {
    await store.append("account-immutable", "no_stream", [{ type: "A", data: {} }], context());
    await expect(database.pool.query("UPDATE events SET data = '{}'")).rejects.toThrow(
      /append-only: UPDATE/,
    );
    await expect(database.pool.query("DELETE FROM events")).rejects.toThrow(/append-only: DELETE/);
    await expect(database.pool.query("TRUNCATE events")).rejects.toThrow(/append-only: TRUNCATE/);
    expect(await store.readStream("account-immutable")).toHaveLength(1);
  });

  it("refuses data Postgres cannot store (a NUL character) as an invalid append, writing nothing", async () => {
    const refusal = store.append(
      "account-nul",
      "any",
      [{ type: "A", data: { v: "a\u0000b" } }],
      context(),
    );
    await expect(refusal).rejects.toBeInstanceOf(InvalidAppend);
    expect(await store.readStream("account-nul")).toEqual([]);
  });

  it("refuses malformed appends before touching the database", async () => {
    await expect(store.appendMulti([], context())).rejects.toBeInstanceOf(InvalidAppend);
    await expect(store.append("account-x", "any", [], context())).rejects.toThrow(/no events/);
    await expect(
      store.append("bad stream name", "any", [{ type: "A", data: {} }], context()),
    ).rejects.toThrow(/characters outside/);
    const twice = [
      { stream: "s-1", expected: "any" as const, events: [{ type: "A", data: {} }] },
      { stream: "s-1", expected: "any" as const, events: [{ type: "B", data: {} }] },
    ];
    await expect(store.appendMulti(twice, context())).rejects.toThrow(/appears twice/);
    await expect(
      store.append("s-2", "any", [{ type: "A", data: {} }], { ...context(), principal: "" }),
    ).rejects.toThrow(/principal/);
    await expect(
      store.append("s-3", "any", [{ id: "a,b", type: "A", data: {} }], context()),
    ).rejects.toThrow(/not a UUID/);
    expect(await store.readStream("s-3")).toEqual([]);
  });

  it("reads an event edited to JSON null data or metadata back as stored, for the audit to report", async () => {
    const stream = `account-edited-${randomUUID()}`;
    await store.append(stream, "no_stream", [{ type: "A", data: { v: "1" } }], context());
    const client = await database.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("ALTER TABLE events DISABLE TRIGGER USER");
      await client.query(
        "UPDATE events SET data = 'null'::jsonb, metadata = 'null'::jsonb WHERE stream = $1",
        [stream],
      );
      await client.query("ALTER TABLE events ENABLE TRIGGER USER");
      await client.query("COMMIT");
    } finally {
      client.release();
    }
    const fresh = new PostgresEventStore(database.pool);
    const [edited] = await fresh.readStream(stream);
    expect(edited).toMatchObject({ stream, revision: 0, data: null, metadata: null });
    const all = await fresh.readAll({ filter: { streamPrefixes: [stream] } });
    expect(all.events.map((e) => e.data)).toEqual([null]);
  });

  it("a store that remembers a head another writer moved past is refused with the real revision, and writes nothing", async () => {
    const stream = `account-stale-${randomUUID()}`;
    const other = new PostgresEventStore(database.pool);
    await store.append(stream, "no_stream", [{ type: "A", data: {} }], context());
    // Another process appends: this store still remembers revision 0 as the head.
    await other.append(stream, 0, [{ type: "B", data: {} }], context());
    const refusal = await store
      .append(stream, 0, [{ type: "Stale", data: {} }], context())
      .catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(WrongExpectedRevision);
    expect(refusal).toMatchObject({ stream, expected: 0, actual: 1 });
    expect((await store.readStream(stream)).map((e) => e.type)).toEqual(["A", "B"]);
    await store.append(stream, 1, [{ type: "C", data: {} }], context());
    const events = await store.readStream(stream);
    expect(events.map((e) => e.type)).toEqual(["A", "B", "C"]);
    expect(verifyChain(events)).toEqual([]);
  });

  describe("appends sealed ahead", () => {
    const event = (type: string) => ({ type, data: { type } });
    const typesOf = async (stream: string) => (await store.readStream(stream)).map((e) => e.type);
    async function expectChained(stream: string, types: string[]): Promise<void> {
      const events = await store.readStream(stream);
      expect(events.map((e) => e.type)).toEqual(types);
      expect(events.map((e) => e.revision)).toEqual(types.map((_, at) => at));
      expect(verifyChain(events)).toEqual([]);
    }
    /** A hot stream with one event, and an append sealed on the one before it. */
    async function sealedPair() {
      const hot = `account-ahead-${randomUUID()}`;
      const wallet = `account-ahead-${randomUUID()}`;
      await store.append(hot, "no_stream", [event("Opened")], context());
      const first = store.prepareAppend(
        [{ stream: hot, expected: 0, events: [event("A1"), event("A2")] }],
        context(),
        [],
      );
      expect(first).toBeDefined();
      if (first === undefined) throw new Error("unreachable");
      // Expects revision 2: what the first, not yet written, will leave.
      const second = store.prepareAppend(
        [
          { stream: hot, expected: 2, events: [event("B1")] },
          { stream: wallet, expected: "no_stream", events: [event("B2")] },
        ],
        context(),
        [first],
      );
      expect(second).toBeDefined();
      if (second === undefined) throw new Error("unreachable");
      return { hot, wallet, first, second };
    }

    it("writes an append sealed on one not yet written, once that one is, chained on it", async () => {
      const { hot, wallet, first, second } = await sealedPair();
      const written = await store.appendPrepared(first);
      expect(written.streams).toEqual([{ stream: hot, revision: 2 }]);
      const after = await store.appendPrepared(second);
      expect(after.streams).toEqual([
        { stream: hot, revision: 3 },
        { stream: wallet, revision: 0 },
      ]);
      expect(comparePositions(written.position, after.position)).toBeLessThan(0);
      await expectChained(hot, ["Opened", "A1", "A2", "B1"]);
      await expectChained(wallet, ["B2"]);
      // Written once: its events are not kept for a second time.
      await expect(store.appendPrepared(second)).rejects.toThrow(/only once/);
      await expectChained(hot, ["Opened", "A1", "A2", "B1"]);
    });

    it("seals again when the append it was sealed on was written otherwise (other ids, other hashes)", async () => {
      const { hot, wallet, first, second } = await sealedPair();
      // The same events written through appendMulti: sealed anew, with ids of their own.
      await store.appendMulti(first.requests, first.context);
      await store.appendPrepared(second);
      await expectChained(hot, ["Opened", "A1", "A2", "B1"]);
      await expectChained(wallet, ["B2"]);
    });

    it("refuses, writing nothing, when the append it was sealed on was never written", async () => {
      const { hot, wallet, second } = await sealedPair();
      const refusal = await store.appendPrepared(second).catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(WrongExpectedRevision);
      expect(refusal).toMatchObject({ stream: hot, expected: 2, actual: 0 });
      expect(await typesOf(hot)).toEqual(["Opened"]);
      expect(await typesOf(wallet)).toEqual([]);
    });

    it("refuses, writing nothing, when another writer moved a stream after it was sealed", async () => {
      const stream = `account-ahead-${randomUUID()}`;
      await store.append(stream, "no_stream", [event("Opened")], context());
      const prepared = store.prepareAppend(
        [{ stream, expected: 0, events: [event("Late")] }],
        context(),
        [],
      );
      if (prepared === undefined) throw new Error("a remembered head seals ahead");
      await new PostgresEventStore(database.pool).append(stream, 0, [event("Other")], context());
      const refusal = await store.appendPrepared(prepared).catch((error: unknown) => error);
      expect(refusal).toMatchObject({ stream, expected: 0, actual: 1 });
      await expectChained(stream, ["Opened", "Other"]);
    });

    it("does not seal ahead on a head it does not know, or data it would refuse", async () => {
      const stream = `account-ahead-${randomUUID()}`;
      await store.append(stream, "no_stream", [event("Opened")], context());
      const stranger = new PostgresEventStore(database.pool);
      expect(
        stranger.prepareAppend([{ stream, expected: 0, events: [event("X")] }], context(), []),
      ).toBeUndefined();
      // Expecting another revision than the head it knows.
      expect(
        store.prepareAppend([{ stream, expected: 5, events: [event("X")] }], context(), []),
      ).toBeUndefined();
      const twice = [
        { stream, expected: 0, events: [event("X")] },
        { stream, expected: 0, events: [event("Y")] },
      ];
      expect(store.prepareAppend(twice, context(), [])).toBeUndefined();
      await expect(store.appendMulti(twice, context())).rejects.toBeInstanceOf(InvalidAppend);
      expect(await typesOf(stream)).toEqual(["Opened"]);
    });
  });

  it("several processes appending on the heads they remember (one statement each, crossing streams) and locked writers beside them, write each revision once, gap-free and chained, in order for readers", async () => {
    const prefix = `account-cross-${randomUUID()}`;
    const streams = Array.from({ length: 6 }, (_, index) => `${prefix}-${index}`);
    let connects = 0;
    const counting = {
      query: (...args: Parameters<pg.Pool["query"]>) => database.pool.query(...args),
      connect: () => {
        connects++;
        return database.pool.connect();
      },
    } as unknown as pg.Pool;
    const stores = Array.from({ length: 4 }, () => new PostgresEventStore(counting));
    const received: RecordedEvent[] = [];
    const subscription = store.subscribe(
      { filter: { streamPrefixes: [`${prefix}-`] } },
      async (events) => {
        received.push(...events);
      },
    );
    let appended = 0;
    let refused = 0;
    const worker = async (writer: PostgresEventStore, index: number) => {
      for (let round = 0; round < 40; round++) {
        const first = streams[(index + round) % streams.length] ?? "";
        const second = streams[(index * 5 + round * 7 + 1) % streams.length] ?? "";
        // Crossing orders: one writer's (a, b) is another's (b, a).
        const chosen = [...new Set(round % 2 === 0 ? [first, second] : [second, first])];
        const heads = await Promise.all(
          chosen.map(async (stream) => {
            const [last] = await writer.readStream(stream, { direction: "backwards", limit: 1 });
            return last === undefined ? ("no_stream" as const) : last.revision;
          }),
        );
        try {
          await writer.appendMulti(
            chosen.map((stream, at) => ({
              stream,
              // Every fourth writer takes the locked way, racing the one-statement writers.
              expected: index % 4 === 3 ? ("any" as const) : (heads[at] ?? "no_stream"),
              events: [{ type: "Moved", data: { index, round } }],
            })),
            context(),
          );
          appended += chosen.length;
        } catch (error) {
          if (!(error instanceof WrongExpectedRevision)) throw error;
          refused++;
        }
      }
    };
    await Promise.all(
      stores.flatMap((writer, index) => [worker(writer, index), worker(writer, index + 4)]),
    );
    for (let waited = 0; received.length < appended && waited < 200; waited++) await sleep(50);
    await subscription.stop();

    expect(refused).toBeGreaterThan(0);
    // Most appends went the one-statement way: only the locked way takes a client.
    expect(connects).toBeLessThan((appended + refused) / 2);
    let total = 0;
    for (const stream of streams) {
      const events = await store.readStream(stream, { limit: 1_000 });
      expect(events.map((e) => e.revision)).toEqual(events.map((_, at) => at));
      expect(verifyChain(events)).toEqual([]);
      total += events.length;
    }
    expect(total).toBe(appended);
    expect(received).toHaveLength(appended);
    const order = received.map((e) => e.position);
    for (let at = 1; at < order.length; at++) {
      const [before, after] = [order[at - 1], order[at]];
      if (before === undefined || after === undefined) continue;
      expect(comparePositions(before, after)).toBeLessThan(0);
    }
    for (const stream of streams) {
      const revisions = received.filter((e) => e.stream === stream).map((e) => e.revision);
      expect(revisions).toEqual(revisions.map((_, at) => at));
    }
  }, 60_000);

  it("reads the global log as text rows in readAll's order and visibility", async () => {
    const prefix = `account-text-${randomUUID()}`;
    for (let index = 0; index < 3; index++) {
      await store.appendMulti(
        [
          { stream: `${prefix}-a`, expected: "any", events: [{ type: "A", data: { index } }] },
          { stream: `${prefix}-b`, expected: "any", events: [{ type: "B", data: { t: "\t\n" } }] },
        ],
        context(),
      );
    }
    const events = (await store.readAll({ limit: 10_000 })).events;
    const rows = await store.readAllText(undefined, 10_000);
    expect(
      rows.map((row) => ({
        position: {
          commit: BigInt(row[eventText.transactionId]),
          prepare: BigInt(row[eventText.position]),
        },
        id: row[eventText.id],
        stream: row[eventText.stream],
        revision: Number(row[eventText.revision]),
        type: row[eventText.type],
        data: JSON.parse(row[eventText.data]),
        metadata: JSON.parse(row[eventText.metadata]),
      })),
    ).toEqual(events.map(({ recordedAt, ...event }) => event));
    const third = events[2];
    if (third === undefined) throw new Error("six events were appended");
    const after = await store.readAllText(third.position, 2);
    expect(after.map((row) => row[eventText.id])).toEqual(events.slice(3, 5).map((e) => e.id));

    const blocker = await database.pool.connect();
    try {
      await blocker.query("BEGIN");
      await blocker.query("SELECT pg_current_xact_id()");
      await store.append(`${prefix}-late`, "any", [{ type: "A", data: {} }], context());
      const hidden = await store.readAllText(events.at(-1)?.position, 10);
      expect(hidden).toEqual([]);
    } finally {
      await blocker.query("COMMIT");
      blocker.release();
    }
  });

  it("does not show an event to readers while an older transaction is still open", async () => {
    // A writer whose transaction started first (older xid) but has not committed yet.
    const blocker = await database.pool.connect();
    try {
      await blocker.query("BEGIN");
      await blocker.query("SELECT pg_current_xact_id()");
      const result = await store.append(
        "account-late",
        "any",
        [{ type: "A", data: {} }],
        context(),
      );
      const hidden = await store.readAll({ filter: { streamPrefixes: ["account-late"] } });
      expect(hidden.events).toEqual([]);
      await blocker.query("COMMIT");
      const shown = await store.readAll({ filter: { streamPrefixes: ["account-late"] } });
      expect(shown.events.map((e) => e.position)).toEqual([result.position]);
    } finally {
      blocker.release();
    }
  });
});

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
