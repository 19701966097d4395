-- The read models' triggers look rows up by key only: a header by posting_id, a balance row by
-- account_id, an entry by posting_id. Their plans are cached for the session, made on whatever
-- statistics the tables had then; on young or fast-growing tables those say "small", and the
-- plans read all of ledger_transactions and account_balances for every batch (a seq scan and a
-- hash join: seen on a 17,000-posting ledger, 2.5 ms a batch, growing with the ledger). Index
-- lookups are the right plan at every size, so these functions plan without sequential scans.
-- Same rules, same errors. Every name is unqualified: a rebuild runs this in its scratch schema.

ALTER FUNCTION refuse_late_entries() SET enable_seqscan = off;
ALTER FUNCTION adjust_account_balance() SET enable_seqscan = off;
ALTER FUNCTION enforce_double_entry() SET enable_seqscan = off;
