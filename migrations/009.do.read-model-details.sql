-- What the ledger read models lacked to answer exactly what the write side answers:
-- a posting's legs in the order they were requested (ledger_entries keeps them by account), and
-- when an overdraft line ends (after it, the line no longer counts in `available`).
-- Every name is unqualified: a rebuild runs this in its scratch schema (src/projections).

ALTER TABLE ledger_transactions ADD COLUMN entries jsonb NOT NULL DEFAULT '[]'::jsonb
  CHECK (jsonb_typeof(entries) = 'array');
COMMENT ON COLUMN ledger_transactions.entries IS
  'The legs as requested: [{accountId, side, amount, currency}], from PostingRecorded';

ALTER TABLE account_balances ADD COLUMN overdraft_expires_at timestamptz;
COMMENT ON COLUMN account_balances.overdraft_expires_at IS
  'When the overdraft line ends (null: never); readers count overdraft_limit only before it';
