/**
 * Domain transactions on the Postgres event store: one atomic append for the transaction, its
 * posting and every account; FAILED transactions kept; idempotent replays; reversal; and two
 * transactions racing for the same funds.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type RecordTransactionRequest,
  TransactionCommands,
  transactionPostingId,
} from "../../src/commands/transactions.js";
import { actor, code, createTestLedger, ok, openAccount, type TestLedger } from "./support.js";

describe("domain transactions on the Postgres event store", () => {
  let t: TestLedger;
  let commands: TransactionCommands;
  let funding: string;
  let fees: string;

  async function balance(accountId: string): Promise<string | undefined> {
    return (await t.ledger.balances(accountId, new Date()))?.posted;
  }

  /** A wallet holding `value`, paid in by a CASH_IN transaction. */
  async function walletWith(value: string): Promise<string> {
    const wallet = await openAccount(t.ledger);
    const outcome = await commands.recordTransaction(
      {
        transactionType: "CASH_IN",
        amount: { value, currency: "XCD" },
        parties: { agent: funding, customer: wallet },
      },
      actor(),
    );
    expect(ok(outcome).transaction.status).toBe("POSTED");
    return wallet;
  }

  function p2p(payer: string, payee: string, value: string): RecordTransactionRequest {
    return {
      transactionType: "P2P",
      amount: { value, currency: "XCD" },
      parties: { payer, payee },
    };
  }

  beforeAll(async () => {
    t = await createTestLedger();
    commands = new TransactionCommands(t.pipeline);
    for (const type of [
      { code: "WALLET", normalBalance: "CREDIT", allowNegative: false },
      { code: "SUSPENSE", normalBalance: "DEBIT", allowNegative: true },
      { code: "FEE_INCOME", normalBalance: "CREDIT", allowNegative: false },
    ] as const) {
      ok(await t.ledger.defineAccountType({ ...type, name: type.code }, actor()));
    }
    funding = await openAccount(t.ledger, "SUSPENSE");
    fees = await openAccount(t.ledger, "FEE_INCOME");
    ok(
      await commands.defineTransactionType(
        {
          code: "CASH_IN",
          description: "Cash in",
          requiresTwoFactor: false,
          postings: [
            { side: "DEBIT", role: "agent", percent: "1" },
            { side: "CREDIT", role: "customer", percent: "1", accountType: "WALLET" },
          ],
        },
        actor(),
      ),
    );
    ok(
      await commands.defineTransactionType(
        {
          code: "P2P",
          description: "Person to person, 1.5 % fee",
          requiresTwoFactor: false,
          postings: [
            { side: "DEBIT", role: "payer", percent: "1", accountType: "WALLET" },
            { side: "CREDIT", role: "payee", percent: "0.985", accountType: "WALLET" },
            { side: "CREDIT", accountId: fees, percent: "0.015" },
          ],
        },
        actor(),
      ),
    );
    for (const [accountType, transactionTypes] of [
      ["WALLET", ["CASH_IN", "P2P"]],
      ["SUSPENSE", ["CASH_IN"]],
      ["FEE_INCOME", ["P2P"]],
    ] as const) {
      ok(
        await commands.setAccountTypeTransactionTypes(
          { code: accountType, transactionTypes },
          actor(),
        ),
      );
    }
  });
  afterAll(async () => t.close());

  it("posts through the template in one atomic append: transaction, posting, accounts", async () => {
    const alice = await walletWith("100.00");
    const bob = await openAccount(t.ledger);
    const outcome = await commands.recordTransaction(p2p(alice, bob, "10.01"), actor());
    const { transaction } = ok(outcome);
    expect(transaction).toMatchObject({
      status: "POSTED",
      postingId: transactionPostingId(transaction.id),
      transactionTypeVersion: 1,
      accountIds: [alice, bob, fees],
    });
    // 1.5 % of 10.01 is 0.15015: the fee leg gets 0.15, the payee the other 9.86.
    const posting = await t.store.readStream(`posting-${transaction.postingId}`);
    expect(posting[0]?.data).toMatchObject({
      transactionType: "P2P",
      entries: [
        { accountId: alice, side: "DEBIT", amount: "10.01" },
        { accountId: bob, side: "CREDIT", amount: "9.86" },
        { accountId: fees, side: "CREDIT", amount: "0.15" },
      ],
    });
    const own = await t.store.readStream(`transaction-${transaction.id}`);
    expect(own.map((event) => event.type)).toEqual(["TransactionRequested", "TransactionPosted"]);
    const [bobEntry] = await t.store.readStream(`account-${bob}`, { fromRevision: 1 });
    const commits = new Set([own[0], posting[0], bobEntry].map((e) => e?.position.commit));
    expect(commits.size).toBe(1);
    expect(await balance(alice)).toBe("89.99");
    expect(await balance(bob)).toBe("9.86");
  });

  it("a business rejection is kept as a FAILED transaction and moves nothing", async () => {
    const alice = await walletWith("5.00");
    const bob = await openAccount(t.ledger);
    const { transaction } = ok(await commands.recordTransaction(p2p(alice, bob, "5.01"), actor()));
    expect(transaction).toMatchObject({
      status: "FAILED",
      postingId: null,
      failure: { code: "INSUFFICIENT_FUNDS", details: { accountId: alice } },
    });
    const own = await t.store.readStream(`transaction-${transaction.id}`);
    expect(own.map((event) => event.type)).toEqual(["TransactionRequested", "TransactionFailed"]);
    expect(await t.store.readStream(`posting-${transactionPostingId(transaction.id)}`)).toEqual([]);
    expect(await balance(alice)).toBe("5.00");
    expect(await balance(bob)).toBe("0.00");
  });

  const failing: ReadonlyArray<
    [string, (alice: string, bob: string) => RecordTransactionRequest, string]
  > = [
    [
      "an unknown type",
      (alice, bob) => ({ ...p2p(alice, bob, "1.00"), transactionType: "NOPE" }),
      "UNKNOWN_TRANSACTION_TYPE",
    ],
    [
      "parties that miss a role",
      (alice, bob) => ({ ...p2p(alice, bob, "1.00"), parties: { payer: alice } }),
      "VALIDATION_ERROR",
    ],
    ["an unknown payee", (alice) => p2p(alice, randomUUID(), "1.00"), "ACCOUNT_NOT_FOUND"],
    [
      "a payee of a type the template does not take",
      (alice) => p2p(alice, funding, "1.00"),
      "TRANSACTION_TYPE_NOT_ALLOWED",
    ],
  ];

  it.each(failing)("%s fails and is kept", async (_why, requestOf, failure) => {
    const alice = await walletWith("20.00");
    const bob = await openAccount(t.ledger);
    const { transaction } = ok(await commands.recordTransaction(requestOf(alice, bob), actor()));
    expect(transaction.status).toBe("FAILED");
    expect(transaction.failure?.code).toBe(failure);
    const own = await t.store.readStream(`transaction-${transaction.id}`);
    expect(own.map((event) => event.type)).toEqual(["TransactionRequested", "TransactionFailed"]);
    expect(await balance(alice)).toBe("20.00");
  });

  it("an invalid amount is refused without recording anything", async () => {
    const id = randomUUID();
    const outcome = await commands.recordTransaction(
      { ...p2p(funding, fees, "1.001"), id },
      actor(),
    );
    expect(outcome.ok ? undefined : outcome.rejection).toMatchObject({
      code: "VALIDATION_ERROR",
      errors: [{ path: "/amount/value", message: expect.any(String) }],
    });
    expect(await t.store.readStream(`transaction-${id}`)).toEqual([]);
  });

  describe("idempotency", () => {
    it("the same key and body replays a posted transaction, moving nothing again", async () => {
      const alice = await walletWith("30.00");
      const bob = await openAccount(t.ledger);
      const keyed = actor({ idempotencyKey: `posted-${randomUUID()}` });
      const first = await commands.recordTransaction(p2p(alice, bob, "10.00"), keyed);
      const again = await commands.recordTransaction(p2p(alice, bob, "10.00"), keyed);
      expect(again.ok && again.replayed).toBe(true);
      expect(ok(again).transaction).toEqual(ok(first).transaction);
      expect(again.ok && first.ok && again.position).toBe(first.ok && first.position);
      expect(await balance(alice)).toBe("20.00");
    });

    it("the same key replays a FAILED transaction even once the funds are there", async () => {
      const alice = await walletWith("1.00");
      const bob = await openAccount(t.ledger);
      const keyed = actor({ idempotencyKey: `failed-${randomUUID()}` });
      const first = ok(await commands.recordTransaction(p2p(alice, bob, "9.00"), keyed));
      expect(first.transaction.status).toBe("FAILED");
      await commands.recordTransaction(
        {
          transactionType: "CASH_IN",
          amount: { value: "50.00", currency: "XCD" },
          parties: { agent: funding, customer: alice },
        },
        actor(),
      );
      const again = await commands.recordTransaction(p2p(alice, bob, "9.00"), keyed);
      expect(again.ok && again.replayed).toBe(true);
      expect(ok(again).transaction).toEqual(first.transaction);
      expect(await balance(alice)).toBe("51.00");
    });

    it("the same key with another body is IDEMPOTENCY_KEY_REUSED and records nothing", async () => {
      const alice = await walletWith("30.00");
      const bob = await openAccount(t.ledger);
      const keyed = actor({ idempotencyKey: `reused-${randomUUID()}` });
      const first = ok(await commands.recordTransaction(p2p(alice, bob, "1.00"), keyed));
      const other = await commands.recordTransaction(p2p(alice, bob, "2.00"), keyed);
      expect(code(other)).toBe("IDEMPOTENCY_KEY_REUSED");
      const own = await t.store.readStream(`transaction-${first.transaction.id}`);
      expect(own).toHaveLength(2);
    });

    it("a client id taken without a key is TRANSACTION_EXISTS", async () => {
      const alice = await walletWith("30.00");
      const bob = await openAccount(t.ledger);
      const id = randomUUID();
      ok(await commands.recordTransaction({ ...p2p(alice, bob, "1.00"), id }, actor()));
      const again = await commands.recordTransaction({ ...p2p(alice, bob, "1.00"), id }, actor());
      expect(code(again)).toBe("TRANSACTION_EXISTS");
    });
  });

  it("two transactions racing for the same funds: one posts, the other fails", async () => {
    const alice = await walletWith("10.00");
    const [bob, carol] = [await openAccount(t.ledger), await openAccount(t.ledger)];
    const outcomes = await Promise.all([
      commands.recordTransaction(p2p(alice, bob, "6.00"), actor()),
      commands.recordTransaction(p2p(alice, carol, "6.00"), actor()),
    ]);
    const statuses = outcomes.map((outcome) => ok(outcome).transaction.status).sort();
    expect(statuses).toEqual(["FAILED", "POSTED"]);
    expect(await balance(alice)).toBe("4.00");
  });

  describe("limits", () => {
    it("two transactions that each fit the daily limit but not together: one fails", async () => {
      ok(
        await commands.setLimit(
          { accountType: "WALLET", transactionType: "P2P", dailyAmountMax: "10.00" },
          actor(),
        ),
      );
      try {
        const alice = await walletWith("100.00");
        const [bob, carol] = [await openAccount(t.ledger), await openAccount(t.ledger)];
        const outcomes = await Promise.all([
          commands.recordTransaction(p2p(alice, bob, "6.00"), actor()),
          commands.recordTransaction(p2p(alice, carol, "6.00"), actor()),
        ]);
        const failures = outcomes.map((outcome) => ok(outcome).transaction.failure?.code ?? "");
        expect(failures.sort()).toEqual(["", "LIMIT_EXCEEDED"]);
        expect(await balance(alice)).toBe("94.00");
        const check = await commands.checkLimit(
          { accountId: alice, transactionType: "P2P", amount: { value: "4.00", currency: "XCD" } },
          new Date(),
        );
        expect(check).toEqual({
          allowed: true,
          violations: [],
          remaining: { dailyAmount: "4.00" },
        });
        const over = await commands.checkLimit(
          { accountId: alice, transactionType: "P2P", amount: { value: "4.01", currency: "XCD" } },
          new Date(),
        );
        expect(over).toMatchObject({ allowed: false, violations: [{ limit: "dailyAmountMax" }] });
      } finally {
        ok(await commands.setLimit({ accountType: "WALLET", transactionType: "P2P" }, actor()));
      }
    });

    it("a raw posting naming the type counts and is held to the limit too", async () => {
      ok(
        await commands.setLimit(
          { accountType: "SUSPENSE", transactionType: "CASH_IN", perTransactionMax: "50.00" },
          actor(),
        ),
      );
      try {
        const wallet = await openAccount(t.ledger);
        const entries = (value: string) => [
          { accountId: funding, side: "DEBIT" as const, amount: { value, currency: "XCD" } },
          { accountId: wallet, side: "CREDIT" as const, amount: { value, currency: "XCD" } },
        ];
        const refused = await t.ledger.recordPosting(
          { transactionType: "CASH_IN", entries: entries("50.01") },
          actor(),
        );
        expect(refused.ok ? undefined : refused.rejection).toMatchObject({
          code: "LIMIT_EXCEEDED",
          details: { accountId: funding, limit: "perTransactionMax", max: "50.00" },
        });
        const fits = await t.ledger.recordPosting(
          { transactionType: "CASH_IN", entries: entries("50.00") },
          actor(),
        );
        expect(code(fits)).toBe("OK");
      } finally {
        ok(
          await commands.setLimit({ accountType: "SUSPENSE", transactionType: "CASH_IN" }, actor()),
        );
      }
    });

    it("setting a limit for an unknown pair or with a bad amount is refused", async () => {
      expect(
        code(await commands.setLimit({ accountType: "GHOST", transactionType: "P2P" }, actor())),
      ).toBe("UNKNOWN_ACCOUNT_TYPE");
      expect(
        code(await commands.setLimit({ accountType: "WALLET", transactionType: "NOPE" }, actor())),
      ).toBe("UNKNOWN_TRANSACTION_TYPE");
      expect(
        code(
          await commands.setLimit(
            { accountType: "WALLET", transactionType: "P2P", dailyAmountMax: "0.00" },
            actor(),
          ),
        ),
      ).toBe("VALIDATION_ERROR");
    });
  });

  describe("reversal", () => {
    it("mirrors the posting and marks the transaction REVERSED; again is ALREADY_REVERSED", async () => {
      const alice = await walletWith("50.00");
      const bob = await openAccount(t.ledger);
      const feesBefore = await balance(fees);
      const { transaction } = ok(
        await commands.recordTransaction(p2p(alice, bob, "20.00"), actor()),
      );
      const reversed = ok(
        await commands.reverseTransaction(
          { transactionId: transaction.id, reason: "sent to the wrong number" },
          actor(),
        ),
      ).transaction;
      expect(reversed).toMatchObject({ status: "REVERSED", reversalPostingId: expect.any(String) });
      expect(reversed.history.map((change) => change.status)).toEqual([
        "PENDING",
        "POSTED",
        "REVERSED",
      ]);
      expect([await balance(alice), await balance(bob), await balance(fees)]).toEqual([
        "50.00",
        "0.00",
        feesBefore,
      ]);
      const again = await commands.reverseTransaction(
        { transactionId: transaction.id, reason: "again" },
        actor(),
      );
      expect(code(again)).toBe("ALREADY_REVERSED");
    });

    it("a FAILED transaction cannot be reversed; an unknown one is not found", async () => {
      const alice = await walletWith("1.00");
      const bob = await openAccount(t.ledger);
      const { transaction } = ok(
        await commands.recordTransaction(p2p(alice, bob, "2.00"), actor()),
      );
      expect(
        code(
          await commands.reverseTransaction(
            { transactionId: transaction.id, reason: "x" },
            actor(),
          ),
        ),
      ).toBe("INVALID_STATUS_TRANSITION");
      expect(
        code(
          await commands.reverseTransaction({ transactionId: randomUUID(), reason: "x" }, actor()),
        ),
      ).toBe("TRANSACTION_NOT_FOUND");
    });
  });
});
