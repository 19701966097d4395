/**
 * An event store that writes nowhere, for `npm run bench:commands -- --store memory`: what the
 * command path costs in Node alone, without Postgres and the pg client. Each append is checked
 * against the heads the store holds (expected revisions, as the Postgres adapter's unique index
 * would) and sealed as the Postgres adapter seals it (ids, hash chains over canonical JSON);
 * then only each stream's head is kept. Keeping the events would grow the heap by a gigabyte
 * in a run and make the figure worse than the command path is, so a stream is never read back:
 * the pipeline must find every stream it reads in its cache, and `readStream` fails loudly if
 * it does not.
 */
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
import { assertAppend, expectationHolds } from "../src/eventstore/validation.js";

interface Head {
  readonly revision: number;
  readonly lastHash: string;
}

export class MemoryEventStore implements EventStore {
  private readonly heads = new Map<string, Head>();
  private commits = 0n;
  private events = 0n;
  /** Events sealed, so that the sealing cannot be optimised away unseen. */
  sealed = 0;

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
      const actual = this.heads.get(stream)?.revision ?? "no_stream";
      if (!expectationHolds(expected, actual))
        throw new WrongExpectedRevision(stream, expected, actual);
    }
    const texts: ContextTexts = new Map();
    const streams: StreamAppendResult[] = [];
    for (const { stream, events } of requests) {
      const head = this.heads.get(stream);
      const sealed = sealEvents(head?.lastHash ?? genesisHash, events, context, texts);
      const revision = (head?.revision ?? -1) + sealed.length;
      this.heads.set(stream, { revision, lastHash: sealed.at(-1)?.metadata.hash ?? "" });
      streams.push({ stream, revision });
      this.sealed += sealed.length;
      this.events += BigInt(sealed.length);
    }
    this.commits++;
    const position: LogPosition = { commit: this.commits, prepare: this.events };
    return { position, streams };
  }

  async readStream(stream: string): Promise<RecordedEvent[]> {
    if (!this.heads.has(stream)) return [];
    throw new Error(`the memory store keeps no events: ${stream} was read, not found in a cache`);
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
