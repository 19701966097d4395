/**
 * The hash-chain check of the audit: every stream's revisions are 0, 1, 2, …, every prevHash
 * is the previous event's hash, and every hash is `eventHash` (src/eventstore/hash-chain.ts,
 * the one definition) of the event as it is stored now.
 *
 * Recomputing a hash (canonical JSON + SHA-256) is the largest cost per event of a verification,
 * about as much as all the rest together, and it needs nothing from the rest. So a full
 * verification runs it on a worker thread (`ChainWorker`, chain-worker.ts): the main thread
 * hands each page of the log over as it replays it, and the two halves run on two cores. From
 * the Postgres store a page goes over as its rows' text (log-rows.ts), which the worker parses
 * itself: copying strings costs far less than a structured clone of parsed events, on both
 * threads.
 *
 * Data read back from jsonb has its members out of canonical order: they are put in order
 * first (member-order.ts), which leaves the hash as it is and lets canonical JSON be written
 * by JSON.stringify.
 */
import { Worker } from "node:worker_threads";
import { eventHash, genesisHash } from "../eventstore/hash-chain.js";
import type { EventMetadata, JsonObject, RecordedEvent } from "../eventstore/port.js";
import { type Discrepancy, DiscrepancyLog } from "./discrepancies.js";
import { type LogRow, logColumn } from "./log-rows.js";
import { inMemberOrder } from "./member-order.js";

/** What the check reads of an event. */
export type ChainEvent = Pick<
  RecordedEvent,
  "id" | "stream" | "revision" | "type" | "data" | "metadata"
>;

/** Updated in place: one object per stream for the whole replay (~250 bytes with its key). */
interface ChainHead {
  revision: number;
  hash: string;
}

export class ChainCheck {
  private readonly heads = new Map<string, ChainHead>();

  constructor(private readonly log: DiscrepancyLog) {}

  /** The streams seen so far. */
  get streams(): number {
    return this.heads.size;
  }

  /** One event, in log order. */
  apply(event: ChainEvent): void {
    const head = this.heads.get(event.stream);
    const expectedRevision = head === undefined ? 0 : head.revision + 1;
    if (event.revision !== expectedRevision) {
      this.report(event, `revision ${expectedRevision}`, `revision ${event.revision}`, "gap");
    }
    const { prevHash, hash } = event.metadata ?? {};
    if (typeof prevHash !== "string" || typeof hash !== "string") {
      this.report(event, "metadata.prevHash and metadata.hash", "no hash chain", "missing");
      return;
    }
    const previous = head?.hash ?? genesisHash;
    if (prevHash !== previous) this.report(event, previous, prevHash, "link");
    const recomputed = eventHash(prevHash, {
      id: event.id,
      type: event.type,
      data: inMemberOrder(event.data) as JsonObject,
      metadata: event.metadata,
    });
    if (hash !== recomputed) this.report(event, recomputed, hash, "content");
    if (head === undefined) {
      this.heads.set(event.stream, { revision: event.revision, hash });
      return;
    }
    head.revision = event.revision;
    head.hash = hash;
  }

  private report(
    event: ChainEvent,
    expected: string,
    found: string,
    what: keyof typeof chainMessages,
  ): void {
    this.log.add({
      kind: what === "gap" ? "REVISION_GAP" : "HASH_CHAIN",
      stream: event.stream,
      revision: event.revision,
      expected,
      found,
      message: chainMessages[what],
    });
  }
}

/**
 * A row of the log (log-rows.ts) as the check reads it; `data` when the caller has parsed it
 * already. JSON.parse builds what the jsonb would have been parsed into by the store's adapter.
 */
export function chainEventOfRow(
  row: LogRow,
  data: unknown = JSON.parse(row[logColumn.data]),
): ChainEvent {
  return {
    id: row[logColumn.id],
    stream: row[logColumn.stream],
    revision: Number(row[logColumn.revision]),
    type: row[logColumn.type],
    data: data as JsonObject,
    metadata: JSON.parse(row[logColumn.metadata]) as EventMetadata,
  };
}

const chainMessages = {
  gap: "the stream's revisions are not consecutive: an event is missing or moved",
  missing: "the event's metadata lacks its hash chain",
  link: "prevHash is not the previous event's hash: an event before it was removed or changed",
  content: "the event's content does not hash to its recorded hash: it was changed",
} as const;

/** What the worker answers when the log is done. */
export interface ChainSummary {
  readonly streams: number;
  readonly discrepancies: readonly Discrepancy[];
  readonly discrepancyCount: number;
}

export type ChainRequest =
  | { readonly kind: "events"; readonly events: readonly ChainEvent[] }
  | { readonly kind: "rows"; readonly rows: readonly LogRow[] }
  | { readonly kind: "finish" };

export type ChainReply = { readonly kind: "ack" } | ({ readonly kind: "done" } & ChainSummary);

/**
 * Events handed to the worker and not yet checked (~1 KB each as text): the main thread waits
 * past this, so a worker that falls behind slows the read down instead of piling pages up in
 * memory. Several pages' worth, so that the main thread replays on while the worker starts
 * (~0.2 s to load its modules through tsx). A page larger than this still goes alone.
 */
export const chainEventsInFlightMax = 20_000;

/**
 * The worker runs TypeScript like the rest of Nova: a one-line bootstrap registers tsx in the
 * worker's own module loader (as bin/nova.mjs does for the process), then loads the worker.
 */
export function workerBootstrap(workerUrl: URL): string {
  const tsxApi = import.meta.resolve("tsx/esm/api");
  return (
    `import(${JSON.stringify(tsxApi)})` +
    `.then(({ register }) => { register(); return import(${JSON.stringify(workerUrl.href)}); });`
  );
}

/** A ChainCheck on a worker thread, fed page by page in log order. */
export class ChainWorker {
  private eventsInFlight = 0;
  /** The size of each page sent and not yet acknowledged, oldest first. */
  private readonly pagesInFlight: number[] = [];
  private readonly acknowledged: Array<() => void> = [];
  private summary: ((summary: ChainSummary) => void) | undefined;
  private failure: Error | undefined;
  private readonly failed: Array<(error: Error) => void> = [];

  private constructor(private readonly worker: Worker) {
    worker.on("message", (reply: ChainReply) => this.onReply(reply));
    worker.on("error", (error) => this.fail(error));
    worker.on("exit", (code) => this.fail(new Error(`the chain worker exited (code ${code})`)));
  }

  static start(): ChainWorker {
    const url = new URL("./chain-worker.ts", import.meta.url);
    return new ChainWorker(new Worker(workerBootstrap(url), { eval: true }));
  }

  /** Hands a page of events over; waits first while chainEventsInFlightMax are unchecked. */
  send(events: readonly ChainEvent[]): Promise<void> {
    return this.post({ kind: "events", events }, events.length);
  }

  /** Hands a page of rows over (parsed on the worker), like `send`. */
  sendRows(rows: readonly LogRow[]): Promise<void> {
    return this.post({ kind: "rows", rows }, rows.length);
  }

  private async post(request: ChainRequest, events: number): Promise<void> {
    while (this.eventsInFlight > 0 && this.eventsInFlight + events > chainEventsInFlightMax) {
      await this.whenAcknowledged();
    }
    this.throwIfFailed();
    this.eventsInFlight += events;
    this.pagesInFlight.push(events);
    this.worker.postMessage(request);
  }

  /** Every page sent is checked: the streams seen and the discrepancies found. */
  async finish(): Promise<ChainSummary> {
    this.throwIfFailed();
    const done = new Promise<ChainSummary>((resolve, reject) => {
      this.summary = resolve;
      this.failed.push(reject);
    });
    this.worker.postMessage({ kind: "finish" } satisfies ChainRequest);
    return done;
  }

  async stop(): Promise<void> {
    this.worker.removeAllListeners("exit");
    await this.worker.terminate();
  }

  private onReply(reply: ChainReply): void {
    if (reply.kind === "ack") {
      this.eventsInFlight -= this.pagesInFlight.shift() ?? 0;
      for (const resume of this.acknowledged.splice(0)) resume();
      return;
    }
    this.summary?.(reply);
  }

  private whenAcknowledged(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.acknowledged.push(resolve);
      this.failed.push(reject);
    });
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const reject of this.failed.splice(0)) reject(error);
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}

/** Adds a worker's discrepancies to the main log. */
export function mergeChainSummary(log: DiscrepancyLog, summary: ChainSummary): void {
  for (const discrepancy of summary.discrepancies) log.add(discrepancy);
  log.count += summary.discrepancyCount - summary.discrepancies.length;
}

/** The worker side: a ChainCheck and its own bounded log. */
export function serveChainCheck(
  post: (reply: ChainReply) => void,
): (request: ChainRequest) => void {
  const log = new DiscrepancyLog();
  const check = new ChainCheck(log);
  return (request) => {
    if (request.kind === "events") {
      for (const event of request.events) check.apply(event);
      post({ kind: "ack" });
      return;
    }
    if (request.kind === "rows") {
      for (const row of request.rows) check.apply(chainEventOfRow(row));
      post({ kind: "ack" });
      return;
    }
    post({
      kind: "done",
      streams: check.streams,
      discrepancies: log.kept,
      discrepancyCount: log.count,
    });
  };
}
