/**
 * What the projection tests compare: the read models against the event store they were built
 * from (every event projected once, none missing), and table checksums for rebuilds.
 */
import type pg from "pg";
import { type LogPosition, parsePosition } from "../../src/eventstore/port.js";
import { actor, ok, type TestLedger, transfer } from "../commands/support.js";

export function position(text: string): LogPosition {
  const parsed = parsePosition(text);
  if (parsed === undefined) throw new Error(`not a position: ${text}`);
  return parsed;
}

/**
 * Every way the read models and the events up to `upTo` (all when absent) disagree: an entry,
 * header, account or history row missing or extra, a balance that is not the last
 * balanceAfter. Empty when each event was projected exactly once.
 */
export async function discrepancies(pool: pg.Pool, upTo?: LogPosition): Promise<string[]> {
  const bound = upTo ?? { commit: 2n ** 62n, prepare: 2n ** 62n };
  const result = await pool.query<{ problem: string }>(
    `WITH projected AS (
       SELECT * FROM events WHERE (transaction_id, position) <= ($1::text::xid8, $2::bigint)
     ), entries AS (
       SELECT substr(stream, 9)::uuid AS account_id, revision AS account_revision,
              (data->>'balanceAfter')::numeric AS balance_after
         FROM projected WHERE type = 'EntryPosted'
     ), counts AS (
       SELECT (SELECT count(*) FROM entries) AS entry_events,
              (SELECT count(*) FROM projected WHERE type = 'PostingRecorded') AS postings,
              (SELECT count(*) FROM projected WHERE type IN ('PostingRecorded', 'PostingReversed')) AS posting_changes,
              (SELECT count(*) FROM projected WHERE type = 'AccountOpened') AS accounts
     )
     SELECT format('entry %s@%s missing', account_id, account_revision) AS problem
       FROM (SELECT account_id, account_revision FROM entries
             EXCEPT SELECT account_id, account_revision FROM ledger_entries) AS missing
     UNION ALL
     SELECT format('entry %s@%s has no event', account_id, account_revision)
       FROM (SELECT account_id, account_revision FROM ledger_entries
             EXCEPT SELECT account_id, account_revision FROM entries) AS extra
     UNION ALL
     SELECT format('%s entry rows for %s EntryPosted events', (SELECT count(*) FROM ledger_entries), entry_events)
       FROM counts WHERE (SELECT count(*) FROM ledger_entries) <> entry_events
     UNION ALL
     SELECT format('%s balance history rows for %s EntryPosted events', (SELECT count(*) FROM account_balance_history), entry_events)
       FROM counts WHERE (SELECT count(*) FROM account_balance_history) <> entry_events
     UNION ALL
     SELECT format('%s ledger transactions for %s PostingRecorded events', (SELECT count(*) FROM ledger_transactions), postings)
       FROM counts WHERE (SELECT count(*) FROM ledger_transactions) <> postings
     UNION ALL
     SELECT format('%s ledger transaction history rows for %s posting events', (SELECT count(*) FROM ledger_transaction_history), posting_changes)
       FROM counts WHERE (SELECT count(*) FROM ledger_transaction_history) <> posting_changes
     UNION ALL
     SELECT format('%s accounts for %s AccountOpened events', (SELECT count(*) FROM accounts), accounts)
       FROM counts WHERE (SELECT count(*) FROM accounts) <> accounts
     UNION ALL
     SELECT format('account %s posted %s, its last entry says %s', b.account_id, b.posted, coalesce(l.balance_after, 0))
       FROM account_balances b
       LEFT JOIN (SELECT DISTINCT ON (account_id) account_id, balance_after FROM entries
                   ORDER BY account_id, account_revision DESC) AS l USING (account_id)
      WHERE b.posted <> coalesce(l.balance_after, 0)`,
    [bound.commit.toString(), bound.prepare.toString()],
  );
  return result.rows.map((row) => row.problem);
}

/**
 * One md5 per read-model table over its rows in a fixed order. Surrogate ids (identity
 * columns) depend on how events were batched, so history rows carry their rank within their
 * account or posting instead: the order a reader sees, without the numbering.
 */
export async function checksums(pool: pg.Pool): Promise<Record<string, string>> {
  const queries: Record<string, string> = {
    account_types: "SELECT t FROM account_types t ORDER BY code",
    accounts: "SELECT t FROM accounts t ORDER BY id",
    account_balances: "SELECT t FROM account_balances t ORDER BY account_id",
    account_balance_history: `SELECT account_id, posting_id, old_balance, new_balance, reason, changed_at,
        row_number() OVER (PARTITION BY account_id ORDER BY id) AS rank
        FROM account_balance_history ORDER BY account_id, rank`,
    ledger_transactions: "SELECT t FROM ledger_transactions t ORDER BY posting_id",
    ledger_transaction_history: `SELECT posting_id, status, reason, changed_at,
        row_number() OVER (PARTITION BY posting_id ORDER BY id) AS rank
        FROM ledger_transaction_history ORDER BY posting_id, rank`,
    ledger_entries: "SELECT t FROM ledger_entries t ORDER BY account_id, account_revision",
    holds: "SELECT t FROM holds t ORDER BY id",
  };
  const sums: Record<string, string> = {};
  for (const [table, rows] of Object.entries(queries)) {
    const result = await pool.query<{ sum: string; count: string }>(
      `SELECT md5(coalesce(string_agg(r::text, E'\\n' ORDER BY n), '')) AS sum, count(*) AS count
         FROM (SELECT r, row_number() OVER () AS n FROM (${rows}) AS r) AS numbered`,
    );
    sums[table] = `${result.rows[0]?.count} rows ${result.rows[0]?.sum}`;
  }
  return sums;
}

/**
 * `count` transfers from `funding` to the wallets in turn, a few at a time, so the log has
 * many small commits (a projector batch then ends between them).
 */
export async function transfers(
  t: TestLedger,
  funding: string,
  wallets: readonly string[],
  count: number,
  atOnce = 3,
): Promise<string> {
  let last = "";
  for (let start = 0; start < count; start += atOnce) {
    const outcomes = await Promise.all(
      Array.from({ length: Math.min(atOnce, count - start) }, (_, offset) =>
        t.ledger.recordPosting(
          transfer(funding, wallets[(start + offset) % wallets.length] ?? "", "0.10"),
          actor(),
        ),
      ),
    );
    for (const outcome of outcomes) {
      ok(outcome);
      if (outcome.ok) last = laterOf(last, outcome.position);
    }
  }
  return last;
}

function laterOf(a: string, b: string): string {
  if (a === "") return b;
  const [x, y] = [position(a), position(b)];
  return x.commit > y.commit || (x.commit === y.commit && x.prepare >= y.prepare) ? a : b;
}
