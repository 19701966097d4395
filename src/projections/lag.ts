/**
 * How far a projection is behind the event store: events after its checkpoint and the age of
 * the oldest of them. Postgres answers from the events table with a bounded count; any other
 * store through one bounded `readAll` page.
 */
import type pg from "pg";
import { type EventStore, type LogPosition, readLimitMax } from "../eventstore/port.js";
import { logStart } from "./checkpoints.js";

export interface Lag {
  /** Events appended after the checkpoint (counted up to the probe's bound). */
  readonly events: number;
  /** Age of the oldest unprojected event; 0 when caught up. */
  readonly seconds: number;
}

export type LagProbe = (after: LogPosition | undefined) => Promise<Lag>;

/** Beyond this many events the exact figure costs more than it tells. */
export const lagCountMaxDefault = 1_000_000;

/** Counts in the Postgres events table (any event after `after`, committed or still landing). */
export function postgresLagProbe(pool: pg.Pool, countMax = lagCountMaxDefault): LagProbe {
  return async (after) => {
    const from = after ?? logStart;
    const result = await pool.query<{ events: string; oldest: Date | null }>(
      `SELECT count(*) AS events, min(recorded_at) AS oldest FROM (
         SELECT recorded_at FROM events
          WHERE (transaction_id, position) > ($1::text::xid8, $2::bigint)
          LIMIT $3) AS unprojected`,
      [from.commit.toString(), from.prepare.toString(), countMax],
    );
    const row = result.rows[0];
    return lagOf(Number(row?.events ?? 0), row?.oldest ?? null);
  };
}

/** For stores without SQL access (KurrentDB): one page, so at most `readLimitMax` events. */
export function storeLagProbe(store: EventStore): LagProbe {
  return async (after) => {
    const page = await store.readAll({
      ...(after === undefined ? {} : { fromPosition: after }),
      limit: readLimitMax,
    });
    return lagOf(page.events.length, page.events[0]?.recordedAt ?? null);
  };
}

function lagOf(events: number, oldest: Date | null): Lag {
  return {
    events,
    seconds: oldest === null ? 0 : Math.max(0, (Date.now() - oldest.getTime()) / 1_000),
  };
}
