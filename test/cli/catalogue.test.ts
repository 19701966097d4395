/**
 * `nova seed catalogue`, `nova demo` and the first start's seeding, end to end on a test
 * database: the configuration they read, the pipeline on the Postgres event store, what they
 * print, every demo balance to the cent, and a second run that changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CliOutput,
  type DemoReport,
  demoAccountId,
  runDemoCommand,
  runSeedCommand,
  seedOnFirstStart,
} from "../../src/cli/catalogue.js";
import { operatorAccountId } from "../../src/commands/catalogue.js";
import { CommandPipeline } from "../../src/commands/pipeline.js";
import { PostgresEventStore } from "../../src/eventstore/postgres/postgres-event-store.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

let database: TestDatabase;
let environment: NodeJS.ProcessEnv;

beforeAll(async () => {
  database = await createTestDatabase();
  environment = { DATABASE_URL: database.connectionString, LOG_LEVEL: "silent" };
});
afterAll(async () => database.drop());

async function run(
  command: typeof runSeedCommand,
  ...args: string[]
): Promise<{ exitCode: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const output: CliOutput = { out: (line) => out.push(line), err: (line) => err.push(line) };
  const exitCode = await command(args, { environment, output });
  return { exitCode, out, err };
}

async function eventCount(pool = database.pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM events");
  return rows[0]?.n ?? -1;
}

describe("nova seed catalogue", () => {
  it("defines the catalogue and prints what it created", async () => {
    const result = await run(runSeedCommand, "catalogue");
    expect(result).toMatchObject({ exitCode: 0, err: [] });
    expect(result.out[0]).toBe("Seeded the mobile-money catalogue (XCD):");
    expect(result.out).toContain(
      "  account types defined:      CUSTOMER_WALLET, AGENT_FLOAT, AGENT_COMMISSION, MERCHANT, FEE_INCOME, COMMISSION_EXPENSE, SETTLEMENT_BANK, SUSPENSE",
    );
    expect(result.out).toContain(
      "  transaction types defined:  FLOAT_TOPUP, FLOAT_REDEEM, CASH_IN, CASH_OUT, P2P, MERCHANT_PAYMENT, COMMISSION_PAYOUT",
    );
    expect(result.out).toContain(`  FEE_INCOME          ${operatorAccountId("FEE_INCOME", "XCD")}`);
    const { rows } = await database.pool.query(
      "SELECT DISTINCT stream FROM events WHERE stream LIKE 'config-transaction-type-%'",
    );
    expect(rows).toHaveLength(7);
  });

  it("run again it creates nothing and says so", async () => {
    const before = await eventCount();
    const result = await run(runSeedCommand, "catalogue");
    expect(result.exitCode).toBe(0);
    expect(result.out[0]).toBe(
      "The mobile-money catalogue (XCD) was already in place: nothing to do.",
    );
    expect(result.out[1]).toBe("Operator accounts:");
    expect(await eventCount()).toBe(before);
  });

  it("--json prints the report as one JSON line", async () => {
    const result = await run(runSeedCommand, "catalogue", "--json");
    expect(result.out).toHaveLength(1);
    expect(JSON.parse(result.out[0] ?? "")).toMatchObject({
      currency: "XCD",
      accountTypesDefined: [],
      operatorAccounts: { SETTLEMENT_BANK: operatorAccountId("SETTLEMENT_BANK", "XCD") },
    });
  });

  it.each([
    [[], /name what to seed/],
    [["catalog"], /cannot seed "catalog"/],
    [["catalogue", "--currency", "xcd"], /ISO 4217/],
    [["catalogue", "--fast"], /Unknown option/],
  ])("%o is a usage error (exit 2) that prints the usage", async (args, message) => {
    const result = await run(runSeedCommand, ...args);
    expect(result.exitCode).toBe(2);
    expect(result.err.join("\n")).toMatch(message);
    expect(result.err.join("\n")).toContain("Usage: nova seed catalogue");
  });
});

describe("nova demo", () => {
  /** The demo's day (src/cli/catalogue.ts), each balance worked out by hand. */
  const expectedBalances = {
    // 5,000 float − 500 and 250 cashed in.
    "Marigot agent: float": "4250.00",
    "Marigot agent: commission": "12.50",
    // 3,000 float − 400 cashed in + 148.50 for Bertrand's 150 cash-out (99 %).
    "Rodney Bay agent: float": "2748.50",
    // 500 − 100 sent.
    "Alicia Joseph": "400.00",
    // 250 + 99 received − 150 taken out.
    "Bertrand Charles": "199.00",
    // 400 − 80 paid.
    "Camille Felix": "320.00",
    // 98.5 % of 80.
    "Gros Islet corner shop": "78.80",
    // 1.00 (P2P) + 1.50 (cash-out) + 1.20 (merchant payment).
    "operator: fee income": "3.70",
    "operator: commission expense": "12.50",
    // The two top-ups: the e-money the agents hold is backed here.
    "operator: settlement bank": "8000.00",
    "operator: suspense": "0.00",
  };

  function balancesOf(report: DemoReport): Record<string, string> {
    return Object.fromEntries(report.balances.map((balance) => [balance.name, balance.posted]));
  }

  it("opens its accounts, makes every kind of transaction and prints the balances to the cent", async () => {
    const result = await run(runDemoCommand, "--json");
    expect(result).toMatchObject({ exitCode: 0, err: [] });
    const report: DemoReport = JSON.parse(result.out[0] ?? "");
    expect(report.accountsOpened).toHaveLength(7);
    expect(report.transactions.map((transaction) => transaction.transactionType)).toEqual([
      "FLOAT_TOPUP",
      "FLOAT_TOPUP",
      "CASH_IN",
      "CASH_IN",
      "CASH_IN",
      "P2P",
      "CASH_OUT",
      "MERCHANT_PAYMENT",
      "COMMISSION_PAYOUT",
    ]);
    expect(report.transactions.every((transaction) => transaction.created)).toBe(true);
    expect(balancesOf(report)).toEqual(expectedBalances);
    const alicia = report.balances.find((balance) => balance.name === "Alicia Joseph");
    expect(alicia?.accountId).toBe(demoAccountId("alicia"));
  });

  it("run again it opens and moves nothing, and prints the same balances for a person", async () => {
    const before = await eventCount();
    const result = await run(runDemoCommand);
    expect(result.exitCode).toBe(0);
    expect(await eventCount()).toBe(before);
    expect(result.out).toContain("Demo accounts: already open.");
    expect(result.out.filter((line) => line.startsWith("  already posted"))).toHaveLength(9);
    expect(result.out).toContain(
      `  Alicia Joseph                 CUSTOMER_WALLET         400.00  ${demoAccountId("alicia")}`,
    );
    expect(result.out).toContain(
      `  operator: fee income          FEE_INCOME                3.70  ${operatorAccountId("FEE_INCOME", "XCD")}`,
    );
  });

  it("an unknown option is a usage error", async () => {
    const result = await run(runDemoCommand, "--loud");
    expect(result.exitCode).toBe(2);
    expect(result.err.join("\n")).toContain("Usage: nova demo");
  });
});

describe("the first start", () => {
  it("seeds an empty store and logs what it defined; a store with events is left alone", async () => {
    const fresh = await createTestDatabase();
    try {
      const store = new PostgresEventStore(fresh.pool);
      const pipeline = new CommandPipeline(store);
      const logged: Array<{ details: Record<string, unknown>; message: string }> = [];
      const logger = {
        info: (details: Record<string, unknown>, message: string) =>
          logged.push({ details, message }),
      };
      const report = await seedOnFirstStart(store, pipeline, logger);
      expect(report?.transactionTypesDefined).toHaveLength(7);
      expect(logged).toHaveLength(1);
      expect(logged[0]?.message).toMatch(/^empty event store: seeded the mobile-money catalogue/);
      expect(logged[0]?.details).toMatchObject({
        currency: "XCD",
        transactionTypes: expect.arrayContaining(["CASH_IN", "P2P"]),
      });
      const seeded = await eventCount(fresh.pool);
      expect(seeded).toBeGreaterThan(0);

      expect(await seedOnFirstStart(store, pipeline, logger)).toBeUndefined();
      expect(logged).toHaveLength(1);
      expect(await eventCount(fresh.pool)).toBe(seeded);
      await pipeline.drain();
    } finally {
      await fresh.drop();
    }
  });
});
