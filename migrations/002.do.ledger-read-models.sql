-- The ledger's read models: what queries and reports read, built by the projector
-- (src/projections) from the event store. The triggers re-check double entry and balances
-- independently of the write side; one that fires means the write side has a bug, and the
-- projector stops on that event instead of skipping it.

CREATE TABLE projection_checkpoints (
  name text PRIMARY KEY,
  -- The last projected event's position: the pair (transaction id, position) of the events table.
  commit_position xid8 NOT NULL,
  prepare_position bigint NOT NULL,
  events_projected bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE account_types (
  code text PRIMARY KEY CHECK (code ~ '^[A-Z][A-Z0-9_]{1,31}$'),
  name text NOT NULL,
  normal_balance text NOT NULL CHECK (normal_balance IN ('DEBIT', 'CREDIT')),
  allow_negative boolean NOT NULL,
  metadata_schema jsonb,
  created_at timestamptz NOT NULL
);

CREATE TABLE accounts (
  id uuid PRIMARY KEY,
  account_type text NOT NULL REFERENCES account_types (code),
  currency char(3) NOT NULL,
  country text,
  owner_id text,
  name text,
  status text NOT NULL CHECK (status IN ('ACTIVE', 'FROZEN', 'CLOSED')),
  metadata jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX accounts_owner_idx ON accounts (owner_id, id);
CREATE INDEX accounts_type_idx ON accounts (account_type, id);
CREATE INDEX accounts_status_idx ON accounts (status, id);

CREATE TABLE account_balances (
  account_id uuid PRIMARY KEY REFERENCES accounts (id),
  currency char(3) NOT NULL,
  normal_balance text NOT NULL CHECK (normal_balance IN ('DEBIT', 'CREDIT')),
  allow_negative boolean NOT NULL,
  -- In the account's normal-balance sense (CREDIT-normal: credits − debits).
  posted numeric(20, 6) NOT NULL DEFAULT 0,
  held numeric(20, 6) NOT NULL DEFAULT 0 CHECK (held >= 0),
  overdraft_limit numeric(20, 6) NOT NULL DEFAULT 0 CHECK (overdraft_limit >= 0),
  available numeric(20, 6) GENERATED ALWAYS AS (posted - held + overdraft_limit) STORED,
  updated_at timestamptz NOT NULL
);

CREATE TABLE account_balance_history (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id uuid NOT NULL,
  posting_id uuid NOT NULL,
  old_balance numeric(20, 6) NOT NULL,
  new_balance numeric(20, 6) NOT NULL,
  reason text NOT NULL,
  changed_at timestamptz NOT NULL
);
CREATE INDEX account_balance_history_account_idx ON account_balance_history (account_id, id);

CREATE TABLE ledger_transactions (
  posting_id uuid PRIMARY KEY,
  reference text UNIQUE,
  transaction_type text,
  description text,
  status text NOT NULL CHECK (status IN ('POSTED', 'REVERSED')),
  reverses uuid UNIQUE REFERENCES ledger_transactions (posting_id),
  reversed_by uuid,
  hold_id uuid,
  metadata jsonb NOT NULL DEFAULT '{}',
  principal text NOT NULL,
  created_at timestamptz NOT NULL,
  -- "<commit>.<prepare>": the event store position of the PostingRecorded event.
  position text NOT NULL
);
CREATE INDEX ledger_transactions_created_idx ON ledger_transactions (created_at, posting_id);
CREATE INDEX ledger_transactions_type_idx ON ledger_transactions (transaction_type, created_at);
CREATE INDEX ledger_transactions_status_idx ON ledger_transactions (status, created_at);

CREATE TABLE ledger_transaction_history (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  posting_id uuid NOT NULL REFERENCES ledger_transactions (posting_id),
  status text NOT NULL,
  reason text,
  changed_at timestamptz NOT NULL
);
CREATE INDEX ledger_transaction_history_posting_idx ON ledger_transaction_history (posting_id, id);

-- Entries are partitioned by month of posting time: old months can be detached and archived.
CREATE TABLE ledger_entries (
  posting_id uuid NOT NULL,
  account_id uuid NOT NULL,
  -- The EntryPosted event's revision in the account's stream: with the account, it names the
  -- event an entry came from (and keeps two legs on one account apart).
  account_revision bigint NOT NULL,
  side text NOT NULL CHECK (side IN ('DEBIT', 'CREDIT')),
  amount numeric(20, 6) NOT NULL CHECK (amount > 0),
  currency char(3) NOT NULL,
  -- The write side's posted balance after this entry; the balance trigger re-checks it.
  balance_after numeric(20, 6) NOT NULL,
  posted_at timestamptz NOT NULL,
  PRIMARY KEY (posted_at, account_id, account_revision)
) PARTITION BY RANGE (posted_at);
CREATE INDEX ledger_entries_account_idx ON ledger_entries (account_id, posted_at);
CREATE INDEX ledger_entries_posting_idx ON ledger_entries (posting_id);
-- Rows outside every monthly partition land here rather than failing; the projector creates
-- months ahead, so this stays empty.
CREATE TABLE ledger_entries_default PARTITION OF ledger_entries DEFAULT;

-- Creates the monthly partitions of ledger_entries from the month of `from_at` on.
CREATE FUNCTION ensure_ledger_entry_partitions(from_at timestamptz, months integer)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  month_start date := date_trunc('month', from_at AT TIME ZONE 'UTC')::date;
  name text;
BEGIN
  FOR i IN 0 .. months - 1 LOOP
    name := format('ledger_entries_%s', to_char(month_start + make_interval(months => i), 'YYYY_MM'));
    IF to_regclass(name) IS NULL THEN
      EXECUTE format(
        'CREATE TABLE %I PARTITION OF ledger_entries FOR VALUES FROM (%L) TO (%L)',
        name,
        (month_start + make_interval(months => i))::timestamp AT TIME ZONE 'UTC',
        (month_start + make_interval(months => i + 1))::timestamp AT TIME ZONE 'UTC');
    END IF;
  END LOOP;
END $$;
SELECT ensure_ledger_entry_partitions(now(), 3);

CREATE TABLE holds (
  id uuid PRIMARY KEY,
  account_id uuid NOT NULL REFERENCES accounts (id),
  amount numeric(20, 6) NOT NULL CHECK (amount > 0),
  currency char(3) NOT NULL,
  status text NOT NULL CHECK (status IN ('ACTIVE', 'RELEASED', 'CAPTURED', 'EXPIRED')),
  reason text,
  expires_at timestamptz,
  captured_amount numeric(20, 6),
  capture_posting_id uuid,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX holds_account_idx ON holds (account_id, status);

-- Double entry: at commit, every ledger transaction written in this transaction must have at
-- least two entries, and its debits must equal its credits in every currency.
CREATE FUNCTION enforce_double_entry() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  unbalanced record;
BEGIN
  SELECT e.currency,
         sum(CASE WHEN e.side = 'DEBIT' THEN e.amount ELSE 0 END) AS debits,
         sum(CASE WHEN e.side = 'CREDIT' THEN e.amount ELSE 0 END) AS credits,
         count(*) OVER () AS currencies
    INTO unbalanced
    FROM ledger_entries e
   WHERE e.posting_id = NEW.posting_id
   GROUP BY e.currency
  HAVING sum(CASE WHEN e.side = 'DEBIT' THEN e.amount ELSE -e.amount END) <> 0
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'ledger transaction % does not balance in %: debits %, credits %',
      NEW.posting_id, unbalanced.currency, unbalanced.debits, unbalanced.credits
      USING ERRCODE = 'check_violation';
  END IF;
  IF (SELECT count(*) FROM ledger_entries e WHERE e.posting_id = NEW.posting_id) < 2 THEN
    RAISE EXCEPTION 'ledger transaction % has fewer than two entries', NEW.posting_id
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER enforce_double_entry
  AFTER INSERT ON ledger_transactions
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION enforce_double_entry();

-- Entries may only join a ledger transaction written in the same database transaction: an
-- entry added later to a balanced transaction would unbalance it unseen.
CREATE FUNCTION refuse_late_entries() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  late uuid;
BEGIN
  SELECT n.posting_id INTO late
    FROM new_rows n
    LEFT JOIN ledger_transactions t ON t.posting_id = n.posting_id
   WHERE t.posting_id IS NULL OR t.xmin::text::xid8 <> pg_current_xact_id()
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'entries of ledger transaction % must be written with its header', late
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER refuse_late_entries
  AFTER INSERT ON ledger_entries
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_late_entries();

-- Balances follow entries, set-based: one UPDATE per statement for all its accounts, one
-- history row per entry. It re-checks the write side twice: the balance it computes must equal
-- the last entry's balance_after, and an account whose type forbids negatives may not end a
-- decrease below −overdraft line (after holds).
CREATE FUNCTION adjust_account_balance() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  broken record;
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows n LEFT JOIN account_balances b USING (account_id)
              WHERE b.account_id IS NULL) THEN
    RAISE EXCEPTION 'ledger entries for an account with no balance row'
      USING ERRCODE = 'foreign_key_violation';
  END IF;

  INSERT INTO account_balance_history (account_id, posting_id, old_balance, new_balance, reason, changed_at)
  SELECT n.account_id, n.posting_id,
         n.balance_after - CASE WHEN n.side = b.normal_balance THEN n.amount ELSE -n.amount END,
         n.balance_after, 'entry ' || n.side, n.posted_at
    FROM new_rows n JOIN account_balances b USING (account_id)
   ORDER BY n.account_id, n.account_revision;

  WITH changes AS (
    SELECT n.account_id,
           sum(CASE WHEN n.side = b.normal_balance THEN n.amount ELSE -n.amount END) AS delta,
           (array_agg(n.balance_after ORDER BY n.account_revision DESC))[1]
             AS last_balance,
           max(n.posted_at) AS changed_at
      FROM new_rows n JOIN account_balances b USING (account_id)
     GROUP BY n.account_id
  ), updated AS (
    UPDATE account_balances b
       SET posted = b.posted + c.delta, updated_at = c.changed_at
      FROM changes c
     WHERE b.account_id = c.account_id
    RETURNING b.account_id, b.posted, b.held, b.overdraft_limit, b.allow_negative
  )
  SELECT u.account_id, u.posted, c.last_balance,
         u.posted - u.held + u.overdraft_limit AS available
    INTO broken
    FROM updated u JOIN changes c USING (account_id)
   WHERE u.posted <> c.last_balance
      OR (NOT u.allow_negative AND c.delta < 0 AND u.posted - u.held + u.overdraft_limit < 0)
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'account % balance check failed: posted %, write side says %, available %',
      broken.account_id, broken.posted, broken.last_balance, broken.available
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER adjust_account_balance
  AFTER INSERT ON ledger_entries
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION adjust_account_balance();
