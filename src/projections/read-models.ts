/**
 * A projection's read models as a rebuild needs them: the reviewed migrations that create them,
 * run again with the search_path set to a scratch schema, so the rebuilt tables, functions and
 * triggers come from the very same SQL as the live ones (every name in those migrations is
 * unqualified for this reason), and how to bulk-load them. `ledgerReadModels` describes the
 * ledger projection's.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

const migrationsDir = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../migrations",
);

/**
 * The migrations that create or change the ledger read models, in order. A new migration that
 * changes a read-model table joins this list; until it does, a rebuild refuses to switch over
 * (its tables would not match the live ones, see `rebuild.ts`).
 */
export const readModelMigrations: readonly string[] = [
  "002.do.ledger-read-models.sql",
  "009.do.read-model-details.sql",
  "011.do.idempotency-keys.sql",
  "013.do.cheaper-entry-triggers.sql",
  "014.do.key-lookups-in-triggers.sql",
  "015.do.one-read-double-entry.sql",
];

/**
 * Creates the read models in `schema` (which must exist and be empty), in the caller's
 * transaction. With only `schema` on the search_path, a migration that reached for anything
 * outside the read models would fail here instead of binding to a live table.
 */
export async function createReadModels(
  client: pg.ClientBase,
  schema: string,
  migrations: readonly string[],
): Promise<void> {
  await client.query(`SET LOCAL search_path TO ${pg.escapeIdentifier(schema)}`);
  for (const file of migrations) {
    const sql = await readFile(path.join(migrationsDir, file), "utf8");
    await client.query(sql);
  }
}

/**
 * Secondary indexes that nothing reads during a replay (only queries do): a rebuild drops them
 * before its replay and builds each once, in bulk, before switching over, instead of
 * maintaining them row by row. The ledger_entries indexes are among them: during a replay the
 * per-posting double-entry trigger is replaced by one set-based check after it, which does not
 * need them. The primary and unique keys stay.
 */
export const indexesBuiltAfterReplay: readonly string[] = [
  "ledger_entries_account_idx",
  "ledger_entries_posting_idx",
  "ledger_transactions_created_idx",
  "ledger_transactions_type_idx",
  "ledger_transactions_status_idx",
  "ledger_transaction_history_posting_idx",
  "account_balance_history_account_idx",
  "accounts_owner_idx",
  "accounts_type_idx",
  "accounts_status_idx",
  "holds_account_idx",
];

/**
 * A per-row deferred re-check that a rebuild switches off for its replay and replaces by one
 * set-based query over everything replayed (`violation` returns a row describing the first
 * breach, or none); the trigger is on again before the switch-over. The check is the same rule
 * as the trigger's, only run once for all rows instead of once per row at each commit.
 */
export interface ReplayedCheck {
  readonly table: string;
  readonly trigger: string;
  readonly violation: string;
}

export const checksRunAfterReplay: readonly ReplayedCheck[] = [
  {
    table: "ledger_transactions",
    trigger: "enforce_double_entry",
    // enforce_double_entry() (migrations 002, 015): at least two entries, debits = credits per currency.
    violation: `
      WITH legs AS (
        SELECT posting_id, currency, count(*) AS entries,
               sum(CASE WHEN side = 'DEBIT' THEN amount ELSE 0 END) AS debits,
               sum(CASE WHEN side = 'CREDIT' THEN amount ELSE 0 END) AS credits
          FROM ledger_entries GROUP BY posting_id, currency
      )
      SELECT format('ledger transaction %s does not balance in %s: debits %s, credits %s',
                    posting_id, currency, debits, credits) AS message
        FROM legs WHERE debits <> credits
      UNION ALL
      SELECT format('ledger transaction %s has fewer than two entries', t.posting_id)
        FROM ledger_transactions t LEFT JOIN legs l USING (posting_id)
       GROUP BY t.posting_id HAVING coalesce(sum(l.entries), 0) < 2
      LIMIT 1`,
  },
];

/** What a rebuild needs to know of a projection's read models. */
export interface ReadModelSet {
  readonly migrations: readonly string[];
  readonly indexesBuiltAfterReplay: readonly string[];
  readonly checksRunAfterReplay: readonly ReplayedCheck[];
}

export const ledgerReadModels: ReadModelSet = {
  migrations: readModelMigrations,
  indexesBuiltAfterReplay,
  checksRunAfterReplay,
};
