/**
 * Event data read back from jsonb comes with its object members in jsonb's order (shorter
 * names first), so the canonical JSON that `eventHash` covers (src/eventstore/canonical-json.ts)
 * would take its sorting writer for nearly every event of an audit. `inMemberOrder` rebuilds
 * the value with every object's members in canonical order: canonical JSON does not depend on
 * member order, so the hash is the same, and `canonicalJsonOf` then writes it with one native
 * JSON.stringify.
 *
 * What the rebuilt value cannot hold in that order is left to the sorting writer, which stays
 * correct for it: an object with a member named "__proto__" is kept as it is (assigning that
 * name would set a prototype), and integer-like names ("9", "10"), which every object
 * enumerates first in numeric order, fail canonical-json's order check.
 */

/** `value` with every object's members inserted in sorted (UTF-16) order; `value` if they were. */
export function inMemberOrder(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return arrayInMemberOrder(value);
  return objectInMemberOrder(value as Record<string, unknown>);
}

function arrayInMemberOrder(array: readonly unknown[]): readonly unknown[] {
  let out: unknown[] | undefined;
  for (let index = 0; index < array.length; index++) {
    const item = array[index];
    const ordered = inMemberOrder(item);
    if (ordered === item) continue;
    out ??= array.slice();
    out[index] = ordered;
  }
  return out ?? array;
}

function objectInMemberOrder(record: Record<string, unknown>): Record<string, unknown> {
  const names = Object.keys(record);
  const members: unknown[] = new Array(names.length);
  let unchanged = true;
  for (let index = 0; index < names.length; index++) {
    const name = names[index] as string;
    if (name === "__proto__") return record;
    const member = record[name];
    const ordered = inMemberOrder(member);
    members[index] = ordered;
    if (ordered !== member) unchanged = false;
    if (index > 0 && !((names[index - 1] as string) < name)) unchanged = false;
  }
  if (unchanged) return record;
  sortMembers(names, members);
  const out: Record<string, unknown> = {};
  for (let index = 0; index < names.length; index++) {
    out[names[index] as string] = members[index];
  }
  return out;
}

/**
 * Sorts the names, and their members alongside, by UTF-16 code units as canonical JSON does.
 * Insertion sort: an event's objects have a handful of members, where it beats
 * Array.prototype.sort's setup and needs no pairs allocated.
 */
function sortMembers(names: string[], members: unknown[]): void {
  for (let index = 1; index < names.length; index++) {
    const name = names[index] as string;
    const member = members[index];
    let at = index - 1;
    while (at >= 0 && (names[at] as string) > name) {
      names[at + 1] = names[at] as string;
      members[at + 1] = members[at];
      at--;
    }
    names[at + 1] = name;
    members[at + 1] = member;
  }
}
