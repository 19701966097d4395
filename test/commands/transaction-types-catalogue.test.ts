/**
 * The mobile-money catalogue end to end on the Postgres event store: seeded once (and again,
 * changing nothing), then an agent's day — float top-up, cash-in, P2P, cash-out, a merchant
 * payment, a commission payout, a float redemption — with every balance checked to the cent.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { operatorAccountId, seedCatalogue } from "../../src/commands/catalogue.js";
import { TransactionCommands } from "../../src/commands/transactions.js";
import { Decimal } from "../../src/domain/money/index.js";
import { actor, createTestLedger, ok, openAccount, type TestLedger } from "./support.js";

describe("the mobile-money catalogue", () => {
  let t: TestLedger;
  let commands: TransactionCommands;
  const operator = {
    fees: operatorAccountId("FEE_INCOME", "XCD"),
    expense: operatorAccountId("COMMISSION_EXPENSE", "XCD"),
    bank: operatorAccountId("SETTLEMENT_BANK", "XCD"),
    suspense: operatorAccountId("SUSPENSE", "XCD"),
  };

  async function posted(accountId: string): Promise<string | undefined> {
    return (await t.ledger.balances(accountId, new Date()))?.posted;
  }

  async function transact(
    transactionType: string,
    value: string,
    parties: Record<string, string>,
  ): Promise<string> {
    const outcome = await commands.recordTransaction(
      { transactionType, amount: { value, currency: "XCD" }, parties },
      actor(),
    );
    const { transaction } = ok(outcome);
    return transaction.status === "POSTED" ? "POSTED" : (transaction.failure?.code ?? "?");
  }

  beforeAll(async () => {
    t = await createTestLedger();
    commands = new TransactionCommands(t.pipeline);
  });
  afterAll(async () => t.close());

  it("seeds account types, operator accounts, transaction types, permissions and limits", async () => {
    const report = await seedCatalogue(t.pipeline, actor({ principal: "system:seed" }));
    expect(report.accountTypesDefined).toHaveLength(8);
    expect(report.operatorAccountsOpened).toEqual([
      "FEE_INCOME",
      "COMMISSION_EXPENSE",
      "SETTLEMENT_BANK",
      "SUSPENSE",
    ]);
    expect(report.transactionTypesDefined).toEqual([
      "FLOAT_TOPUP",
      "FLOAT_REDEEM",
      "CASH_IN",
      "CASH_OUT",
      "P2P",
      "MERCHANT_PAYMENT",
      "COMMISSION_PAYOUT",
    ]);
    expect(report.limitsSet).toHaveLength(5);
    expect(report.operatorAccounts.FEE_INCOME).toBe(operator.fees);
  });

  it("seeding again changes nothing and keeps an operator's own permissions", async () => {
    ok(
      await commands.setAccountTypeTransactionTypes(
        { code: "MERCHANT", transactionTypes: ["MERCHANT_PAYMENT", "P2P"] },
        actor(),
      ),
    );
    const before = (await t.store.readAll({ limit: 10_000 })).events.length;
    const report = await seedCatalogue(t.pipeline, actor({ principal: "system:seed" }));
    expect(report).toMatchObject({
      accountTypesDefined: [],
      operatorAccountsOpened: [],
      transactionTypesDefined: [],
      limitsSet: [],
    });
    expect((await t.store.readAll({ limit: 10_000 })).events.length).toBe(before);
  });

  it("an agent's day: every balance to the cent, and the books balance", async () => {
    const float = await openAccount(t.ledger, "AGENT_FLOAT");
    const commission = await openAccount(t.ledger, "AGENT_COMMISSION");
    const ana = await openAccount(t.ledger, "CUSTOMER_WALLET");
    const ben = await openAccount(t.ledger, "CUSTOMER_WALLET");
    const shop = await openAccount(t.ledger, "MERCHANT");

    expect(await transact("FLOAT_TOPUP", "1000.00", { agent: float })).toBe("POSTED");
    expect(await transact("CASH_IN", "200.00", { agent: float, customer: ana })).toBe("POSTED");
    // 1 % fee: Ben gets 49.50, fee income 0.50.
    expect(await transact("P2P", "50.00", { payer: ana, payee: ben })).toBe("POSTED");
    // 1 % fee: the agent's float gets 19.80 back for the cash, fee income 0.20.
    expect(await transact("CASH_OUT", "20.00", { customer: ben, agent: float })).toBe("POSTED");
    // 1.5 % of 33.33 is 0.49995: largest remainder gives the fee 0.50 and the shop 32.83.
    expect(await transact("MERCHANT_PAYMENT", "33.33", { customer: ana, merchant: shop })).toBe(
      "POSTED",
    );
    expect(await transact("COMMISSION_PAYOUT", "5.00", { agent: commission })).toBe("POSTED");
    expect(await transact("FLOAT_REDEEM", "100.00", { agent: float })).toBe("POSTED");

    const balances = {
      bank: await posted(operator.bank),
      float: await posted(float),
      commission: await posted(commission),
      ana: await posted(ana),
      ben: await posted(ben),
      shop: await posted(shop),
      fees: await posted(operator.fees),
      expense: await posted(operator.expense),
      suspense: await posted(operator.suspense),
    };
    expect(balances).toEqual({
      bank: "900.00",
      float: "719.80",
      commission: "5.00",
      ana: "116.67",
      ben: "29.50",
      shop: "32.83",
      fees: "1.20",
      expense: "5.00",
      suspense: "0.00",
    });
    // DEBIT-normal (bank, expense) against CREDIT-normal (everyone else).
    const sum = (values: (string | undefined)[]) =>
      values.reduce((total, value) => total.plus(value ?? "0"), new Decimal(0)).toFixed(2);
    const { bank, expense, suspense, ...creditNormal } = balances;
    expect(sum([bank, expense, suspense])).toBe(sum(Object.values(creditNormal)));
  });

  it("refuses what the catalogue does not allow: the wrong account type, over a limit", async () => {
    const float = await openAccount(t.ledger, "AGENT_FLOAT");
    const ana = await openAccount(t.ledger, "CUSTOMER_WALLET");
    const ben = await openAccount(t.ledger, "CUSTOMER_WALLET");
    expect(await transact("P2P", "1.00", { payer: float, payee: ana })).toBe(
      "TRANSACTION_TYPE_NOT_ALLOWED",
    );
    expect(await transact("FLOAT_TOPUP", "10000.00", { agent: float })).toBe("POSTED");
    for (const value of ["5000.00", "2500.00"]) {
      expect(await transact("CASH_IN", value, { agent: float, customer: ana })).toBe("POSTED");
    }
    // A customer sends at most 2,000.00 in one P2P.
    expect(await transact("P2P", "2000.01", { payer: ana, payee: ben })).toBe("LIMIT_EXCEEDED");
    expect(await transact("P2P", "2000.00", { payer: ana, payee: ben })).toBe("POSTED");
    expect(await transact("FLOAT_TOPUP", "10000.00", { agent: float })).toBe("POSTED");
    // An agent takes at most 5,000.00 in one cash-in, even with the float for more.
    expect(await transact("CASH_IN", "5000.01", { agent: float, customer: ben })).toBe(
      "LIMIT_EXCEEDED",
    );
  });
});
