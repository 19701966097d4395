/**
 * The `projection_checkpoints` rows: where each projection's read models stand in the log.
 * The table name is left unqualified on purpose: the live runner resolves it in `public`, a
 * rebuild in its own scratch schema (its connection's search_path), with the same SQL.
 *
 * The row is also the projection's write lock. Every batch locks it first (`FOR UPDATE`) and
 * checks that it still says what the writer believes; a rebuild's switch-over locks the same
 * row, so a live runner and a switch-over never interleave, and a runner whose tables were
 * replaced under it learns so before writing anything (`CheckpointMoved`).
 */
import pg from "pg";
import { comparePositions, formatPosition, type LogPosition } from "../eventstore/port.js";

/** The start of the log: a checkpoint that has projected nothing yet. */
export const logStart: LogPosition = { commit: 0n, prepare: 0n };

export interface Checkpoint {
  readonly position: LogPosition;
  readonly eventsProjected: number;
  readonly updatedAt: Date;
}

/** The stored checkpoint is not where this writer left it: another writer moved it. */
export class CheckpointMoved extends Error {
  override readonly name = "CheckpointMoved";

  constructor(
    readonly projection: string,
    readonly stored: LogPosition,
    readonly expected: LogPosition,
  ) {
    super(
      `checkpoint of projection "${projection}" is at ${formatPosition(stored)}, ` +
        `not ${formatPosition(expected)}: another writer (a rebuild's switch-over) moved it`,
    );
  }
}

type Queryable = Pick<pg.PoolClient, "query">;

interface CheckpointRow {
  commit_position: string;
  prepare_position: string;
  events_projected: string;
  updated_at: Date;
}

/** The checkpoint table, in `schema` when given, else wherever the search_path finds it. */
export function checkpointTable(schema?: string): string {
  const table = "projection_checkpoints";
  return schema === undefined ? table : `${pg.escapeIdentifier(schema)}.${table}`;
}

/**
 * Makes sure the projection has a row (at the log start when new), so that every writer,
 * including the very first batch, has a row to lock.
 */
export async function ensureCheckpoint(
  db: Queryable,
  name: string,
  schema?: string,
): Promise<void> {
  await db.query(
    `INSERT INTO ${checkpointTable(schema)} (name, commit_position, prepare_position)
     VALUES ($1, '0'::xid8, 0) ON CONFLICT (name) DO NOTHING`,
    [name],
  );
}

export async function readCheckpoint(db: Queryable, name: string): Promise<Checkpoint | undefined> {
  const result = await db.query<CheckpointRow>(
    `SELECT commit_position::text, prepare_position, events_projected, updated_at
       FROM projection_checkpoints WHERE name = $1`,
    [name],
  );
  const row = result.rows[0];
  return row === undefined ? undefined : toCheckpoint(row);
}

/**
 * Locks the projection's row until the transaction ends and checks that it is still at
 * `expected`. Run first in a batch's transaction, before any read-model write.
 */
export async function lockCheckpoint(
  client: Queryable,
  name: string,
  expected: LogPosition,
): Promise<void> {
  const result = await client.query<CheckpointRow>(
    `SELECT commit_position::text, prepare_position, events_projected, updated_at
       FROM projection_checkpoints WHERE name = $1 FOR UPDATE`,
    [name],
  );
  const row = result.rows[0];
  const stored = row === undefined ? logStart : toCheckpoint(row).position;
  if (comparePositions(stored, expected) !== 0) throw new CheckpointMoved(name, stored, expected);
}

/** Moves the checkpoint past a batch of `eventCount` events, in the batch's transaction. */
export async function advanceCheckpoint(
  client: Queryable,
  name: string,
  position: LogPosition,
  eventCount: number,
): Promise<void> {
  await client.query(
    `INSERT INTO projection_checkpoints (name, commit_position, prepare_position, events_projected, updated_at)
     VALUES ($1, $2::text::xid8, $3, $4, now())
     ON CONFLICT (name) DO UPDATE SET commit_position = excluded.commit_position,
       prepare_position = excluded.prepare_position,
       events_projected = projection_checkpoints.events_projected + excluded.events_projected,
       updated_at = now()`,
    [name, position.commit.toString(), position.prepare.toString(), eventCount],
  );
}

function toCheckpoint(row: CheckpointRow): Checkpoint {
  return {
    position: { commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position) },
    eventsProjected: Number(row.events_projected),
    updatedAt: row.updated_at,
  };
}
