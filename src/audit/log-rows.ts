/**
 * The Postgres event store's log as the audit reads it: the rows of the `events` table as the
 * text Postgres prints, in the global order of `readAll`, parsed by the audit itself.
 *
 * `readAll` (src/eventstore/postgres) hands out RecordedEvents: both jsonb columns parsed into
 * objects, a Date and two bigints per event, and its pages are completed to whole commits by a
 * join. The audit needs less and pays for all of it on the thread that replays: the replay
 * parses only the data of the events it folds, the chain worker parses what it hashes from
 * the same text (a page of strings costs a copy to hand over, a page of objects a structured
 * clone on both threads), and a page may end inside a commit (the replay matches legs across
 * pages). The read is otherwise `readAll`'s: strictly after a position, ordered by
 * (transaction_id, position), and only below the oldest transaction still running, where no
 * late commit can land any more (migrations/001).
 *
 * Nova keeps the Postgres event store in the read models' database (one DATABASE_URL,
 * src/cli/connect.ts), so the rows are read on the audit's own pool.
 */
import type pg from "pg";
import type { LogPosition } from "../eventstore/port.js";

/**
 * One event as text, in the order of the query's columns: `projected` is "t" when the event is
 * at or before the read models' checkpoint, "f" otherwise.
 */
export type LogRow = readonly [
  transactionId: string,
  position: string,
  id: string,
  stream: string,
  revision: string,
  type: string,
  data: string,
  metadata: string,
  projected: string,
];

/** The columns of a LogRow by name. */
export const logColumn = {
  transactionId: 0,
  position: 1,
  id: 2,
  stream: 3,
  revision: 4,
  type: 5,
  data: 6,
  metadata: 7,
  projected: 8,
} as const;

/** Where the next page starts (exclusive): the last row's transaction id and position, as text. */
export interface LogCursor {
  readonly transactionId: string;
  readonly position: string;
}

/** Before every event: readAll's default start. */
const logStart: LogCursor = { transactionId: "0", position: "0" };

/**
 * The columns come in their own types: the text protocol sends each as its output function
 * prints it, which is the text wanted (a ::text cast would only copy the jsonb's text once
 * more). ORDER BY qualifies the columns, so that it never means an output column (one cast to
 * text would sort "999" after "1000", and the whole table with it). Without a checkpoint ($4,
 * $5 null) the row comparison is null: nothing is projected.
 */
const pageSql = `
SELECT transaction_id, position, id, stream, revision, type, data, metadata,
       coalesce((transaction_id, position) <= ($4::text::xid8, $5::bigint), false)
  FROM events
 WHERE (transaction_id, position) > ($1::text::xid8, $2::bigint)
   AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
 ORDER BY events.transaction_id, events.position
 LIMIT $3`;

/** Every column as the text Postgres sent: nothing is parsed for columns the audit reparses. */
const textTypes = { getTypeParser: () => (text: string) => text };

/** Reads the log page by page on `pool`; `checkpoint` decides each row's `projected`. */
export class PostgresLogReader {
  constructor(
    private readonly pool: pg.Pool,
    private readonly checkpoint: LogPosition | undefined,
    private readonly pageSize: number,
  ) {}

  /** The events after `cursor` (from the start when undefined); empty at the end of the log. */
  async page(cursor: LogCursor = logStart): Promise<readonly LogRow[]> {
    const result = await this.pool.query<string[]>({
      text: pageSql,
      values: [
        cursor.transactionId,
        cursor.position,
        this.pageSize,
        this.checkpoint?.commit.toString() ?? null,
        this.checkpoint?.prepare.toString() ?? null,
      ],
      rowMode: "array",
      types: textTypes,
    });
    // Nine text columns per row, as pageSql selects them.
    return result.rows as unknown as readonly LogRow[];
  }
}

/** Where the page after `rows` starts; undefined for an empty page. */
export function cursorAfter(rows: readonly LogRow[]): LogCursor | undefined {
  const last = rows.at(-1);
  if (last === undefined) return undefined;
  return {
    transactionId: last[logColumn.transactionId],
    position: last[logColumn.position],
  };
}

export function isProjectedRow(row: LogRow): boolean {
  return row[logColumn.projected] === "t";
}
