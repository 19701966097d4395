-- The registry of idempotency keys (seed table idempotency_keys): what each keyed request of a
-- principal created. The write side needs no table for this (a key's resource id is derived
-- from it, so the append's "must not exist" check is the guard); this read model lets an
-- operator answer "what did key K of principal P do?". Projected from the creating events'
-- metadata (idempotencyKey). Every name is unqualified: a rebuild runs this in its scratch schema.

CREATE TABLE idempotency_keys (
  principal text NOT NULL,
  idempotency_key text NOT NULL,
  resource_type text NOT NULL CHECK (resource_type IN ('account', 'posting', 'hold', 'transaction')),
  resource_id uuid NOT NULL,
  created_at timestamptz NOT NULL,
  -- "<commit>.<prepare>": the commit that created the resource.
  position text NOT NULL,
  PRIMARY KEY (principal, idempotency_key, resource_id)
);
CREATE INDEX idempotency_keys_resource_idx ON idempotency_keys (resource_id);
