import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PostingResult } from "../../src/commands/ledger.js";
import type { CommandOutcome } from "../../src/commands/pipeline.js";
import { TransactionCommands } from "../../src/commands/transactions.js";
import { Decimal } from "../../src/domain/money/index.js";
import type { Posting } from "../../src/domain/postings/posting.js";
import {
  comparePositions,
  formatPosition,
  type LogPosition,
  parsePosition,
} from "../../src/eventstore/port.js";
import { LedgerProjection } from "../../src/projections/ledger-projection.js";
import { ProjectorRunner } from "../../src/projections/runner.js";
import {
  InvalidCursor,
  type ListPostingsQuery,
  type Page,
  type PostingResource,
  ReadModels,
} from "../../src/queries/index.js";
import { actor, createTestLedger, ok, type TestLedger, transfer } from "../commands/support.js";

/** Whole seconds: every instant the ledger stamps is T0 + n s, so ties are deliberate. */
const T0 = Math.floor(Date.now() / 1_000) * 1_000 - 3_600_000;
const at = (seconds: number) => new Date(T0 + seconds * 1_000);
const iso = (seconds: number) => at(seconds).toISOString();

/** One clock for the write side and the read side, moved by the test. */
let clockNow = at(0);
const clock = () => clockNow;
const setClock = (seconds: number) => {
  clockNow = at(seconds);
};

const xcd = (value: string) => ({ value, currency: "XCD" as const });

describe("the read models the GET endpoints answer from", () => {
  let t: TestLedger;
  let runner: ProjectorRunner;
  let reads: ReadModels;
  const positions: LogPosition[] = [];
  const ids = {} as Record<
    | "funding"
    | "fundingJpy"
    | "fundingKwd"
    | "alice"
    | "aliceFloat"
    | "bob"
    | "carol"
    | "dave"
    | "fees"
    | "yen"
    | "dinar",
    string
  >;
  const postings: Record<string, Posting> = {};
  const holdIds = {} as Record<"h1" | "h2" | "h3" | "h4" | "h5", string>;
  /** Postings on carol, created three to an instant: the pagination set. */
  const carolPostings: Posting[] = [];

  /** Runs a command, keeps its position (to wait for the projection) and returns its result. */
  async function command<Result>(run: Promise<CommandOutcome<Result>>): Promise<Result> {
    const outcome = await run;
    const position = outcome.ok ? parsePosition(outcome.position) : undefined;
    if (position !== undefined) positions.push(position);
    return ok(outcome);
  }

  async function open(
    accountType: string,
    currency: string,
    extra: {
      ownerId?: string;
      name?: string;
      country?: string;
      metadata?: Record<string, unknown>;
    } = {},
  ): Promise<string> {
    const view = await command(t.ledger.openAccount({ accountType, currency, ...extra }, actor()));
    return view.account.id;
  }

  async function post(request: Parameters<TestLedger["ledger"]["recordPosting"]>[0]) {
    const result: PostingResult = await command(t.ledger.recordPosting(request, actor()));
    return result.posting;
  }

  /** The position of a posting's PostingRecorded event, read from the store itself. */
  async function recordedPosition(postingId: string): Promise<string> {
    const [recorded] = await t.store.readStream(`posting-${postingId}`, { limit: 1 });
    if (recorded === undefined) throw new Error(`no stream for posting ${postingId}`);
    // The commit's position, as the command answered it.
    return formatPosition(await t.store.commitPositionOf(recorded.position));
  }

  beforeAll(async () => {
    t = await createTestLedger({ clock });
    runner = new ProjectorRunner(t.store, t.database.pool, new LedgerProjection());
    await runner.start();
    reads = new ReadModels(t.database.pool, { clock });

    setClock(0);
    await command(
      t.ledger.defineAccountType(
        { code: "WALLET", name: "Customer wallet", normalBalance: "CREDIT", allowNegative: false },
        actor(),
      ),
    );
    await command(
      t.ledger.defineAccountType(
        { code: "SUSPENSE", name: "Funding", normalBalance: "DEBIT", allowNegative: true },
        actor(),
      ),
    );
    await command(
      t.ledger.defineAccountType(
        {
          code: "AGENT_FLOAT",
          name: "Agent float",
          normalBalance: "CREDIT",
          allowNegative: false,
          metadataSchema: { type: "object", required: ["agentCode"] },
        },
        actor(),
      ),
    );
    // A posting that names a transaction type needs the type, and every account's type must
    // list it (API.md "Configuration": default deny).
    const config = new TransactionCommands(t.pipeline);
    for (const code of ["CASH_IN", "P2P"]) {
      await command(
        config.defineTransactionType(
          {
            code,
            description: code,
            requiresTwoFactor: false,
            postings: [
              { side: "DEBIT", role: "payer", percent: "1" },
              { side: "CREDIT", role: "payee", percent: "1" },
            ],
          },
          actor(),
        ),
      );
    }
    for (const code of ["WALLET", "SUSPENSE", "AGENT_FLOAT"]) {
      await command(
        config.setAccountTypeTransactionTypes(
          { code, transactionTypes: ["CASH_IN", "P2P"] },
          actor(),
        ),
      );
    }
    ids.funding = await open("SUSPENSE", "XCD", { ownerId: "bank", name: "Funding" });
    ids.fundingJpy = await open("SUSPENSE", "JPY", { ownerId: "bank" });
    ids.fundingKwd = await open("SUSPENSE", "KWD", { ownerId: "bank" });
    ids.alice = await open("WALLET", "XCD", {
      ownerId: "alice",
      name: "Alice",
      country: "DM",
      metadata: { tier: "gold", limits: { daily: "500.00" } },
    });
    ids.aliceFloat = await open("AGENT_FLOAT", "XCD", {
      ownerId: "alice",
      metadata: { agentCode: "A-17" },
    });
    ids.bob = await open("WALLET", "XCD", { ownerId: "bob" });
    ids.carol = await open("WALLET", "XCD", { ownerId: "carol" });
    ids.dave = await open("WALLET", "XCD", { ownerId: "dave" });
    ids.fees = await open("WALLET", "XCD", { name: "Fee income" });
    ids.yen = await open("WALLET", "JPY", { ownerId: "bob" });
    ids.dinar = await open("WALLET", "KWD", { ownerId: "bob" });

    setClock(1);
    const [p1, p2] = await Promise.all([
      post({
        ...transfer(ids.funding, ids.alice, "100.00"),
        transactionType: "CASH_IN",
        reference: "r-1",
        description: "opening float",
        metadata: { channel: "agent" },
      }),
      post({ ...transfer(ids.funding, ids.bob, "50.00"), transactionType: "CASH_IN" }),
    ]);
    postings.p1 = p1;
    postings.p2 = p2;
    postings.yen = await post(transfer(ids.fundingJpy, ids.yen, "500", "JPY"));
    postings.dinar = await post(transfer(ids.fundingKwd, ids.dinar, "1.250", "KWD"));

    setClock(2);
    postings.p3 = await post({
      ...transfer(ids.alice, ids.bob, "10.00"),
      transactionType: "P2P",
      reference: "r-3",
    });
    setClock(3);
    postings.r3 = (
      await command(
        t.ledger.reversePosting({ postingId: postings.p3.id, reason: "dispute" }, actor()),
      )
    ).posting;
    setClock(4);
    postings.p4 = await post({
      transactionType: "P2P",
      entries: [
        { accountId: ids.alice, side: "DEBIT", amount: xcd("6.00") },
        { accountId: ids.bob, side: "CREDIT", amount: xcd("4.00") },
        { accountId: ids.fees, side: "CREDIT", amount: xcd("2.00") },
      ],
    });

    setClock(5);
    const place = (accountId: string, value: string, extra: object = {}) =>
      command(t.ledger.placeHold({ accountId, amount: xcd(value), ...extra }, actor()));
    holdIds.h1 = (await place(ids.alice, "20.00", { reason: "pending cash-out" })).holdId;
    holdIds.h2 = (await place(ids.alice, "5.00", { expiresAt: iso(3_600) })).holdId;
    holdIds.h3 = (await place(ids.bob, "3.00")).holdId;
    holdIds.h4 = (await place(ids.bob, "4.00")).holdId;
    holdIds.h5 = (await place(ids.bob, "2.00", { expiresAt: iso(10) })).holdId;

    setClock(6);
    await command(t.ledger.releaseHold({ holdId: holdIds.h3 }, actor()));
    postings.c4 = (
      await command(
        t.ledger.captureHold(
          { holdId: holdIds.h4, toAccountId: ids.alice, amount: xcd("1.00") },
          actor(),
        ),
      )
    ).posting;

    // Past h5's expiry, a posting on bob records HoldExpired for it.
    setClock(20);
    postings.p5 = await post({
      ...transfer(ids.funding, ids.bob, "1.00"),
      transactionType: "CASH_IN",
    });

    setClock(25);
    await command(t.ledger.setOverdraftLine({ accountId: ids.dave, limit: xcd("15.00") }, actor()));
    // Dave pays 5.00 out of his overdraft line: a negative balance, still within the line.
    postings.p6 = await post(transfer(ids.dave, ids.funding, "5.00"));
    await command(
      t.ledger.changeAccountStatus(
        { accountId: ids.dave, action: "freeze", reason: "kyc" },
        actor(),
      ),
    );

    // Carol: 3 postings at each of 30 s, 31 s, 32 s, 33 s; one has two legs on her account.
    for (let instant = 30; instant < 34; instant++) {
      setClock(instant);
      const batch = await Promise.all([
        post(transfer(ids.funding, ids.carol, `${instant}.01`)),
        post(transfer(ids.funding, ids.carol, `${instant}.02`)),
        instant === 31
          ? post({
              entries: [
                { accountId: ids.funding, side: "DEBIT", amount: xcd("3.00") },
                { accountId: ids.carol, side: "CREDIT", amount: xcd("1.00") },
                { accountId: ids.carol, side: "CREDIT", amount: xcd("2.00") },
              ],
            })
          : post(transfer(ids.funding, ids.carol, `${instant}.03`)),
      ]);
      carolPostings.push(...batch);
    }

    const latest = [...positions].sort(comparePositions).at(-1);
    if (latest === undefined) throw new Error("no command ran");
    expect(await runner.waitFor(latest, 20_000)).toBe(true);
    // Reads happen an hour and more later: h2 has expired, though no command recorded it.
    setClock(2 * 3_600);
  }, 60_000);

  afterAll(async () => {
    await runner.stop();
    await t.close();
  });

  /** The write side's posting in the API shape, legs in the read side's documented order. */
  async function expectedPosting(
    posting: Posting,
    overrides: Partial<PostingResource> = {},
  ): Promise<PostingResource> {
    // The legs in the order the write side recorded them.
    const entries = posting.entries.map((entry) => ({
      accountId: entry.accountId,
      side: entry.side,
      amount: { value: entry.amount, currency: entry.currency },
    }));
    return {
      id: posting.id,
      status: posting.status,
      transactionType: posting.transactionType,
      reference: posting.reference,
      description: posting.description,
      entries,
      metadata: posting.metadata,
      createdAt: posting.createdAt,
      reverses: posting.reverses,
      reversedBy: posting.reversedBy,
      position: await recordedPosition(posting.id),
      ...overrides,
    };
  }

  /** Every page of a list, following nextCursor; fails on a page longer than the limit. */
  async function walk<Item>(
    limit: number,
    list: (cursor: string | undefined) => Promise<Page<Item>>,
  ): Promise<Item[]> {
    const items: Item[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 1_000; pages++) {
      const page = await list(cursor);
      expect(page.data.length).toBeLessThanOrEqual(limit);
      items.push(...page.data);
      if (page.nextCursor === null) return items;
      expect(page.data).toHaveLength(limit);
      cursor = page.nextCursor;
    }
    throw new Error("pagination did not end");
  }

  const sortKey = (posting: { createdAt: string; id: string }) =>
    `${posting.createdAt} ${posting.id}`;
  const byCreation = <P extends { createdAt: string; id: string }>(list: readonly P[]) =>
    [...list].sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0));
  const idsOf = (list: readonly { id: string }[]) => list.map((item) => item.id);
  const listAll = (query: Omit<ListPostingsQuery, "limit">) =>
    reads.listPostings({ ...query, limit: 500 });

  describe("account types", () => {
    it("reads one account type in the API shape", async () => {
      expect(await reads.getAccountType("AGENT_FLOAT")).toEqual({
        code: "AGENT_FLOAT",
        name: "Agent float",
        normalBalance: "CREDIT",
        allowNegative: false,
        metadataSchema: { type: "object", required: ["agentCode"] },
        createdAt: iso(0),
      });
      expect(await reads.getAccountType("SUSPENSE")).toEqual({
        code: "SUSPENSE",
        name: "Funding",
        normalBalance: "DEBIT",
        allowNegative: true,
        metadataSchema: null,
        createdAt: iso(0),
      });
    });

    it("lists account types by code, one page or many", async () => {
      const all = await reads.listAccountTypes();
      expect(all.nextCursor).toBeNull();
      expect(all.data.map((type) => type.code)).toEqual(["AGENT_FLOAT", "SUSPENSE", "WALLET"]);
      expect(all.data[2]).toEqual({
        code: "WALLET",
        name: "Customer wallet",
        normalBalance: "CREDIT",
        allowNegative: false,
        metadataSchema: null,
        createdAt: iso(0),
      });
      const paged = await walk(1, (cursor) => reads.listAccountTypes({ limit: 1, cursor }));
      expect(paged).toEqual(all.data);
    });
  });

  describe("accounts", () => {
    it("reads an account in the API shape, metadata and all", async () => {
      expect(await reads.getAccount(ids.alice)).toEqual({
        id: ids.alice,
        accountType: "WALLET",
        currency: "XCD",
        country: "DM",
        ownerId: "alice",
        name: "Alice",
        status: "ACTIVE",
        metadata: { tier: "gold", limits: { daily: "500.00" } },
        createdAt: iso(0),
      });
      expect(await reads.getAccount(ids.fees)).toEqual({
        id: ids.fees,
        accountType: "WALLET",
        currency: "XCD",
        country: null,
        ownerId: null,
        name: "Fee income",
        status: "ACTIVE",
        metadata: {},
        createdAt: iso(0),
      });
    });

    it("shows a status change", async () => {
      expect((await reads.getAccount(ids.dave))?.status).toBe("FROZEN");
    });

    it("filters accounts by owner, type and status, exactly", async () => {
      const list = (query: object) => reads.listAccounts({ limit: 500, ...query });
      const sorted = (values: string[]) => [...values].sort();
      expect(idsOf((await list({ ownerId: "alice" })).data)).toEqual(
        sorted([ids.alice, ids.aliceFloat]),
      );
      expect(idsOf((await list({ ownerId: "ali" })).data)).toEqual([]);
      expect(idsOf((await list({ accountType: "SUSPENSE" })).data)).toEqual(
        sorted([ids.funding, ids.fundingJpy, ids.fundingKwd]),
      );
      expect(idsOf((await list({ status: "FROZEN" })).data)).toEqual([ids.dave]);
      expect(idsOf((await list({ ownerId: "bob", accountType: "WALLET" })).data)).toEqual(
        sorted([ids.bob, ids.yen, ids.dinar]),
      );
      expect(idsOf((await list({ ownerId: "bob", status: "FROZEN" })).data)).toEqual([]);
      const all = await list({});
      expect(idsOf(all.data)).toEqual(sorted(Object.values(ids)));
      expect(all.nextCursor).toBeNull();
    });

    it("pages through accounts without a gap or a repeat", async () => {
      const all = (await reads.listAccounts({ limit: 500 })).data;
      for (const limit of [1, 2, 4, 10, 11]) {
        const paged = await walk(limit, (cursor) => reads.listAccounts({ limit, cursor }));
        expect(paged).toEqual(all);
      }
      const bobs = await walk(2, (cursor) =>
        reads.listAccounts({ ownerId: "bob", limit: 2, cursor }),
      );
      expect(idsOf(bobs)).toEqual([ids.bob, ids.yen, ids.dinar].sort());
    });
  });

  describe("balances", () => {
    it("counts only live holds: an expired hold no command has recorded yet stops counting", async () => {
      // The scenario must be what it claims: h2 is still ACTIVE in the table.
      const h2 = await t.database.pool.query("SELECT status FROM holds WHERE id = $1", [
        holdIds.h2,
      ]);
      expect(h2.rows).toEqual([{ status: "ACTIVE" }]);
      // alice: 100 − 10 + 10 − 6 + 1 = 95; h1 (20) counts, h2 (5) expired.
      expect(await reads.getBalances(ids.alice)).toEqual({
        accountId: ids.alice,
        currency: "XCD",
        posted: "95.00",
        held: "20.00",
        available: "75.00",
        overdraftLimit: "0.00",
        asOf: iso(7_200),
      });
    });

    it("reads a hold as counting while it has not expired", async () => {
      setClock(3_599);
      try {
        expect(await reads.getBalances(ids.alice)).toMatchObject({
          held: "25.00",
          available: "70.00",
          asOf: iso(3_599),
        });
      } finally {
        setClock(7_200);
      }
    });

    it("reads the overdraft line and a negative balance, in the normal-balance sense", async () => {
      expect(await reads.getBalances(ids.dave)).toEqual({
        accountId: ids.dave,
        currency: "XCD",
        posted: "-5.00",
        held: "0.00",
        available: "10.00",
        overdraftLimit: "15.00",
        asOf: iso(7_200),
      });
      // The DEBIT-normal funding account's debits (what it paid out) count positive.
      const paidToCarol = carolPostings.flatMap((posting) =>
        posting.entries.filter((entry) => entry.accountId === ids.carol),
      );
      const posted = paidToCarol.reduce(
        (sum, entry) => sum.plus(entry.amount),
        new Decimal("146.00"), // alice 100, bob 50, bob 1, less 5 from dave
      );
      expect((await reads.getBalances(ids.funding))?.posted).toBe(posted.toFixed(2));
    });

    it("stops counting an overdraft line once it has expired, as the write side does", async () => {
      const id = await open("WALLET", "XCD");
      await command(
        t.ledger.setOverdraftLine(
          { accountId: id, limit: xcd("8.00"), expiresAt: iso(7_260) },
          actor(),
        ),
      );
      const latest = [...positions].sort(comparePositions).at(-1);
      expect(latest && (await runner.waitFor(latest, 10_000))).toBe(true);
      expect(await reads.getBalances(id)).toMatchObject({
        overdraftLimit: "8.00",
        available: "8.00",
      });
      setClock(7_261);
      try {
        expect(await reads.getBalances(id)).toMatchObject({
          overdraftLimit: "0.00",
          available: "0.00",
        });
        expect((await t.ledger.balances(id, at(7_261)))?.overdraftLimit).toBe("0.00");
      } finally {
        setClock(7_200);
      }
    });

    it("formats every currency to its own scale", async () => {
      expect(await reads.getBalances(ids.yen)).toMatchObject({
        currency: "JPY",
        posted: "500",
        held: "0",
        available: "500",
        overdraftLimit: "0",
      });
      expect(await reads.getBalances(ids.dinar)).toMatchObject({
        currency: "KWD",
        posted: "1.250",
        available: "1.250",
      });
    });

    it("agrees with the write model's balances for every account", async () => {
      for (const accountId of Object.values(ids)) {
        const strong = await t.ledger.balances(accountId, clock());
        const read = await reads.getBalances(accountId);
        expect({ ...read, asOf: undefined }).toEqual({ ...strong, asOf: undefined });
      }
    });
  });

  describe("postings", () => {
    it("reads a posting as the write side recorded it", async () => {
      const p1 = postings.p1 as Posting;
      expect(await reads.getPosting(p1.id)).toEqual({
        id: p1.id,
        status: "POSTED",
        transactionType: "CASH_IN",
        reference: "r-1",
        description: "opening float",
        entries: [
          { accountId: ids.funding, side: "DEBIT", amount: { value: "100.00", currency: "XCD" } },
          { accountId: ids.alice, side: "CREDIT", amount: { value: "100.00", currency: "XCD" } },
        ],
        metadata: { channel: "agent" },
        createdAt: iso(1),
        reverses: null,
        reversedBy: null,
        position: await recordedPosition(p1.id),
      });
      for (const name of ["p2", "p4", "c4", "p5", "yen", "dinar"]) {
        const posting = postings[name] as Posting;
        expect(await reads.getPosting(posting.id)).toEqual(await expectedPosting(posting));
      }
    });

    it("links a reversal and the posting it reversed both ways", async () => {
      const p3 = postings.p3 as Posting;
      const r3 = postings.r3 as Posting;
      expect(await reads.getPosting(p3.id)).toEqual(
        await expectedPosting(p3, { status: "REVERSED", reversedBy: r3.id }),
      );
      const reversal = await reads.getPosting(r3.id);
      expect(reversal).toEqual(await expectedPosting(r3));
      expect(reversal).toMatchObject({
        status: "POSTED",
        reverses: p3.id,
        reversedBy: null,
        transactionType: "P2P",
        reference: null,
        createdAt: iso(3),
      });
      // Every leg of the original mirrored, in the original's order.
      expect(reversal?.entries).toEqual([
        { accountId: ids.alice, side: "CREDIT", amount: xcd("10.00") },
        { accountId: ids.bob, side: "DEBIT", amount: xcd("10.00") },
      ]);
    });

    it("lists the legs in the order they were requested, as the command answered them", async () => {
      for (const posting of [postings.p4 as Posting, ...carolPostings]) {
        const read = await reads.getPosting(posting.id);
        expect(
          read?.entries.map((entry) => [entry.accountId, entry.side, entry.amount.value]),
        ).toEqual(posting.entries.map((entry) => [entry.accountId, entry.side, entry.amount]));
      }
      const split = carolPostings.find((posting) => posting.entries.length === 3) as Posting;
      expect((await reads.getPosting(split.id))?.entries).toHaveLength(3);
    });

    it("lists every posting in (createdAt, id) order, ties broken by id", async () => {
      const all = await listAll({});
      expect(all.nextCursor).toBeNull();
      const written = [...Object.values(postings), ...carolPostings];
      expect(idsOf(all.data)).toEqual(idsOf(byCreation(written)));
      // Ties are real: several postings share each carol instant and the 1 s instant.
      const instants = all.data.map((posting) => posting.createdAt);
      expect(new Set(instants).size).toBeLessThan(instants.length - 8);
      expect(all.data.find((posting) => posting.id === postings.p3?.id)?.status).toBe("REVERSED");
    });

    it("filters by account: every posting with a leg on it, once, even with two legs", async () => {
      const bob = await listAll({ accountId: ids.bob });
      const onBob = ["p2", "p3", "r3", "p4", "c4", "p5"].map((name) => postings[name] as Posting);
      expect(idsOf(bob.data)).toEqual(idsOf(byCreation(onBob)));
      const carol = await listAll({ accountId: ids.carol });
      expect(idsOf(carol.data)).toEqual(idsOf(byCreation(carolPostings)));
      expect(carol.data.find((posting) => posting.entries.length === 3)?.entries).toHaveLength(3);
      expect((await listAll({ accountId: randomUUID() })).data).toEqual([]);
      expect(await listAll({ accountId: "not-a-uuid" })).toEqual({ data: [], nextCursor: null });
    });

    it("filters by transaction type and by status, exactly", async () => {
      const named = (...names: string[]) =>
        idsOf(byCreation(names.map((name) => postings[name] as Posting)));
      expect(idsOf((await listAll({ transactionType: "CASH_IN" })).data)).toEqual(
        named("p1", "p2", "p5"),
      );
      expect(idsOf((await listAll({ transactionType: "P2P" })).data)).toEqual(
        named("p3", "r3", "p4"),
      );
      expect((await listAll({ transactionType: "CASH" })).data).toEqual([]);
      expect(idsOf((await listAll({ status: "REVERSED" })).data)).toEqual(named("p3"));
      const posted = await listAll({ status: "POSTED" });
      expect(posted.data).toHaveLength(Object.keys(postings).length - 1 + carolPostings.length);
      expect(posted.data.every((posting) => posting.status === "POSTED")).toBe(true);
      expect(
        idsOf(
          (await listAll({ accountId: ids.bob, transactionType: "P2P", status: "POSTED" })).data,
        ),
      ).toEqual(named("r3", "p4"));
    });

    it("filters by a time window: from inclusive, to exclusive", async () => {
      const named = (...names: string[]) =>
        idsOf(byCreation(names.map((name) => postings[name] as Posting)));
      expect(idsOf((await listAll({ from: at(2), to: at(4) })).data)).toEqual(named("p3", "r3"));
      expect(idsOf((await listAll({ from: at(4), to: at(6) })).data)).toEqual(named("p4"));
      expect(idsOf((await listAll({ from: at(6), to: at(7) })).data)).toEqual(named("c4"));
      expect(idsOf((await listAll({ to: at(1) })).data)).toEqual([]);
      expect(idsOf((await listAll({ from: at(33) })).data)).toEqual(
        idsOf(byCreation(carolPostings.slice(9))),
      );
      expect(idsOf((await listAll({ accountId: ids.bob, from: at(3), to: at(20) })).data)).toEqual(
        named("r3", "p4", "c4"),
      );
      expect(
        idsOf((await listAll({ accountId: ids.carol, from: at(31), to: at(33) })).data),
      ).toEqual(idsOf(byCreation(carolPostings.slice(3, 9))));
    });

    it("pages through postings with no gap, no repeat and a stable order across equal instants", async () => {
      const queries: Omit<ListPostingsQuery, "limit">[] = [
        {},
        { accountId: ids.carol },
        { accountId: ids.bob },
        { status: "POSTED", from: at(1) },
        { accountId: ids.carol, from: at(31) },
      ];
      for (const query of queries) {
        const all = (await listAll(query)).data;
        expect(all.length).toBeGreaterThan(2);
        for (const limit of [1, 2, 3, 5]) {
          const paged = await walk(limit, (cursor) =>
            reads.listPostings({ ...query, limit, cursor }),
          );
          expect(idsOf(paged)).toEqual(idsOf(all));
          expect(paged).toEqual(all);
        }
      }
    });

    it("ends a list whose last page is exactly full with a null cursor", async () => {
      const first = await reads.listPostings({ accountId: ids.carol, limit: 6 });
      expect(first.data).toHaveLength(6);
      const second = await reads.listPostings({
        accountId: ids.carol,
        limit: 6,
        cursor: first.nextCursor ?? undefined,
      });
      expect(second.data).toHaveLength(6);
      expect(second.nextCursor).toBeNull();
    });
  });

  describe("holds", () => {
    it("reads each hold with the status it has now", async () => {
      expect(await reads.getHold(holdIds.h1)).toEqual({
        id: holdIds.h1,
        accountId: ids.alice,
        amount: xcd("20.00"),
        status: "ACTIVE",
        reason: "pending cash-out",
        expiresAt: null,
        createdAt: iso(5),
      });
      expect(await reads.getHold(holdIds.h2)).toEqual({
        id: holdIds.h2,
        accountId: ids.alice,
        amount: xcd("5.00"),
        status: "EXPIRED",
        reason: null,
        expiresAt: iso(3_600),
        createdAt: iso(5),
      });
      expect(await reads.getHold(holdIds.h3)).toMatchObject({ status: "RELEASED" });
      expect(await reads.getHold(holdIds.h4)).toMatchObject({
        status: "CAPTURED",
        amount: xcd("4.00"),
      });
      // h5's expiry was recorded by a later command on bob.
      expect(await reads.getHold(holdIds.h5)).toEqual({
        id: holdIds.h5,
        accountId: ids.bob,
        amount: xcd("2.00"),
        status: "EXPIRED",
        reason: null,
        expiresAt: iso(10),
        createdAt: iso(5),
      });
    });

    it("reads a hold before its expiry as ACTIVE and from its expiry instant as EXPIRED", async () => {
      try {
        setClock(3_599);
        expect((await reads.getHold(holdIds.h2))?.status).toBe("ACTIVE");
        setClock(3_600);
        expect((await reads.getHold(holdIds.h2))?.status).toBe("EXPIRED");
      } finally {
        setClock(7_200);
      }
    });
  });

  describe("bad cursors and unknown ids", () => {
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const badCursors = [
      "!!!",
      "",
      "a".repeat(600),
      Buffer.from("not json").toString("base64url"),
      encode([1, 2]),
      encode(null),
      encode({ list: "accounts", id: randomUUID() }),
      encode({ list: "postings", at: "2024-02-30T00:00:00.000000Z", id: randomUUID() }),
      encode({ list: "postings", at: "2024-01-01T00:00:00Z", id: randomUUID() }),
      encode({ list: "postings", at: "2024-01-01T00:00:00.000000Z", id: "x'; DROP TABLE x" }),
      encode({ list: "postings", at: 1, id: randomUUID() }),
    ];

    it("refuses a cursor that does not decode or has the wrong shape", async () => {
      for (const cursor of badCursors) {
        await expect(reads.listPostings({ limit: 10, cursor })).rejects.toBeInstanceOf(
          InvalidCursor,
        );
      }
      const postingCursor = (await reads.listPostings({ limit: 1 })).nextCursor ?? undefined;
      expect(postingCursor).toBeDefined();
      await expect(reads.listAccounts({ limit: 10, cursor: postingCursor })).rejects.toThrow(
        InvalidCursor,
      );
      await expect(
        reads.listAccounts({ limit: 10, cursor: encode({ list: "accounts", id: "nope" }) }),
      ).rejects.toThrow(InvalidCursor);
      await expect(reads.listAccountTypes({ limit: 10, cursor: postingCursor })).rejects.toThrow(
        InvalidCursor,
      );
      await expect(
        reads.listAccountTypes({ limit: 10, cursor: encode({ list: "account-types", code: "x" }) }),
      ).rejects.toThrow(InvalidCursor);
    });

    it("answers undefined for an id nobody has", async () => {
      expect(await reads.getAccountType("NOPE")).toBeUndefined();
      expect(await reads.getAccount(randomUUID())).toBeUndefined();
      expect(await reads.getAccount("not-a-uuid")).toBeUndefined();
      expect(await reads.getBalances(randomUUID())).toBeUndefined();
      expect(await reads.getBalances("42")).toBeUndefined();
      expect(await reads.getPosting(randomUUID())).toBeUndefined();
      expect(await reads.getPosting("")).toBeUndefined();
      expect(await reads.getHold(randomUUID())).toBeUndefined();
      expect(await reads.getHold("hold-1")).toBeUndefined();
    });

    it("asserts the page size the caller validated", async () => {
      for (const limit of [0, 501, 1.5, Number.NaN]) {
        await expect(reads.listPostings({ limit })).rejects.toThrow(RangeError);
      }
      await expect(reads.listAccounts({ limit: 500 })).resolves.toBeDefined();
    });
  });
});
