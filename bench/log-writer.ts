/**
 * Writes a large, valid ledger log fast, for the benches that read one (bench:projections,
 * bench:audit): the domain's own deciders make the events, which go straight to the store in
 * appends of many postings each, every stream at the revision it was decided on.
 */
import { randomInt, randomUUID } from "node:crypto";
import type { Actor } from "../src/commands/requests.js";
import { requestHash } from "../src/commands/requests.js";
import { type DomainEvent, evolveStream } from "../src/commands/streams.js";
import {
  type AccountType,
  decideDefineAccountType,
} from "../src/domain/account-types/account-type.js";
import type { AccountState } from "../src/domain/accounts/account.js";
import { decideOpenAccount } from "../src/domain/accounts/decide.js";
import { isRejection } from "../src/domain/errors.js";
import { decideRecordPosting, type EntryRequest } from "../src/domain/postings/decide.js";
import { accountStream, accountTypeStream, postingStream } from "../src/domain/streams.js";
import type {
  AppendContext,
  EventStore,
  JsonObject,
  LogPosition,
  StreamAppend,
} from "../src/eventstore/port.js";

const currency = "XCD";
const actor: Actor = { principal: "bench", correlationId: "bench" };
/**
 * Postings per append while building the log: ~3 events and ~3 streams each, which keeps an
 * append's advisory stream locks well inside Postgres's default lock table.
 */
const postingsPerAppend = 1_000;
/** Accounts opened per append. */
const accountsPerAppend = 2_000;

/** Writes domain events straight through the store, keeping every stream's state and revision. */
export class LogWriter {
  eventsWritten = 0;
  entriesWritten = 0;
  lastPosition: LogPosition = { commit: 0n, prepare: 0n };
  private readonly states = new Map<string, unknown>();
  private readonly revisions = new Map<string, number>();

  constructor(private readonly store: EventStore) {}

  async openWallets(count: number): Promise<{ bank: string; wallets: string[] }> {
    const wallet = await this.defineType("WALLET", "CREDIT", false);
    const settlement = await this.defineType("SETTLEMENT", "DEBIT", true);
    const [bank] = await this.openAccounts(settlement, 1);
    if (bank === undefined) throw new Error("no settlement account");
    return { bank, wallets: await this.openAccounts(wallet, count) };
  }

  /** Funds every wallet once from the bank, then moves small amounts between random wallets. */
  async recordTransfers(
    accounts: { bank: string; wallets: string[] },
    postings: number,
    progress: (line: string) => void,
  ): Promise<void> {
    const { bank, wallets } = accounts;
    for (let start = 0; start < postings; start += postingsPerAppend) {
      const pending = new Pending();
      const now = new Date();
      for (let index = start; index < Math.min(postings, start + postingsPerAppend); index++) {
        const [from, to, value] =
          index < wallets.length
            ? [bank, wallets[index] ?? "", "1000.00"]
            : randomTransfer(wallets, Math.min(index, wallets.length));
        this.decidePosting(pending, from, to, value, now);
      }
      await this.append(pending.requests(), now);
      if ((start / postingsPerAppend) % 20 === 19)
        progress(`  ${start + postingsPerAppend} postings`);
    }
  }

  private decidePosting(pending: Pending, from: string, to: string, value: string, now: Date) {
    const entries: EntryRequest[] = [
      { accountId: from, side: "DEBIT", amount: { value, currency } },
      { accountId: to, side: "CREDIT", amount: { value, currency } },
    ];
    const postingId = randomUUID();
    const accounts = new Map<string, AccountState>(
      [from, to].map((id) => [id, this.states.get(accountStream(id)) as AccountState]),
    );
    const decision = decideRecordPosting(
      {
        postingId,
        entries,
        requestHash: requestHash("postings.create", { entries }),
        idempotent: false,
      },
      { posting: undefined, accounts, referenceTaken: false },
      now,
    );
    if (isRejection(decision) || decision.kind !== "accepted") {
      throw new Error(`the bench's own posting was refused: ${JSON.stringify(decision)}`);
    }
    for (const [id, events] of decision.postingEvents)
      this.stage(pending, postingStream(id), events);
    for (const [id, events] of decision.accountEvents) {
      this.stage(pending, accountStream(id), events);
      this.entriesWritten += events.filter((event) => event.type === "EntryPosted").length;
    }
  }

  private async defineType(
    code: string,
    normalBalance: "DEBIT" | "CREDIT",
    allowNegative: boolean,
  ): Promise<AccountType> {
    const defined = decideDefineAccountType(
      { code, name: code, normalBalance, allowNegative },
      undefined,
      new Date(),
    );
    if (isRejection(defined)) throw new Error(defined.message);
    const pending = new Pending();
    this.stage(pending, accountTypeStream(code), [defined]);
    await this.append(pending.requests(), new Date());
    return defined.data;
  }

  private async openAccounts(type: AccountType, count: number): Promise<string[]> {
    const ids: string[] = [];
    for (let start = 0; start < count; start += accountsPerAppend) {
      const pending = new Pending();
      const now = new Date();
      for (let index = start; index < Math.min(count, start + accountsPerAppend); index++) {
        const accountId = randomUUID();
        const opened = decideOpenAccount({ accountId, currency }, undefined, type, now);
        if (isRejection(opened)) throw new Error(opened.message);
        this.stage(pending, accountStream(accountId), [opened]);
        ids.push(accountId);
      }
      await this.append(pending.requests(), now);
    }
    return ids;
  }

  /** Folds events into the stream's state at once, so the next decision sees them. */
  private stage(pending: Pending, stream: string, events: readonly DomainEvent[]): void {
    let state = this.states.get(stream);
    for (const event of events) state = evolveStream(stream, state, event);
    this.states.set(stream, state);
    pending.add(stream, this.revisions.get(stream), events);
  }

  private async append(requests: StreamAppend[], now: Date): Promise<void> {
    const context: AppendContext = { ...actor, correlationId: randomUUID(), occurredAt: now };
    const result = await this.store.appendMulti(requests, context);
    for (const written of result.streams) this.revisions.set(written.stream, written.revision);
    this.eventsWritten += requests.reduce((sum, request) => sum + request.events.length, 0);
    this.lastPosition = result.position;
  }
}

/** The events of one append, grouped by stream, each stream at the revision it was decided on. */
class Pending {
  private readonly byStream = new Map<
    string,
    { expected: number | "no_stream"; events: DomainEvent[] }
  >();

  add(stream: string, revision: number | undefined, events: readonly DomainEvent[]): void {
    const entry = this.byStream.get(stream) ?? { expected: revision ?? "no_stream", events: [] };
    entry.events.push(...events);
    this.byStream.set(stream, entry);
  }

  requests(): StreamAppend[] {
    return [...this.byStream].map(([stream, { expected, events }]) => ({
      stream,
      expected,
      events: events.map((event) => ({ type: event.type, data: event.data as JsonObject })),
    }));
  }
}

/** Two distinct wallets among the first `funded`, and a small amount. */
function randomTransfer(wallets: readonly string[], funded: number): [string, string, string] {
  const from = randomInt(funded);
  const to = (from + 1 + randomInt(funded - 1)) % funded;
  return [
    wallets[from] ?? "",
    wallets[to] ?? "",
    `0.${String(randomInt(1, 100)).padStart(2, "0")}`,
  ];
}

/** The rebuilt read models hold one entry per EntryPosted written: none lost, none doubled. */
