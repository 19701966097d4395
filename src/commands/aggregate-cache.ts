/**
 * The command side's memory of streams: each stream's folded state with the revision it is at,
 * bounded (LRU). A cached stream that another process moved is caught by the append's expected
 * revision; then only its newer events are read.
 */
import { LRUCache } from "lru-cache";
import type { LogPosition } from "../eventstore/port.js";

export interface LoadedStream {
  readonly stream: string;
  /** -1: the stream has no events. */
  readonly revision: number;
  readonly state: unknown;
  /** Position of the stream's first event: a replayed creation answers with it. */
  readonly firstPosition: LogPosition | undefined;
  /** Position of the stream's last event (a strong read answers with it). */
  readonly lastPosition?: LogPosition | undefined;
}

export const aggregateCacheSizeDefault = 100_000;

export class AggregateCache {
  private readonly entries: LRUCache<string, LoadedStream>;
  hits = 0;
  misses = 0;

  constructor(sizeMax: number = aggregateCacheSizeDefault) {
    this.entries = new LRUCache({ max: sizeMax });
  }

  get(stream: string): LoadedStream | undefined {
    const entry = this.entries.get(stream);
    if (entry === undefined) this.misses++;
    else this.hits++;
    return entry;
  }

  set(entry: LoadedStream): void {
    this.entries.set(entry.stream, entry);
  }

  delete(stream: string): void {
    this.entries.delete(stream);
  }

  get size(): number {
    return this.entries.size;
  }
}
