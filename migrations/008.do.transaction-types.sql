-- Read models of configuration (transaction types with their posting templates, which
-- transaction types each account type may take part in, limits) and of domain transactions, built by
-- the "transactions" projection (src/projections/transactions-projection.ts) from the
-- config-transaction-type-*, config-account-type-* and transaction-* streams.
--
-- No foreign key points at the ledger projection's tables (account_types, accounts,
-- ledger_transactions): the two projections run on checkpoints of their own, and this one may
-- be ahead of the other. The write side checks those references when it decides.

CREATE TABLE transaction_types (
  code text PRIMARY KEY CHECK (code ~ '^[A-Z][A-Z0-9_]{1,31}$'),
  description text NOT NULL,
  requires_two_factor boolean NOT NULL,
  -- Role → the account types that may fill it; NULL: any type.
  allowed_account_types jsonb,
  -- Definitions in the type's stream (a transaction records the version it expanded).
  version integer NOT NULL CHECK (version >= 1),
  created_at timestamptz NOT NULL,
  -- "<commit>.<prepare>": the event store position of the definition.
  position text NOT NULL
);

CREATE TABLE transaction_type_postings (
  transaction_type text NOT NULL REFERENCES transaction_types (code),
  -- The leg's place in the template, from 0.
  leg integer NOT NULL CHECK (leg >= 0),
  side text NOT NULL CHECK (side IN ('DEBIT', 'CREDIT')),
  role text,
  account_id uuid,
  account_type text,
  -- The leg's share of the amount as a fraction of 1 (0.75 is 75 %), kept exactly as defined.
  percent numeric NOT NULL CHECK (percent > 0 AND percent <= 1),
  PRIMARY KEY (transaction_type, leg),
  CHECK ((role IS NULL) <> (account_id IS NULL))
);

-- Which transaction types accounts of a type may take part in (default deny: no row, no use).
CREATE TABLE account_type_transaction (
  account_type text NOT NULL,
  transaction_type text NOT NULL,
  granted_at timestamptz NOT NULL,
  PRIMARY KEY (account_type, transaction_type)
);
CREATE INDEX account_type_transaction_type_idx ON account_type_transaction (transaction_type);

-- Limits per account type × transaction type on what an account pays (amounts in the paying
-- account's currency, as set; NULL: no such limit). A row disappears when every limit is NULL.
CREATE TABLE transaction_limits (
  account_type text NOT NULL,
  transaction_type text NOT NULL,
  per_transaction_max numeric CHECK (per_transaction_max > 0),
  daily_amount_max numeric CHECK (daily_amount_max > 0),
  daily_count_max integer CHECK (daily_count_max > 0),
  monthly_amount_max numeric CHECK (monthly_amount_max > 0),
  updated_at timestamptz NOT NULL,
  position text NOT NULL,
  PRIMARY KEY (account_type, transaction_type)
);

CREATE TABLE domain_transactions (
  id uuid PRIMARY KEY,
  transaction_type text NOT NULL,
  transaction_type_version integer,
  status text NOT NULL CHECK (status IN ('PENDING', 'POSTED', 'FAILED', 'REVERSED')),
  amount numeric(20, 6) NOT NULL CHECK (amount > 0),
  currency char(3) NOT NULL,
  -- Role → account id, as requested.
  parties jsonb NOT NULL,
  -- Every account involved (parties and the template's fixed accounts): ?accountId= filter.
  account_ids uuid[] NOT NULL,
  posting_id uuid,
  reversal_posting_id uuid,
  reference text,
  description text,
  metadata jsonb NOT NULL DEFAULT '{}',
  -- The rejection of a FAILED transaction: its API code, message, details and field errors.
  failure jsonb,
  principal text NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  -- The event store position of the transaction's latest event.
  position text NOT NULL,
  CHECK ((status = 'FAILED') = (failure IS NOT NULL)),
  CHECK (status NOT IN ('POSTED', 'REVERSED') OR posting_id IS NOT NULL)
);
CREATE INDEX domain_transactions_created_idx ON domain_transactions (created_at, id);
CREATE INDEX domain_transactions_type_idx ON domain_transactions (transaction_type, created_at, id);
CREATE INDEX domain_transactions_status_idx ON domain_transactions (status, created_at, id);
CREATE INDEX domain_transactions_accounts_idx ON domain_transactions USING gin (account_ids);

CREATE TABLE domain_transaction_history (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  transaction_id uuid NOT NULL REFERENCES domain_transactions (id),
  status text NOT NULL CHECK (status IN ('PENDING', 'POSTED', 'FAILED', 'REVERSED')),
  reason text,
  changed_at timestamptz NOT NULL
);
CREATE INDEX domain_transaction_history_transaction_idx
  ON domain_transaction_history (transaction_id, id);
