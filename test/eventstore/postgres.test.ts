import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidAppend } from "../../src/eventstore/errors.js";
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
