/**
 * Invariants of the command side under random concurrent traffic (fast-check, real Postgres):
 * double entry per currency, no overdraft beyond the line, the cache equal to a replay of the
 * store, idempotent retries that change nothing, and two processes racing that stay exact.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LedgerCommands, PostingResult } from "../../src/commands/ledger.js";
import type { CommandOutcome } from "../../src/commands/pipeline.js";
import type { Actor } from "../../src/commands/requests.js";
import { Decimal } from "../../src/domain/money/index.js";
import type { Posting } from "../../src/domain/postings/posting.js";
import { accountStream, holdStream, postingStream } from "../../src/domain/streams.js";
import {
  accountFacts,
  actor,
  balanceChainBreaks,
  createTestLedger,
  debitSense,
  defineTypes,
  ok,
  replayStream,
  type TestLedger,
  transfer,
} from "./support.js";

type Normal = "DEBIT" | "CREDIT";

interface AccountSpec {
  readonly type: "WALLET" | "SUSPENSE";
  readonly currency: "XCD" | "USD";
  readonly overdraftMinor: number;
  /** Funded from the SUSPENSE account of its currency before the random traffic. */
  readonly fundMinor: number;
}

interface OpenedAccount extends AccountSpec {
  readonly id: string;
  readonly normal: Normal;
}

type Command =
  | { readonly kind: "post"; readonly from: number; readonly to: number; readonly minor: number }
  | { readonly kind: "reverse"; readonly pick: number }
  | { readonly kind: "hold"; readonly account: number; readonly minor: number }
  | { readonly kind: "release"; readonly pick: number }
  | {
      readonly kind: "capture";
      readonly pick: number;
      readonly to: number;
      readonly percent: number | null;
    }
  | { readonly kind: "freeze" | "unfreeze"; readonly account: number };

const accountSpec: fc.Arbitrary<AccountSpec> = fc.record({
  type: fc.constantFrom("WALLET" as const, "SUSPENSE" as const),
  currency: fc.constantFrom("XCD" as const, "XCD" as const, "USD" as const),
  overdraftMinor: fc.constantFrom(0, 0, 500),
  fundMinor: fc.integer({ min: 0, max: 5_000 }),
});

const index = fc.nat({ max: 4 });
const pick = fc.nat({ max: 1_000 });
const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("post" as const),
      from: index,
      to: index,
      minor: fc.integer({ min: 1, max: 3_000 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("reverse" as const), pick }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("hold" as const),
      account: index,
      minor: fc.integer({ min: 1, max: 2_000 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("release" as const), pick }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("capture" as const),
      pick,
      to: index,
      percent: fc.option(fc.integer({ min: 1, max: 100 }), { nil: null }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constantFrom("freeze" as const, "unfreeze" as const),
      account: index,
    }),
  },
);

const scenario = fc.record({
  accounts: fc.array(accountSpec, { minLength: 1, maxLength: 3 }),
  commands: fc.array(command, { minLength: 15, maxLength: 50 }),
  chunkSizes: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 50, maxLength: 50 }),
});

/** Business rejections random traffic may meet; anything else (or a throw) is a failure. */
const expectedRejections = new Set([
  "INSUFFICIENT_FUNDS",
  "CURRENCY_MISMATCH",
  "ACCOUNT_NOT_ACTIVE",
  "ALREADY_REVERSED",
  "CANNOT_REVERSE_REVERSAL",
  "HOLD_NOT_ACTIVE",
  "CAPTURE_EXCEEDS_HOLD",
  "INVALID_STATUS_TRANSITION",
  "POSTING_NOT_FOUND",
  "HOLD_NOT_FOUND",
]);

const unknownId = "00000000-0000-4000-8000-000000000000";

/** What a run did, to check and to retry. */
interface Accepted {
  readonly kind: Command["kind"];
  readonly who: Actor;
  readonly retry: () => Promise<CommandOutcome<unknown>>;
  /** The posting or hold it created (postings, reversals, captures, holds). */
  readonly createdId: string | null;
}

function minorToValue(minor: number): string {
  return new Decimal(minor).dividedBy(100).toFixed(2);
}

class Run {
  readonly postings: Posting[] = [];
  readonly holds: Array<{ holdId: string; account: OpenedAccount; minor: number }> = [];
  readonly closedHolds = new Set<string>();
  readonly accepted: Accepted[] = [];
  readonly rejections: string[] = [];
  private sequence = 0;

  constructor(
    private readonly ledger: LedgerCommands,
    readonly accounts: readonly OpenedAccount[],
    private readonly runId: string,
  ) {}

  private account(i: number): OpenedAccount {
    const account = this.accounts[i % this.accounts.length];
    if (account === undefined) throw new Error("no accounts");
    return account;
  }

  /** Starts one command; its result is recorded when it settles. */
  start(cmd: Command): Promise<void> {
    const who = actor({ idempotencyKey: `${this.runId}-${this.sequence++}` });
    const attempt = this.plan(cmd, who);
    return attempt.run().then((outcome) => this.record(cmd, who, attempt.run, outcome));
  }

  private plan(cmd: Command, who: Actor): { run: () => Promise<CommandOutcome<unknown>> } {
    const ledger = this.ledger;
    switch (cmd.kind) {
      case "post": {
        const from = this.account(cmd.from);
        const to = this.account(cmd.from === cmd.to ? cmd.to + 1 : cmd.to);
        const request = transfer(from.id, to.id, minorToValue(cmd.minor), from.currency);
        return { run: () => ledger.recordPosting(request, who) };
      }
      case "reverse": {
        const target = this.postings[cmd.pick % Math.max(1, this.postings.length)];
        const request = { postingId: target?.id ?? unknownId, reason: "property" };
        return { run: () => ledger.reversePosting(request, who) };
      }
      case "hold": {
        const account = this.account(cmd.account);
        const request = {
          accountId: account.id,
          amount: { value: minorToValue(cmd.minor), currency: account.currency },
        };
        return { run: () => ledger.placeHold(request, who) };
      }
      case "release": {
        const target = this.holds[cmd.pick % Math.max(1, this.holds.length)];
        const request = { holdId: target?.holdId ?? unknownId };
        return { run: () => ledger.releaseHold(request, who) };
      }
      case "capture": {
        const target = this.holds[cmd.pick % Math.max(1, this.holds.length)];
        const to = this.account(cmd.to);
        const amount =
          target === undefined || cmd.percent === null
            ? null
            : {
                value: minorToValue(Math.max(1, Math.floor((target.minor * cmd.percent) / 100))),
                currency: target.account.currency,
              };
        const request = { holdId: target?.holdId ?? unknownId, toAccountId: to.id, amount };
        return { run: () => ledger.captureHold(request, who) };
      }
      case "freeze":
      case "unfreeze": {
        const request = { accountId: this.account(cmd.account).id, action: cmd.kind, reason: "p" };
        return { run: () => ledger.changeAccountStatus(request, who) };
      }
    }
  }

  private record(
    cmd: Command,
    who: Actor,
    retry: () => Promise<CommandOutcome<unknown>>,
    outcome: CommandOutcome<unknown>,
  ): void {
    if (!outcome.ok) {
      this.rejections.push(outcome.rejection.code);
      return;
    }
    expect(outcome.replayed).toBe(false);
    let createdId: string | null = null;
    if (cmd.kind === "post" || cmd.kind === "reverse" || cmd.kind === "capture") {
      const posting = (outcome.result as PostingResult).posting;
      this.postings.push(posting);
      createdId = posting.id;
      if (posting.holdId !== null) this.closedHolds.add(posting.holdId);
    } else if (cmd.kind === "hold") {
      const hold = outcome.result as { holdId: string; accountId: string };
      const account = this.accounts.find((a) => a.id === hold.accountId);
      if (account === undefined) throw new Error("hold on an unknown account");
      this.holds.push({ holdId: hold.holdId, account, minor: cmd.minor });
      createdId = hold.holdId;
    } else if (cmd.kind === "release") {
      this.closedHolds.add((outcome.result as { holdId: string }).holdId);
    }
    this.accepted.push({ kind: cmd.kind, who, retry, createdId });
  }

  /** Posted balance per account implied by the accepted postings' legs. */
  expectedPosted(): Map<string, Decimal> {
    const posted = new Map(this.accounts.map((a) => [a.id, new Decimal(0)]));
    for (const posting of this.postings) {
      for (const entry of posting.entries) {
        const account = this.accounts.find((a) => a.id === entry.accountId);
        if (account === undefined) throw new Error("a leg on an unknown account");
        const amount = new Decimal(entry.amount);
        const delta = entry.side === account.normal ? amount : amount.negated();
        posted.set(account.id, (posted.get(account.id) ?? new Decimal(0)).plus(delta));
      }
    }
    return posted;
  }

  expectedHeld(): Map<string, Decimal> {
    const held = new Map(this.accounts.map((a) => [a.id, new Decimal(0)]));
    for (const hold of this.holds) {
      if (this.closedHolds.has(hold.holdId)) continue;
      const id = hold.account.id;
      held.set(id, (held.get(id) ?? new Decimal(0)).plus(new Decimal(hold.minor).dividedBy(100)));
    }
    return held;
  }
}

async function openAccounts(
  ledger: LedgerCommands,
  specs: readonly AccountSpec[],
): Promise<OpenedAccount[]> {
  // One SUSPENSE per currency first (indexes 0 and 1), so every wallet can be funded.
  const all: AccountSpec[] = [
    { type: "SUSPENSE", currency: "XCD", overdraftMinor: 0, fundMinor: 0 },
    { type: "SUSPENSE", currency: "USD", overdraftMinor: 0, fundMinor: 0 },
    ...specs,
  ];
  return Promise.all(
    all.map(async (spec) => {
      const opened = ok(
        await ledger.openAccount({ accountType: spec.type, currency: spec.currency }, actor()),
      );
      if (spec.type === "WALLET" && spec.overdraftMinor > 0) {
        const limit = { value: minorToValue(spec.overdraftMinor), currency: spec.currency };
        ok(await ledger.setOverdraftLine({ accountId: opened.account.id, limit }, actor()));
      }
      return { ...spec, id: opened.account.id, normal: opened.account.normalBalance };
    }),
  );
}

describe("invariants under random concurrent commands", () => {
  let t: TestLedger;
  let runs = 0;
  beforeAll(async () => {
    t = await createTestLedger();
    await defineTypes(t.ledger);
  });
  afterAll(async () => t.close());

  async function snapshot(accounts: readonly OpenedAccount[]) {
    const now = new Date();
    return Promise.all(
      accounts.map(async (account) => ({
        balances: await t.ledger.balances(account.id, now),
        revision: (await replayStream(t.store, accountStream(account.id))).revision,
      })),
    );
  }

  async function expectCacheEqualsReplay(streams: readonly string[]): Promise<void> {
    for (const stream of streams) {
      const stored = await replayStream(t.store, stream);
      const cached = t.pipeline.cache.get(stream);
      expect(cached?.revision, stream).toBe(stored.revision);
      if (stream.startsWith("account-")) {
        expect(accountFacts(cached?.state), stream).toEqual(accountFacts(stored.state));
        expect(balanceChainBreaks(stored.events), stream).toEqual([]);
      } else {
        expect(cached?.state, stream).toEqual(stored.state);
      }
    }
  }

  /** Funding first, then the random commands in chunks: each chunk concurrently. */
  async function play(run: Run, commands: readonly Command[], chunkSizes: readonly number[]) {
    const funding: Command[] = run.accounts.flatMap((account, i) => {
      if (account.fundMinor === 0) return [];
      const from = account.currency === "XCD" ? 0 : 1;
      return [{ kind: "post" as const, from, to: i, minor: account.fundMinor }];
    });
    await Promise.all(funding.map((cmd) => run.start(cmd)));
    let next = 0;
    for (const size of chunkSizes) {
      const chunk = commands.slice(next, next + size);
      next += size;
      if (chunk.length === 0) break;
      await Promise.all(chunk.map((cmd) => run.start(cmd)));
    }
  }

  /** As the accepted postings and holds imply; double entry per currency; no wallet short. */
  async function expectBalancesHold(run: Run): Promise<void> {
    const now = new Date();
    const posted = run.expectedPosted();
    const held = run.expectedHeld();
    const net = new Map<string, Decimal>();
    for (const account of run.accounts) {
      const view = await t.ledger.balances(account.id, now);
      if (view === undefined) throw new Error(`account ${account.id} vanished`);
      expect(view.posted).toBe(posted.get(account.id)?.toFixed(2));
      expect(view.held).toBe(held.get(account.id)?.toFixed(2));
      const signed = debitSense(view.posted, account.normal);
      net.set(account.currency, (net.get(account.currency) ?? new Decimal(0)).plus(signed));
      if (account.type !== "WALLET") continue;
      expect(new Decimal(view.available).isNegative()).toBe(false);
      const floor = new Decimal(minorToValue(account.overdraftMinor)).negated();
      expect(new Decimal(view.posted).greaterThanOrEqualTo(floor)).toBe(true);
    }
    for (const [currency, total] of net) expect(total.toFixed(2), currency).toBe("0.00");
  }

  /**
   * Every accepted command that creates or moves something (API.md "Idempotency"), retried
   * with its key, changes nothing. Status changes are not keyed requests.
   */
  async function expectRetriesChangeNothing(run: Run): Promise<void> {
    const before = await snapshot(run.accounts);
    const retryable = run.accepted.filter((a) => a.kind !== "freeze" && a.kind !== "unfreeze");
    const retried = await Promise.all(retryable.map((a) => a.retry()));
    retried.forEach((outcome, i) => {
      const original = retryable[i];
      if (original === undefined) return;
      if (original.kind === "hold" || original.kind === "release") {
        // A replay (API.md) or a refusal: either way nothing is placed or released twice.
        if (outcome.ok) expect(outcome.replayed).toBe(true);
        else expect(["HOLD_EXISTS", "HOLD_NOT_ACTIVE"]).toContain(outcome.rejection.code);
        return;
      }
      expect(outcome).toMatchObject({ ok: true, replayed: true });
      const postingId = outcome.ok ? (outcome.result as PostingResult).posting.id : undefined;
      expect(postingId).toBe(original.createdId);
    });
    expect(await snapshot(run.accounts)).toEqual(before);
  }

  it("double entry, funds rules, cache = replay, and retries that change nothing", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ accounts: specs, commands, chunkSizes }) => {
        const accounts = await openAccounts(t.ledger, specs);
        const run = new Run(t.ledger, accounts, `run-${runs++}-${Date.now()}`);
        await play(run, commands, chunkSizes);
        for (const rejection of run.rejections) expect(expectedRejections).toContain(rejection);
        await expectBalancesHold(run);
        // The pipeline's cache holds exactly what a replay of the store rebuilds.
        await expectCacheEqualsReplay([
          ...accounts.map((a) => accountStream(a.id)),
          ...run.postings.map((p) => postingStream(p.id)),
          ...run.holds.map((h) => holdStream(h.holdId)),
        ]);
        await expectRetriesChangeNothing(run);
      }),
      { numRuns: 25 },
    );
  }, 60_000);
});

describe("two processes racing on the same accounts", () => {
  let t: TestLedger;
  let other: LedgerCommands;
  let funding: string;
  beforeAll(async () => {
    t = await createTestLedger();
    await defineTypes(t.ledger);
    other = t.secondLedger();
    funding = ok(await t.ledger.openAccount({ accountType: "SUSPENSE", currency: "XCD" }, actor()))
      .account.id;
  });
  afterAll(async () => t.close());

  const race = fc.record({
    amountMinor: fc.constantFrom(25, 50, 100),
    initialMinor: fc.tuple(fc.integer({ min: 0, max: 1_500 }), fc.integer({ min: 0, max: 1_500 })),
    commands: fc.array(
      fc.record({
        process: fc.nat({ max: 1 }),
        payer: fc.nat({ max: 1 }),
        payee: fc.nat({ max: 1 }),
      }),
      { minLength: 20, maxLength: 80 },
    ),
  });

  type Race = { amountMinor: number; initialMinor: [number, number]; commands: RaceCommand[] };
  type RaceCommand = { process: number; payer: number; payee: number };

  async function openWallets(count: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const opened = await t.ledger.openAccount(
        { accountType: "WALLET", currency: "XCD" },
        actor(),
      );
      ids.push(ok(opened).account.id);
    }
    return ids;
  }

  async function submitRace(race: Race, payers: string[], payees: string[]) {
    const processes = [t.ledger, other];
    const amount = minorToValue(race.amountMinor);
    const submitted: Array<Promise<CommandOutcome<PostingResult>>> = [];
    for (const [i, cmd] of race.commands.entries()) {
      const ledger = processes[cmd.process] ?? t.ledger;
      const request = transfer(payers[cmd.payer] ?? "", payees[cmd.payee] ?? "", amount);
      submitted.push(ledger.recordPosting(request, actor()));
      // Requests arrive over several turns, so both processes have batches in flight.
      if (i % 7 === 6) await new Promise((resolve) => setImmediate(resolve));
    }
    return Promise.all(submitted);
  }

  it("stay exact: each payer ends at initial − accepted × amount, never below zero", async () => {
    await fc.assert(
      fc.asyncProperty(race, async (r) => {
        const payers = await openWallets(2);
        const payees = await openWallets(2);
        for (const [i, payer] of payers.entries()) {
          const minor = r.initialMinor[i] ?? 0;
          if (minor === 0) continue;
          ok(await t.ledger.recordPosting(transfer(funding, payer, minorToValue(minor)), actor()));
        }
        const outcomes = await submitRace(r, payers, payees);
        const acceptedBy = (match: (cmd: RaceCommand) => boolean) =>
          outcomes.filter((o, i) => {
            const cmd = r.commands[i];
            return o.ok && cmd !== undefined && match(cmd);
          }).length;

        // A process that never cached these accounts reads what the store holds.
        const fresh = t.secondLedger();
        const now = new Date();
        for (const [p, payer] of payers.entries()) {
          const tried = r.commands.filter((c) => c.payer === p).length;
          const accepted = acceptedBy((c) => c.payer === p);
          const initial = r.initialMinor[p] ?? 0;
          expect(accepted).toBe(Math.min(tried, Math.floor(initial / r.amountMinor)));
          const posted = (await fresh.balances(payer, now))?.posted ?? "";
          expect(posted).toBe(minorToValue(initial - accepted * r.amountMinor));
          expect(new Decimal(posted).isNegative()).toBe(false);
          const stored = await replayStream(t.store, accountStream(payer));
          expect(balanceChainBreaks(stored.events)).toEqual([]);
        }
        for (const [q, payee] of payees.entries()) {
          const received = acceptedBy((c) => c.payee === q);
          const posted = (await fresh.balances(payee, now))?.posted;
          expect(posted).toBe(minorToValue(received * r.amountMinor));
        }
        const rejected = new Set(outcomes.flatMap((o) => (o.ok ? [] : [o.rejection.code])));
        expect([...rejected].filter((c) => c !== "INSUFFICIENT_FUNDS")).toEqual([]);
      }),
      { numRuns: 10 },
    );
  }, 60_000);
});
