/**
 * The least-privilege role the server works as (migrations/007.do.least-privilege.sql): it may
 * append events but not change them, write read models but not alter or drop them.
 */
import type pg from "pg";

export const appRole = "nova_app";

/** Whether sessions of the pool's user may work as `appRole` (it exists and they are members). */
export async function appRoleUsable(pool: pg.Pool): Promise<boolean> {
  const { rows } = await pool.query<{ usable: boolean }>(
    `SELECT CASE WHEN to_regrole($1) IS NULL THEN false
                 ELSE pg_has_role(current_user, $1, 'MEMBER') END AS usable`,
    [appRole],
  );
  return rows[0]?.usable === true;
}
