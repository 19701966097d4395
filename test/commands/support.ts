/** A ledger on a fresh test database: the Postgres event store, a pipeline and the use cases. */
import { randomUUID } from "node:crypto";
import { LedgerCommands } from "../../src/commands/ledger.js";
import {
  type CommandOutcome,
  CommandPipeline,
  type PipelineOptions,
} from "../../src/commands/pipeline.js";
import type { Actor } from "../../src/commands/requests.js";
import { evolveStream } from "../../src/commands/streams.js";
import type { AccountState } from "../../src/domain/accounts/account.js";
import { Decimal } from "../../src/domain/money/index.js";
import { EventStoreUnavailable } from "../../src/eventstore/errors.js";
import type {
  AppendContext,
  AppendResult,
  EventStore,
  ExpectedRevision,
  LogPosition,
  NewEvent,
  PreparedAppend,
  ReadAllOptions,
  ReadAllResult,
  ReadStreamOptions,
  RecordedEvent,
  StreamAppend,
  SubscribeOptions,
  Subscription,
  SubscriptionHandler,
} from "../../src/eventstore/port.js";
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

// ---------------------------------------------------------------------------------------------
// Helpers for the pipeline, property and fault tests.

/** A pipeline and its use cases on any store (e.g. a fault-injecting wrapper of `t.store`). */
export function ledgerOn(
  store: EventStore,
  options: PipelineOptions = {},
): { pipeline: CommandPipeline; ledger: LedgerCommands } {
  const pipeline = new CommandPipeline(store, options);
  return { pipeline, ledger: new LedgerCommands(pipeline) };
}

/**
 * Every event of a stream from the store, folded with the command side's own evolve: the state
 * an auditor (or a fresh process) would rebuild.
 */
export async function replayStream(
  store: EventStore,
  stream: string,
): Promise<{ revision: number; state: unknown; events: RecordedEvent[] }> {
  const events: RecordedEvent[] = [];
  for (;;) {
    const page = await store.readStream(stream, { fromRevision: events.length, limit: 1_000 });
    events.push(...page);
    if (page.length < 1_000) break;
  }
  let state: unknown;
  for (const event of events) state = evolveStream(stream, state, event);
  return { revision: events.length - 1, state, events };
}

/** The comparable facts of an account state: posted, status, holds, overdraft line. */
export function accountFacts(state: unknown) {
  const account = state as AccountState;
  if (account === undefined) return undefined;
  return {
    posted: account.posted.toFixed(),
    status: account.status,
    overdraftLimit: account.overdraftLimit.toFixed(),
    holds: [...account.holds.values()]
      .map((hold) => ({
        holdId: hold.holdId,
        amount: hold.amount.toFixed(),
        expiresAt: hold.expiresAt,
      }))
      .sort((a, b) => a.holdId.localeCompare(b.holdId)),
  };
}

/** Whether each EntryPosted's balanceAfter follows from the one before (no lost update). */
export function balanceChainBreaks(events: readonly RecordedEvent[]): string[] {
  const breaks: string[] = [];
  let normal: string | undefined;
  let posted = new Decimal(0);
  for (const event of events) {
    if (event.type === "AccountOpened") normal = String(event.data.normalBalance);
    if (event.type !== "EntryPosted") continue;
    const amount = new Decimal(String(event.data.amount));
    const delta = event.data.side === normal ? amount : amount.negated();
    posted = posted.plus(delta);
    const after = new Decimal(String(event.data.balanceAfter));
    if (!after.equals(posted)) breaks.push(`revision ${event.revision}: ${after} ≠ ${posted}`);
    posted = after;
  }
  return breaks;
}

type AppendFault = "refuse" | "lose-reply";

/**
 * Delegates to a real store; `failNextAppend` makes the next appendMulti fail once, either
 * before anything is written ("refuse") or after the real append committed ("lose-reply": the
 * commit happened, the caller never hears of it). `gate` holds every append until released.
 */
export class FaultyStore implements EventStore {
  appendCalls = 0;
  /** Appends sealed ahead (`prepareAppend` answered with one). */
  sealedAhead = 0;
  /** Off: nothing is sealed ahead, every append goes through appendMulti. */
  sealAhead = true;
  private fault: { mode: AppendFault; error: Error } | undefined;
  private refuseWith: EventStore | undefined;
  private gateOpen: Promise<void> | undefined;

  constructor(private readonly real: EventStore) {}

  /** "refuse" through `via` (e.g. a store on an ended pool) gives the adapter's own error. */
  failNextAppend(mode: AppendFault, error?: Error, via?: EventStore): void {
    this.fault = {
      mode,
      error: error ?? new EventStoreUnavailable(`injected fault: ${mode}`),
    };
    this.refuseWith = via;
  }

  /** Holds appends until the returned function is called. */
  holdAppends(): () => void {
    let open = () => {};
    this.gateOpen = new Promise<void>((resolve) => {
      open = resolve;
    });
    return () => {
      this.gateOpen = undefined;
      open();
    };
  }

  append(
    stream: string,
    expected: ExpectedRevision,
    events: readonly NewEvent[],
    context: AppendContext,
  ): Promise<AppendResult> {
    return this.appendMulti([{ stream, expected, events }], context);
  }

  appendMulti(requests: readonly StreamAppend[], context: AppendContext): Promise<AppendResult> {
    return this.faulted(requests, context, () => this.real.appendMulti(requests, context));
  }

  prepareAppend(
    requests: readonly StreamAppend[],
    context: AppendContext,
    after: readonly PreparedAppend[],
  ): PreparedAppend | undefined {
    if (!this.sealAhead) return undefined;
    const prepared = this.real.prepareAppend?.(requests, context, after);
    if (prepared !== undefined) this.sealedAhead++;
    return prepared;
  }

  appendPrepared(prepared: PreparedAppend): Promise<AppendResult> {
    const { requests, context } = prepared;
    return this.faulted(requests, context, () =>
      this.real.appendPrepared === undefined
        ? this.real.appendMulti(requests, context)
        : this.real.appendPrepared(prepared),
    );
  }

  /** An append through the gate and the fault set for the next one, if any. */
  private async faulted(
    requests: readonly StreamAppend[],
    context: AppendContext,
    write: () => Promise<AppendResult>,
  ): Promise<AppendResult> {
    this.appendCalls++;
    if (this.gateOpen !== undefined) await this.gateOpen;
    const fault = this.fault;
    this.fault = undefined;
    if (fault?.mode === "refuse") {
      if (this.refuseWith !== undefined) return this.refuseWith.appendMulti(requests, context);
      throw fault.error;
    }
    const result = await write();
    if (fault?.mode === "lose-reply") throw fault.error;
    return result;
  }

  /**
   * The next read of `stream` queries the real store at once but answers only when released:
   * a reader that was slow to get its reply. `queried` settles when the query has run.
   */
  delayNextRead(stream: string): { queried: Promise<void>; release: () => void } {
    let queried = () => {};
    let release = () => {};
    const delayed = {
      queried: new Promise<void>((resolve) => {
        queried = resolve;
      }),
      released: new Promise<void>((resolve) => {
        release = resolve;
      }),
      markQueried: () => queried(),
    };
    this.delayedReads.set(stream, delayed);
    return { queried: delayed.queried, release };
  }

  private readonly delayedReads = new Map<
    string,
    { released: Promise<void>; markQueried: () => void }
  >();

  async readStream(stream: string, options?: ReadStreamOptions): Promise<RecordedEvent[]> {
    const delayed = this.delayedReads.get(stream);
    this.delayedReads.delete(stream);
    const events = await this.real.readStream(stream, options);
    if (delayed !== undefined) {
      delayed.markQueried();
      await delayed.released;
    }
    return events;
  }

  readAll(options?: ReadAllOptions): Promise<ReadAllResult> {
    return this.real.readAll(options);
  }

  subscribe(options: SubscribeOptions, handler: SubscriptionHandler): Subscription {
    return this.real.subscribe(options, handler);
  }

  commitPositionOf(position: LogPosition): Promise<LogPosition> {
    return this.real.commitPositionOf(position);
  }

  ping(): Promise<void> {
    return this.real.ping();
  }

  close(): Promise<void> {
    return this.real.close();
  }
}

/** The posted balance in the debit sense: DEBIT-normal accounts +, CREDIT-normal −. */
export function debitSense(posted: string, normalBalance: "DEBIT" | "CREDIT"): Decimal {
  const value = new Decimal(posted);
  return normalBalance === "DEBIT" ? value : value.negated();
}
