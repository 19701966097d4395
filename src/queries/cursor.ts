/**
 * Opaque list cursors: base64url of a small JSON object naming the list and the last row's
 * sort key. Clients treat them as opaque, but they arrive from outside, so decoding checks
 * everything (list name, field types, patterns) before a value reaches SQL: a bad cursor is
 * the client's error (InvalidCursor, a 400), never a query that fails in Postgres (a 500).
 */
import { accountTypeCodePattern } from "../domain/account-types/account-type.js";

/** A cursor that does not decode, or decodes to another list's key or a malformed one. */
export class InvalidCursor extends Error {
  override readonly name = "InvalidCursor";
  readonly code = "VALIDATION_ERROR";

  constructor(detail: string) {
    super(`invalid cursor: ${detail}`);
  }
}

/** Longest cursor text decoded at all: every real cursor is under 200 characters. */
export const CURSOR_TEXT_LENGTH_MAX = 512;

const base64UrlPattern = /^[A-Za-z0-9_-]+$/;
export const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The microsecond UTC instants the queries write into cursors (Postgres' precision). */
const instantPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

export interface AccountTypeCursor {
  readonly code: string;
}

export interface AccountCursor {
  readonly id: string;
}

/** A posting's sort key: its creation instant (µs, UTC) and its id, the tie-breaker. */
export interface PostingCursor {
  readonly at: string;
  readonly id: string;
}

export function encodeAccountTypeCursor(key: AccountTypeCursor): string {
  return encode({ list: "account-types", code: key.code });
}

export function decodeAccountTypeCursor(text: string): AccountTypeCursor {
  const fields = decode(text, "account-types");
  return { code: field(fields, "code", accountTypeCodePattern) };
}

export function encodeAccountCursor(key: AccountCursor): string {
  return encode({ list: "accounts", id: key.id });
}

export function decodeAccountCursor(text: string): AccountCursor {
  const fields = decode(text, "accounts");
  return { id: field(fields, "id", uuidPattern) };
}

export function encodePostingCursor(key: PostingCursor): string {
  return encode({ list: "postings", at: key.at, id: key.id });
}

export function decodePostingCursor(text: string): PostingCursor {
  const fields = decode(text, "postings");
  const at = field(fields, "at", instantPattern);
  if (!isCalendarInstant(at)) throw new InvalidCursor("not a valid instant");
  return { at, id: field(fields, "id", uuidPattern) };
}

/**
 * Whether a µs instant names a real moment Postgres accepts: the round trip through Date must
 * give the same text (Date would roll "02-30" into March, where Postgres refuses it), and
 * year 0 does not exist in Postgres' calendar.
 */
function isCalendarInstant(at: string): boolean {
  const parsedMs = Date.parse(at);
  if (Number.isNaN(parsedMs) || at.startsWith("0000")) return false;
  return new Date(parsedMs).toISOString().slice(0, 23) === at.slice(0, 23);
}

function encode(fields: Readonly<Record<string, string>>): string {
  return Buffer.from(JSON.stringify(fields), "utf8").toString("base64url");
}

/** The cursor's fields, once it is known to be base64url JSON for `list`. */
function decode(text: string, list: string): Readonly<Record<string, unknown>> {
  if (typeof text !== "string" || text.length === 0 || text.length > CURSOR_TEXT_LENGTH_MAX) {
    throw new InvalidCursor("empty or too long");
  }
  if (!base64UrlPattern.test(text)) throw new InvalidCursor("not base64url");
  let fields: unknown;
  try {
    fields = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    throw new InvalidCursor("not a cursor");
  }
  if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
    throw new InvalidCursor("not a cursor");
  }
  const record = fields as Readonly<Record<string, unknown>>;
  if (record.list !== list) throw new InvalidCursor(`not a cursor of the ${list} list`);
  return record;
}

function field(fields: Readonly<Record<string, unknown>>, name: string, pattern: RegExp): string {
  const value = fields[name];
  if (typeof value !== "string" || !pattern.test(value)) {
    throw new InvalidCursor(`malformed ${name}`);
  }
  return value;
}
