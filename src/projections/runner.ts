/**
 * Runs a projection: subscribes to the event store from its checkpoint and applies each batch
 * of events with the checkpoint in the same SQL transaction, so a crash repeats nothing and
 * loses nothing. An event that fails (a trigger re-check, a handler bug) stops the projector
 * on that very event; it is logged with its stream, revision and position, health turns
 * failing, and a restart retries it. It never skips.
 */
import type pg from "pg";
import {
  comparePositions,
  type EventStore,
  formatPosition,
  type LogPosition,
  type RecordedEvent,
  type Subscription,
} from "../eventstore/port.js";

export interface Projection {
  readonly name: string;
  apply(client: pg.PoolClient, events: readonly RecordedEvent[]): Promise<void>;
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

export const projectorBatchSizeMaxDefault = 1_000;
/** Events that create the rows others refer to; a projection applies them first. */
const recordTypes = new Set(["AccountTypeDefined", "AccountOpened", "PostingRecorded"]);
/** Lag is counted up to this many events: beyond it the exact figure costs more than it tells. */
const lagCountMax = 1_000_000;

export class ProjectorRunner {
  private subscription: Subscription | undefined;
  private position: LogPosition | undefined;
  private state: ProjectorStatus["state"] = "stopped";
  private failure: ProjectorFailure | null = null;
  private waiters: Array<{ position: LogPosition; resolve: () => void }> = [];

  constructor(
    private readonly store: EventStore,
    private readonly pool: pg.Pool,
    private readonly projection: Projection,
    private readonly options: { logger?: ProjectorLogger; batchSizeMax?: number } = {},
  ) {}

  async start(): Promise<void> {
    this.position = await this.readCheckpoint();
    this.failure = null;
    this.state = "running";
    this.subscription = this.store.subscribe(
      {
        ...(this.position === undefined ? {} : { fromPosition: this.position }),
        batchSizeMax: this.options.batchSizeMax ?? projectorBatchSizeMaxDefault,
      },
      (events, lastPosition) => this.applyBatch(events, lastPosition),
    );
    this.subscription.done.catch((error: unknown) => {
      this.state = "failed";
      if (this.failure === null) {
        this.failure = {
          message: error instanceof Error ? error.message : String(error),
          stream: "",
          revision: -1,
          position: this.position ? formatPosition(this.position) : "",
          type: "",
        };
      }
    });
  }

  async stop(): Promise<void> {
    await this.subscription?.stop();
    if (this.state === "running") this.state = "stopped";
  }

  status(): ProjectorStatus {
    return {
      name: this.projection.name,
      state: this.state,
      position: this.position ? formatPosition(this.position) : null,
      failure: this.failure,
    };
  }

  /** Whether the read models have passed `position`, waiting up to `waitMs` for it. */
  async waitFor(position: LogPosition, waitMs: number): Promise<boolean> {
    if (this.hasPassed(position)) return true;
    let timer: NodeJS.Timeout | undefined;
    const waiter = { position, resolve: () => {} };
    const reached = new Promise<boolean>((resolve) => {
      waiter.resolve = () => resolve(true);
      timer = setTimeout(() => resolve(false), waitMs);
    });
    this.waiters.push(waiter);
    const result = await reached;
    clearTimeout(timer);
    this.waiters = this.waiters.filter((other) => other !== waiter);
    return result;
  }

  /** Events in the store that this projection has not applied yet (bounded count). */
  async lag(): Promise<{ events: number; seconds: number }> {
    const from = this.position ?? { commit: 0n, prepare: 0n };
    const result = await this.pool.query<{ events: string; oldest: Date | null }>(
      `SELECT count(*) AS events, min(recorded_at) AS oldest FROM (
         SELECT recorded_at FROM events
          WHERE (transaction_id, position) > ($1::text::xid8, $2::bigint)
          LIMIT $3) AS unprojected`,
      [from.commit.toString(), from.prepare.toString(), lagCountMax],
    );
    const row = result.rows[0];
    const oldest = row?.oldest;
    return {
      events: Number(row?.events ?? 0),
      seconds: oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1_000) : 0,
    };
  }

  private hasPassed(position: LogPosition): boolean {
    return this.position !== undefined && comparePositions(this.position, position) >= 0;
  }

  /**
   * The store hands over whole commits (a page never ends inside one append), which the
   * read models' re-checks need: double entry holds per commit, entries come with their header.
   */
  private async applyBatch(
    ready: readonly RecordedEvent[],
    lastPosition: LogPosition,
  ): Promise<void> {
    const last = { position: lastPosition };
    try {
      await this.inTransaction(ready, last.position);
    } catch {
      // Find the commit that fails, applying one commit at a time, each with its checkpoint.
      for (const commit of groupByCommit(ready)) {
        const commitLast = commit.at(-1);
        if (commitLast === undefined) continue;
        try {
          await this.inTransaction(commit, commitLast.position);
        } catch (error) {
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
      client.release();
    }
  }

  private async inTransaction(
    events: readonly RecordedEvent[],
    lastPosition: LogPosition,
  ): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      if (events.length > 0) await this.projection.apply(client, events);
      await client.query(
        `INSERT INTO projection_checkpoints (name, commit_position, prepare_position, events_projected, updated_at)
         VALUES ($1, $2::text::xid8, $3, $4, now())
         ON CONFLICT (name) DO UPDATE SET commit_position = excluded.commit_position,
           prepare_position = excluded.prepare_position,
           events_projected = projection_checkpoints.events_projected + excluded.events_projected,
           updated_at = now()`,
        [
          this.projection.name,
          lastPosition.commit.toString(),
          lastPosition.prepare.toString(),
          events.length,
        ],
      );
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
    this.position = lastPosition;
    this.wakeWaiters();
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
  }

  private wakeWaiters(): void {
    const ready = this.waiters.filter((waiter) => this.hasPassed(waiter.position));
    for (const waiter of ready) waiter.resolve();
  }

  private async readCheckpoint(): Promise<LogPosition | undefined> {
    const result = await this.pool.query<{ commit_position: string; prepare_position: string }>(
      "SELECT commit_position::text, prepare_position FROM projection_checkpoints WHERE name = $1",
      [this.projection.name],
    );
    const row = result.rows[0];
    return row
      ? { commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position) }
      : undefined;
  }
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
