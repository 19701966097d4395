/**
 * Configuration on the Postgres event store: transaction types and their templates, which
 * transaction types an account type may take part in, the check a typed posting goes
 * through, and account metadata schemas.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigurationReader, configurationFreshMsMax } from "../../src/commands/configuration.js";
import { CommandPipeline } from "../../src/commands/pipeline.js";
import { TransactionCommands } from "../../src/commands/transactions.js";
import {
  actor,
  code,
  createTestLedger,
  defineTypes,
  ok,
  openAccount,
  type TestLedger,
  transfer,
} from "./support.js";

describe("configuration on the Postgres event store", () => {
  let t: TestLedger;
  let config: TransactionCommands;
  let funding: string;

  beforeAll(async () => {
    t = await createTestLedger();
    config = new TransactionCommands(t.pipeline);
    await defineTypes(t.ledger);
    funding = await openAccount(t.ledger, "SUSPENSE");
    ok(
      await config.defineTransactionType(
        {
          code: "CASH_IN",
          description: "Cash in at an agent",
          requiresTwoFactor: false,
          postings: [
            { side: "DEBIT", role: "agent", percent: "1", accountType: "SUSPENSE" },
            { side: "CREDIT", role: "customer", percent: "1", accountType: "WALLET" },
          ],
        },
        actor(),
      ),
    );
  });
  afterAll(async () => t.close());

  describe("transaction types", () => {
    it("a definition is recorded in config-transaction-type-<code> as version 1", async () => {
      const defined = ok(
        await config.defineTransactionType(
          {
            code: "P2P",
            description: "Person to person",
            requiresTwoFactor: true,
            postings: [
              { side: "DEBIT", role: "payer", percent: "1" },
              { side: "CREDIT", role: "payee", percent: "0.980" },
              { side: "CREDIT", accountId: funding, percent: "0.02" },
            ],
            allowedAccountTypes: { payer: ["WALLET"] },
          },
          actor(),
        ),
      );
      expect(defined).toMatchObject({ code: "P2P", version: 1, requiresTwoFactor: true });
      expect(defined.postings[1]?.percent).toBe("0.98");
      const events = await t.store.readStream("config-transaction-type-P2P");
      expect(events.map((event) => event.type)).toEqual(["TransactionTypeDefined"]);
      expect(code(await config.defineTransactionType({ ...defined }, actor()))).toBe(
        "DUPLICATE_CODE",
      );
    });

    it("a template naming an account type that does not exist is INVALID_TEMPLATE", async () => {
      const outcome = await config.defineTransactionType(
        {
          code: "GHOSTLY",
          description: "x",
          requiresTwoFactor: false,
          postings: [
            { side: "DEBIT", role: "payer", percent: "1", accountType: "GHOST" },
            { side: "CREDIT", role: "payee", percent: "0.5" },
          ],
        },
        actor(),
      );
      expect(outcome.ok ? [] : outcome.rejection.errors).toEqual([
        { path: "/postings/0/accountType", message: "no account type GHOST" },
        { path: "/postings", message: expect.stringMatching(/CREDIT legs/) },
      ]);
      expect(await t.store.readStream("config-transaction-type-GHOSTLY")).toEqual([]);
    });
  });

  describe("account-type permissions", () => {
    it("the list is an event on the account type's stream", async () => {
      const set = ok(
        await config.setAccountTypeTransactionTypes(
          { code: "WALLET", transactionTypes: ["CASH_IN"] },
          actor(),
        ),
      );
      expect(set).toEqual({ accountType: "WALLET", transactionTypes: ["CASH_IN"] });
      const events = await t.store.readStream("config-account-type-WALLET");
      expect(events.map((event) => event.type)).toEqual([
        "AccountTypeDefined",
        "AccountTypeTransactionTypesSet",
      ]);
    });

    it("naming an unknown transaction type, or an unknown account type, is refused", async () => {
      expect(
        code(
          await config.setAccountTypeTransactionTypes(
            { code: "WALLET", transactionTypes: ["CASH_IN", "NOPE"] },
            actor(),
          ),
        ),
      ).toBe("UNKNOWN_TRANSACTION_TYPE");
      expect(
        code(
          await config.setAccountTypeTransactionTypes(
            { code: "GHOST", transactionTypes: [] },
            actor(),
          ),
        ),
      ).toBe("UNKNOWN_ACCOUNT_TYPE");
    });
  });

  describe("a posting that names a transaction type", () => {
    it("of an unknown type is UNKNOWN_TRANSACTION_TYPE, and one with a malformed code too", async () => {
      const wallet = await openAccount(t.ledger);
      for (const transactionType of ["NOPE", "cash in"]) {
        const outcome = await t.ledger.recordPosting(
          { ...transfer(funding, wallet, "1.00"), transactionType },
          actor(),
        );
        expect(code(outcome)).toBe("UNKNOWN_TRANSACTION_TYPE");
      }
    });

    it("is refused while one account's type does not list it (default deny), then allowed", async () => {
      const wallet = await openAccount(t.ledger);
      const cashIn = { ...transfer(funding, wallet, "5.00"), transactionType: "CASH_IN" };
      // WALLET lists CASH_IN; SUSPENSE has no list yet.
      const refused = await t.ledger.recordPosting(cashIn, actor());
      expect(refused.ok ? undefined : refused.rejection).toMatchObject({
        code: "TRANSACTION_TYPE_NOT_ALLOWED",
        details: { accountId: funding, accountType: "SUSPENSE", transactionType: "CASH_IN" },
      });
      ok(
        await config.setAccountTypeTransactionTypes(
          { code: "SUSPENSE", transactionTypes: ["CASH_IN"] },
          actor(),
        ),
      );
      const posted = ok(await t.ledger.recordPosting(cashIn, actor()));
      expect(posted.posting.transactionType).toBe("CASH_IN");
    });

    it("a keyed retry replays even after the permission was withdrawn", async () => {
      const wallet = await openAccount(t.ledger);
      const keyed = actor({ idempotencyKey: "typed-retry" });
      const cashIn = { ...transfer(funding, wallet, "2.00"), transactionType: "CASH_IN" };
      const first = ok(await t.ledger.recordPosting(cashIn, keyed));
      ok(
        await config.setAccountTypeTransactionTypes(
          { code: "WALLET", transactionTypes: [] },
          actor(),
        ),
      );
      const again = await t.ledger.recordPosting(cashIn, keyed);
      expect(again.ok && again.replayed).toBe(true);
      expect(ok(again).posting.id).toBe(first.posting.id);
      const fresh = await t.ledger.recordPosting(cashIn, actor());
      expect(code(fresh)).toBe("TRANSACTION_TYPE_NOT_ALLOWED");
      ok(
        await config.setAccountTypeTransactionTypes(
          { code: "WALLET", transactionTypes: ["CASH_IN"] },
          actor(),
        ),
      );
    });

    it("without a transaction type is not checked (the HTTP layer wants admin for it)", async () => {
      const wallet = await openAccount(t.ledger);
      expect(code(await t.ledger.recordPosting(transfer(funding, wallet, "1.00"), actor()))).toBe(
        "OK",
      );
    });
  });

  describe("another process's configuration change", () => {
    it("is seen once the cached configuration is older than configurationFreshMsMax", async () => {
      const other = new TransactionCommands(new CommandPipeline(t.store));
      let nowMs = Date.now();
      const reader = new ConfigurationReader(t.pipeline, () => nowMs);
      const before = (await reader.accountType("SUSPENSE"))?.transactionTypes;
      ok(
        await other.setAccountTypeTransactionTypes(
          { code: "SUSPENSE", transactionTypes: [] },
          actor(),
        ),
      );
      expect((await reader.accountType("SUSPENSE"))?.transactionTypes).toEqual(before);
      nowMs += configurationFreshMsMax;
      expect((await reader.accountType("SUSPENSE"))?.transactionTypes).toEqual([]);
      ok(
        await config.setAccountTypeTransactionTypes(
          { code: "SUSPENSE", transactionTypes: ["CASH_IN"] },
          actor(),
        ),
      );
    });
  });

  describe("account metadata schemas", () => {
    it("a metadataSchema that is not a valid JSON Schema is VALIDATION_ERROR", async () => {
      const outcome = await t.ledger.defineAccountType(
        {
          code: "BROKEN",
          name: "Broken",
          normalBalance: "CREDIT",
          allowNegative: false,
          metadataSchema: { type: "objekt", required: "msisdn" },
        },
        actor(),
      );
      expect(outcome.ok ? undefined : outcome.rejection).toMatchObject({
        code: "VALIDATION_ERROR",
        errors: expect.arrayContaining([
          { path: "/metadataSchema/type", message: expect.any(String) },
          { path: "/metadataSchema/required", message: expect.any(String) },
        ]),
      });
      expect(await t.store.readStream("config-account-type-BROKEN")).toEqual([]);
    });

    it("a schema nested too deep is refused before Ajv compiles it", async () => {
      let schema: Record<string, unknown> = { type: "string" };
      for (let depth = 0; depth < 40; depth++) schema = { type: "array", items: schema };
      const outcome = await t.ledger.defineAccountType(
        {
          code: "DEEP",
          name: "Deep",
          normalBalance: "CREDIT",
          allowNegative: false,
          metadataSchema: schema,
        },
        actor(),
      );
      expect(outcome.ok ? undefined : outcome.rejection.errors).toEqual([
        { path: "/metadataSchema", message: "nests deeper than 32 levels" },
      ]);
    });

    it("metadata failing the type's schema is VALIDATION_ERROR listing each violation", async () => {
      ok(
        await t.ledger.defineAccountType(
          {
            code: "AGENT_FLOAT",
            name: "Agent float",
            normalBalance: "CREDIT",
            allowNegative: false,
            metadataSchema: {
              type: "object",
              required: ["agentCode", "msisdn"],
              properties: { agentCode: { type: "string", pattern: "^A-[0-9]+$" } },
            },
          },
          actor(),
        ),
      );
      const refused = await t.ledger.openAccount(
        { accountType: "AGENT_FLOAT", currency: "XCD", metadata: { agentCode: "B7" } },
        actor(),
      );
      expect(refused.ok ? undefined : refused.rejection).toMatchObject({
        code: "VALIDATION_ERROR",
        errors: [
          { path: "/metadata", message: "must have required property 'msisdn'" },
          { path: "/metadata/agentCode", message: 'must match pattern "^A-[0-9]+$"' },
        ],
      });
      const opened = await t.ledger.openAccount(
        {
          accountType: "AGENT_FLOAT",
          currency: "XCD",
          metadata: { agentCode: "A-17", msisdn: "17675550100" },
        },
        actor(),
      );
      expect(code(opened)).toBe("OK");
    });

    it("two types whose schemas share an $id both work", async () => {
      const schema = { $id: "https://example.com/msisdn", type: "object", required: ["msisdn"] };
      for (const typeCode of ["MERCHANT", "AGENT_COMMISSION"]) {
        const defined = await t.ledger.defineAccountType(
          {
            code: typeCode,
            name: typeCode,
            normalBalance: "CREDIT",
            allowNegative: false,
            metadataSchema: schema,
          },
          actor(),
        );
        expect(code(defined)).toBe("OK");
        const opened = await t.ledger.openAccount(
          { accountType: typeCode, currency: "XCD", metadata: { msisdn: "17675550100" } },
          actor(),
        );
        expect(code(opened)).toBe("OK");
      }
    });

    it("a type without a schema takes any metadata", async () => {
      const opened = await t.ledger.openAccount(
        { accountType: "WALLET", currency: "XCD", metadata: { anything: [1, { deep: true }] } },
        actor(),
      );
      expect(code(opened)).toBe("OK");
    });
  });
});
