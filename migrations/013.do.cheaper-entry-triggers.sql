-- The two statement triggers on ledger_entries (migration 002) re-check the same rules with
-- fewer index probes per entry: they are most of what projecting an entry costs the database,
-- for the live projector and for a rebuild alike. Same rules, same errors (codes and messages).
-- - adjust_account_balance: the "no balance row" check counts the rows of the join it needs
--   for the history anyway, instead of probing account_balances once more per entry; the
--   balance change is summed without a second join (debits less credits, turned to the
--   account's normal-balance sense in the UPDATE), and the checks read the UPDATE's RETURNING
--   instead of joining its output back.
-- - refuse_late_entries: one probe of ledger_transactions per posting, not per entry.
-- Every name is unqualified: a rebuild runs this in its scratch schema (src/projections).

CREATE OR REPLACE FUNCTION adjust_account_balance() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  broken record;
  entries_with_balance bigint;
BEGIN
  INSERT INTO account_balance_history (account_id, posting_id, old_balance, new_balance, reason, changed_at)
  SELECT n.account_id, n.posting_id,
         n.balance_after - CASE WHEN n.side = b.normal_balance THEN n.amount ELSE -n.amount END,
         n.balance_after, 'entry ' || n.side, n.posted_at
    FROM new_rows n JOIN account_balances b USING (account_id)
   ORDER BY n.account_id, n.account_revision;
  -- account_balances has one row per account at most: the join keeps every entry that has one.
  GET DIAGNOSTICS entries_with_balance = ROW_COUNT;
  IF entries_with_balance <> (SELECT count(*) FROM new_rows) THEN
    RAISE EXCEPTION 'ledger entries for an account with no balance row'
      USING ERRCODE = 'foreign_key_violation';
  END IF;

  WITH changes AS (
    SELECT n.account_id,
           sum(CASE WHEN n.side = 'DEBIT' THEN n.amount ELSE -n.amount END) AS debits_less_credits,
           (array_agg(n.balance_after ORDER BY n.account_revision DESC))[1] AS last_balance,
           max(n.posted_at) AS changed_at
      FROM new_rows n
     GROUP BY n.account_id
  ), updated AS (
    UPDATE account_balances b
       SET posted = b.posted + CASE WHEN b.normal_balance = 'DEBIT' THEN c.debits_less_credits
                                    ELSE -c.debits_less_credits END,
           updated_at = c.changed_at
      FROM changes c
     WHERE b.account_id = c.account_id
    RETURNING b.account_id, b.posted, b.held, b.overdraft_limit, b.allow_negative, c.last_balance,
              CASE WHEN b.normal_balance = 'DEBIT' THEN c.debits_less_credits
                   ELSE -c.debits_less_credits END AS delta
  )
  SELECT u.account_id, u.posted, u.last_balance,
         u.posted - u.held + u.overdraft_limit AS available
    INTO broken
    FROM updated u
   WHERE u.posted <> u.last_balance
      OR (NOT u.allow_negative AND u.delta < 0 AND u.posted - u.held + u.overdraft_limit < 0)
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'account % balance check failed: posted %, write side says %, available %',
      broken.account_id, broken.posted, broken.last_balance, broken.available
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION refuse_late_entries() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  late uuid;
BEGIN
  SELECT n.posting_id INTO late
    FROM (SELECT DISTINCT posting_id FROM new_rows) AS n
    LEFT JOIN ledger_transactions t ON t.posting_id = n.posting_id
   WHERE t.posting_id IS NULL OR t.xmin::text::xid8 <> pg_current_xact_id()
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'entries of ledger transaction % must be written with its header', late
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;
