/**
 * The HTTP contract of transaction types, account-type permissions and domain transactions
 * (API.md "Configuration", "Domain transactions") as Zod schemas: request validation, handler
 * types and the OpenAPI document from one definition.
 *
 * The split between 400 and 422: these schemas check shapes and bounds (types, lengths, ids),
 * a 400 VALIDATION_ERROR. What a template means — percents that are decimal fractions in
 * (0, 1] summing to 1 per side, a role or a fixed account per leg, account types that exist,
 * consistent roles — is the domain's check (src/domain/transaction-types/template.ts), so
 * every one of those violations comes back together in one 422 INVALID_TEMPLATE.
 */
import { z } from "zod";
import { dailyCountMaxLimit } from "../domain/limits/limits.js";
import { templateLegsMax } from "../domain/transaction-types/template.js";
import {
  accountTypeCode,
  amount,
  decimalString,
  instant,
  metadata,
  pageQuery,
  position,
  problem,
  uuid,
} from "./schemas.js";

const side = z.enum(["DEBIT", "CREDIT"]);
const transactionStatus = z.enum(["PENDING", "POSTED", "FAILED", "REVERSED"]);
const roleName = z
  .string()
  .regex(/^[a-z][a-zA-Z0-9_]{0,31}$/, "must match ^[a-z][a-zA-Z0-9_]{0,31}$")
  .meta({ example: "payer" });
/** Roles a request or a template may name: a template has at most `templateLegsMax` legs. */
const rolesMax = templateLegsMax;

// --- Transaction types -----------------------------------------------------------------------

export const templateLegBody = z.object({
  side,
  role: z.string().max(64).nullish(),
  accountId: uuid.nullish(),
  accountType: z.string().min(1).max(64).nullish(),
  percent: z.string().max(40).meta({
    description: 'The leg\'s share of the amount as a decimal fraction of 1: "0.75" is 75 %.',
    example: "0.75",
  }),
});

export const defineTransactionTypeBody = z.object({
  code: accountTypeCode.meta({ example: "P2P" }),
  description: z.string().min(1).max(500),
  requiresTwoFactor: z.boolean(),
  postings: z.array(templateLegBody).max(templateLegsMax),
  allowedAccountTypes: z
    .record(z.string().max(64), z.array(z.string().min(1).max(64)).max(50))
    .refine((roles) => Object.keys(roles).length <= rolesMax, `at most ${rolesMax} roles`)
    .nullish(),
});

export const templateLeg = z
  .object({
    side,
    role: z.string().nullable(),
    accountId: z.string().nullable(),
    accountType: z.string().nullable(),
    percent: z.string(),
  })
  .meta({ id: "TemplateLeg" });

export const transactionType = z
  .object({
    code: z.string(),
    description: z.string(),
    requiresTwoFactor: z.boolean(),
    postings: z.array(templateLeg).readonly(),
    allowedAccountTypes: z.record(z.string(), z.array(z.string()).readonly()).nullable(),
    version: z.number().int(),
    createdAt: z.string(),
    position: z.string().optional(),
  })
  .meta({ id: "TransactionType" });

export const transactionTypeParams = z.object({ code: z.string().min(1).max(64) });

export const transactionTypesQuery = z.object(pageQuery);

// --- Account-type permissions ----------------------------------------------------------------

export const setPermissionsBody = z.object({
  transactionTypes: z.array(z.string().min(1).max(64)).max(200),
});

export const accountTypePermissions = z
  .object({
    accountType: z.string(),
    transactionTypes: z.array(z.string()).readonly(),
    position: z.string().optional(),
  })
  .meta({ id: "AccountTypeTransactionTypes" });

// --- Limits --------------------------------------------------------------------------------

const limitAmount = decimalString.nullish();

export const setLimitBody = z.object({
  accountType: z.string().min(1).max(64),
  transactionType: z.string().min(1).max(64),
  perTransactionMax: limitAmount,
  dailyAmountMax: limitAmount,
  dailyCountMax: z.number().int().min(1).max(dailyCountMaxLimit).nullish(),
  monthlyAmountMax: limitAmount,
});

export const limit = z
  .object({
    accountType: z.string(),
    transactionType: z.string(),
    perTransactionMax: z.string().nullable(),
    dailyAmountMax: z.string().nullable(),
    dailyCountMax: z.number().int().nullable(),
    monthlyAmountMax: z.string().nullable(),
    updatedAt: z.string(),
    position: z.string().optional(),
  })
  .meta({ id: "Limit" });

export const limitsQuery = z.object({
  accountType: z.string().min(1).max(64).optional(),
  transactionType: z.string().min(1).max(64).optional(),
  ...pageQuery,
});

export const limitCheckBody = z.object({
  accountId: uuid,
  transactionType: z.string().min(1).max(64),
  amount,
});

const limitName = z.enum([
  "perTransactionMax",
  "dailyAmountMax",
  "dailyCountMax",
  "monthlyAmountMax",
]);

export const limitCheckResponse = z
  .object({
    allowed: z.boolean(),
    violations: z
      .array(
        z.object({
          limit: limitName,
          max: z.string(),
          current: z.string(),
          attempted: z.string(),
        }),
      )
      .readonly(),
    remaining: z.object({
      perTransaction: z.string().optional(),
      dailyAmount: z.string().optional(),
      dailyCount: z.string().optional(),
      monthlyAmount: z.string().optional(),
    }),
  })
  .meta({ id: "LimitCheckResponse" });

// --- Domain transactions ---------------------------------------------------------------------

export const recordTransactionBody = z.object({
  id: uuid.nullish(),
  transactionType: z.string().min(1).max(64),
  amount,
  parties: z
    .record(roleName, uuid)
    .refine((parties) => Object.keys(parties).length <= rolesMax, `at most ${rolesMax} parties`)
    .meta({ example: { payer: "0b6f5e2c-3d1a-4f8e-9c7b-2a4d6e8f0a1b" } }),
  reference: z.string().min(1).max(200).nullish(),
  description: z.string().max(500).nullish(),
  metadata: metadata.optional(),
});

const fieldErrors = z.array(z.object({ path: z.string(), message: z.string() }));

export const transaction = z
  .object({
    id: z.string(),
    transactionType: z.string(),
    transactionTypeVersion: z.number().int().nullable(),
    status: transactionStatus,
    amount,
    parties: z.record(z.string(), z.string()),
    postingId: z.string().nullable(),
    reversalPostingId: z.string().nullable(),
    reference: z.string().nullable(),
    description: z.string().nullable(),
    metadata: z.record(z.string(), z.unknown()),
    failure: z
      .object({
        code: z.string(),
        message: z.string(),
        details: z.record(z.string(), z.string()).nullable(),
        errors: fieldErrors.readonly().nullable(),
      })
      .nullable(),
    history: z
      .array(z.object({ status: transactionStatus, at: z.string(), reason: z.string().optional() }))
      .readonly(),
    createdAt: z.string(),
    position: z.string().optional(),
  })
  .meta({ id: "Transaction" });

export const transactionParams = z.object({ id: uuid });

export const reverseTransactionBody = z.object({ reason: z.string().min(1).max(500) });

export const transactionsQuery = z.object({
  accountId: uuid.optional(),
  status: transactionStatus.optional(),
  transactionType: z.string().min(1).max(64).optional(),
  from: instant.optional(),
  to: instant.optional(),
  ...pageQuery,
});

/** A refused transaction's problem: the FAILED transaction it left behind is `transactionId`. */
export const transactionProblem = problem
  .extend({ transactionId: z.string().optional(), position: position.optional() })
  .meta({ id: "TransactionProblem" });
