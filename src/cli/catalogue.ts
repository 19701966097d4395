/**
 * `nova seed catalogue`, `nova demo`, and the catalogue a first start seeds.
 *
 * - `nova seed catalogue [--currency XCD] [--json]` defines the mobile-money catalogue
 *   (src/domain/catalogue/mobile-money.ts) through the real command pipeline and prints what
 *   it created; run again, it creates nothing and says so.
 * - `nova demo [--json]` seeds the catalogue, then opens a few agents, customers and a
 *   merchant, and makes float top-ups, cash-ins, a P2P transfer, a cash-out, a merchant
 *   payment and a commission payout, and prints every balance: a live ledger for a newcomer.
 *   Its accounts have fixed ids and its transactions idempotency keys, so a second run opens
 *   and moves nothing and prints the same balances.
 * - `seedOnFirstStart` is what `nova serve` calls on a store with no event at all.
 *
 * Both commands work like `nova migrate`: on DATABASE_URL or the embedded Postgres, migrated
 * first, on the event store the configuration names. They act on the store directly, as the
 * operator, so the API's step-up 2FA (an HTTP concern) does not apply to them.
 */
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import pino from "pino";
import { v5 as uuidv5 } from "uuid";
import { CatalogueError, type CatalogueReport, seedCatalogue } from "../commands/catalogue.js";
import { LedgerCommands } from "../commands/ledger.js";
import { CommandPipeline } from "../commands/pipeline.js";
import type { Actor } from "../commands/requests.js";
import { TransactionCommands } from "../commands/transactions.js";
import { type Config, loadConfig } from "../config/config.js";
import { migrate } from "../db/migrate.js";
import { createPool } from "../db/pool.js";
import { type OperatorAccount, operatorAccounts } from "../domain/catalogue/mobile-money.js";
import type { EventStore } from "../eventstore/port.js";
import { openCommandEventStore, openDatabase } from "./connect.js";

export const seedUsage = `Usage: nova seed catalogue [--currency <code>] [--json]

Defines the mobile-money catalogue (account types, the operator's accounts, transaction types
with their posting templates, permissions and limits) in the event store. What exists is kept,
so it may run any number of times. Default currency: XCD.`;

export const demoUsage = `Usage: nova demo [--json]

Seeds the catalogue (XCD), then opens demo agents, customers and a merchant, makes a few
transactions of every kind and prints the balances. A second run changes nothing.`;

export interface CliOutput {
  out(line: string): void;
  err(line: string): void;
}

export interface CatalogueCommandOptions {
  readonly environment?: NodeJS.ProcessEnv;
  readonly output?: CliOutput;
}

/** 0: done; 1: a step was refused (named on stderr); 2: usage. */
export type CatalogueExitCode = 0 | 1 | 2;

/** The demo's currency: the catalogue's default, and the currency of its amounts. */
export const demoCurrency = "XCD";

/** Connections: the pipeline's appends and loads; nothing runs in parallel. */
const poolSizeMax = 4;

/** Namespace of the demo accounts' ids (a fixed random UUID; keep it). */
const demoAccountNamespace = "8d4c2f6e-1a3b-4e5d-9f70-2b6c8e0a1d3f";

const processOutput: CliOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A demo step was refused: the store holds something the demo did not expect. */
export class DemoError extends Error {
  override readonly name = "DemoError";
}

function actorFor(principal: string, idempotencyKey?: string): Actor {
  return {
    principal,
    correlationId: randomUUID(),
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
  };
}

// ---------------------------------------------------------------------------------------------
// First start

/** What a first start logs with. */
export interface SeedLogger {
  info(details: Record<string, unknown>, message: string): void;
}

/**
 * Seeds the catalogue when the store holds no event at all, and logs what it defined. A store
 * with anything in it is left alone: its operator configures it (or runs `nova seed
 * catalogue`). Two servers starting together on an empty store both seed, harmlessly: seeding
 * keeps what exists.
 */
export async function seedOnFirstStart(
  store: Pick<EventStore, "readAll">,
  pipeline: CommandPipeline,
  logger: SeedLogger,
): Promise<CatalogueReport | undefined> {
  const { events } = await store.readAll({ limit: 1 });
  if (events.length > 0) return undefined;
  const report = await seedCatalogue(pipeline, actorFor("system:first-start"));
  logger.info(
    {
      currency: report.currency,
      accountTypes: report.accountTypesDefined,
      operatorAccounts: report.operatorAccounts,
      transactionTypes: report.transactionTypesDefined,
      limits: report.limitsSet,
    },
    "empty event store: seeded the mobile-money catalogue (see README)",
  );
  return report;
}

// ---------------------------------------------------------------------------------------------
// nova seed catalogue

/** The `nova seed …` entry of src/cli/main.ts: `args` are the words after `seed`. */
export async function seedCommand(args: readonly string[]): Promise<void> {
  process.exitCode = await runSeedCommand(args);
}

export async function runSeedCommand(
  args: readonly string[],
  options: CatalogueCommandOptions = {},
): Promise<CatalogueExitCode> {
  const output = options.output ?? processOutput;
  let request: { currency: string; json: boolean };
  try {
    request = parseSeedArgs(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    output.err(`${error.message}\n\n${seedUsage}`);
    return 2;
  }
  const config = loadConfig(options.environment ?? process.env);
  return withPipeline(config, output, async (pipeline) => {
    const report = await seedCatalogue(pipeline, actorFor("cli:seed"), request.currency);
    const lines = request.json ? [JSON.stringify(report)] : catalogueReportLines(report);
    for (const line of lines) output.out(line);
  });
}

export function parseSeedArgs(args: readonly string[]): { currency: string; json: boolean } {
  const parsed = parseOrUsage(() =>
    parseArgs({
      args: [...args],
      options: { currency: { type: "string" }, json: { type: "boolean" } },
      allowPositionals: true,
      strict: true,
    }),
  );
  const [what, ...rest] = parsed.positionals;
  if (what !== "catalogue") {
    throw new UsageError(what === undefined ? "name what to seed" : `cannot seed "${what}"`);
  }
  if (rest.length > 0) throw new UsageError(`unexpected "${rest.join(" ")}"`);
  const currency = parsed.values.currency ?? "XCD";
  if (!/^[A-Z]{3}$/.test(currency)) throw new UsageError("--currency is an ISO 4217 code");
  return { currency, json: parsed.values.json === true };
}

/** What a seeding run did and the operator's accounts, for a person. */
export function catalogueReportLines(report: CatalogueReport): string[] {
  const lines = catalogueSummaryLines(report);
  lines.push("Operator accounts:");
  for (const account of operatorAccounts) {
    lines.push(`  ${account.padEnd(20)}${report.operatorAccounts[account]}`);
  }
  return lines;
}

/** What a seeding run created, or that it found everything in place. */
function catalogueSummaryLines(report: CatalogueReport): string[] {
  const created =
    report.accountTypesDefined.length +
    report.operatorAccountsOpened.length +
    report.transactionTypesDefined.length +
    report.limitsSet.length;
  const lines = [
    created === 0
      ? `The mobile-money catalogue (${report.currency}) was already in place: nothing to do.`
      : `Seeded the mobile-money catalogue (${report.currency}):`,
  ];
  const listed = (label: string, items: readonly string[]) => {
    if (items.length > 0) lines.push(`  ${label.padEnd(28)}${items.join(", ")}`);
  };
  listed("account types defined:", report.accountTypesDefined);
  listed("operator accounts opened:", report.operatorAccountsOpened);
  listed("transaction types defined:", report.transactionTypesDefined);
  listed("limits set:", report.limitsSet);
  return lines;
}

// ---------------------------------------------------------------------------------------------
// nova demo

interface DemoAccount {
  readonly key: string;
  readonly name: string;
  readonly accountType: string;
  readonly ownerId: string;
}

const demoAccounts: readonly DemoAccount[] = [
  {
    key: "marigot-float",
    name: "Marigot agent: float",
    accountType: "AGENT_FLOAT",
    ownerId: "demo-agent-marigot",
  },
  {
    key: "marigot-commission",
    name: "Marigot agent: commission",
    accountType: "AGENT_COMMISSION",
    ownerId: "demo-agent-marigot",
  },
  {
    key: "rodney-bay-float",
    name: "Rodney Bay agent: float",
    accountType: "AGENT_FLOAT",
    ownerId: "demo-agent-rodney-bay",
  },
  {
    key: "alicia",
    name: "Alicia Joseph",
    accountType: "CUSTOMER_WALLET",
    ownerId: "demo-customer-alicia",
  },
  {
    key: "bertrand",
    name: "Bertrand Charles",
    accountType: "CUSTOMER_WALLET",
    ownerId: "demo-customer-bertrand",
  },
  {
    key: "camille",
    name: "Camille Felix",
    accountType: "CUSTOMER_WALLET",
    ownerId: "demo-customer-camille",
  },
  {
    key: "corner-shop",
    name: "Gros Islet corner shop",
    accountType: "MERCHANT",
    ownerId: "demo-merchant-corner-shop",
  },
];

interface DemoTransaction {
  /** Its idempotency key (under the demo's principal): a second run replays it. */
  readonly step: string;
  readonly transactionType: string;
  readonly amount: string;
  /** Role → a demo account's key. */
  readonly parties: Readonly<Record<string, string>>;
  readonly description: string;
}

/** An agent's day in Saint Lucia, in the order it happens (each needs the money of those before). */
const demoTransactions: readonly DemoTransaction[] = [
  {
    step: "float-topup-marigot",
    transactionType: "FLOAT_TOPUP",
    amount: "5000.00",
    parties: { agent: "marigot-float" },
    description: "the Marigot agent buys float",
  },
  {
    step: "float-topup-rodney-bay",
    transactionType: "FLOAT_TOPUP",
    amount: "3000.00",
    parties: { agent: "rodney-bay-float" },
    description: "the Rodney Bay agent buys float",
  },
  {
    step: "cash-in-alicia",
    transactionType: "CASH_IN",
    amount: "500.00",
    parties: { agent: "marigot-float", customer: "alicia" },
    description: "Alicia pays in cash at Marigot",
  },
  {
    step: "cash-in-bertrand",
    transactionType: "CASH_IN",
    amount: "250.00",
    parties: { agent: "marigot-float", customer: "bertrand" },
    description: "Bertrand pays in cash at Marigot",
  },
  {
    step: "cash-in-camille",
    transactionType: "CASH_IN",
    amount: "400.00",
    parties: { agent: "rodney-bay-float", customer: "camille" },
    description: "Camille pays in cash at Rodney Bay",
  },
  {
    step: "p2p-alicia-bertrand",
    transactionType: "P2P",
    amount: "100.00",
    parties: { payer: "alicia", payee: "bertrand" },
    description: "Alicia sends Bertrand 100 (1 % fee)",
  },
  {
    step: "cash-out-bertrand",
    transactionType: "CASH_OUT",
    amount: "150.00",
    parties: { customer: "bertrand", agent: "rodney-bay-float" },
    description: "Bertrand takes cash out at Rodney Bay (1 % fee)",
  },
  {
    step: "merchant-payment-camille",
    transactionType: "MERCHANT_PAYMENT",
    amount: "80.00",
    parties: { customer: "camille", merchant: "corner-shop" },
    description: "Camille pays the corner shop (1.5 % fee)",
  },
  {
    step: "commission-payout-marigot",
    transactionType: "COMMISSION_PAYOUT",
    amount: "12.50",
    parties: { agent: "marigot-commission" },
    description: "the operator pays the Marigot agent's commission",
  },
];

/** The id of a demo account: the same on every run, so a second run finds the first's. */
export function demoAccountId(key: string): string {
  return uuidv5(`nova-demo\n${demoCurrency}\n${key}`, demoAccountNamespace);
}

export interface DemoBalance {
  readonly name: string;
  readonly accountType: string;
  readonly accountId: string;
  /** In the account's normal-balance sense, at the currency's scale. */
  readonly posted: string;
}

export interface DemoReport {
  readonly catalogue: CatalogueReport;
  readonly accountsOpened: readonly string[];
  readonly transactions: ReadonlyArray<{
    readonly step: string;
    readonly transactionType: string;
    readonly amount: string;
    readonly description: string;
    readonly transactionId: string;
    /** False when a previous run had already made it (this run replayed it). */
    readonly created: boolean;
  }>;
  readonly balances: readonly DemoBalance[];
}

const demoPrincipal = "cli:demo";

/** Seeds, opens the demo accounts, makes the demo transactions, reads every balance. */
export async function runDemo(pipeline: CommandPipeline, now = new Date()): Promise<DemoReport> {
  const catalogue = await seedCatalogue(pipeline, actorFor(demoPrincipal), demoCurrency);
  const ledger = new LedgerCommands(pipeline);
  const accountsOpened = await openDemoAccounts(ledger);
  const commands = new TransactionCommands(pipeline);
  const transactions: Array<DemoReport["transactions"][number]> = [];
  for (const step of demoTransactions) {
    const made = await makeDemoTransaction(commands, step);
    transactions.push({
      step: step.step,
      transactionType: step.transactionType,
      amount: step.amount,
      description: step.description,
      ...made,
    });
  }
  const balances = await demoBalances(ledger, catalogue, now);
  return { catalogue, accountsOpened, transactions, balances };
}

async function openDemoAccounts(ledger: LedgerCommands): Promise<string[]> {
  const opened: string[] = [];
  for (const account of demoAccounts) {
    const outcome = await ledger.openAccount(
      {
        id: demoAccountId(account.key),
        accountType: account.accountType,
        currency: demoCurrency,
        ownerId: account.ownerId,
        name: account.name,
      },
      actorFor(demoPrincipal),
    );
    if (outcome.ok) {
      opened.push(account.name);
    } else if (outcome.rejection.code !== "ACCOUNT_EXISTS") {
      throw new DemoError(
        `opening ${account.name}: ${outcome.rejection.code} ${outcome.rejection.message}`,
      );
    }
  }
  return opened;
}

async function makeDemoTransaction(
  commands: TransactionCommands,
  step: DemoTransaction,
): Promise<{ transactionId: string; created: boolean }> {
  const parties = Object.fromEntries(
    Object.entries(step.parties).map(([role, key]) => [role, demoAccountId(key)]),
  );
  const outcome = await commands.recordTransaction(
    {
      transactionType: step.transactionType,
      amount: { value: step.amount, currency: demoCurrency },
      parties,
      description: step.description,
    },
    actorFor(demoPrincipal, `demo:${step.step}`),
  );
  if (!outcome.ok) {
    throw new DemoError(`${step.step}: ${outcome.rejection.code} ${outcome.rejection.message}`);
  }
  const transaction = outcome.result.transaction;
  if (transaction.status === "FAILED") {
    const failure = transaction.failure;
    throw new DemoError(`${step.step}: ${failure?.code} ${failure?.message}`);
  }
  return { transactionId: transaction.id, created: !outcome.replayed };
}

async function demoBalances(
  ledger: LedgerCommands,
  catalogue: CatalogueReport,
  now: Date,
): Promise<DemoBalance[]> {
  const accounts = [
    ...demoAccounts.map((account) => ({
      name: account.name,
      accountType: account.accountType,
      accountId: demoAccountId(account.key),
    })),
    ...operatorAccounts.map((account: OperatorAccount) => ({
      name: `operator: ${account.toLowerCase().replaceAll("_", " ")}`,
      accountType: account,
      accountId: catalogue.operatorAccounts[account],
    })),
  ];
  const balances: DemoBalance[] = [];
  for (const account of accounts) {
    const balance = await ledger.balances(account.accountId, now);
    if (balance === undefined) throw new DemoError(`${account.name} does not exist`);
    balances.push({ ...account, posted: balance.posted });
  }
  return balances;
}

/** The `nova demo` entry of src/cli/main.ts. */
export async function demoCommand(args: readonly string[]): Promise<void> {
  process.exitCode = await runDemoCommand(args);
}

export async function runDemoCommand(
  args: readonly string[],
  options: CatalogueCommandOptions = {},
): Promise<CatalogueExitCode> {
  const output = options.output ?? processOutput;
  let json: boolean;
  try {
    const parsed = parseOrUsage(() =>
      parseArgs({ args: [...args], options: { json: { type: "boolean" } }, strict: true }),
    );
    json = parsed.values.json === true;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    output.err(`${error.message}\n\n${demoUsage}`);
    return 2;
  }
  const config = loadConfig(options.environment ?? process.env);
  return withPipeline(config, output, async (pipeline) => {
    const report = await runDemo(pipeline);
    const lines = json ? [JSON.stringify(report)] : demoReportLines(report);
    for (const line of lines) output.out(line);
  });
}

/** What the demo did and the balances it left, for a newcomer. */
export function demoReportLines(report: DemoReport): string[] {
  const lines = catalogueSummaryLines(report.catalogue);
  lines.push(
    report.accountsOpened.length === 0
      ? "Demo accounts: already open."
      : `Demo accounts opened: ${report.accountsOpened.join(", ")}.`,
  );
  lines.push(`Demo transactions (${demoCurrency}):`);
  for (const transaction of report.transactions) {
    lines.push(
      `  ${(transaction.created ? "posted" : "already posted").padEnd(16)}${transaction.transactionType.padEnd(19)}${transaction.amount.padStart(9)}  ${transaction.description}`,
    );
  }
  lines.push(`Balances (${demoCurrency}, each in its account's normal-balance sense):`);
  for (const balance of report.balances) {
    lines.push(
      `  ${balance.name.padEnd(30)}${balance.accountType.padEnd(20)}${balance.posted.padStart(10)}  ${balance.accountId}`,
    );
  }
  lines.push(
    "Serve it with `npm start` and ask, e.g.: GET /v1/accounts/<id>/balances, GET /v1/transactions?accountId=<id>",
  );
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Plumbing

function parseOrUsage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/**
 * Runs `use` on a command pipeline over the configured event store, after migrating the
 * database (as `nova migrate` would); answers 1 with the refusal on stderr when a step of the
 * catalogue or the demo is refused.
 */
async function withPipeline(
  config: Config,
  output: CliOutput,
  use: (pipeline: CommandPipeline) => Promise<void>,
): Promise<CatalogueExitCode> {
  // Only warnings, on stderr: stdout is the command's report.
  const logger = pino({ level: "warn" }, pino.destination(2));
  const database = await openDatabase(config, logger);
  try {
    await migrate(database.url);
    const pool = createPool({ connectionString: database.url, poolSizeMax });
    const store = openCommandEventStore(config, pool);
    const pipeline = new CommandPipeline(store);
    try {
      await use(pipeline);
      return 0;
    } catch (error) {
      if (!(error instanceof DemoError) && !(error instanceof CatalogueError)) throw error;
      output.err(`refused: ${error.message}`);
      return 1;
    } finally {
      await pipeline.drain();
      await store.close();
      await pool.end();
    }
  } finally {
    await database.embedded?.stop();
  }
}
