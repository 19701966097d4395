import type pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { LogPosition, RecordedEvent } from "../../src/eventstore/port.js";
import { readCheckpoint } from "../../src/projections/checkpoints.js";
import { LedgerProjection } from "../../src/projections/ledger-projection.js";
import { type Projection, ProjectorRunner } from "../../src/projections/runner.js";
import {
  createTestLedger,
  defineTypes,
  openAccount,
  type TestLedger,
} from "../commands/support.js";
import { discrepancies, position, transfers } from "./support.js";

/** Small batches, so a run of a few hundred postings spans many of them. */
const batchSizeMax = 40;

/**
 * The ledger projection, with a fault armed for one batch: after the first half of that batch's
 * commits is written in its transaction, the fault strikes. `firstEvent` is the first event it was ever handed.
 */
class FaultyProjection implements Projection {
  readonly name = "ledger";
  readonly real = new LedgerProjection();
  firstEvent: RecordedEvent | undefined;
  batches = 0;
  dead = false;
  faulted = false;

  constructor(
    private readonly faultAtBatch: number,
    private readonly fault: (client: pg.PoolClient) => Promise<void>,
  ) {}

  reset(): void {
    this.real.reset();
  }

  async apply(client: pg.PoolClient, events: readonly RecordedEvent[]): Promise<void> {
    if (this.dead) throw new Error("the projector process is gone");
    this.firstEvent ??= events[0];
    this.batches++;
    if (this.batches !== this.faultAtBatch) return this.real.apply(client, events);
    await this.real.apply(client, firstHalfOfCommits(events));
    this.faulted = true;
    await this.fault(client);
  }
}

/** The events of the first half of the commits in a batch (at least one whole commit). */
function firstHalfOfCommits(events: readonly RecordedEvent[]): RecordedEvent[] {
  const commits = [...new Set(events.map((event) => event.position.commit))];
  const kept = new Set(commits.slice(0, Math.ceil(commits.length / 2)));
  return events.filter((event) => kept.has(event.position.commit));
}

describe("the projector under faults", () => {
  let t: TestLedger;
  let funding: string;
  let wallets: string[];
  const runners: ProjectorRunner[] = [];

  const runner = (projection: Projection) => {
    const started = new ProjectorRunner(t.store, t.database.pool, projection, { batchSizeMax });
    runners.push(started);
    return started;
  };
  const checkpoint = async () => {
    const stored = await readCheckpoint(t.database.pool, "ledger");
    if (stored === undefined) throw new Error("no checkpoint");
    return stored;
  };
  const eventCount = async () =>
    Number((await t.database.pool.query("SELECT count(*) AS n FROM events")).rows[0]?.n);
  const firstEventAfter = async (after: LogPosition) =>
    (await t.store.readAll({ fromPosition: after, limit: 1 })).events[0];

  beforeEach(async () => {
    t = await createTestLedger();
    await defineTypes(t.ledger);
    funding = await openAccount(t.ledger, "SUSPENSE");
    wallets = await Promise.all(Array.from({ length: 8 }, () => openAccount(t.ledger)));
  });
  afterEach(async () => {
    for (const started of runners.splice(0)) await started.stop();
    await t.close();
  });

  it("a projector killed mid-batch (its connection terminated) leaves no half batch, and a new one resumes from the checkpoint: no duplicate, no missing row", async () => {
    const head = await transfers(t, funding, wallets, 150);
    const killer = new FaultyProjection(3, async (client) => {
      const pid = (await client.query("SELECT pg_backend_pid() AS pid")).rows[0]?.pid;
      killer.dead = true;
      await t.database.pool.query("SELECT pg_terminate_backend($1)", [pid]);
      await client.query("SELECT 1"); // the connection is gone: this throws
    });
    const killed = runner(killer);
    await killed.start();
    await expect.poll(() => killed.status().state, { timeout: 10_000 }).toBe("failed");
    await killed.stop();

    const stopped = await checkpoint();
    expect(killer.dead).toBe(true);
    expect(stopped.eventsProjected).toBeGreaterThan(0);
    // Exactly what the checkpoint says was projected is there: nothing of the killed batch.
    expect(await discrepancies(t.database.pool, stopped.position)).toEqual([]);
    expect((await discrepancies(t.database.pool)).length).toBeGreaterThan(0);

    const resumed = new FaultyProjection(0, async () => {});
    const restarted = runner(resumed);
    await restarted.start();
    expect(await restarted.waitFor(position(head), 15_000)).toBe(true);
    expect(resumed.firstEvent?.position).toEqual(
      (await firstEventAfter(stopped.position))?.position,
    );
    expect(await discrepancies(t.database.pool)).toEqual([]);
    expect((await checkpoint()).eventsProjected).toBe(await eventCount());
    expect((await restarted.lag()).events).toBe(0);
  }, 30_000);

  it("a batch that throws after writing half of itself is rolled back whole, and the runner's retry completes it", async () => {
    const head = await transfers(t, funding, wallets, 90);
    const flaky = new FaultyProjection(2, async () => {
      throw new Error("injected fault after a partial write");
    });
    const projector = runner(flaky);
    await projector.start();
    expect(await projector.waitFor(position(head), 15_000)).toBe(true);
    expect(projector.status()).toMatchObject({ state: "running", failure: null });
    expect(flaky.batches).toBeGreaterThan(2);
    expect(flaky.faulted).toBe(true);
    expect(await discrepancies(t.database.pool)).toEqual([]);
    expect((await checkpoint()).eventsProjected).toBe(await eventCount());
  }, 30_000);

  it("a runner stopped and started again goes on from its checkpoint without applying anything twice", async () => {
    const first = await transfers(t, funding, wallets, 60);
    const projection = new FaultyProjection(0, async () => {});
    const projector = runner(projection);
    await projector.start();
    expect(await projector.waitFor(position(first), 15_000)).toBe(true);
    await projector.stop();
    const stopped = await checkpoint();

    const second = await transfers(t, funding, wallets, 60);
    const later = new FaultyProjection(0, async () => {});
    const again = runner(later);
    await again.start();
    expect(await again.waitFor(position(second), 15_000)).toBe(true);
    expect(later.firstEvent?.position).toEqual((await firstEventAfter(stopped.position))?.position);
    expect(await discrepancies(t.database.pool)).toEqual([]);
    expect((await checkpoint()).eventsProjected).toBe(await eventCount());
  }, 30_000);

  it("two runners of one projection (two server processes) take turns on the checkpoint row and never apply an event twice", async () => {
    const one = runner(new LedgerProjection());
    const two = runner(new LedgerProjection());
    await Promise.all([one.start(), two.start()]);
    const head = await transfers(t, funding, wallets, 150, 5);
    expect(await one.waitFor(position(head), 15_000)).toBe(true);
    expect(await two.waitFor(position(head), 15_000)).toBe(true);
    expect(one.status()).toMatchObject({ state: "running", failure: null });
    expect(two.status()).toMatchObject({ state: "running", failure: null });
    expect(await discrepancies(t.database.pool)).toEqual([]);
    expect((await checkpoint()).eventsProjected).toBe(await eventCount());
  }, 30_000);
});
