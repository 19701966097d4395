/**
 * An event store that writes nowhere, for `npm run bench:commands -- --store memory`: what the
 * command path costs in Node alone, without Postgres and the pg client. Each append is checked
 * against the heads the store holds (expected revisions, as the Postgres adapter's unique index
 * would) and sealed as the Postgres adapter seals it (ids, hash chains over canonical JSON);
 * then only each stream's head is kept, in an LRU as large as the Postgres adapter's. Keeping
 * the events, or every head (a million posting streams in a run), would grow the heap and make
 * the figure worse than the command path is. A head the LRU let go is found again where the
 * Postgres adapter would read it from its table: here, a map of every stream's head but the
 * postings' (which are never written twice in the bench). A stream is never read back: the
 * pipeline must find every stream it reads in its cache, and `readStream` fails loudly if not.
 */
import { LRUCache } from "lru-cache";
import { WrongExpectedRevision } from "../src/eventstore/errors.js";
import { type ContextTexts, genesisHash, sealEvents } from "../src/eventstore/hash-chain.js";
import type {
  AppendContext,
  AppendResult,
  EventStore,
  ExpectedRevision,
  LogPosition,
  NewEvent,
  ReadAllResult,
  RecordedEvent,
  StreamAppend,
  StreamAppendResult,
  Subscription,
} from "../src/eventstore/port.js";
import { headCacheSizeMaxDefault } from "../src/eventstore/postgres/postgres-event-store.js";
import { assertAppend, expectationHolds } from "../src/eventstore/validation.js";

interface Head {
  readonly revision: number;
  readonly lastHash: string;
}

export class MemoryEventStore implements EventStore {
  /** As the Postgres adapter remembers heads (its `appendMulti`). */
  private readonly heads = new LRUCache<string, Head>({ max: headCacheSizeMaxDefault });
  /** Where a head the LRU let go is found again (the Postgres adapter reads its table). */
  private readonly table = new Map<string, Head>();
  private commits = 0n;
  private events = 0n;

  append(
    stream: string,
    expected: ExpectedRevision,
    events: readonly NewEvent[],
    context: AppendContext,
  ): Promise<AppendResult> {
    return this.appendMulti([{ stream, expected, events }], context);
  }

  async appendMulti(requests: readonly StreamAppend[], context: AppendContext) {
    assertAppend(requests, context);
    for (const { stream, expected } of requests) {
      const actual = this.headOf(stream)?.revision ?? "no_stream";
      if (!expectationHolds(expected, actual))
        throw new WrongExpectedRevision(stream, expected, actual);
    }
    const texts: ContextTexts = new Map();
    const streams: StreamAppendResult[] = [];
    for (const { stream, events } of requests) {
      const head = this.headOf(stream);
      const sealed = sealEvents(head?.lastHash ?? genesisHash, events, context, texts);
      const revision = (head?.revision ?? -1) + sealed.length;
      const written = { revision, lastHash: sealed.at(-1)?.metadata.hash ?? "" };
      this.heads.set(stream, written);
      if (!stream.startsWith("posting-")) this.table.set(stream, written);
      streams.push({ stream, revision });
      this.events += BigInt(sealed.length);
    }
    this.commits++;
    const position: LogPosition = { commit: this.commits, prepare: this.events };
    return { position, streams };
  }

  async readStream(stream: string): Promise<RecordedEvent[]> {
    if (this.headOf(stream) === undefined && !stream.startsWith("posting-")) return [];
    throw new Error(`the memory store keeps no events: ${stream} was read, not found in a cache`);
  }

  private headOf(stream: string): Head | undefined {
    return this.heads.peek(stream) ?? this.table.get(stream);
  }

  async readAll(): Promise<ReadAllResult> {
    throw new Error("the memory store has no global log");
  }

  subscribe(): Subscription {
    throw new Error("the memory store has no global log");
  }

  async commitPositionOf(position: LogPosition): Promise<LogPosition> {
    return position;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}
