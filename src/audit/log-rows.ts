/**
 * The Postgres event store's log as the audit reads it: each event as the text of its columns
 * (`PostgresEventStore.readAllText`), parsed by the audit itself.
 *
 * `readAll` hands out RecordedEvents: both jsonb columns parsed into objects, a Date and two
 * bigints per event, and its pages are completed to whole commits by a join. The audit needs
 * less and pays for all of it on the thread that replays: the replay parses only the data of
 * the events it folds, the chain worker parses what it hashes from the same text (a page of
 * strings costs a copy to hand over, a page of objects a structured clone on both threads),
 * and a page may end inside a commit (the replay matches legs across pages).
 */
import { comparePositions, type LogPosition } from "../eventstore/port.js";
import { type EventText, eventText } from "../eventstore/postgres/event-text.js";
import type { PostgresEventStore } from "../eventstore/postgres/postgres-event-store.js";

/** One event as text, its columns named by `logColumn`. */
export type LogRow = EventText;

export const logColumn = eventText;

/** Reads the log page by page; tells which rows the read models' checkpoint covers. */
export class PostgresLogReader {
  constructor(
    private readonly store: PostgresEventStore,
    private readonly checkpoint: LogPosition | undefined,
    private readonly pageSize: number,
  ) {}

  /** The events after `after` (from the start when undefined); empty at the end of the log. */
  page(after?: LogPosition): Promise<readonly LogRow[]> {
    return this.store.readAllText(after, this.pageSize);
  }

  /**
   * How many of a page's rows (in log order) are at or before the read models' checkpoint: a
   * prefix of the page, found from its ends (the checkpoint is mostly past the whole page).
   */
  projectedCount(rows: readonly LogRow[]): number {
    const { checkpoint } = this;
    if (checkpoint === undefined) return 0;
    const beyond = (row: LogRow | undefined) =>
      row !== undefined && comparePositions(positionOf(row), checkpoint) > 0;
    if (beyond(rows[0])) return 0;
    let count = rows.length;
    while (count > 0 && beyond(rows[count - 1])) count--;
    return count;
  }
}

/** Where the page after `rows` starts; undefined for an empty page. */
export function positionAfter(rows: readonly LogRow[]): LogPosition | undefined {
  const last = rows.at(-1);
  return last === undefined ? undefined : positionOf(last);
}

function positionOf(row: LogRow): LogPosition {
  return {
    commit: BigInt(row[logColumn.transactionId]),
    prepare: BigInt(row[logColumn.position]),
  };
}
