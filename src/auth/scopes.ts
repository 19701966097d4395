/**
 * The scopes of API.md ("Conventions → Auth"): the one list in TypeScript. The `api_keys`
 * CHECK in migrations/004.do.api-keys.sql repeats it so that no row can hold another scope.
 */
export const scopes = [
  "accounts:read",
  "accounts:write",
  "postings:read",
  "postings:write",
  "config:write",
  "audit:read",
  "reports:read",
  "admin",
] as const;

export type Scope = (typeof scopes)[number];

const scopeSet: ReadonlySet<string> = new Set(scopes);

export function isScope(value: string): value is Scope {
  return scopeSet.has(value);
}

/** Every scope: what `admin` grants, since API.md makes it imply all the others. */
export const allScopes: ReadonlySet<Scope> = new Set(scopes);

/**
 * The scopes a principal holds, with `admin` expanded to every scope, so that a check is one
 * `has(scope)` and no caller can forget the implication.
 */
export function grantedScopes(stored: readonly Scope[]): ReadonlySet<Scope> {
  return stored.includes("admin") ? allScopes : new Set(stored);
}

/** Stored form: no duplicates, in the order of `scopes`, so rows compare and list plainly. */
export function normaliseScopes(requested: readonly Scope[]): Scope[] {
  const wanted = new Set(requested);
  return scopes.filter((scope) => wanted.has(scope));
}
