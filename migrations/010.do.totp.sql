-- Step-up two-factor authentication (API.md "Postings": a transaction type that requires 2FA
-- needs a valid `X-OTP`): one TOTP (RFC 6238) secret per principal, written by src/auth/totp.ts.
--
-- The secret is what a second factor rests on, so it is never stored in clear: AES-256-GCM
-- under a key derived from NOVA_SECRET_KEY, with the principal as associated data (a row's
-- secret cannot be moved to another principal's row and still decrypt). `key_id` names the key
-- it was sealed with, so a changed NOVA_SECRET_KEY is recognised instead of failing as a wrong
-- code. `last_step` is the time step of the last code accepted: a code is accepted once, and
-- never one older than the last. Not a read model: nothing in the event store rebuilds it.
-- nova_app gets its grants from the default privileges of migration 007.

CREATE TABLE principal_totp (
  -- `admin` or `key:<key id>` (src/auth/keys.ts Principal.id).
  principal text PRIMARY KEY CHECK (length(principal) BETWEEN 1 AND 200),
  secret_nonce bytea NOT NULL CHECK (octet_length(secret_nonce) = 12),
  secret_ciphertext bytea NOT NULL CHECK (octet_length(secret_ciphertext) BETWEEN 10 AND 64),
  secret_tag bytea NOT NULL CHECK (octet_length(secret_tag) = 16),
  key_id text NOT NULL CHECK (key_id ~ '^[0-9a-f]{16}$'),
  enrolled_at timestamptz NOT NULL,
  -- NULL: enrolled but not confirmed with a first code yet; such a secret passes no step-up.
  confirmed_at timestamptz,
  -- floor(unix seconds / 30) of the last accepted code.
  last_step bigint CHECK (last_step >= 0),
  -- Consecutive wrong codes; at the limit the principal is locked out until `locked_until`.
  failed_attempts integer NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
  locked_until timestamptz
);
