/**
 * The event store contract: one suite, run against every adapter (see `postgres.test.ts`,
 * `kurrentdb.test.ts`). Streams are named uniquely per test so adapters may share one store.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WrongExpectedRevision } from "../../src/eventstore/errors.js";
import { genesisHash, verifyChain } from "../../src/eventstore/hash-chain.js";
import {
  type AppendContext,
  comparePositions,
  type EventStore,
  type JsonObject,
  type LogPosition,
  type NewEvent,
  type RecordedEvent,
} from "../../src/eventstore/port.js";

export interface ContractFixture {
  readonly store: EventStore;
  /**
   * The same store, but some of its appends hold their transaction open for a while before
   * committing, as a slow writer would. Adapters that cannot do that leave it out.
   */
  readonly lateCommitStore?: EventStore;
  readonly teardown: () => Promise<void>;
}

export function describeEventStoreContract(
  adapterName: string,
  setup: () => Promise<ContractFixture>,
): void {
  describe(`event store contract: ${adapterName}`, () => {
    let fixture: ContractFixture;
    let store: EventStore;
    beforeAll(async () => {
      fixture = await setup();
      store = fixture.store;
    });
    afterAll(async () => {
      await fixture?.teardown();
    });

    describe("expected revisions", () => {
      it("no_stream creates a stream at revision 0 and refuses an existing one", async () => {
        const stream = uniqueStream("expect");
        const first = await store.append(stream, "no_stream", [event("Opened")], context());
        expect(first.streams).toEqual([{ stream, revision: 0 }]);
        const refusal = await store
          .append(stream, "no_stream", [event("Opened")], context())
          .catch((error: unknown) => error);
        expect(refusal).toBeInstanceOf(WrongExpectedRevision);
        expect(refusal).toMatchObject({ stream, expected: "no_stream", actual: 0 });
      });

      it("stream_exists refuses a missing stream and accepts an existing one", async () => {
        const stream = uniqueStream("expect");
        const refusal = await store
          .append(stream, "stream_exists", [event("Touched")], context())
          .catch((error: unknown) => error);
        expect(refusal).toMatchObject({ stream, expected: "stream_exists", actual: "no_stream" });
        await store.append(stream, "no_stream", [event("Opened")], context());
        const result = await store.append(stream, "stream_exists", [event("Touched")], context());
        expect(result.streams).toEqual([{ stream, revision: 1 }]);
      });

      it("any appends whether or not the stream exists", async () => {
        const stream = uniqueStream("expect");
        await store.append(stream, "any", [event("A")], context());
        const result = await store.append(stream, "any", [event("B"), event("C")], context());
        expect(result.streams).toEqual([{ stream, revision: 2 }]);
      });

      it("an exact revision must be the stream's last; a wrong one names stream, expected and actual", async () => {
        const stream = uniqueStream("expect");
        await store.append(stream, "no_stream", [event("A"), event("B")], context());
        await store.append(stream, 1, [event("C")], context());
        const refusal = await store
          .append(stream, 1, [event("D")], context())
          .catch((error: unknown) => error);
        expect(refusal).toBeInstanceOf(WrongExpectedRevision);
        expect(refusal).toMatchObject({ stream, expected: 1, actual: 2 });
        expect((refusal as Error).message).toContain(stream);
        const onMissing = await store
          .append(uniqueStream("missing"), 0, [event("A")], context())
          .catch((error: unknown) => error);
        expect(onMissing).toMatchObject({ expected: 0, actual: "no_stream" });
        expect((await store.readStream(stream)).map((e) => e.type)).toEqual(["A", "B", "C"]);
      });
    });

    describe("multi-stream append", () => {
      it("writes every stream in one commit", async () => {
        const [a, b, c] = [uniqueStream("multi"), uniqueStream("multi"), uniqueStream("multi")];
        await store.append(b, "no_stream", [event("Opened")], context());
        const result = await store.appendMulti(
          [
            { stream: a, expected: "no_stream", events: [event("PostingRecorded")] },
            { stream: b, expected: 0, events: [event("EntryPosted")] },
            { stream: c, expected: "any", events: [event("EntryPosted"), event("EntryPosted")] },
          ],
          context(),
        );
        expect(result.streams).toEqual([
          { stream: a, revision: 0 },
          { stream: b, revision: 1 },
          { stream: c, revision: 1 },
        ]);
        const positions = [a, b, c].map(async (stream) => (await store.readStream(stream)).at(-1));
        for (const last of await Promise.all(positions)) {
          expect(last && comparePositions(last.position, result.position)).toBeLessThanOrEqual(0);
        }
      });

      it("writes nothing to any stream when one expectation is wrong", async () => {
        const [a, b, c] = [uniqueStream("atomic"), uniqueStream("atomic"), uniqueStream("atomic")];
        await store.append(b, "no_stream", [event("Opened")], context());
        const refusal = await store
          .appendMulti(
            [
              { stream: a, expected: "no_stream", events: [event("A")] },
              { stream: b, expected: 5, events: [event("B")] },
              { stream: c, expected: "any", events: [event("C")] },
            ],
            context(),
          )
          .catch((error: unknown) => error);
        expect(refusal).toMatchObject({ stream: b, expected: 5, actual: 0 });
        expect(await store.readStream(a)).toEqual([]);
        expect((await store.readStream(b)).map((e) => e.type)).toEqual(["Opened"]);
        expect(await store.readStream(c)).toEqual([]);
      });
    });

    it("200 concurrent appenders on one stream: each revision is written exactly once", async () => {
      const stream = uniqueStream("race");
      await store.append(stream, "no_stream", [event("Opened")], context());
      const appenders = Array.from({ length: 200 }, async (_, index) => {
        const [last] = await store.readStream(stream, { direction: "backwards", limit: 1 });
        if (last === undefined) throw new Error("the stream was opened");
        try {
          await store.append(stream, last.revision, [event("Raced", { index })], context());
          return true;
        } catch (error) {
          if (error instanceof WrongExpectedRevision) return false;
          throw error;
        }
      });
      const successes = (await Promise.all(appenders)).filter(Boolean).length;
      const events = await store.readStream(stream, { limit: 1_000 });
      expect(successes).toBeGreaterThan(0);
      expect(events.map((e) => e.revision)).toEqual(range(successes + 1));
      expect(events.at(-1)?.revision).toBe(successes);
      const indexes = events.slice(1).map((e) => e.data.index);
      expect(new Set(indexes).size).toBe(successes);
      expect(verifyChain(events)).toEqual([]);
    });

    it("the gap test: a subscriber gets every event once, in commit order, while some commits land late", async () => {
      const prefix = uniqueStream("gap");
      const writersCount = 12;
      const appendsPerWriter = 15;
      const received: RecordedEvent[] = [];
      const subscription = store.subscribe(
        { filter: { streamPrefixes: [`${prefix}-`] }, batchSizeMax: 50 },
        async (events) => {
          received.push(...events);
        },
      );
      const writers = Array.from({ length: writersCount }, async (_, writer) => {
        // Writers 0, 3, 6, … hold some of their transactions open before they commit.
        const writerStore =
          writer % 3 === 0 && fixture.lateCommitStore ? fixture.lateCommitStore : store;
        for (let sequence = 0; sequence < appendsPerWriter; sequence++) {
          const shared = `${prefix}-shared-${sequence % 3}`;
          const own = `${prefix}-writer-${writer}`;
          await writerStore.appendMulti(
            [
              { stream: own, expected: "any", events: [event("Written", { writer, sequence })] },
              { stream: shared, expected: "any", events: [event("Shared", { writer, sequence })] },
            ],
            context(),
          );
        }
      });
      await Promise.all(writers);
      const total = writersCount * appendsPerWriter * 2;
      await waitFor(() => received.length >= total);
      await subscription.stop();

      expect(received).toHaveLength(total);
      expect(new Set(received.map((e) => e.id)).size).toBe(total);
      expectLogOrder(received);
      expectRevisionsInOrder(received);
      // A writer's appends are sequential, so they reach the subscriber in that order.
      for (let writer = 0; writer < writersCount; writer++) {
        const sequences = received
          .filter((e) => e.type === "Written" && e.data.writer === writer)
          .map((e) => e.data.sequence);
        expect(sequences).toEqual(range(appendsPerWriter));
      }
      // The events of one append are contiguous in the log.
      const commits = received.map((e) => e.metadata.correlationId);
      for (let index = 1; index < commits.length; index += 2) {
        expect(commits[index]).toBe(commits[index - 1]);
      }
    });

    it("concurrent multi-stream appends reach a subscriber in increasing revision order per stream", async () => {
      const prefix = uniqueStream("order");
      const streams = range(6).map((index) => `${prefix}-${index}`);
      const received: RecordedEvent[] = [];
      const subscription = store.subscribe(
        { filter: { streamPrefixes: [`${prefix}-`] } },
        async (events) => {
          received.push(...events);
        },
      );
      const appends = range(120).map((index) => {
        const chosen = [streams[index % 6], streams[(index * 7 + 1) % 6]];
        const distinct = [...new Set(chosen)].filter((s): s is string => s !== undefined);
        return store.appendMulti(
          distinct.map((stream) => ({
            stream,
            expected: "any" as const,
            events: [event("Moved", { index })],
          })),
          context(),
        );
      });
      const results = await Promise.all(appends);
      const total = results.reduce((sum, result) => sum + result.streams.length, 0);
      await waitFor(() => received.length >= total);
      await subscription.stop();
      expect(received).toHaveLength(total);
      expectLogOrder(received);
      expectRevisionsInOrder(received);
    });

    it("a subscription stopped and resumed from its saved position loses and repeats nothing", async () => {
      const prefix = uniqueStream("resume");
      const stream = `${prefix}-s`;
      const received: RecordedEvent[] = [];
      const collect = async (events: readonly RecordedEvent[]) => {
        received.push(...events);
      };
      const filter = { streamPrefixes: [`${prefix}-`] };
      await store.append(
        stream,
        "any",
        range(10).map((n) => event("N", { n })),
        context(),
      );
      const first = store.subscribe({ filter, batchSizeMax: 3 }, collect);
      await waitFor(() => received.length >= 10);
      await first.stop();
      const saved = first.position();
      expect(saved).toBeDefined();
      await store.append(
        stream,
        "any",
        range(10, 25).map((n) => event("N", { n })),
        context(),
      );
      const second = store.subscribe(
        { filter, batchSizeMax: 4, ...(saved ? { fromPosition: saved } : {}) },
        collect,
      );
      await waitFor(() => received.length >= 25);
      await second.stop();
      expect(received.map((e) => e.data.n)).toEqual(range(25));
    });

    it("a handler that throws ends the subscription with its error and is not skipped past", async () => {
      const prefix = uniqueStream("failing");
      await store.append(`${prefix}-s`, "any", [event("Poison")], context());
      const subscription = store.subscribe(
        { filter: { streamPrefixes: [`${prefix}-`] } },
        async () => {
          throw new Error("projector bug");
        },
      );
      await expect(subscription.done).rejects.toThrow("projector bug");
      const saved = subscription.position();
      const redelivered: RecordedEvent[] = [];
      const retry = store.subscribe(
        { filter: { streamPrefixes: [`${prefix}-`] }, ...(saved ? { fromPosition: saved } : {}) },
        async (events) => {
          redelivered.push(...events);
        },
      );
      await waitFor(() => redelivered.length >= 1);
      await retry.stop();
      expect(redelivered.map((e) => e.type)).toEqual(["Poison"]);
    });

    it("a filtered subscription moves past what it kept nothing of, then hands over a match", async () => {
      const prefix = uniqueStream("passed");
      // Where the log stands now: the subscription starts after it.
      const start = await store.append(`${prefix}-other-start`, "any", [event("Start")], context());
      const reached: LogPosition[] = [];
      const received: RecordedEvent[] = [];
      const subscription = store.subscribe(
        {
          fromPosition: start.position,
          filter: { streamPrefixes: [`${prefix}-kept-`], eventTypes: [`Kept-${prefix}`] },
        },
        async (events, lastPosition) => {
          received.push(...events);
          reached.push(lastPosition);
        },
      );
      const passed = await store.append(
        `${prefix}-other-s`,
        "any",
        range(5).map((n) => event("Passed", { n })),
        context(),
      );
      // Nothing matches, yet the subscriber is told how far the log was read.
      await waitFor(() =>
        reached.some((position) => comparePositions(position, passed.position) >= 0),
      );
      expect(received).toEqual([]);
      await store.append(`${prefix}-kept-s`, "any", [event("ByPrefix")], context());
      await store.append(`${prefix}-other-t`, "any", [event(`Kept-${prefix}`)], context());
      await waitFor(() => received.length >= 2);
      await subscription.stop();
      expect(received.map((e) => e.type)).toEqual(["ByPrefix", `Kept-${prefix}`]);
      expectLogOrder(reached.map((position) => ({ position }) as RecordedEvent));
    });

    describe("reading", () => {
      it("reads a stream forwards and backwards from a revision, bounded by a limit", async () => {
        const stream = uniqueStream("read");
        await store.append(
          stream,
          "no_stream",
          range(10).map((n) => event("N", { n })),
          context(),
        );
        const forwards = await store.readStream(stream, { fromRevision: 3, limit: 4 });
        expect(forwards.map((e) => e.revision)).toEqual([3, 4, 5, 6]);
        const backwards = await store.readStream(stream, {
          direction: "backwards",
          fromRevision: 3,
          limit: 10,
        });
        expect(backwards.map((e) => e.revision)).toEqual([3, 2, 1, 0]);
        const latest = await store.readStream(stream, { direction: "backwards", limit: 1 });
        expect(latest.map((e) => e.revision)).toEqual([9]);
      });

      it("a missing stream reads as no events", async () => {
        expect(await store.readStream(uniqueStream("missing"))).toEqual([]);
      });

      it("reads the global log after a position, filtered by stream prefix and event type", async () => {
        const prefix = uniqueStream("log");
        await store.append(`${prefix}-a`, "any", [event("Kept"), event("Dropped")], context());
        await store.append(`${prefix}-b`, "any", [event("Kept")], context());
        const byPrefix = await readEverything(store, { streamPrefixes: [`${prefix}-`] });
        expect(byPrefix.map((e) => e.type)).toEqual(["Kept", "Dropped", "Kept"]);
        const byType = await readEverything(store, { eventTypes: [`Only-${prefix}`] });
        expect(byType).toEqual([]);
        const from = byPrefix[0]?.position;
        const after = await store.readAll({
          ...(from ? { fromPosition: from } : {}),
          filter: { streamPrefixes: [`${prefix}-`] },
          limit: 10_000,
        });
        expect(after.events.map((e) => e.stream)).toEqual([`${prefix}-a`, `${prefix}-b`]);
      });

      it("stamps metadata and chains hashes per stream across appends", async () => {
        const stream = uniqueStream("chain");
        const ctx = context({ principal: "key:teller-7", causationId: "cause-1" });
        await store.append(stream, "no_stream", [event("A"), event("B")], ctx);
        await store.appendMulti(
          [{ stream, expected: 1, events: [{ type: "C", data: { v: "1" }, schemaVersion: 2 }] }],
          context(),
        );
        const events = await store.readStream(stream);
        expect(verifyChain(events)).toEqual([]);
        expect(events[0]?.metadata).toMatchObject({
          correlationId: ctx.correlationId,
          causationId: "cause-1",
          principal: "key:teller-7",
          occurredAt: ctx.occurredAt.toISOString(),
          schemaVersion: "1",
          prevHash: genesisHash,
        });
        expect(events[2]?.metadata.schemaVersion).toBe("2");
        expect(events[2]?.metadata.prevHash).toBe(events[1]?.metadata.hash);
        const tampered = events.map((e, i) => (i === 1 ? { ...e, data: { forged: true } } : e));
        expect(verifyChain(tampered)).toMatchObject([{ stream, revision: 1, field: "hash" }]);
      });

      it("the hash chain also covers who wrote an event, when, and its id", async () => {
        const stream = uniqueStream("attributed");
        await store.append(stream, "no_stream", [event("A"), event("B")], context());
        const events = await store.readStream(stream);
        const forge = (change: (e: RecordedEvent) => RecordedEvent) =>
          verifyChain(events.map((e, i) => (i === 0 ? change(e) : e)));
        const forgeries: Array<(e: RecordedEvent) => RecordedEvent> = [
          (e) => ({ ...e, metadata: { ...e.metadata, principal: "key:someone-else" } }),
          (e) => ({ ...e, metadata: { ...e.metadata, occurredAt: new Date(0).toISOString() } }),
          (e) => ({ ...e, metadata: { ...e.metadata, correlationId: "forged" } }),
          (e) => ({ ...e, id: "00000000-0000-4000-8000-000000000000" }),
          (e) => ({ ...e, type: "Other" }),
        ];
        for (const change of forgeries) {
          expect(forge(change)).toMatchObject([{ stream, revision: 0, field: "hash" }]);
        }
      });

      it("unicode and 1 MB payloads round-trip exactly", async () => {
        const stream = uniqueStream("payload");
        const unicode = {
          name: "Ñandú 🦜 Saint-Barthélemy — ₡ ₦ ¥ € 𝄞 中文 العربية",
          nested: { list: ["é", "👩🏽‍💼", "\u2028", 'quote "and" backslash \\'], amount: "12.50" },
        };
        const large = { blob: "x".repeat(1024 * 1024), tail: "end ✓" };
        await store.append(stream, "no_stream", [event("Unicode", unicode)], context());
        await store.append(stream, 0, [event("Large", large)], context());
        const [first, second] = await store.readStream(stream);
        expect(first?.data).toEqual(unicode);
        expect(second?.data).toEqual(large);
        expect(verifyChain([first, second].filter((e) => e !== undefined))).toEqual([]);
      });
    });
  });
}

function uniqueStream(kind: string): string {
  return `test_${kind}-${randomUUID().replaceAll("-", "")}`;
}

function event(type: string, data: JsonObject = {}): NewEvent {
  return { type, data };
}

function context(overrides: Partial<AppendContext> = {}): AppendContext {
  return {
    correlationId: randomUUID(),
    principal: "test",
    occurredAt: new Date("2026-11-25T12:00:00.000Z"),
    ...overrides,
  };
}

function range(start: number, end?: number): number[] {
  const [from, to] = end === undefined ? [0, start] : [start, end];
  return Array.from({ length: to - from }, (_, index) => from + index);
}

async function readEverything(
  store: EventStore,
  filter: { streamPrefixes?: string[]; eventTypes?: string[] },
): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  let from: LogPosition | undefined;
  for (;;) {
    const page = await store.readAll({ ...(from ? { fromPosition: from } : {}), filter });
    if (page.lastPosition === undefined) return events;
    events.push(...page.events);
    from = page.lastPosition;
  }
}

function expectLogOrder(events: readonly RecordedEvent[]): void {
  for (let index = 1; index < events.length; index++) {
    const [previous, current] = [events[index - 1], events[index]];
    if (previous && current) {
      expect(comparePositions(previous.position, current.position)).toBe(-1);
    }
  }
}

function expectRevisionsInOrder(events: readonly RecordedEvent[]): void {
  const last = new Map<string, number>();
  for (const e of events) {
    const previous = last.get(e.stream) ?? -1;
    expect(e.revision, `${e.stream} after revision ${previous}`).toBe(previous + 1);
    last.set(e.stream, e.revision);
  }
}

async function waitFor(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for the subscriber");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
