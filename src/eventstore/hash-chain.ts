/**
 * The per-stream hash chain, computed here and only here for every adapter, so that an
 * auditor can detect an edited, removed or reordered event without trusting the database:
 *
 *   hash = SHA-256( RFC 8785 canonical JSON of
 *            { prevHash, type, data, id, correlationId, causationId, principal, occurredAt,
 *              schemaVersion, idempotencyKey? } ), hex-encoded,
 *
 * where prevHash is the hash of the stream's previous event, or `genesisHash` for the first.
 * The metadata that attributes an event (who, when, in answer to what) is covered as well as
 * its data: an auditor must be able to trust "principal X did this at T".
 */
import { hash, randomUUID } from "node:crypto";
import { canonicalJsonOf } from "./canonical-json.js";
import { InvalidAppend } from "./errors.js";
import type { AppendContext, EventMetadata, JsonObject, NewEvent, RecordedEvent } from "./port.js";

export const genesisHash = "0".repeat(64);
export const schemaVersionDefault = 1;

export function canonicalJson(data: JsonObject): string {
  const text = canonicalJsonOf(data);
  // Undefined only for values JSON cannot carry (functions, undefined).
  if (text === undefined) throw new InvalidAppend("event data is not JSON");
  return text;
}

/** What the hash of one event covers, besides the previous hash. */
export interface HashedEvent {
  readonly id: string;
  readonly type: string;
  readonly data: JsonObject;
  readonly metadata: Omit<EventMetadata, "prevHash" | "hash">;
}

export function eventHash(prevHash: string, event: HashedEvent): string {
  return hashOfCovered(prevHash, event, canonicalJson(event.data));
}

/**
 * The hash over the canonical JSON of what an event's hash covers, written member by member
 * in their sorted order (RFC 8785 sorts by name: causationId < correlationId < data < id <
 * idempotencyKey < occurredAt < prevHash < principal < schemaVersion < type), with `data`
 * already canonical: sealing keeps that text and stores it. A member that is undefined is
 * left out, as canonical JSON of an object leaves it out. A test holds this equal to the
 * `canonicalize` package over the object of the doc comment above.
 */
function hashOfCovered(prevHash: string, event: HashedEvent, dataJson: string): string {
  const { metadata } = event;
  const text =
    `{${member("causationId", metadata.causationId)}` +
    member("correlationId", metadata.correlationId) +
    `"data":${dataJson},` +
    member("id", event.id) +
    // Only on events written by a keyed request: the others hash as they always did.
    member("idempotencyKey", metadata.idempotencyKey) +
    member("occurredAt", metadata.occurredAt) +
    member("prevHash", prevHash) +
    member("principal", metadata.principal) +
    member("schemaVersion", metadata.schemaVersion) +
    member("type", event.type);
  // Every member ends in a comma: the last one's becomes the closing brace.
  return sha256(`${text.slice(0, -1)}}`);
}

/** `"name":<canonical value>,`, or nothing when the value has no JSON form (undefined). */
function member(name: string, value: unknown): string {
  const json = typeof value === "string" ? JSON.stringify(value) : canonicalJsonOf(value);
  return json === undefined ? "" : `"${name}":${json},`;
}

/** An event ready to be written: its id fixed and its metadata, hash chain included, stamped. */
export interface SealedEvent {
  readonly id: string;
  readonly type: string;
  readonly data: JsonObject;
  /** `data` as canonical JSON (what the hash covers), ready to be stored. */
  readonly dataJson: string;
  readonly metadata: EventMetadata;
  /** `metadata` as JSON, ready to be stored. */
  readonly metadataJson: string;
}

/**
 * The members an append context gives every event it stamps, as metadata and as text, in the
 * covered text's order: `head` (causationId, correlationId) before data, `middle`
 * (idempotencyKey, occurredAt) after id, `principal` after prevHash. Written once per context.
 */
interface ContextText {
  readonly metadata: Omit<EventMetadata, "prevHash" | "hash" | "schemaVersion">;
  readonly head: string;
  readonly middle: string;
  readonly principal: string;
}

/**
 * The context texts of one append, each written once however many of its events a context
 * stamps. Kept for the append only: a cache that outlived it (a WeakMap on the contexts) kept
 * every text into the old generation of the heap (~10% of what bench:commands promoted).
 */
export type ContextTexts = Map<AppendContext, ContextText>;

function contextText(context: AppendContext, texts: ContextTexts): ContextText {
  const known = texts.get(context);
  if (known !== undefined) return known;
  const causationId = context.causationId ?? context.correlationId;
  const occurredAt = context.occurredAt.toISOString();
  const { correlationId, principal, idempotencyKey } = context;
  const text: ContextText = {
    metadata: {
      correlationId,
      causationId,
      principal,
      occurredAt,
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    },
    head: member("causationId", causationId) + member("correlationId", correlationId),
    middle: member("idempotencyKey", idempotencyKey) + member("occurredAt", occurredAt),
    principal: member("principal", principal),
  };
  texts.set(context, text);
  return text;
}

/** `"schemaVersion":"1"`: the last member but one, without its comma. */
const defaultVersionText = `"schemaVersion":${JSON.stringify(String(schemaVersionDefault))}`;

/**
 * Stamps metadata on a stream's new events, chaining each hash to the one before it. The
 * covered text is written straight from its parts (what `eventHash` writes from the stamped
 * event: a test holds them equal), and the same parts give the metadata's JSON.
 */
export function sealEvents(
  prevHash: string,
  events: readonly NewEvent[],
  context: AppendContext,
  texts: ContextTexts = new Map(),
): SealedEvent[] {
  let previous = prevHash;
  const sealed: SealedEvent[] = [];
  for (const event of events) {
    const own = contextText(event.context ?? context, texts);
    const id = event.id ?? randomUUID();
    const schemaVersion = String(event.schemaVersion ?? schemaVersionDefault);
    const version =
      event.schemaVersion === undefined
        ? defaultVersionText
        : `"schemaVersion":${JSON.stringify(schemaVersion)}`;
    const dataJson = canonicalJson(event.data);
    const prevJson = JSON.stringify(previous);
    const hash = sha256(
      `{${own.head}"data":${dataJson},"id":${JSON.stringify(id)},${own.middle}` +
        `"prevHash":${prevJson},${own.principal}${version},"type":${JSON.stringify(event.type)}}`,
    );
    sealed.push({
      id,
      type: event.type,
      data: event.data,
      dataJson,
      metadata: { ...own.metadata, schemaVersion, prevHash: previous, hash },
      metadataJson: `{${own.head}${own.middle}"prevHash":${prevJson},"hash":"${hash}",${own.principal}${version}}`,
    });
    previous = hash;
  }
  return sealed;
}

function sha256(text: string): string {
  return hash("sha256", text, "hex");
}

export type ChainBreak = {
  readonly stream: string;
  readonly revision: number;
  readonly field: "prevHash" | "hash";
  readonly expected: string;
  readonly found: string;
};

/**
 * Checks a run of one stream's events, in revision order, starting after `prevHash`
 * (`genesisHash` when the run starts at revision 0). Returns every break found.
 */
export function verifyChain(
  events: readonly RecordedEvent[],
  prevHash: string = genesisHash,
): ChainBreak[] {
  const breaks: ChainBreak[] = [];
  let previous = prevHash;
  for (const event of events) {
    const { stream, revision, metadata } = event;
    if (metadata.prevHash !== previous) {
      breaks.push({
        stream,
        revision,
        field: "prevHash",
        expected: previous,
        found: metadata.prevHash,
      });
    }
    const expected = eventHash(metadata.prevHash, event);
    if (metadata.hash !== expected) {
      breaks.push({ stream, revision, field: "hash", expected, found: metadata.hash });
    }
    previous = metadata.hash;
  }
  return breaks;
}
