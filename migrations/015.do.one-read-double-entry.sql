-- enforce_double_entry (migration 002) read a posting's entries twice at commit, once for the
-- per-currency balance and once for the count, and each read probes the posting index of every
-- monthly partition of ledger_entries. One read now gives both. Same rules, same errors, same
-- order (an unbalanced currency is reported before too few entries). The SET clause keeps what
-- migration 014 gave the function (CREATE OR REPLACE replaces it). Every name is unqualified: a
-- rebuild runs this in its scratch schema.

CREATE OR REPLACE FUNCTION enforce_double_entry() RETURNS trigger LANGUAGE plpgsql
  SET enable_seqscan = off AS $$
DECLARE
  checked record;
BEGIN
  WITH per_currency AS (
    SELECT e.currency,
           sum(CASE WHEN e.side = 'DEBIT' THEN e.amount ELSE 0 END) AS debits,
           sum(CASE WHEN e.side = 'CREDIT' THEN e.amount ELSE 0 END) AS credits,
           count(*) AS entries
      FROM ledger_entries e
     WHERE e.posting_id = NEW.posting_id
     GROUP BY e.currency
  )
  SELECT (SELECT coalesce(sum(p.entries), 0) FROM per_currency p) AS entries,
         u.currency, u.debits, u.credits
    INTO checked
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL (SELECT * FROM per_currency p WHERE p.debits <> p.credits LIMIT 1) AS u
      ON true;
  IF checked.currency IS NOT NULL THEN
    RAISE EXCEPTION 'ledger transaction % does not balance in %: debits %, credits %',
      NEW.posting_id, checked.currency, checked.debits, checked.credits
      USING ERRCODE = 'check_violation';
  END IF;
  IF checked.entries < 2 THEN
    RAISE EXCEPTION 'ledger transaction % has fewer than two entries', NEW.posting_id
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;
