/** A database of its own for a test file: a copy of the migrated template, or an empty one. */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";
import { createPool } from "../../src/db/pool.js";

export interface TestDatabase {
  readonly name: string;
  readonly connectionString: string;
  readonly pool: pg.Pool;
  drop(): Promise<void>;
}

const copyAttemptsMax = 10;

export async function createTestDatabase(
  options: { migrated?: boolean; poolSizeMax?: number } = {},
): Promise<TestDatabase> {
  const adminUrl = inject("adminDatabaseUrl");
  const template = options.migrated === false ? "template0" : inject("templateDatabase");
  const name = `nova_test_${randomBytes(6).toString("hex")}`;
  await withAdmin(adminUrl, async (client) => {
    // Two files copying the template at the same instant can collide; retry briefly.
    for (let attempt = 1; ; attempt++) {
      try {
        await client.query(
          `CREATE DATABASE ${pg.escapeIdentifier(name)} TEMPLATE ${pg.escapeIdentifier(template)}`,
        );
        return;
      } catch (error) {
        const busy = error instanceof Error && /being accessed by other users/.test(error.message);
        if (!busy || attempt >= copyAttemptsMax) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
      }
    }
  });
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const connectionString = url.toString();
  const pool = createPool({ connectionString, poolSizeMax: options.poolSizeMax ?? 20 });
  return {
    name,
    connectionString,
    pool,
    async drop() {
      await pool.end();
      await withAdmin(adminUrl, (client) =>
        client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`),
      );
    },
  };
}

async function withAdmin(url: string, use: (client: pg.Client) => Promise<unknown>) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await use(client);
  } finally {
    await client.end();
  }
}
