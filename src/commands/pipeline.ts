/**
 * The batching single writer (DESIGN.md "Throughput design"). Commands wait in one queue; the
 * batcher takes what is waiting, decides each in order against the in-memory state (each
 * decision sees the earlier ones) and appends the accepted ones in one atomic multi-stream
 * append: one commit for many postings, so a hot account is not a lock convoy.
 *
 * Several batches may be in flight at once when they touch disjoint streams: waiting commands
 * are split over batches (never below `splitSizeMin` each), so one batch is decided while
 * another is written. A command whose streams are in flight waits for the next batch, and so
 * does every later command on those streams, so each stream's commands are applied in the
 * order they were submitted.
 */
import { isRejection, type Rejection } from "../domain/errors.js";
import { InvalidAppend, WrongExpectedRevision } from "../eventstore/errors.js";
import {
  type AppendContext,
  type EventStore,
  formatPosition,
  type JsonObject,
  type LogPosition,
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

export class CommandPipeline {
  readonly cache: AggregateCache;
  private readonly queue: Pending[] = [];
  private readonly streamsInFlight = new Set<string>();
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
    const slots = this.batchesInFlightMax - this.batchesInFlight;
    if (slots <= 0 || this.queue.length === 0) return;
    for (const batch of this.takeBatches(slots)) {
      this.batchesInFlight++;
      void this.runBatch(batch).finally(() => {
        this.batchesInFlight--;
        if (this.queue.length > 0) this.schedulePump();
        else if (this.batchesInFlight === 0) this.notifyIdle();
      });
    }
  }

  /**
   * Takes waiting commands in order into up to `slots` batches on disjoint streams, so that
   * one batch is decided and sealed while another is being written: the work of this process
   * and of the database overlap. A command joins the batch that already has one of its
   * streams (a hot account's commands all land in one batch), else the smallest. A command
   * whose streams are in flight, or spread over two batches, waits for a later round, and so
   * does every later command on its streams: each stream's commands apply in submitted order.
   */
  private takeBatches(slots: number): Pending[][] {
    const wanted = Math.max(1, Math.min(slots, Math.floor(this.queue.length / splitSizeMin)));
    const batches: Pending[][] = Array.from({ length: wanted }, () => []);
    const owner = new Map<string, Pending[]>();
    const blocked = new Set<string>();
    const remaining: Pending[] = [];
    for (const pending of this.queue) {
      const streams = pending.command.streams;
      const placed = this.placement(streams, owner, blocked);
      const target = placed === undefined ? smallest(batches) : placed;
      if (target === "wait" || target.length >= this.batchSizeMax) {
        for (const stream of streams) blocked.add(stream);
        remaining.push(pending);
        continue;
      }
      target.push(pending);
      for (const stream of streams) owner.set(stream, target);
    }
    this.queue.splice(0, this.queue.length, ...remaining);
    const taken = batches.filter((batch) => batch.length > 0);
    for (const batch of taken) {
      for (const pending of batch) {
        for (const stream of pending.command.streams) this.streamsInFlight.add(stream);
      }
    }
    return taken;
  }

  /** The batch a command must join (one holding its streams), "wait", or undefined: any. */
  private placement(
    streams: readonly string[],
    owner: ReadonlyMap<string, Pending[]>,
    blocked: ReadonlySet<string>,
  ): Pending[] | "wait" | undefined {
    let target: Pending[] | undefined;
    for (const stream of streams) {
      if (this.streamsInFlight.has(stream) || blocked.has(stream)) return "wait";
      const batch = owner.get(stream);
      if (batch === undefined) continue;
      if (target !== undefined && target !== batch) return "wait";
      target = batch;
    }
    return target;
  }

  private async runBatch(batch: readonly Pending[]): Promise<void> {
    try {
      await this.decideAndAppend(batch, 0);
    } catch (error) {
      for (const pending of batch) pending.reject(error);
    } finally {
      for (const pending of batch) {
        for (const stream of pending.command.streams) this.streamsInFlight.delete(stream);
      }
    }
  }

  private async decideAndAppend(batch: readonly Pending[], attempt: number): Promise<void> {
    // A retry reads what other writers appended since, presumed-new streams included.
    const working = await this.loadAll(batch, attempt > 0);
    const now = this.clock();
    const decided = decideBatch(batch, working, now);
    // A rejection appends nothing, so no expected-revision check would ever reveal that it was
    // decided on a stale cache (another process paid into the account, or already wrote the
    // posting a keyed retry asks for). Before refusing anyone, check their streams once.
    if (attempt === 0 && (await this.movedSinceLoaded(working, decided.rejectedStreams))) {
      await this.decideAndAppend(batch, attempt + 1);
      return;
    }
    const answers = await this.atCommitPositions(decided.answers);
    if (decided.appends.length === 0) {
      settle(answers, undefined, this.options.observer);
      return;
    }
    const startedMs = performance.now();
    try {
      const result = await this.store.appendMulti(
        decided.appends,
        batch[0]?.command.context ?? systemContext(now),
      );
      this.options.observer?.batchAppended?.({
        commands: decided.answers.length,
        events: decided.eventCount,
        durationMs: performance.now() - startedMs,
      });
      this.remember(working, decided.written, result.position, uncachedOf(batch));
      settle(answers, result.position, this.options.observer);
    } catch (error) {
      await this.recover(batch, attempt, error);
    }
  }

  private async recover(batch: readonly Pending[], attempt: number, error: unknown): Promise<void> {
    // The cache still holds every stream as it was before this batch. If the commit happened
    // after all (a lost connection), the next append there fails its expected revision, and
    // the retry reads the newer events.
    if (error instanceof WrongExpectedRevision && attempt < this.conflictRetriesMax) {
      this.options.observer?.conflict?.(error.stream);
      await sleep(Math.random() * Math.min(conflictBackoffMsMax, 2 ** attempt));
      await this.decideAndAppend(batch, attempt + 1);
      return;
    }
    if (error instanceof InvalidAppend && batch.length > 1) {
      // One command's data the store cannot take must not fail its neighbours.
      for (const pending of batch) {
        await this.decideAndAppend([pending], attempt).catch((single: unknown) =>
          pending.reject(single),
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

  /** The streams of a batch, from the cache or the store (each read at most once). */
  private async loadAll(
    batch: readonly Pending[],
    refresh: boolean,
  ): Promise<Map<string, WorkingStream>> {
    const working = new Map<string, WorkingStream>();
    const reads: Array<Promise<void>> = [];
    for (const { command } of batch) {
      for (const stream of command.streams) {
        if (working.has(stream)) continue;
        const cached = this.cache.get(stream);
        const entry: WorkingStream = { loaded: cached ?? emptyStream(stream), events: [] };
        working.set(stream, entry);
        if (refresh || (cached === undefined && !command.presumedNew?.includes(stream))) {
          reads.push(
            this.readNewer(entry.loaded).then((loaded) => {
              entry.loaded = loaded;
            }),
          );
        }
      }
    }
    await Promise.all(reads);
    return working;
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
        if (entry.loaded.revision >= 0) this.cache.set(entry.loaded);
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

function smallest(batches: readonly Pending[][]): Pending[] {
  let found = batches[0];
  for (const batch of batches)
    if (found === undefined || batch.length < found.length) found = batch;
  if (found === undefined) throw new Error("there is at least one batch");
  return found;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
