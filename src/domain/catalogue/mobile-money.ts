/**
 * The catalogue a Caribbean mobile-money operator starts with: its account types, the
 * operator's own accounts, the transaction types with their posting templates, which account
 * types take part in which transaction types, and tiered limits. Pure data; the command side
 * applies it (src/commands/catalogue.ts), the README documents it.
 *
 * Money flows (e-money is a liability of the operator, backed by its settlement bank):
 *   FLOAT_TOPUP       agent buys float:        DEBIT settlement bank  → CREDIT agent float
 *   FLOAT_REDEEM      agent sells float back:  DEBIT agent float      → CREDIT settlement bank
 *   CASH_IN           customer hands cash in:  DEBIT agent float      → CREDIT customer wallet
 *   CASH_OUT          customer takes cash out: DEBIT customer wallet  → CREDIT agent float 99 %,
 *                                                                       fee income 1 %
 *   P2P               wallet to wallet:        DEBIT payer wallet     → CREDIT payee 99 %, fee income 1 %
 *   MERCHANT_PAYMENT  pay a merchant:          DEBIT customer wallet  → CREDIT merchant 98.5 %,
 *                                                                       fee income 1.5 %
 *   COMMISSION_PAYOUT operator pays an agent:  DEBIT commission expense → CREDIT agent commission
 *
 * The operator's accounts are fixed legs of the templates, so the catalogue is for one
 * currency (XCD by default): a template's fixed account has one currency.
 */
import type { DefineAccountType } from "../account-types/account-type.js";
import type { SetLimit } from "../limits/limits.js";
import type { DefineTransactionType } from "../transaction-types/transaction-type.js";

/** The operator's own accounts, one per role, opened once per catalogue currency. */
export const operatorAccounts = [
  "FEE_INCOME",
  "COMMISSION_EXPENSE",
  "SETTLEMENT_BANK",
  "SUSPENSE",
] as const;
export type OperatorAccount = (typeof operatorAccounts)[number];

export const catalogueAccountTypes: readonly DefineAccountType[] = [
  {
    code: "CUSTOMER_WALLET",
    name: "Customer wallet",
    normalBalance: "CREDIT",
    allowNegative: false,
  },
  {
    code: "AGENT_FLOAT",
    name: "Agent float (e-money)",
    normalBalance: "CREDIT",
    allowNegative: false,
  },
  {
    code: "AGENT_COMMISSION",
    name: "Agent commission",
    normalBalance: "CREDIT",
    allowNegative: false,
  },
  { code: "MERCHANT", name: "Merchant", normalBalance: "CREDIT", allowNegative: false },
  { code: "FEE_INCOME", name: "Fee income", normalBalance: "CREDIT", allowNegative: false },
  {
    code: "COMMISSION_EXPENSE",
    name: "Commission expense",
    normalBalance: "DEBIT",
    allowNegative: false,
  },
  {
    code: "SETTLEMENT_BANK",
    name: "Settlement bank (trust account)",
    normalBalance: "DEBIT",
    allowNegative: false,
  },
  { code: "SUSPENSE", name: "Suspense", normalBalance: "DEBIT", allowNegative: true },
];

/** The transaction types, with the operator's accounts filled in as fixed legs. */
export function catalogueTransactionTypes(
  operator: Readonly<Record<OperatorAccount, string>>,
): DefineTransactionType[] {
  const role = (side: "DEBIT" | "CREDIT", name: string, accountType: string, percent = "1") => ({
    side,
    role: name,
    accountType,
    percent,
  });
  const fixed = (side: "DEBIT" | "CREDIT", accountId: string, percent = "1") => ({
    side,
    accountId,
    percent,
  });
  return [
    {
      code: "FLOAT_TOPUP",
      description: "An agent buys e-money float, paid into the settlement bank",
      requiresTwoFactor: true,
      postings: [fixed("DEBIT", operator.SETTLEMENT_BANK), role("CREDIT", "agent", "AGENT_FLOAT")],
    },
    {
      code: "FLOAT_REDEEM",
      description: "An agent sells e-money float back, paid out of the settlement bank",
      requiresTwoFactor: true,
      postings: [role("DEBIT", "agent", "AGENT_FLOAT"), fixed("CREDIT", operator.SETTLEMENT_BANK)],
    },
    {
      code: "CASH_IN",
      description: "A customer hands cash to an agent; the agent's float pays the wallet",
      requiresTwoFactor: false,
      postings: [
        role("DEBIT", "agent", "AGENT_FLOAT"),
        role("CREDIT", "customer", "CUSTOMER_WALLET"),
      ],
    },
    {
      code: "CASH_OUT",
      description: "A customer takes cash from an agent; 1 % fee",
      requiresTwoFactor: false,
      postings: [
        role("DEBIT", "customer", "CUSTOMER_WALLET"),
        role("CREDIT", "agent", "AGENT_FLOAT", "0.99"),
        fixed("CREDIT", operator.FEE_INCOME, "0.01"),
      ],
    },
    {
      code: "P2P",
      description: "Wallet to wallet; 1 % fee",
      requiresTwoFactor: false,
      postings: [
        role("DEBIT", "payer", "CUSTOMER_WALLET"),
        role("CREDIT", "payee", "CUSTOMER_WALLET", "0.99"),
        fixed("CREDIT", operator.FEE_INCOME, "0.01"),
      ],
    },
    {
      code: "MERCHANT_PAYMENT",
      description: "A customer pays a merchant; 1.5 % merchant discount",
      requiresTwoFactor: false,
      postings: [
        role("DEBIT", "customer", "CUSTOMER_WALLET"),
        role("CREDIT", "merchant", "MERCHANT", "0.985"),
        fixed("CREDIT", operator.FEE_INCOME, "0.015"),
      ],
    },
    {
      code: "COMMISSION_PAYOUT",
      description: "The operator pays an agent's commission",
      requiresTwoFactor: true,
      postings: [
        fixed("DEBIT", operator.COMMISSION_EXPENSE),
        role("CREDIT", "agent", "AGENT_COMMISSION"),
      ],
    },
  ];
}

/** Account type → the transaction types its accounts take part in (default deny otherwise). */
export const cataloguePermissions: Readonly<Record<string, readonly string[]>> = {
  CUSTOMER_WALLET: ["CASH_IN", "CASH_OUT", "MERCHANT_PAYMENT", "P2P"],
  AGENT_FLOAT: ["CASH_IN", "CASH_OUT", "FLOAT_REDEEM", "FLOAT_TOPUP"],
  AGENT_COMMISSION: ["COMMISSION_PAYOUT"],
  MERCHANT: ["MERCHANT_PAYMENT"],
  FEE_INCOME: ["CASH_OUT", "MERCHANT_PAYMENT", "P2P"],
  COMMISSION_EXPENSE: ["COMMISSION_PAYOUT"],
  SETTLEMENT_BANK: ["FLOAT_REDEEM", "FLOAT_TOPUP"],
  SUSPENSE: [],
};

/**
 * Limits on what an account pays, in the catalogue currency: a customer tier (wallets) and an
 * agent tier (float), tighter where cash leaves the system.
 */
export const catalogueLimits: readonly SetLimit[] = [
  {
    accountType: "CUSTOMER_WALLET",
    transactionType: "P2P",
    perTransactionMax: "2000.00",
    dailyAmountMax: "5000.00",
    dailyCountMax: 20,
    monthlyAmountMax: "20000.00",
  },
  {
    accountType: "CUSTOMER_WALLET",
    transactionType: "CASH_OUT",
    perTransactionMax: "2500.00",
    dailyAmountMax: "5000.00",
    dailyCountMax: 10,
    monthlyAmountMax: "25000.00",
  },
  {
    accountType: "CUSTOMER_WALLET",
    transactionType: "MERCHANT_PAYMENT",
    perTransactionMax: "5000.00",
    dailyAmountMax: "10000.00",
    monthlyAmountMax: "50000.00",
  },
  {
    accountType: "AGENT_FLOAT",
    transactionType: "CASH_IN",
    perTransactionMax: "5000.00",
    dailyAmountMax: "50000.00",
    monthlyAmountMax: "500000.00",
  },
  {
    accountType: "AGENT_FLOAT",
    transactionType: "FLOAT_REDEEM",
    perTransactionMax: "100000.00",
    dailyAmountMax: "200000.00",
  },
];
