/**
 * API keys: generation, hashing, and the `api_keys` table (migrations/004.do.api-keys.sql).
 *
 * A key is shown once, when it is created, and only its SHA-256 is stored. Keys are 32 random
 * bytes, so a fast hash is enough (there is no low-entropy secret to stretch), and a lookup is
 * an index probe on the hash: no comparison of secrets happens in this process, so there is no
 * timing side channel to close with a constant-time compare. Nothing here logs a key.
 */
import { hash, randomBytes, randomUUID } from "node:crypto";
import { LRUCache } from "lru-cache";
import type pg from "pg";
import { grantedScopes, isScope, normaliseScopes, type Scope } from "./scopes.js";

/** Random bytes per generated key (≥ 32: 256 bits, beyond any guessing). */
export const apiKeyBytes = 32;
/** Characters of a key kept in clear as its display prefix: 48 bits of a 256-bit key. */
export const displayPrefixLength = 8;
/** NOVA_ADMIN_KEY's minimum length, as the configuration checks it (src/config/config.ts). */
export const adminKeyLengthMin = 32;
/** A presented key longer than this is refused without hashing: no real key is that long. */
export const apiKeyLengthMax = 512;
export const keyNameLengthMax = 100;

/**
 * How long an authentication result is reused in-process by default. A key revoked by another
 * process (e.g. `nova keys revoke`) keeps working on a running server for at most this long;
 * a revocation through the same store's `revoke` takes effect at once.
 */
export const authenticationCacheTtlMs = 5_000;
/** A longer window would leave revoked keys working for too long. */
export const authenticationCacheTtlMsMax = 60_000;
/** Distinct keys remembered; past it the least recently used result is looked up again. */
export const authenticationCacheEntriesMax = 10_000;

/** The principal id of the NOVA_ADMIN_KEY key; a created key's principal is `key:<id>`. */
export const adminPrincipalId = "admin";

/** Who a request acts as: recorded in event metadata and scoping idempotency keys. */
export interface Principal {
  /** `admin` or `key:<keyId>`: stable for the key's life, unlike its name. */
  readonly id: string;
  readonly name: string;
  /** With `admin` expanded to every scope (src/auth/scopes.ts `grantedScopes`). */
  readonly scopes: ReadonlySet<Scope>;
  readonly keyId: string;
}

/** A key as stored and listed: everything but the secret. */
export interface ApiKeyRecord {
  readonly id: string;
  readonly name: string;
  readonly prefix: string;
  readonly scopes: readonly Scope[];
  readonly principal: string;
  readonly createdAt: Date;
  readonly revokedAt: Date | null;
}

/** A new key: the only time `key` exists outside the client that holds it. */
export interface CreatedApiKey extends ApiKeyRecord {
  readonly key: string;
}

export interface NewApiKey {
  readonly name: string;
  readonly scopes: readonly string[];
}

/** The admin principal after `ensureAdminKey`. */
export type AdminKeyState =
  | { readonly status: "active"; readonly key: ApiKeyRecord }
  /** An operator revoked this very key; it stays revoked until NOVA_ADMIN_KEY changes. */
  | { readonly status: "revoked"; readonly key: ApiKeyRecord }
  /** NOVA_ADMIN_KEY is unset: any stored admin key was revoked. */
  | { readonly status: "disabled" };

/** A create request that no row may hold (empty name, unknown or no scopes). */
export class InvalidApiKeyRequestError extends Error {
  override readonly name = "InvalidApiKeyRequestError";
}

export function generateApiKey(): string {
  return randomBytes(apiKeyBytes).toString("base64url");
}

export function hashApiKey(key: string): Buffer {
  return Buffer.from(hashApiKeyHex(key), "hex");
}

/**
 * The SHA-256 of a key as hex: what the authentication cache is keyed by. One-shot
 * `crypto.hash` because it runs on every authenticated request, and a `createHash` object
 * costs several times more than the hash itself.
 */
export function hashApiKeyHex(key: string): string {
  return hash("sha256", key, "hex");
}

export function displayPrefix(key: string): string {
  return key.slice(0, displayPrefixLength);
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isKeyId(value: string): boolean {
  return uuidPattern.test(value);
}

interface ApiKeyRow {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  principal: string;
  created_at: Date;
  revoked_at: Date | null;
}

const recordColumns = "id, name, prefix, scopes, principal, created_at, revoked_at";

/** A cached lookup; `principal` undefined remembers an unknown or revoked key. */
interface CachedAuthentication {
  readonly principal: Principal | undefined;
}

export interface ApiKeyStoreOptions {
  /** Default `authenticationCacheTtlMs`; at most `authenticationCacheTtlMsMax`. */
  readonly cacheTtlMs?: number;
}

export class ApiKeyStore {
  /** Keyed by the key's hash (hex), so the cache never holds a key in clear. */
  private readonly cache: LRUCache<string, CachedAuthentication>;

  constructor(
    private readonly pool: pg.Pool,
    options: ApiKeyStoreOptions = {},
  ) {
    const ttl = options.cacheTtlMs ?? authenticationCacheTtlMs;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > authenticationCacheTtlMsMax) {
      throw new RangeError(`cacheTtlMs must be 1 to ${authenticationCacheTtlMsMax} ms`);
    }
    this.cache = new LRUCache({ max: authenticationCacheEntriesMax, ttl });
  }

  /** Creates a key and returns it with its plaintext, which is not kept anywhere. */
  async create(request: NewApiKey): Promise<CreatedApiKey> {
    const name = request.name.trim();
    const scopes = validScopes(request.scopes);
    if (name.length === 0 || name.length > keyNameLengthMax) {
      throw new InvalidApiKeyRequestError(`a key name has 1 to ${keyNameLengthMax} characters`);
    }
    const id = randomUUID();
    const key = generateApiKey();
    const result = await this.pool.query<ApiKeyRow>(
      `INSERT INTO api_keys (id, name, prefix, key_hash, scopes, principal)
       VALUES ($1, $2, $3, $4, $5, $6)
       RETURNING ${recordColumns}`,
      [id, name, displayPrefix(key), hashApiKey(key), scopes, `key:${id}`],
    );
    return { ...toRecord(onlyRow(result.rows)), key };
  }

  /**
   * Revokes a key (again: keeps the first revocation time). Undefined when there is no such key.
   * This process forgets the key at once; other processes within `authenticationCacheTtlMs`.
   */
  async revoke(id: string): Promise<ApiKeyRecord | undefined> {
    if (!isKeyId(id)) return undefined;
    const result = await this.pool.query<ApiKeyRow & { key_hash: Buffer }>(
      `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
       WHERE id = $1
       RETURNING ${recordColumns}, key_hash`,
      [id],
    );
    const row = result.rows[0];
    if (row === undefined) return undefined;
    this.cache.delete(row.key_hash.toString("hex"));
    return toRecord(row);
  }

  /** Every key, revoked ones included, oldest first. */
  async list(): Promise<ApiKeyRecord[]> {
    const result = await this.pool.query<ApiKeyRow>(
      `SELECT ${recordColumns} FROM api_keys ORDER BY created_at, id`,
    );
    return result.rows.map(toRecord);
  }

  /** The principal of a live key; undefined for an unknown, revoked or implausible one. */
  async authenticate(key: string): Promise<Principal | undefined> {
    if (key.length === 0 || key.length > apiKeyLengthMax) return undefined;
    const cacheKey = hashApiKeyHex(key);
    const cached = this.cache.get(cacheKey);
    if (cached !== undefined) return cached.principal;
    const principal = await this.lookUp(Buffer.from(cacheKey, "hex"));
    this.cache.set(cacheKey, { principal });
    return principal;
  }

  /**
   * Makes NOVA_ADMIN_KEY the admin principal's key, at server start. A new value replaces the
   * previous admin key (which stops working); the same value that an operator revoked stays
   * revoked, so a leaked admin key cannot come back with a restart. Unset: the stored admin
   * key is revoked, because API.md makes the variable the admin principal's only source.
   */
  async ensureAdminKey(adminKey: string | undefined): Promise<AdminKeyState> {
    this.cache.clear();
    if (adminKey === undefined) {
      await this.pool.query(
        "UPDATE api_keys SET revoked_at = now() WHERE principal = $1 AND revoked_at IS NULL",
        [adminPrincipalId],
      );
      return { status: "disabled" };
    }
    if (adminKey.length < adminKeyLengthMin || adminKey.length > apiKeyLengthMax) {
      throw new InvalidApiKeyRequestError(
        `NOVA_ADMIN_KEY must have ${adminKeyLengthMin} to ${apiKeyLengthMax} characters`,
      );
    }
    const key = toRecord(await this.upsertAdminKey(adminKey));
    return { status: key.revokedAt === null ? "active" : "revoked", key };
  }

  private async upsertAdminKey(adminKey: string): Promise<ApiKeyRow> {
    try {
      const result = await this.pool.query<ApiKeyRow>(
        `INSERT INTO api_keys (id, name, prefix, key_hash, scopes, principal)
         VALUES ($1, $2, $3, $4, ARRAY['admin'], $2)
         ON CONFLICT (principal) DO UPDATE SET
           prefix = EXCLUDED.prefix,
           key_hash = EXCLUDED.key_hash,
           scopes = EXCLUDED.scopes,
           created_at = CASE WHEN api_keys.key_hash = EXCLUDED.key_hash
                             THEN api_keys.created_at ELSE now() END,
           revoked_at = CASE WHEN api_keys.key_hash = EXCLUDED.key_hash
                             THEN api_keys.revoked_at END
         RETURNING ${recordColumns}`,
        [randomUUID(), adminPrincipalId, displayPrefix(adminKey), hashApiKey(adminKey)],
      );
      return onlyRow(result.rows);
    } catch (error) {
      if (isUniqueViolation(error, "api_keys_key_hash_key")) {
        throw new InvalidApiKeyRequestError(
          "NOVA_ADMIN_KEY is already the key of another principal; choose a new random value",
        );
      }
      throw error;
    }
  }

  private async lookUp(keyHash: Buffer): Promise<Principal | undefined> {
    const result = await this.pool.query<ApiKeyRow>(
      `SELECT ${recordColumns} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`,
      [keyHash],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : toPrincipal(row);
  }
}

function validScopes(requested: readonly string[]): Scope[] {
  const unknown = requested.filter((scope) => !isScope(scope));
  if (unknown.length > 0) {
    throw new InvalidApiKeyRequestError(`unknown scope(s): ${unknown.join(", ")}`);
  }
  const scopes = normaliseScopes(requested.filter(isScope));
  if (scopes.length === 0) throw new InvalidApiKeyRequestError("a key needs at least one scope");
  return scopes;
}

function toRecord(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: storedScopes(row),
    principal: row.principal,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}

function toPrincipal(row: ApiKeyRow): Principal {
  return {
    id: row.principal,
    name: row.name,
    scopes: grantedScopes(storedScopes(row)),
    keyId: row.id,
  };
}

/** The table's CHECK admits only known scopes; anything else means the schema drifted. */
function storedScopes(row: ApiKeyRow): Scope[] {
  const unknown = row.scopes.filter((scope) => !isScope(scope));
  if (unknown.length > 0) {
    throw new Error(`assertion failed: key ${row.id} holds unknown scopes ${unknown.join(", ")}`);
  }
  return row.scopes.filter(isScope);
}

function onlyRow<T>(rows: readonly T[]): T {
  const row = rows[0];
  if (row === undefined || rows.length !== 1) {
    throw new Error(`assertion failed: expected one row, got ${rows.length}`);
  }
  return row;
}

function isUniqueViolation(error: unknown, constraint: string): boolean {
  return (
    error instanceof Error &&
    "code" in error &&
    error.code === "23505" &&
    "constraint" in error &&
    error.constraint === constraint
  );
}
