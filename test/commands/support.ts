/** A ledger on a fresh test database: the Postgres event store, a pipeline and the use cases. */
import { randomUUID } from "node:crypto";
import { LedgerCommands } from "../../src/commands/ledger.js";
import {
  type CommandOutcome,
  CommandPipeline,
  type PipelineOptions,
} from "../../src/commands/pipeline.js";
import type { Actor } from "../../src/commands/requests.js";
import { PostgresEventStore } from "../../src/eventstore/postgres/postgres-event-store.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

export interface TestLedger {
  readonly database: TestDatabase;
  readonly store: PostgresEventStore;
  readonly pipeline: CommandPipeline;
  readonly ledger: LedgerCommands;
  /** A second pipeline on the same store, as another process would have. */
  secondLedger(options?: PipelineOptions): LedgerCommands;
  close(): Promise<void>;
}

export async function createTestLedger(options: PipelineOptions = {}): Promise<TestLedger> {
  const database = await createTestDatabase({ poolSizeMax: 30 });
  const store = new PostgresEventStore(database.pool);
  const pipeline = new CommandPipeline(store, options);
  const pipelines = [pipeline];
  return {
    database,
    store,
    pipeline,
    ledger: new LedgerCommands(pipeline),
    secondLedger(second = {}) {
      const other = new CommandPipeline(store, second);
      pipelines.push(other);
      return new LedgerCommands(other);
    },
    async close() {
      await Promise.all(pipelines.map((p) => p.drain()));
      await database.drop();
    },
  };
}

export function actor(overrides: Partial<Actor> = {}): Actor {
  return { principal: "key:test", correlationId: randomUUID(), ...overrides };
}

export function ok<Result>(outcome: CommandOutcome<Result>): Result {
  if (!outcome.ok)
    throw new Error(
      `expected success, got ${outcome.rejection.code}: ${outcome.rejection.message}`,
    );
  return outcome.result;
}

export function code(outcome: CommandOutcome<unknown>): string {
  return outcome.ok ? "OK" : outcome.rejection.code;
}

/** Defines WALLET (CREDIT, no negatives) and SUSPENSE (DEBIT, negatives allowed). */
export async function defineTypes(ledger: LedgerCommands): Promise<void> {
  ok(
    await ledger.defineAccountType(
      { code: "WALLET", name: "Customer wallet", normalBalance: "CREDIT", allowNegative: false },
      actor(),
    ),
  );
  ok(
    await ledger.defineAccountType(
      { code: "SUSPENSE", name: "Funding", normalBalance: "DEBIT", allowNegative: true },
      actor(),
    ),
  );
}

export async function openAccount(
  ledger: LedgerCommands,
  accountType = "WALLET",
  currency = "XCD",
): Promise<string> {
  return ok(await ledger.openAccount({ accountType, currency }, actor())).account.id;
}

export function transfer(from: string, to: string, value: string, currency = "XCD") {
  return {
    entries: [
      { accountId: from, side: "DEBIT" as const, amount: { value, currency } },
      { accountId: to, side: "CREDIT" as const, amount: { value, currency } },
    ],
  };
}
