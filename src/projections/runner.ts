/**
 * Runs a projection: subscribes to the event store from its checkpoint and applies each batch
 * of events with the checkpoint in the same SQL transaction, so a crash repeats nothing and
 * loses nothing. An event that fails (a trigger re-check, a handler bug) stops the projector
 * on that very event; it is logged with its stream, revision and position, health turns
 * failing, and a restart retries it. It never skips.
 *
 * Each batch first locks the checkpoint row and checks it (checkpoints.ts). When a rebuild
 * switched the read models over meanwhile, the row says so: the batch is rolled back unwritten
 * and the runner subscribes again from the new checkpoint (`CheckpointMoved`), so it never
 * writes half into the old tables and half into the new ones.
 */
import type pg from "pg";
import {
  type EventFilter,
  type EventStore,
  formatPosition,
  type LogPosition,
  type RecordedEvent,
  type Subscription,
} from "../eventstore/port.js";
import {
  advanceCheckpoint,
  CheckpointMoved,
  ensureCheckpoint,
  lockCheckpoint,
  logStart,
  readCheckpoint,
} from "./checkpoints.js";
import { type Lag, type LagProbe, postgresLagProbe } from "./lag.js";
import { ProjectedPosition } from "./projected-position.js";

export interface Projection {
  readonly name: string;
  /** The events it reads (all when absent): the others are not even read from the store. */
  readonly filter?: EventFilter;
  apply(client: pg.PoolClient, events: readonly RecordedEvent[]): Promise<void>;
  /**
   * Optional: `apply` in two steps, the work that needs no database first. What it returns,
   * run on a client, writes what `apply(client, events)` writes; a rebuild prepares the next
   * batch while the current one is written.
   */
  prepare?(events: readonly RecordedEvent[]): (client: pg.PoolClient) => Promise<unknown>;
  /** Forgets what the projection remembers of its tables: they were replaced by a rebuild. */
  reset?(): void;
}

export interface ProjectorFailure {
  readonly message: string;
  readonly stream: string;
  readonly revision: number;
  readonly position: string;
  readonly type: string;
}

export interface ProjectorLogger {
  error(details: object, message: string): void;
}

export interface ProjectorStatus {
  readonly name: string;
  readonly state: "stopped" | "running" | "failed";
  readonly position: string | null;
  readonly failure: ProjectorFailure | null;
}

export interface ProjectorOptions {
  readonly logger?: ProjectorLogger;
  readonly batchSizeMax?: number;
  /** How lag is measured; by default from the Postgres events table on the runner's pool. */
  readonly lagProbe?: LagProbe;
  /**
   * A filtered projection passes over pages with nothing of its own: it counts as having
   * passed them at once, and writes its checkpoint past them at most this often (default
   * `skippedCheckpointIntervalMsDefault`), not once a page. After a crash it reads them again.
   */
  readonly skippedCheckpointIntervalMs?: number;
  /**
   * Told the new status whenever it changes: the checkpoint moved, the projector failed,
   * started or stopped (a projector thread forwards it to the process's side).
   */
  readonly onChange?: (status: ProjectorStatus) => void;
}

/** What the service needs of a running projector, wherever it runs (this thread or its own). */
export interface Projector {
  status(): ProjectorStatus;
  /** Whether the read models have passed `position`, waiting up to `waitMs` for it. */
  waitFor(position: LogPosition, waitMs: number): Promise<boolean>;
  /** Events in the store not applied yet (bounded count), and the oldest one's age. */
  lag(): Promise<Lag>;
}

export const projectorBatchSizeMaxDefault = 1_000;
export const skippedCheckpointIntervalMsDefault = 1_000;
/** Events that create the rows others refer to; a projection applies them first. */
const recordTypes = new Set(["AccountTypeDefined", "AccountOpened", "PostingRecorded"]);

export class ProjectorRunner implements Projector {
  private subscription: Subscription | undefined;
  private readonly projected = new ProjectedPosition();
  /** Where the checkpoint row stands as this runner last wrote or read it. */
  private stored: LogPosition | undefined;
  private storedAtMs = 0;
  private state: ProjectorStatus["state"] = "stopped";
  private failure: ProjectorFailure | null = null;
  private stopping = false;
  private readonly lagProbe: LagProbe;

  constructor(
    private readonly store: EventStore,
    private readonly pool: pg.Pool,
    private readonly projection: Projection,
    private readonly options: ProjectorOptions = {},
  ) {
    this.lagProbe = options.lagProbe ?? postgresLagProbe(pool);
  }

  async start(): Promise<void> {
    await ensureCheckpoint(this.pool, this.projection.name);
    const checkpoint = await readCheckpoint(this.pool, this.projection.name);
    this.stored = checkpoint?.position;
    this.storedAtMs = performance.now();
    this.projected.set(this.stored);
    this.failure = null;
    this.stopping = false;
    this.state = "running";
    this.subscribeFrom(this.projected.value);
    this.changed();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.subscription?.stop();
    if (this.state === "running") this.state = "stopped";
    this.changed();
  }

  status(): ProjectorStatus {
    return {
      name: this.projection.name,
      state: this.state,
      position: positionText(this.projected.value),
      failure: this.failure,
    };
  }

  /** Whether the read models have passed `position`, waiting up to `waitMs` for it. */
  waitFor(position: LogPosition, waitMs: number): Promise<boolean> {
    return this.projected.waitFor(position, waitMs);
  }

  /**
   * Events in the store that this projection has not applied yet (bounded count), and the age
   * in seconds of the oldest of them (0 when caught up).
   */
  lag(): Promise<Lag> {
    return this.lagProbe(this.projected.value);
  }

  private subscribeFrom(position: LogPosition | undefined): void {
    const subscription = this.store.subscribe(
      {
        ...(position === undefined ? {} : { fromPosition: position }),
        batchSizeMax: this.options.batchSizeMax ?? projectorBatchSizeMaxDefault,
        ...(this.projection.filter === undefined ? {} : { filter: this.projection.filter }),
      },
      (events, lastPosition) => this.applyBatch(events, lastPosition),
    );
    this.subscription = subscription;
    subscription.done.catch((error: unknown) => this.subscriptionEnded(subscription, error));
  }

  /**
   * A moved checkpoint is not a failure: the read models were switched to rebuilt tables,
   * which stand at the new checkpoint, so projecting goes on from there.
   */
  private subscriptionEnded(subscription: Subscription, error: unknown): void {
    if (subscription !== this.subscription || this.stopping) return;
    if (error instanceof CheckpointMoved) {
      this.projection.reset?.();
      this.stored = error.stored;
      this.projected.set(error.stored);
      this.subscribeFrom(error.stored);
      this.changed();
      return;
    }
    this.state = "failed";
    if (this.failure === null) {
      this.failure = {
        message: error instanceof Error ? error.message : String(error),
        stream: "",
        revision: -1,
        position: positionText(this.projected.value) ?? "",
        type: "",
      };
      this.options.logger?.error(
        { projection: this.projection.name, ...this.failure },
        "projection stopped",
      );
    }
    this.changed();
  }

  /**
   * The store hands over whole commits (a page never ends inside one append), which the
   * read models' re-checks need: double entry holds per commit, entries come with their header.
   */
  private async applyBatch(
    ready: readonly RecordedEvent[],
    lastPosition: LogPosition,
  ): Promise<void> {
    if (ready.length === 0 && !this.skippedCheckpointDue()) {
      this.projected.set(lastPosition);
      this.changed();
      return;
    }
    try {
      await this.inTransaction(ready, lastPosition);
    } catch (error) {
      if (error instanceof CheckpointMoved) throw error;
      // Find the commit that fails, applying one commit at a time, each with its checkpoint.
      for (const commit of groupByCommit(ready)) {
        const commitLast = commit.at(-1);
        if (commitLast === undefined) continue;
        try {
          await this.inTransaction(commit, commitLast.position);
        } catch (error) {
          if (error instanceof CheckpointMoved) throw error;
          const culprit = await this.findFailingEvent(commit);
          this.fail(culprit ?? commit[0] ?? commitLast, error);
          throw error;
        }
      }
    }
  }

  /**
   * The first event of a commit whose statements fail, applied one by one after the records
   * the others refer to (none: the commit-time check failed).
   */
  private async findFailingEvent(
    commit: readonly RecordedEvent[],
  ): Promise<RecordedEvent | undefined> {
    const records = commit.filter((event) => recordTypes.has(event.type));
    const changes = commit.filter((event) => !recordTypes.has(event.type));
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      // No savepoints: the first statement that fails names the event, and we stop there.
      for (const event of [...records, ...changes]) {
        try {
          await this.projection.apply(client, [event]);
        } catch {
          return event;
        }
      }
      return undefined;
    } finally {
      await client.query("ROLLBACK").catch(() => undefined);
      this.projection.reset?.();
      client.release();
    }
  }

  private async inTransaction(
    events: readonly RecordedEvent[],
    lastPosition: LogPosition,
  ): Promise<void> {
    const client = await this.pool.connect();
    try {
      // Asynchronous commit: a crash may lose the last batches, but each with its checkpoint
      // (they commit together), so a restart projects them again. The read models never wait
      // for a WAL flush, and never delay the appends' own flushes.
      await client.query("BEGIN; SET LOCAL synchronous_commit TO off");
      await lockCheckpoint(client, this.projection.name, this.stored ?? logStart);
      if (events.length > 0) await this.projection.apply(client, events);
      await advanceCheckpoint(client, this.projection.name, lastPosition, events.length);
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      // What the projection remembers of this transaction's writes (e.g. partitions) is gone.
      this.projection.reset?.();
      throw error;
    } finally {
      client.release();
    }
    this.stored = lastPosition;
    this.storedAtMs = performance.now();
    this.projected.set(lastPosition);
    this.changed();
  }

  private skippedCheckpointDue(): boolean {
    const intervalMs =
      this.options.skippedCheckpointIntervalMs ?? skippedCheckpointIntervalMsDefault;
    return performance.now() - this.storedAtMs >= intervalMs;
  }

  private fail(event: RecordedEvent, error: unknown): void {
    this.state = "failed";
    this.failure = {
      message: error instanceof Error ? error.message : String(error),
      stream: event.stream,
      revision: event.revision,
      position: formatPosition(event.position),
      type: event.type,
    };
    this.options.logger?.error(
      { projection: this.projection.name, ...this.failure },
      "projection stopped on an event",
    );
    this.changed();
  }

  private changed(): void {
    this.options.onChange?.(this.status());
  }
}

function positionText(position: LogPosition | undefined): string | null {
  return position === undefined ? null : formatPosition(position);
}

function groupByCommit(events: readonly RecordedEvent[]): RecordedEvent[][] {
  const groups: RecordedEvent[][] = [];
  for (const event of events) {
    const current = groups.at(-1);
    if (current !== undefined && current[0]?.position.commit === event.position.commit)
      current.push(event);
    else groups.push([event]);
  }
  return groups;
}
