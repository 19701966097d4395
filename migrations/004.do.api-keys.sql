-- API keys of the HTTP API (src/auth). Only a key's SHA-256 is stored: a leaked table (or
-- backup) gives no working key. Keys are 32 random bytes, so a plain hash is enough; there is
-- nothing to brute-force that a slow password hash would protect.

CREATE TABLE api_keys (
  id uuid PRIMARY KEY,
  name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
  -- The first characters of the key, not secret: lets an operator tell keys apart in `nova
  -- keys list` and match a key in hand to its row.
  prefix text NOT NULL CHECK (length(prefix) BETWEEN 1 AND 16),
  key_hash bytea NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
  -- Keep this list equal to `scopes` in src/auth/scopes.ts (a test checks both ways).
  scopes text[] NOT NULL CHECK (
    cardinality(scopes) >= 1
    AND scopes <@ ARRAY[
      'accounts:read', 'accounts:write', 'postings:read', 'postings:write',
      'config:write', 'audit:read', 'reports:read', 'admin'
    ]::text[]
  ),
  -- Who the key acts as, recorded in every event's metadata and scoping idempotency keys:
  -- `key:<id>` for a created key, the fixed `admin` for the NOVA_ADMIN_KEY principal (one row,
  -- whose hash is replaced when the variable changes).
  principal text NOT NULL UNIQUE CHECK (principal = 'admin' OR principal = 'key:' || id::text),
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz CHECK (revoked_at IS NULL OR revoked_at >= created_at)
);
