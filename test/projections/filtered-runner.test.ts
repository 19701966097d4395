/**
 * A filtered projection passes over the log's other events: it counts as having passed them at
 * once (X-Min-Position waits and lag), and writes its checkpoint past them at most once an
 * interval, not once a page.
 */
import { randomUUID } from "node:crypto";
import type pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { LogPosition, RecordedEvent } from "../../src/eventstore/port.js";
import { readCheckpoint } from "../../src/projections/checkpoints.js";
import { type Projection, ProjectorRunner } from "../../src/projections/runner.js";
import { createTestLedger, type TestLedger } from "../commands/support.js";

/** Counts what it is handed; reads only "Wanted" events. */
class WantedOnly implements Projection {
  readonly name = `wanted_${randomUUID().replaceAll("-", "")}`;
  readonly filter = { eventTypes: ["Wanted"] };
  readonly applied: RecordedEvent[] = [];

  async apply(_client: pg.PoolClient, events: readonly RecordedEvent[]): Promise<void> {
    this.applied.push(...events);
  }
}

describe("a filtered projection over events it does not read", () => {
  let t: TestLedger;
  const runners: ProjectorRunner[] = [];
  beforeEach(async () => {
    t = await createTestLedger();
  });
  afterEach(async () => {
    for (const runner of runners.splice(0)) await runner.stop();
    await t.close();
  });

  const append = async (type: string): Promise<LogPosition> =>
    (
      await t.store.append(`other-${randomUUID()}`, "no_stream", [{ type, data: {} }], {
        correlationId: randomUUID(),
        principal: "test",
        occurredAt: new Date(),
      })
    ).position;

  const start = async (projection: WantedOnly, skippedCheckpointIntervalMs: number) => {
    const runner = new ProjectorRunner(t.store, t.database.pool, projection, {
      skippedCheckpointIntervalMs,
    });
    runners.push(runner);
    await runner.start();
    return runner;
  };

  const stored = async (projection: WantedOnly) =>
    (await readCheckpoint(t.database.pool, projection.name))?.position;

  it("passes them at once, and writes no checkpoint for them within the interval", async () => {
    const projection = new WantedOnly();
    const runner = await start(projection, 60_000);
    const before = await stored(projection);
    let last = await append("Unwanted");
    for (let index = 0; index < 5; index++) last = await append("Unwanted");
    expect(await runner.waitFor(last, 5_000)).toBe(true);
    expect(projection.applied).toEqual([]);
    expect(await stored(projection)).toEqual(before);
    // Its own event is applied, and its checkpoint then covers everything read before it.
    const wanted = await append("Wanted");
    expect(await runner.waitFor(wanted, 5_000)).toBe(true);
    expect(projection.applied.map((event) => event.type)).toEqual(["Wanted"]);
    expect(await stored(projection)).toEqual(wanted);
  });

  it("writes its checkpoint past them once the interval is over", async () => {
    const projection = new WantedOnly();
    const runner = await start(projection, 0);
    const last = await append("Unwanted");
    expect(await runner.waitFor(last, 5_000)).toBe(true);
    await expect.poll(() => stored(projection), { timeout: 5_000 }).toEqual(last);
    expect(projection.applied).toEqual([]);
  });
});
