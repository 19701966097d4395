/**
 * RFC 8785 (JCS) canonical JSON of a JSON value: object members sorted by their names' UTF-16
 * code units, no whitespace, strings and numbers as ECMAScript's JSON.stringify writes them.
 * The hash chain hashes this for every event, so it is written for speed (about 5 times
 * faster than the `canonicalize` package, which a property test holds it equal to).
 */
export function canonicalJsonOf(value: unknown): string | undefined {
  // Most event data is built with its members already in order: then JSON.stringify (native,
  // no sorting, no intermediate strings) writes exactly the canonical text.
  if (inCanonicalOrder(value)) return JSON.stringify(value);
  // Otherwise (request bodies come in the client's order) a copy with every object's members
  // put in order, for JSON.stringify again: far fewer intermediate strings than the sorting
  // writer, which remains for what no copy can order.
  const copy = inOrderCopy(value);
  return copy === unorderable ? canonicalJsonSorted(value) : JSON.stringify(copy);
}

const unorderable: unique symbol = Symbol("unorderable");

/**
 * `value` with every object rebuilt with its members in sorted order (what `toJSON` gives in
 * its place), so that JSON.stringify writes it canonically; `unorderable` when an object has
 * an integer-like name, which every object lists first whatever the insertion order, or a
 * member named `__proto__`. Numbers with no JSON form are refused as the sorting writer
 * refuses them.
 */
function inOrderCopy(value: unknown): unknown {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) {
      throw new RangeError(`${value} has no JSON form`);
    }
    return value;
  }
  if (Array.isArray(value)) {
    const items: unknown[] = new Array(value.length);
    for (let index = 0; index < value.length; index++) {
      const item = inOrderCopy(value[index]);
      if (item === unorderable) return unorderable;
      items[index] = item;
    }
    return items;
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") {
    return inOrderCopy((value as { toJSON(): unknown }).toJSON());
  }
  const record = value as Record<string, unknown>;
  const copy: Record<string, unknown> = {};
  for (const key of sortedKeys(record)) {
    // `copy.__proto__ = …` would set the prototype, not a member.
    if (integerLike.test(key) || key === "__proto__") return unorderable;
    const member = inOrderCopy(record[key]);
    if (member === unorderable) return unorderable;
    copy[key] = member;
  }
  return copy;
}

/** Names an object lists before all others (array indices), in numeric order. */
const integerLike = /^(?:0|[1-9][0-9]*)$/;

/**
 * Whether JSON.stringify writes `value` canonically: plain objects whose members come in
 * sorted order (for…in and JSON.stringify walk them alike: integer-like names first, then
 * insertion order, so a check of that order is a check of what JSON.stringify writes),
 * finite numbers, strings, booleans, null, and arrays of those. Anything else (undefined,
 * toJSON, class instances, …) is left to the sorting writer.
 */
function inCanonicalOrder(value: unknown): boolean {
  if (value === null) return true;
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value);
    case "object":
      break;
    default:
      return false;
  }
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      if (!inCanonicalOrder(value[index])) return false;
    }
    return true;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return false;
  const record = value as Record<string, unknown>;
  let previous: string | undefined;
  for (const key in record) {
    if (previous !== undefined && !(previous < key)) return false;
    if (!inCanonicalOrder(record[key])) return false;
    previous = key;
  }
  return true;
}

/** The general writer: sorts every object's members (linear in the value's size). */
function canonicalJsonSorted(value: unknown): string | undefined {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) {
      throw new RangeError(`${value} has no JSON form`);
    }
    // undefined, functions and symbols have no JSON form: undefined, as JSON.stringify says.
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    let out = "[";
    for (let index = 0; index < value.length; index++) {
      if (index > 0) out += ",";
      out += canonicalJsonSorted(value[index]) ?? "null";
    }
    return `${out}]`;
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") {
    return canonicalJsonSorted((value as { toJSON(): unknown }).toJSON());
  }
  const record = value as Record<string, unknown>;
  let out = "{";
  let first = true;
  for (const key of sortedKeys(record)) {
    const member = canonicalJsonSorted(record[key]);
    if (member === undefined) continue;
    if (!first) out += ",";
    first = false;
    out += `${JSON.stringify(key)}:${member}`;
  }
  return `${out}}`;
}

/**
 * The object's own names in UTF-16 order. Objects here have a handful of members: an insertion
 * sort in place allocates nothing more than the array of names (Array.prototype.sort copies).
 */
function sortedKeys(record: Record<string, unknown>): string[] {
  const keys = Object.keys(record);
  if (keys.length > insertionSortSizeMax) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i] as string;
    let j = i - 1;
    while (j >= 0 && (keys[j] as string) > key) {
      keys[j + 1] = keys[j] as string;
      j--;
    }
    keys[j + 1] = key;
  }
  return keys;
}

const insertionSortSizeMax = 16;
