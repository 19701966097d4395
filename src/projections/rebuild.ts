/**
 * Rebuilds a projection's read models from the whole event log while the live ones keep
 * serving, then switches over atomically.
 *
 * 1. A scratch schema gets fresh read models from the same migrations as the live ones
 *    (read-models.ts) and a checkpoint of its own.
 * 2. The log is replayed into it in large batches, each with the scratch checkpoint in its
 *    transaction, reading and preparing the next page while the current one is written. The
 *    replay runs in bulk-load mode: the per-row re-checks and the foreign keys are off (they
 *    are proven once over all rows afterwards, and a violation refuses the switch-over) and
 *    the query-only indexes are built after it.
 * 3. One transaction switches over: it locks the live checkpoint row (the live runner stops at
 *    its next batch, see checkpoints.ts), replays what the live tables have that the scratch
 *    ones do not yet, runs the deferred re-checks, moves the live checkpoint to the scratch
 *    one, drops the live tables and functions and moves the scratch ones into their place.
 *    Readers are blocked only for the DDL at the end. The live runner then finds its checkpoint
 *    moved and goes on from there, on the new tables.
 */
import pg from "pg";
import {
  comparePositions,
  type EventStore,
  formatPosition,
  type LogPosition,
  type ReadAllResult,
  type RecordedEvent,
  readLimitMax,
} from "../eventstore/port.js";
import { advanceCheckpoint, checkpointTable, ensureCheckpoint, logStart } from "./checkpoints.js";
import { createReadModels, ledgerReadModels, type ReadModelSet } from "./read-models.js";
import type { Projection } from "./runner.js";

export interface RebuildProgress {
  readonly phase: "replay" | "switch-over" | "done";
  readonly eventsProjected: number;
  readonly position: LogPosition | undefined;
}

export interface RebuildOptions {
  /** Connections to the read models' database (the live tables, the events when on Postgres). */
  readonly pool: pg.Pool;
  readonly store: EventStore;
  /** A fresh instance: it must remember nothing of the live tables. */
  readonly projection: Projection;
  /** The projection's read models (their migrations and bulk-load tuning); the ledger's by default. */
  readonly readModels?: ReadModelSet;
  /** Events read and written per batch (at most the store's `readLimitMax`). */
  readonly batchSizeMax?: number;
  readonly onProgress?: (progress: RebuildProgress) => void;
}

export interface RebuildReport {
  readonly projection: string;
  readonly eventsProjected: number;
  /** Where the new read models (and the live checkpoint) stood at the switch-over. */
  readonly position: string;
  readonly replayMs: number;
  /** The switch-over transaction; readers wait only for its last part. */
  readonly switchOverMs: number;
}

/** A rebuild that must not run or must not switch over; nothing live was changed. */
export class RebuildRefused extends Error {
  override readonly name = "RebuildRefused";
}

export const rebuildBatchSizeMaxDefault = 5_000;
/** Switch-overs that meet a lock timeout or a deadlock are tried again up to this many times. */
const switchOverAttemptsMax = 5;
/** How long the switch-over waits for a lock (the live runner's batch, a long reader). */
const switchOverLockWaitMsMax = 3_000;
/** Advisory lock class of rebuilds (next to 'NOVA' 1313821249 of the event store's streams). */
const rebuildLockClass = 1313821251;
const scratchSchemaPrefix = "nova_rebuild_";
const lockTimeoutCodes = new Set(["55P03", "40P01"]);

export async function rebuildProjection(options: RebuildOptions): Promise<RebuildReport> {
  const batchSizeMax = options.batchSizeMax ?? rebuildBatchSizeMaxDefault;
  if (!(Number.isSafeInteger(batchSizeMax) && batchSizeMax > 0 && batchSizeMax <= readLimitMax)) {
    throw new RangeError(`batchSizeMax must be an integer in 1..${readLimitMax}`);
  }
  const name = options.projection.name;
  const readModels = options.readModels ?? ledgerReadModels;
  const client = await options.pool.connect();
  let locked = false;
  try {
    locked = await lockRebuild(client, name);
    const liveSchema = await liveSchemaOf(client);
    await dropLeftoverSchemas(client, name);
    const scratchSchema = `${scratchSchemaPrefix}${name}_${Date.now()}`;
    await createScratchSchema(client, scratchSchema, readModels.migrations);
    try {
      const rebuild = new Rebuild(client, options, {
        liveSchema,
        scratchSchema,
        batchSizeMax,
        readModels,
      });
      return await rebuild.run();
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(scratchSchema)} CASCADE`);
      throw error;
    }
  } finally {
    // Unlocked at once: the server would notice the closed connection only a little later.
    if (locked) await unlockRebuild(client, name).catch(() => undefined);
    // The session's search_path ends with the connection.
    client.release(true);
  }
}

interface Schemas {
  readonly liveSchema: string;
  readonly scratchSchema: string;
  readonly batchSizeMax: number;
  readonly readModels: ReadModelSet;
}

/** A foreign key of a scratch table, as its table, name and `pg_get_constraintdef`. */
interface ForeignKey {
  readonly table: string;
  readonly name: string;
  readonly definition: string;
}

/** A page of the log and the projection's writes for it, prepared. */
interface PreparedPage {
  readonly page: ReadAllResult;
  readonly writes: (client: pg.PoolClient) => Promise<unknown>;
}

/** What the bulk-load mode took away for the replay, to be restored before the switch-over. */
interface BulkLoadDeferred {
  readonly indexDefinitions: readonly string[];
  readonly foreignKeys: readonly ForeignKey[];
}

/** What the scratch schema holds, to be moved into the live schema. */
interface Layout {
  /** Every table, partitions included (a partition does not follow its parent's schema). */
  readonly relations: readonly string[];
  /** The tables that are not partitions: what is dropped, locked and compared. */
  readonly tables: readonly string[];
  readonly functions: ReadonlyArray<{ readonly name: string; readonly args: string }>;
}

class Rebuild {
  private position: LogPosition | undefined;
  private eventsProjected = 0;
  private readonly live: string;
  private readonly scratch: string;
  private readonly name: string;

  constructor(
    private readonly client: pg.PoolClient,
    private readonly options: RebuildOptions,
    private readonly schemas: Schemas,
  ) {
    this.live = pg.escapeIdentifier(schemas.liveSchema);
    this.scratch = pg.escapeIdentifier(schemas.scratchSchema);
    this.name = options.projection.name;
  }

  async run(): Promise<RebuildReport> {
    const startedMs = performance.now();
    // Unqualified names (the projection's SQL, its triggers) now mean the scratch tables.
    await this.client.query(`SET search_path TO ${this.scratch}`);
    // Building an index or re-checking a large ledger in one statement may take minutes; the
    // switch-over's waits are bounded by its lock_timeout instead.
    await this.client.query("SET statement_timeout = 0");
    const deferred = await this.startBulkLoad();
    await this.replay();
    await this.endBulkLoad(deferred);
    const replayedMs = performance.now();
    await this.switchOverWithRetries();
    this.report("done");
    return {
      projection: this.name,
      eventsProjected: this.eventsProjected,
      position: formatPosition(this.position ?? logStart),
      replayMs: Math.round(replayedMs - startedMs),
      switchOverMs: Math.round(performance.now() - replayedMs),
    };
  }

  /**
   * Bulk-load mode for the replay: the per-row deferred re-checks are off (one set-based pass
   * replaces them, see read-models.ts), the query-only indexes are dropped, and so are the
   * foreign keys: each row's key check (a probe and a row lock on the referenced table) gives
   * way to the one validating join that adding the key back runs over all rows. Returns what
   * to restore afterwards.
   */
  private async startBulkLoad(): Promise<BulkLoadDeferred> {
    for (const check of this.schemas.readModels.checksRunAfterReplay) {
      await this.client.query(
        `ALTER TABLE ${this.scratch}.${pg.escapeIdentifier(check.table)} DISABLE TRIGGER ${pg.escapeIdentifier(check.trigger)}`,
      );
    }
    const indexes = await this.client.query<{ relname: string; definition: string }>(
      `SELECT relname, pg_get_indexdef(oid) AS definition FROM pg_class
        WHERE relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)
          AND relkind IN ('i', 'I') AND relname = ANY ($2::text[])`,
      [this.schemas.scratchSchema, this.schemas.readModels.indexesBuiltAfterReplay],
    );
    for (const index of indexes.rows) {
      // A partitioned index goes with its partitions' indexes.
      await this.client.query(`DROP INDEX ${this.scratch}.${pg.escapeIdentifier(index.relname)}`);
    }
    const foreignKeys = await this.client.query<ForeignKey>(
      `SELECT c.relname AS table, co.conname AS name, pg_get_constraintdef(co.oid) AS definition
         FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid
        WHERE co.connamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)
          AND co.contype = 'f' AND co.conparentid = 0
        ORDER BY c.relname, co.conname`,
      [this.schemas.scratchSchema],
    );
    for (const key of foreignKeys.rows) {
      await this.client.query(
        `ALTER TABLE ${this.scratch}.${pg.escapeIdentifier(key.table)} DROP CONSTRAINT ${pg.escapeIdentifier(key.name)}`,
      );
    }
    return {
      // The definition of a partitioned index reads "ON ONLY": without it, CREATE INDEX builds
      // the partitions' indexes too, each in bulk.
      indexDefinitions: indexes.rows.map((index) => index.definition.replace(" ON ONLY ", " ON ")),
      foreignKeys: foreignKeys.rows,
    };
  }

  /**
   * Runs the set-based re-checks, turns the per-row ones back on, adds the foreign keys back
   * (each validated over every row: a violation refuses the switch-over) and builds the indexes.
   */
  private async endBulkLoad(deferred: BulkLoadDeferred): Promise<void> {
    for (const check of this.schemas.readModels.checksRunAfterReplay) {
      const violation = await this.client.query<{ message: string }>(check.violation);
      const message = violation.rows[0]?.message;
      if (message !== undefined) {
        throw new RebuildRefused(`the rebuilt read models fail a re-check: ${message}`);
      }
      await this.client.query(
        `ALTER TABLE ${this.scratch}.${pg.escapeIdentifier(check.table)} ENABLE TRIGGER ${pg.escapeIdentifier(check.trigger)}`,
      );
    }
    // The definitions name the referenced tables unqualified: the search_path is the scratch schema.
    for (const key of deferred.foreignKeys) {
      await this.client
        .query(
          `ALTER TABLE ${this.scratch}.${pg.escapeIdentifier(key.table)} ADD CONSTRAINT ${pg.escapeIdentifier(key.name)} ${key.definition}`,
        )
        .catch((error: unknown) => {
          if (!isForeignKeyViolation(error)) throw error;
          throw new RebuildRefused(
            `the rebuilt read models fail a re-check: ${(error as Error).message}`,
            { cause: error },
          );
        });
    }
    for (const definition of deferred.indexDefinitions) await this.client.query(definition);
  }

  /**
   * Replays committed batches until a page comes back short: the head is near, and the rest
   * is replayed inside the switch-over. While one batch is written, the next page is read and
   * prepared (its rows encoded), so the backend that writes seldom waits for this process.
   */
  private async replay(): Promise<void> {
    let batch: PreparedPage | undefined = await this.readPrepared(this.read(this.position));
    while (batch !== undefined) {
      const { page, writes }: PreparedPage = batch;
      const lastPosition = page.lastPosition;
      if (lastPosition === undefined) return;
      const atHead: boolean = page.events.length < this.schemas.batchSizeMax;
      const next: Promise<PreparedPage> | undefined = atHead
        ? undefined
        : this.readPrepared(this.read(lastPosition));
      // A failed write wins over whatever the next page did (which nobody then awaits).
      next?.catch(() => undefined);
      await this.applyCommitted(page.events, lastPosition, writes);
      batch = await next;
    }
  }

  private read(after: LogPosition | undefined): Promise<ReadAllResult> {
    const page = this.options.store.readAll({
      ...(after === undefined ? {} : { fromPosition: after }),
      limit: this.schemas.batchSizeMax,
    });
    // A prefetched page nobody awaits (the write before it failed) must not crash the process.
    page.catch(() => undefined);
    return page;
  }

  /** The page once read, with its writes prepared (the projection's `prepare`, when it has one). */
  private async readPrepared(reading: Promise<ReadAllResult>): Promise<PreparedPage> {
    const page = await reading;
    const projection = this.options.projection;
    try {
      const writes =
        projection.prepare?.(page.events) ??
        ((client: pg.PoolClient) => projection.apply(client, page.events));
      return { page, writes };
    } catch (error) {
      throw batchFailed(page.events, error);
    }
  }

  private async applyCommitted(
    events: readonly RecordedEvent[],
    lastPosition: LogPosition,
    writes: PreparedPage["writes"],
  ): Promise<void> {
    try {
      // Asynchronous commit: a crash loses a scratch schema that is rebuilt from scratch anyway;
      // only the switch-over must be durable.
      await this.client.query("BEGIN; SET LOCAL synchronous_commit TO off");
      await writes(this.client);
      await advanceCheckpoint(this.client, this.name, lastPosition, events.length);
      await this.client.query("COMMIT");
    } catch (error) {
      await this.client.query("ROLLBACK").catch(() => undefined);
      throw batchFailed(events, error);
    }
    this.moved(events.length, lastPosition, "replay");
  }

  private async switchOverWithRetries(): Promise<void> {
    await ensureCheckpoint(this.client, this.name, this.schemas.liveSchema);
    for (let attempt = 1; ; attempt++) {
      const committed = { position: this.position, eventsProjected: this.eventsProjected };
      try {
        await this.switchOver();
        return;
      } catch (error) {
        await this.client.query("ROLLBACK").catch(() => undefined);
        // What the rolled-back transaction replayed (and any partition it made) is gone.
        this.options.projection.reset?.();
        this.position = committed.position;
        this.eventsProjected = committed.eventsProjected;
        if (!isLockTimeout(error) || attempt >= switchOverAttemptsMax) throw error;
        await this.replay();
      }
    }
  }

  private async switchOver(): Promise<void> {
    await this.client.query("BEGIN");
    await this.client.query(`SET LOCAL lock_timeout = ${switchOverLockWaitMsMax}`);
    const liveAt = await this.lockLiveCheckpoint();
    await this.replayTo(liveAt);
    // The deferred re-checks run now, while unqualified names still find the scratch tables.
    await this.client.query("SET CONSTRAINTS ALL IMMEDIATE");
    await this.client.query(
      `UPDATE ${checkpointTable(this.schemas.liveSchema)}
          SET commit_position = $2::text::xid8, prepare_position = $3, events_projected = $4,
              updated_at = now()
        WHERE name = $1`,
      [
        this.name,
        (this.position ?? logStart).commit.toString(),
        (this.position ?? logStart).prepare.toString(),
        this.eventsProjected,
      ],
    );
    const layout = await this.scratchLayout();
    await this.assertSameShape(layout.tables);
    await this.replaceLiveObjects(layout);
    await this.client.query("COMMIT");
  }

  /** Locks the live checkpoint row (no live batch runs until the commit) and reads it. */
  private async lockLiveCheckpoint(): Promise<LogPosition> {
    const result = await this.client.query<{ commit_position: string; prepare_position: string }>(
      `SELECT commit_position::text, prepare_position
         FROM ${checkpointTable(this.schemas.liveSchema)} WHERE name = $1 FOR UPDATE`,
      [this.name],
    );
    const row = result.rows[0];
    if (row === undefined) throw new Error(`the live checkpoint of "${this.name}" is missing`);
    return { commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position) };
  }

  /**
   * The new tables must hold at least what the live ones hold: a reader told "passed position
   * P" by the live runner must still find P's effects after the switch.
   */
  private async replayTo(liveAt: LogPosition): Promise<void> {
    while (comparePositions(this.position ?? logStart, liveAt) < 0) {
      const page = await this.read(this.position);
      if (page.lastPosition === undefined) {
        throw new Error(
          `the log shows nothing after ${formatPosition(this.position ?? logStart)}, ` +
            `yet the live checkpoint is at ${formatPosition(liveAt)}`,
        );
      }
      try {
        await this.options.projection.apply(this.client, page.events);
      } catch (error) {
        throw batchFailed(page.events, error);
      }
      this.moved(page.events.length, page.lastPosition, "switch-over");
    }
  }

  private async scratchLayout(): Promise<Layout> {
    const relations = await this.client.query<{ relname: string; relispartition: boolean }>(
      `SELECT relname, relispartition FROM pg_class
        WHERE relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)
          AND relkind IN ('r', 'p') AND relname <> 'projection_checkpoints'
        ORDER BY relname`,
      [this.schemas.scratchSchema],
    );
    const functions = await this.client.query<{ name: string; args: string }>(
      `SELECT proname AS name, pg_get_function_identity_arguments(oid) AS args FROM pg_proc
        WHERE pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) ORDER BY proname`,
      [this.schemas.scratchSchema],
    );
    return {
      relations: relations.rows.map((row) => row.relname),
      tables: relations.rows.filter((row) => !row.relispartition).map((row) => row.relname),
      functions: functions.rows,
    };
  }

  /**
   * The live tables must have the shape the read-model migrations give the scratch ones; if a
   * migration changed a read model without joining its `ReadModelSet.migrations`, switching would
   * silently undo it, so the rebuild refuses instead.
   */
  private async assertSameShape(tables: readonly string[]): Promise<void> {
    const scratch = await tableShapes(this.client, this.schemas.scratchSchema, tables);
    const live = await tableShapes(this.client, this.schemas.liveSchema, tables);
    for (const [table, shape] of scratch) {
      const liveShape = live.get(table);
      if (liveShape === undefined || liveShape === shape) continue;
      throw new RebuildRefused(
        `live table ${this.schemas.liveSchema}.${table} differs from the rebuilt one ` +
          "(is a read-model migration missing from ledgerReadModels.migrations in " +
          `src/projections/read-models.ts?)\n  live:    ${liveShape}\n  rebuilt: ${shape}`,
      );
    }
  }

  /**
   * Drops the live tables and functions (RESTRICT: an object outside the read models that
   * depends on them stops the switch) and moves the scratch ones in. Whatever is left in the
   * scratch schema afterwards makes its RESTRICT drop fail, so nothing is lost silently.
   */
  private async replaceLiveObjects(layout: Layout): Promise<void> {
    const privileges = await this.livePrivileges(layout);
    const liveTables = await this.client.query<{ relname: string }>(
      `SELECT relname FROM pg_class
        WHERE relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)
          AND relkind IN ('r', 'p') AND relname = ANY ($2::text[])`,
      [this.schemas.liveSchema, layout.tables],
    );
    const doomed = liveTables.rows.map((row) => `${this.live}.${pg.escapeIdentifier(row.relname)}`);
    if (doomed.length > 0) {
      await this.client.query(`LOCK TABLE ${doomed.join(", ")} IN ACCESS EXCLUSIVE MODE`);
      await this.client.query(`DROP TABLE ${doomed.join(", ")}`);
    }
    for (const fn of layout.functions) {
      await this.client.query(
        `DROP FUNCTION IF EXISTS ${this.live}.${pg.escapeIdentifier(fn.name)}(${fn.args})`,
      );
    }
    for (const relation of layout.relations) {
      await this.client.query(
        `ALTER TABLE ${this.scratch}.${pg.escapeIdentifier(relation)} SET SCHEMA ${this.live}`,
      );
    }
    for (const fn of layout.functions) {
      await this.client.query(
        `ALTER FUNCTION ${this.scratch}.${pg.escapeIdentifier(fn.name)}(${fn.args}) SET SCHEMA ${this.live}`,
      );
    }
    for (const statement of privileges) await this.client.query(statement);
    await this.client.query(`DROP TABLE ${checkpointTable(this.schemas.scratchSchema)}`);
    await this.client.query(`DROP SCHEMA ${this.scratch}`);
  }

  /**
   * What later migrations granted on the live objects (e.g. 007's least-privilege role) or
   * set on their functions (SECURITY DEFINER), as statements that give the same to the
   * rebuilt objects once they stand in the live schema: the server keeps its rights.
   */
  private async livePrivileges(layout: Layout): Promise<string[]> {
    const grants = await this.client.query<{ statement: string }>(
      `SELECT format('GRANT %s ON %s.%I TO %s%s', a.privilege_type, $3::text, c.relname,
                     CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END,
                     CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END) AS statement
         FROM pg_class c
         CROSS JOIN LATERAL aclexplode(c.relacl) AS a
         LEFT JOIN pg_roles r ON r.oid = a.grantee
        WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)
          AND c.relkind IN ('r', 'p', 'S') AND a.grantee <> c.relowner
          AND c.relname IN (SELECT relname FROM pg_class
                             WHERE relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $2))
        ORDER BY 1`,
      [this.schemas.liveSchema, this.schemas.scratchSchema, this.live],
    );
    const definers = await this.client.query<{ statement: string }>(
      `SELECT format('ALTER FUNCTION %s.%I(%s) SECURITY DEFINER', $2::text, proname,
                     pg_get_function_identity_arguments(oid)) AS statement
         FROM pg_proc
        WHERE pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND prosecdef
          AND proname = ANY ($3::text[])`,
      [this.schemas.liveSchema, this.live, layout.functions.map((fn) => fn.name)],
    );
    return [...grants.rows, ...definers.rows].map((row) => row.statement);
  }

  private moved(eventCount: number, position: LogPosition, phase: RebuildProgress["phase"]): void {
    this.position = position;
    this.eventsProjected += eventCount;
    this.report(phase);
  }

  private report(phase: RebuildProgress["phase"]): void {
    this.options.onProgress?.({
      phase,
      eventsProjected: this.eventsProjected,
      position: this.position,
    });
  }
}

/** One rebuild of a projection at a time; a second one is refused, not queued. */
async function lockRebuild(client: pg.PoolClient, name: string): Promise<true> {
  const result = await client.query<{ locked: boolean }>(
    "SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked",
    [rebuildLockClass, name],
  );
  if (result.rows[0]?.locked !== true) {
    throw new RebuildRefused(`another rebuild of projection "${name}" is running`);
  }
  return true;
}

async function unlockRebuild(client: pg.PoolClient, name: string): Promise<void> {
  await client.query("ROLLBACK").catch(() => undefined);
  await client.query("SELECT pg_advisory_unlock($1, hashtext($2))", [rebuildLockClass, name]);
}

/** The schema of the live read models: where the search_path finds the checkpoint table. */
async function liveSchemaOf(client: pg.PoolClient): Promise<string> {
  const result = await client.query<{ nspname: string }>(
    `SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = to_regclass('projection_checkpoints')`,
  );
  const schema = result.rows[0]?.nspname;
  if (schema === undefined) {
    throw new RebuildRefused("the database has no read models yet: run `nova migrate` first");
  }
  return schema;
}

/** Scratch schemas of rebuilds that died before their switch-over (we hold the lock). */
async function dropLeftoverSchemas(client: pg.PoolClient, name: string): Promise<void> {
  const leftovers = await client.query<{ nspname: string }>(
    "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)",
    [`${scratchSchemaPrefix}${name}_`],
  );
  for (const row of leftovers.rows) {
    await client.query(`DROP SCHEMA ${pg.escapeIdentifier(row.nspname)} CASCADE`);
  }
}

async function createScratchSchema(
  client: pg.PoolClient,
  schema: string,
  migrations: readonly string[],
): Promise<void> {
  try {
    await client.query("BEGIN");
    await client.query(`CREATE SCHEMA ${pg.escapeIdentifier(schema)}`);
    await createReadModels(client, schema, migrations);
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}

/** Per table: its columns, index, constraint and trigger names, as one comparable line. */
async function tableShapes(
  client: pg.PoolClient,
  schema: string,
  tables: readonly string[],
): Promise<Map<string, string>> {
  const result = await client.query<{ relname: string; shape: string }>(
    `SELECT c.relname, concat_ws(' | ',
       (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                 || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                 || CASE WHEN a.attgenerated <> '' THEN ' generated' ELSE '' END, ', ' ORDER BY a.attnum)
          FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
       'indexes: ' || (SELECT string_agg(ic.relname, ', ' ORDER BY ic.relname)
          FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid),
       'constraints: ' || (SELECT string_agg(co.conname, ', ' ORDER BY co.conname)
          FROM pg_constraint co WHERE co.conrelid = c.oid),
       'triggers: ' || (SELECT string_agg(t.tgname, ', ' ORDER BY t.tgname)
          FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal)) AS shape
       FROM pg_class c
      WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)
        AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname = ANY ($2::text[])`,
    [schema, tables],
  );
  return new Map(result.rows.map((row) => [row.relname, row.shape]));
}

function batchFailed(events: readonly RecordedEvent[], error: unknown): Error {
  const first = events[0];
  const last = events.at(-1);
  const range =
    first === undefined || last === undefined
      ? "an empty batch"
      : `the batch ${formatPosition(first.position)}..${formatPosition(last.position)}`;
  const message = error instanceof Error ? error.message : String(error);
  return new Error(`rebuild stopped in ${range}: ${message}`, { cause: error });
}

function isForeignKeyViolation(error: unknown): boolean {
  return typeof error === "object" && error !== null && "code" in error && error.code === "23503";
}

function isLockTimeout(error: unknown): boolean {
  const code = typeof error === "object" && error !== null && "code" in error ? error.code : "";
  return typeof code === "string" && lockTimeoutCodes.has(code);
}
