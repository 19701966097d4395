/**
 * The batching single writer (DESIGN.md "Throughput design"). Commands wait in one queue; the
 * batcher takes what is waiting, decides each in order against the in-memory state (each
 * decision sees the earlier ones) and appends the accepted ones in one atomic multi-stream
 * append: one commit for many postings, so a hot account is not a lock convoy.
 *
 * Several batches may be in flight at once, so that this process decides one batch while the
 * database writes another. Waiting commands are taken in batches of at least `splitSizeMin`:
 * first those clear of every stream in flight (their batches commit side by side); when none
 * is, a batch of commands on streams in flight is *chained*: decided at once on the states the
 * batches before it will leave, and appended only after those committed exactly as decided
 * (else it is decided again on what the store holds). Its events are sealed (ids, hash chains)
 * meanwhile too, when the store can (`prepareAppend`), and it is sent before the batch it is
 * chained on answers its commands: from one commit to the next there is only the write. A hot
 * account so stays busy in the database while its next batch is decided and sealed. A command
 * that cannot be taken waits, and so does every later command on its streams: each stream's
 * commands apply in submitted order.
 */
import { isRejection, type Rejection } from "../domain/errors.js";
import { InvalidAppend, WrongExpectedRevision } from "../eventstore/errors.js";
import {
  type AppendContext,
  type EventStore,
  formatPosition,
  type JsonObject,
  type LogPosition,
  type PreparedAppend,
  type StreamAppend,
} from "../eventstore/port.js";
import { AggregateCache, type LoadedStream } from "./aggregate-cache.js";
import { type DomainEvent, evolveStream } from "./streams.js";

/** The streams a decision may read, with their states as of the decisions before it. */
export interface StreamView {
  state(stream: string): unknown;
  /** Position of the stream's first event (for replays), if it has one. */
  firstPosition(stream: string): LogPosition | undefined;
}

export type Decision<Result> =
  | Rejection
  /** Nothing to write: the answer is already known (e.g. an idempotent replay). */
  | { readonly kind: "answer"; readonly result: Result; readonly position: LogPosition | undefined }
  | {
      readonly kind: "write";
      readonly events: ReadonlyArray<{
        readonly stream: string;
        readonly events: readonly DomainEvent[];
      }>;
      /** Builds the result from the states right after this command's events. */
      readonly respond: (view: StreamView) => Result;
      /**
       * The states right after this command's events, of streams the decider has folded them
       * for already (it had to, to check its rules): the pipeline folds only the others. Each
       * must be what folding the stream's events gives (a property test replays the streams).
       */
      readonly statesAfter?: ReadonlyMap<string, unknown>;
    };

export interface PlannedCommand<Result> {
  /** What kind of command this is, for metrics (e.g. "recordPosting"). */
  readonly name?: string;
  /** Every stream the decision reads or writes. */
  readonly streams: readonly string[];
  /**
   * Streams the command expects not to exist yet (a new posting's own stream): they are not
   * read first; if one exists after all, the append's `no_stream` check says so and the
   * batch is decided again on the real state.
   */
  readonly presumedNew?: readonly string[];
  /**
   * Streams this command writes that nothing is expected to read soon (an unkeyed posting's
   * own stream: no retry can name it): not kept in the cache after the write. Every posting
   * creates one; keeping them all would fill the cache and the heap with states never used.
   */
  readonly uncached?: readonly string[];
  readonly context: AppendContext;
  decide(view: StreamView, now: Date): Decision<Result>;
}

export type CommandOutcome<Result> =
  | {
      readonly ok: true;
      readonly result: Result;
      readonly position: string;
      readonly replayed: boolean;
    }
  | { readonly ok: false; readonly rejection: Rejection };

export class PipelineOverloaded extends Error {
  override readonly name = "PipelineOverloaded";
}

export class PipelineStopped extends Error {
  override readonly name = "PipelineStopped";
}

export interface PipelineOptions {
  /** Most commands decided and appended together. */
  readonly batchSizeMax?: number;
  /** Most batches appending at once (on disjoint streams). */
  readonly batchesInFlightMax?: number;
  /** How long a batch may wait to fill before it starts (0: start at once). */
  readonly batchWaitMs?: number;
  /** Most commands waiting; beyond it `submit` refuses with PipelineOverloaded. */
  readonly queueLengthMax?: number;
  /** Most times one batch is decided again after another writer moved its streams. */
  readonly conflictRetriesMax?: number;
  readonly cacheSizeMax?: number;
  readonly clock?: () => Date;
  readonly observer?: PipelineObserver;
}

/** Hooks for metrics: what each batch did. */
export interface PipelineObserver {
  batchAppended?(stats: { commands: number; events: number; durationMs: number }): void;
  conflict?(stream: string): void;
  /** Each command's end: accepted (written), replayed, rejected (with its code) or failed. */
  commandSettled?(stats: {
    command: string;
    outcome: "accepted" | "replayed" | "rejected" | "failed";
    code?: string;
  }): void;
}

export const batchSizeMaxDefault = 500;
export const batchesInFlightMaxDefault = 4;
export const queueLengthMaxDefault = 20_000;
export const conflictRetriesMaxDefault = 8;
/** A stream is read in pages of this many events when (re)loaded. */
const readPageSize = 1_000;
const conflictBackoffMsMax = 20;
/** Fewer waiting commands than this per batch are not split over several batches. */
const splitSizeMin = 32;

interface Pending {
  readonly command: PlannedCommand<unknown>;
  readonly resolve: (outcome: CommandOutcome<unknown>) => void;
  readonly reject: (error: unknown) => void;
}

/** A batch in flight, as the batches chained on it see it. */
interface Flight {
  /** Its working streams once its first decision is made (when `decided` settles). */
  working?: ReadonlyMap<string, WorkingStream>;
  readonly decided: Deferred<void>;
  /** True once the batch's first decision is committed as it was decided; false otherwise. */
  readonly committed: Deferred<boolean>;
  /**
   * Its first decision's append sealed ahead (when the store can), once made: a batch
   * chained on it is sealed on it meanwhile. Undefined when there is none.
   */
  readonly prepared: Deferred<PreparedAppend | undefined>;
  /** Whether a later batch is chained on this one (it waits for `committed`). */
  chainedOn?: boolean;
}

interface Batch {
  readonly pending: readonly Pending[];
  readonly flight: Flight;
  /** The batches in flight this one is chained on, by stream. */
  readonly bases: ReadonlyMap<string, Flight>;
}

export class CommandPipeline {
  readonly cache: AggregateCache;
  private queue: Pending[] = [];
  /** The last batch in flight on each stream. */
  private readonly inFlight = new Map<string, Flight>();
  private batchesInFlight = 0;
  private pumpScheduled = false;
  private stopped = false;
  private idle: Array<() => void> = [];
  private readonly batchSizeMax: number;
  private readonly batchesInFlightMax: number;
  private readonly batchWaitMs: number;
  private readonly queueLengthMax: number;
  private readonly conflictRetriesMax: number;
  private readonly clock: () => Date;

  constructor(
    private readonly store: EventStore,
    private readonly options: PipelineOptions = {},
  ) {
    this.cache = new AggregateCache(options.cacheSizeMax);
    this.batchSizeMax = options.batchSizeMax ?? batchSizeMaxDefault;
    this.batchesInFlightMax = options.batchesInFlightMax ?? batchesInFlightMaxDefault;
    this.batchWaitMs = options.batchWaitMs ?? 0;
    this.queueLengthMax = options.queueLengthMax ?? queueLengthMaxDefault;
    this.conflictRetriesMax = options.conflictRetriesMax ?? conflictRetriesMaxDefault;
    this.clock = options.clock ?? (() => new Date());
  }

  submit<Result>(command: PlannedCommand<Result>): Promise<CommandOutcome<Result>> {
    if (this.stopped) return Promise.reject(new PipelineStopped("the command pipeline is stopped"));
    if (this.queue.length >= this.queueLengthMax) {
      return Promise.reject(new PipelineOverloaded("too many commands waiting; try again shortly"));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({
        command: command as PlannedCommand<unknown>,
        resolve: resolve as (outcome: CommandOutcome<unknown>) => void,
        reject,
      });
      this.schedulePump();
    });
  }

  /**
   * A stream's current state: the cached state brought up to date with whatever the store has
   * past it (one short read). Another process, or a commit whose reply was lost, may have
   * moved the stream since this process last saw it; a strong read must show that.
   */
  async load(stream: string): Promise<LoadedStream> {
    return this.readNewer(this.cache.get(stream) ?? emptyStream(stream));
  }

  /** Refuses new commands and waits for every accepted one to be answered. */
  async drain(): Promise<void> {
    this.stopped = true;
    if (this.queue.length === 0 && this.batchesInFlight === 0) return;
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    const run = () => {
      this.pumpScheduled = false;
      this.pump();
    };
    // setImmediate lets every command submitted in this turn of the event loop join the batch.
    if (this.batchWaitMs > 0 && this.queue.length < this.batchSizeMax)
      setTimeout(run, this.batchWaitMs);
    else setImmediate(run);
  }

  private pump(): void {
    let slots = this.batchesInFlightMax - this.batchesInFlight;
    if (slots <= 0 || this.queue.length === 0) return;
    const size = Math.min(
      this.batchSizeMax,
      Math.max(splitSizeMin, Math.ceil(this.queue.length / slots)),
    );
    for (; slots > 0 && this.queue.length > 0; slots--) {
      const batch = this.takeBatch(size);
      if (batch === undefined) return;
      this.batchesInFlight++;
      void this.runBatch(batch).finally(() => {
        this.batchesInFlight--;
        if (this.queue.length > 0) this.schedulePump();
        else if (this.batchesInFlight === 0) this.notifyIdle();
      });
    }
  }

  /**
   * Takes up to `size` waiting commands, in order, into one batch: those clear of every stream
   * in flight, so that batches on disjoint streams commit side by side. If none is and enough
   * wait (a hot account: every command touches it), the batch is chained on the batches in
   * flight instead. A command left waiting holds back every later command on its streams.
   */
  private takeBatch(size: number): Batch | undefined {
    const clear = this.take(size, false);
    const taken =
      clear.pending.length > 0 || this.queue.length < splitSizeMin ? clear : this.take(size, true);
    if (taken.pending.length === 0) return undefined;
    const flight = newFlight();
    for (const pending of taken.pending) {
      for (const stream of pending.command.streams) this.inFlight.set(stream, flight);
    }
    return { pending: taken.pending, flight, bases: taken.bases };
  }

  private take(size: number, chained: boolean): { pending: Pending[]; bases: Map<string, Flight> } {
    const pending: Pending[] = [];
    const bases = new Map<string, Flight>();
    const blocked = new Set<string>();
    const remaining: Pending[] = [];
    let index = 0;
    for (; index < this.queue.length && pending.length < size; index++) {
      const waiting = this.queue[index] as Pending;
      const { streams } = waiting.command;
      if (!this.takeable(streams, blocked, chained)) {
        for (const stream of streams) blocked.add(stream);
        remaining.push(waiting);
        continue;
      }
      pending.push(waiting);
      for (const stream of streams) {
        const base = this.inFlight.get(stream);
        if (base !== undefined) {
          bases.set(stream, base);
          base.chainedOn = true;
        }
      }
    }
    if (pending.length > 0) {
      for (; index < this.queue.length; index++) remaining.push(this.queue[index] as Pending);
      this.queue = remaining;
    }
    return { pending, bases };
  }

  private takeable(streams: readonly string[], blocked: ReadonlySet<string>, chained: boolean) {
    for (const stream of streams) {
      if (blocked.has(stream) || (!chained && this.inFlight.has(stream))) return false;
    }
    return true;
  }

  private async runBatch(batch: Batch): Promise<void> {
    const { flight } = batch;
    try {
      await this.decideAndAppend(batch, 0);
    } catch (error) {
      for (const pending of batch.pending) pending.reject(error);
    } finally {
      // No-ops when already settled: a batch that failed before deciding, or was decided again.
      flight.decided.resolve();
      flight.prepared.resolve(undefined);
      flight.committed.resolve(false);
      for (const pending of batch.pending) {
        for (const stream of pending.command.streams) {
          if (this.inFlight.get(stream) === flight) this.inFlight.delete(stream);
        }
      }
    }
  }

  private async decideAndAppend(batch: Batch, attempt: number): Promise<void> {
    const { pending: commands, flight } = batch;
    // A retry reads what other writers appended since, presumed-new streams included; the
    // first attempt of a chained batch starts from the states its bases will leave.
    const working = await this.loadAll(batch, attempt > 0);
    const now = this.clock();
    const decided = decideBatch(commands, working, now);
    const context = commands[0]?.command.context ?? systemContext(now);
    let prepared: PreparedAppend | undefined;
    if (attempt === 0) {
      flight.working = working;
      flight.decided.resolve();
      // Sealing the events is most of an append's work here: done while the batches this one
      // is chained on are in flight, it is off the path from their commit to this one's.
      prepared = await this.prepare(batch, decided.appends, context);
      flight.prepared.resolve(prepared);
      // Nothing is written or answered on a state until the batches before it are committed.
      if (!(await basesCommitted(batch))) {
        await this.decideAndAppend(batch, attempt + 1);
        return;
      }
    }
    // A rejection appends nothing, so no expected-revision check would ever reveal that it was
    // decided on a stale cache (another process paid into the account, or already wrote the
    // posting a keyed retry asks for). Before refusing anyone, check their streams once.
    if (attempt === 0 && (await this.movedSinceLoaded(working, decided.rejectedStreams))) {
      await this.decideAndAppend(batch, attempt + 1);
      return;
    }
    const answers = await this.atCommitPositions(decided.answers);
    if (decided.appends.length === 0) {
      if (attempt === 0) flight.committed.resolve(true);
      settle(answers, undefined, this.options.observer);
      return;
    }
    const startedMs = performance.now();
    try {
      const result =
        prepared !== undefined && this.store.appendPrepared !== undefined
          ? await this.store.appendPrepared(prepared)
          : await this.store.appendMulti(decided.appends, context);
      this.options.observer?.batchAppended?.({
        commands: decided.answers.length,
        events: decided.eventCount,
        durationMs: performance.now() - startedMs,
      });
      // Remembered before a chained batch can move on: its own commit is remembered after.
      this.remember(working, decided.written, result.position, uncachedOf(commands));
      if (attempt === 0) flight.committed.resolve(true);
      // The batches chained on this one send their appends before its commands are answered:
      // the answers start new commands, whose work would otherwise come first.
      if (flight.chainedOn === true) await new Promise((resolve) => setImmediate(resolve));
      settle(answers, result.position, this.options.observer);
    } catch (error) {
      await this.recover(batch, attempt, error);
    }
  }

  /**
   * The batch's append sealed ahead, on the appends of the batches it is chained on (once
   * they are sealed), if the store can: they are written before it, each once the one before
   * committed. Nothing is awaited for a batch chained on none.
   */
  private async prepare(
    batch: Batch,
    appends: readonly StreamAppend[],
    context: AppendContext,
  ): Promise<PreparedAppend | undefined> {
    if (appends.length === 0 || this.store.prepareAppend === undefined) return undefined;
    const after: PreparedAppend[] = [];
    if (batch.bases.size > 0) {
      for (const prepared of await Promise.all(
        [...new Set(batch.bases.values())].map((base) => base.prepared.promise),
      )) {
        // A base with nothing sealed ahead: this batch is sealed when it is written.
        if (prepared === undefined) return undefined;
        after.push(prepared);
      }
    }
    return this.store.prepareAppend(appends, context, after);
  }

  private async recover(batch: Batch, attempt: number, error: unknown): Promise<void> {
    // The cache still holds every stream as it was before this batch. If the commit happened
    // after all (a lost connection), the next append there fails its expected revision, and
    // the retry reads the newer events.
    if (error instanceof WrongExpectedRevision && attempt < this.conflictRetriesMax) {
      this.options.observer?.conflict?.(error.stream);
      await sleep(Math.random() * Math.min(conflictBackoffMsMax, 2 ** attempt));
      await this.decideAndAppend(batch, attempt + 1);
      return;
    }
    if (error instanceof InvalidAppend && batch.pending.length > 1) {
      // One command's data the store cannot take must not fail its neighbours. Each is decided
      // again alone, on what is committed (its bases are settled by now).
      for (const pending of batch.pending) {
        const single: Batch = { pending: [pending], flight: newFlight(), bases: new Map() };
        await this.decideAndAppend(single, attempt + 1).catch((failure: unknown) =>
          pending.reject(failure),
        );
      }
      return;
    }
    throw error;
  }

  /**
   * A replay answers with the position of the original's commit. A stream read from the store
   * knows its first event's position, which may lie inside that commit, not at its end.
   */
  private async atCommitPositions(answers: readonly Answer[]): Promise<Answer[]> {
    return Promise.all(
      answers.map(async (answer) => {
        const { outcome } = answer;
        if (outcome.kind !== "answered" || outcome.position === undefined) return answer;
        const position = await this.store.commitPositionOf(outcome.position);
        return { ...answer, outcome: { ...outcome, position } };
      }),
    );
  }

  /** Whether the store holds events past what `working` loaded, on any of `streams`. */
  private async movedSinceLoaded(
    working: ReadonlyMap<string, WorkingStream>,
    streams: ReadonlySet<string>,
  ): Promise<boolean> {
    const moved = await Promise.all(
      [...streams].map(async (stream) => {
        const loaded = working.get(stream)?.loaded ?? emptyStream(stream);
        return (await this.readNewer(loaded)).revision !== loaded.revision;
      }),
    );
    return moved.includes(true);
  }

  /**
   * The streams of a batch, from its bases (a chained batch's first attempt), the cache or the
   * store, each read at most once.
   */
  private async loadAll(batch: Batch, refresh: boolean): Promise<Map<string, WorkingStream>> {
    const working = new Map<string, WorkingStream>();
    const reads: Array<Promise<void>> = [];
    for (const { command } of batch.pending) {
      for (const stream of command.streams) {
        if (working.has(stream)) continue;
        const base = refresh ? undefined : batch.bases.get(stream);
        const { entry, read } = this.startLoad(stream, command, base, refresh);
        working.set(stream, entry);
        if (read !== undefined) reads.push(read);
      }
    }
    await Promise.all(reads);
    return working;
  }

  /** A working stream, and the read that brings it up to date if one is needed. */
  private startLoad(
    stream: string,
    command: PlannedCommand<unknown>,
    base: Flight | undefined,
    refresh: boolean,
  ): { entry: WorkingStream; read?: Promise<void> } {
    if (base !== undefined) {
      const entry: WorkingStream = { loaded: emptyStream(stream), events: [], chained: true };
      return {
        entry,
        read: this.loadAfter(base, stream).then((loaded) => {
          entry.loaded = loaded;
        }),
      };
    }
    const cached = this.cache.get(stream);
    const entry: WorkingStream = {
      loaded: cached ?? emptyStream(stream),
      events: [],
      chained: false,
    };
    if (!refresh && (cached !== undefined || command.presumedNew?.includes(stream)))
      return { entry };
    return {
      entry,
      read: this.readNewer(entry.loaded).then((loaded) => {
        entry.loaded = loaded;
      }),
    };
  }

  /**
   * A stream as the batch in flight on it will leave it. A stream it found empty is read once
   * that batch is done: its first position is known only once written (a replay answers with it).
   */
  private async loadAfter(base: Flight, stream: string): Promise<LoadedStream> {
    await base.decided.promise;
    const entry = base.working?.get(stream);
    if (entry !== undefined && entry.loaded.revision >= 0) {
      const { loaded, events } = entry;
      return {
        stream,
        revision: loaded.revision + events.length,
        state: events.length > 0 ? entry.state : loaded.state,
        firstPosition: loaded.firstPosition,
      };
    }
    await base.committed.promise;
    return this.readNewer(this.cache.get(stream) ?? emptyStream(stream));
  }

  /** Folds the events after `from.revision` into `from`'s state. */
  private async readNewer(from: LoadedStream): Promise<LoadedStream> {
    let current = from;
    for (;;) {
      const events = await this.store.readStream(current.stream, {
        fromRevision: current.revision + 1,
        limit: readPageSize,
      });
      let state = current.state;
      for (const event of events) state = evolveStream(current.stream, state, event);
      const last = events.at(-1);
      if (last !== undefined) {
        current = {
          stream: current.stream,
          revision: last.revision,
          state,
          firstPosition: current.firstPosition ?? events[0]?.position,
          lastPosition: last.position,
        };
      }
      if (events.length < readPageSize) break;
    }
    // A missing stream is not remembered: another process may create it at any moment, and a
    // remembered absence would turn into a wrong ACCOUNT_NOT_FOUND.
    // A read that answers late must not put back an older state than a batch stored meanwhile.
    const cached = this.cache.get(current.stream);
    if (current.revision >= 0 && (cached === undefined || cached.revision < current.revision)) {
      this.cache.set(current);
    }
    return cached !== undefined && cached.revision > current.revision ? cached : current;
  }

  private remember(
    working: ReadonlyMap<string, WorkingStream>,
    written: ReadonlySet<string>,
    position: LogPosition,
    uncached: ReadonlySet<string>,
  ): void {
    for (const [stream, entry] of working) {
      if (uncached.has(stream)) continue;
      if (!written.has(stream)) {
        // A state taken from a base was cached when that base committed.
        if (entry.loaded.revision >= 0 && !entry.chained) this.cache.set(entry.loaded);
        continue;
      }
      this.cache.set({
        stream,
        revision: entry.loaded.revision + entry.events.length,
        state: entry.state,
        firstPosition: entry.loaded.firstPosition ?? position,
        lastPosition: position,
      });
    }
  }

  private notifyIdle(): void {
    const waiting = this.idle;
    this.idle = [];
    for (const resolve of waiting) resolve();
  }
}

interface WorkingStream {
  loaded: LoadedStream;
  /** Loaded from a batch in flight (what it will leave), not from the cache or the store. */
  readonly chained: boolean;
  /** Events this batch appends to the stream, in order, each with its command's context. */
  events: Array<{ type: string; data: JsonObject; context: AppendContext }>;
  /** The state after those events (the loaded state when there are none). */
  state?: unknown;
}

interface Answer {
  readonly pending: Pending;
  readonly outcome:
    | { readonly kind: "rejected"; readonly rejection: Rejection }
    | {
        readonly kind: "answered";
        readonly result: unknown;
        readonly position: LogPosition | undefined;
      }
    | { readonly kind: "written"; readonly result: unknown }
    | { readonly kind: "failed"; readonly error: unknown };
}

function decideBatch(batch: readonly Pending[], working: Map<string, WorkingStream>, now: Date) {
  const view: StreamView = {
    state: (stream) => {
      const entry = working.get(stream);
      if (entry === undefined) throw new Error(`stream ${stream} was not declared by its command`);
      return entry.events.length > 0 ? entry.state : entry.loaded.state;
    },
    firstPosition: (stream) => working.get(stream)?.loaded.firstPosition,
  };
  const answers: Answer[] = [];
  const written = new Set<string>();
  const rejectedStreams = new Set<string>();
  let eventCount = 0;
  for (const pending of batch) {
    const decision = decideSafely(pending.command, view, now);
    if (decision.kind === "thrown") {
      answers.push({ pending, outcome: { kind: "failed", error: decision.error } });
      continue;
    }
    if (isRejection(decision)) {
      answers.push({ pending, outcome: { kind: "rejected", rejection: decision } });
      for (const stream of pending.command.streams) rejectedStreams.add(stream);
      continue;
    }
    if (decision.kind === "answer") {
      answers.push({
        pending,
        outcome: { kind: "answered", result: decision.result, position: decision.position },
      });
      continue;
    }
    try {
      const applied = applyDecision(decision, view, working, pending.command.context, written);
      eventCount += applied.eventCount;
      answers.push({ pending, outcome: { kind: "written", result: applied.result } });
    } catch (error) {
      answers.push({ pending, outcome: { kind: "failed", error } });
    }
  }
  const appends: StreamAppend[] = [];
  for (const stream of written) {
    const entry = working.get(stream);
    if (entry === undefined) continue;
    appends.push({
      stream,
      expected: entry.loaded.revision < 0 ? "no_stream" : entry.loaded.revision,
      events: entry.events,
    });
  }
  return { answers, appends, written, eventCount, rejectedStreams };
}

/**
 * Folds one command's events into the batch's working streams and builds its response. Every
 * new state and the response are computed before anything is kept, so a command whose events
 * do not fold or whose response cannot be built (a bug) leaves the batch as it was.
 */
function applyDecision(
  decision: Extract<Decision<unknown>, { kind: "write" }>,
  view: StreamView,
  working: ReadonlyMap<string, WorkingStream>,
  context: AppendContext,
  written: Set<string>,
): { eventCount: number; result: unknown } {
  const folded = new Map<string, { entry: WorkingStream; events: DomainEvent[]; state: unknown }>();
  for (const { stream, events } of decision.events) {
    const entry = working.get(stream);
    if (entry === undefined) throw new Error(`stream ${stream} was not declared by its command`);
    const previous = folded.get(stream);
    let state = previous ? previous.state : view.state(stream);
    const known = decision.statesAfter?.get(stream);
    if (known !== undefined) state = known;
    else for (const event of events) state = evolveStream(stream, state, event);
    folded.set(stream, { entry, events: [...(previous?.events ?? []), ...events], state });
  }
  const after: StreamView = {
    state: (stream) => {
      const staged = folded.get(stream);
      return staged === undefined ? view.state(stream) : staged.state;
    },
    firstPosition: (stream) => view.firstPosition(stream),
  };
  const result = decision.respond(after);
  let eventCount = 0;
  for (const [stream, { entry, events, state }] of folded) {
    for (const event of events) {
      entry.events.push({ type: event.type, data: event.data as JsonObject, context });
    }
    entry.state = state;
    written.add(stream);
    eventCount += events.length;
  }
  return { eventCount, result };
}

/** A decider that throws has a bug; that command fails alone, its neighbours go on. */
function decideSafely(command: PlannedCommand<unknown>, view: StreamView, now: Date) {
  try {
    return command.decide(view, now);
  } catch (error) {
    return { kind: "thrown" as const, error };
  }
}

function settle(
  answers: readonly Answer[],
  position: LogPosition | undefined,
  observer: PipelineObserver | undefined,
): void {
  for (const { pending, outcome } of answers) {
    observer?.commandSettled?.(settledStats(pending.command, outcome));
    if (outcome.kind === "failed") {
      pending.reject(outcome.error);
    } else if (outcome.kind === "rejected") {
      pending.resolve({ ok: false, rejection: outcome.rejection });
    } else if (outcome.kind === "answered") {
      const at = outcome.position ?? position;
      pending.resolve({
        ok: true,
        result: outcome.result,
        position: at ? formatPosition(at) : "",
        replayed: true,
      });
    } else if (position !== undefined) {
      pending.resolve({
        ok: true,
        result: outcome.result,
        position: formatPosition(position),
        replayed: false,
      });
    }
  }
}

function settledStats(command: PlannedCommand<unknown>, outcome: Answer["outcome"]) {
  const name = command.name ?? "command";
  switch (outcome.kind) {
    case "failed":
      return { command: name, outcome: "failed" as const };
    case "rejected":
      return { command: name, outcome: "rejected" as const, code: outcome.rejection.code };
    case "answered":
      return { command: name, outcome: "replayed" as const };
    default:
      return { command: name, outcome: "accepted" as const };
  }
}

/** Whether every batch this one is chained on committed what it decided first. */
async function basesCommitted(batch: Batch): Promise<boolean> {
  if (batch.bases.size === 0) return true;
  const committed = await Promise.all(
    [...new Set(batch.bases.values())].map((base) => base.committed.promise),
  );
  return !committed.includes(false);
}

interface Deferred<T> {
  readonly promise: Promise<T>;
  /** Settles the promise; later calls do nothing. */
  readonly resolve: (value: T) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve: (value: T) => void = () => {};
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

/** A batch's flight, before its first decision. */
function newFlight(): Flight {
  return { decided: deferred(), committed: deferred(), prepared: deferred() };
}

function emptyStream(stream: string): LoadedStream {
  return { stream, revision: -1, state: undefined, firstPosition: undefined };
}

function systemContext(now: Date): AppendContext {
  return { correlationId: "system", principal: "system", occurredAt: now };
}

function uncachedOf(batch: readonly Pending[]): Set<string> {
  const streams = new Set<string>();
  for (const { command } of batch) for (const stream of command.uncached ?? []) streams.add(stream);
  return streams;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
