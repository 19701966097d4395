/**
 * The HTTP contract of API.md as Zod schemas: the single source for request validation, the
 * handlers' TypeScript types and the OpenAPI document (/docs/openapi.json). A request that
 * fails one is a 400 VALIDATION_ERROR with an `errors[]` entry per field.
 */
import { z } from "zod";

/** A positive decimal string: no sign, no exponent. The currency's scale is the domain's check. */
export const decimalString = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,19})(\.[0-9]{1,18})?$/, "must be a positive decimal string like 12.50")
  .meta({ example: "12.50" });

/** A balance: the currency's scale, and it may be negative. */
export const signedDecimalString = z.string().meta({ example: "-3.25" });

export const currencyCode = z
  .string()
  .regex(/^[A-Z]{3}$/, "must be an ISO 4217 code like XCD")
  .meta({ example: "XCD" });

export const amount = z
  .object({ value: decimalString, currency: currencyCode })
  .meta({ id: "Amount", description: "Money: a decimal string and its currency." });

export const uuid = z.uuid().meta({ example: "0b6f5e2c-3d1a-4f8e-9c7b-2a4d6e8f0a1b" });
export const instant = z.iso.datetime({ offset: true }).meta({ example: "2026-11-26T12:00:00Z" });
export const metadata = z.record(z.string(), z.unknown()).meta({ example: { channel: "agent" } });
const reason = z.string().min(1).max(500);
const side = z.enum(["DEBIT", "CREDIT"]);
export const position = z.string().meta({
  description: "Event store position of the command's commit; send it as X-Min-Position.",
  example: "1234.5678",
});

export const accountTypeCode = z
  .string()
  .regex(/^[A-Z][A-Z0-9_]{1,31}$/, "must match ^[A-Z][A-Z0-9_]{1,31}$")
  .meta({ example: "WALLET" });

// --- Account types -------------------------------------------------------------------------

export const defineAccountTypeBody = z.object({
  code: accountTypeCode,
  name: z.string().min(1).max(200),
  normalBalance: side,
  allowNegative: z.boolean(),
  metadataSchema: z.record(z.string(), z.unknown()).nullish(),
});

export const accountType = z
  .object({
    code: z.string(),
    name: z.string(),
    normalBalance: side,
    allowNegative: z.boolean(),
    metadataSchema: z.record(z.string(), z.unknown()).nullable(),
    createdAt: z.string(),
  })
  .meta({ id: "AccountType" });

export const accountTypeParams = z.object({ code: z.string().min(1).max(64) });

// --- Accounts --------------------------------------------------------------------------------

export const openAccountBody = z.object({
  id: uuid.nullish(),
  accountType: z.string().min(1).max(64),
  currency: currencyCode,
  country: z.string().min(2).max(3).nullish(),
  ownerId: z.string().min(1).max(200).nullish(),
  name: z.string().min(1).max(200).nullish(),
  metadata: metadata.optional(),
});

export const account = z
  .object({
    id: z.string(),
    accountType: z.string(),
    currency: z.string(),
    country: z.string().nullable(),
    ownerId: z.string().nullable(),
    name: z.string().nullable(),
    status: z.enum(["ACTIVE", "FROZEN", "CLOSED"]),
    metadata: z.record(z.string(), z.unknown()),
    createdAt: z.string(),
    position: z.string().optional(),
  })
  .meta({ id: "Account" });

export const accountParams = z.object({ id: uuid });

export const statusChangeBody = z.object({ reason });

export const overdraftBody = z.object({ limit: amount, expiresAt: instant.nullish() });

export const overdraftLine = z
  .object({
    accountId: z.string(),
    limit: amount,
    expiresAt: z.string().nullable(),
    position: z.string(),
  })
  .meta({ id: "OverdraftLine" });

export const balanceSet = z
  .object({
    accountId: z.string(),
    currency: z.string(),
    posted: signedDecimalString,
    held: signedDecimalString,
    available: signedDecimalString,
    overdraftLimit: signedDecimalString,
    position: z.string().nullable(),
    asOf: z.string(),
  })
  .meta({ id: "BalanceSet" });

export const balancesQuery = z.object({
  consistency: z.enum(["eventual", "strong"]).optional(),
  asOf: instant.optional().meta({
    description:
      "Balances as they stood at this instant, from the read models: posted counts the entries " +
      "posted at or before it, held the holds live then; overdraftLimit is the current line.",
  }),
});

// --- Lists -----------------------------------------------------------------------------------

export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().min(1).max(512).optional(),
};

export function listOf<Item extends z.ZodType>(item: Item, id: string) {
  return z
    .object({ data: z.array(item).readonly(), nextCursor: z.string().nullable() })
    .meta({ id });
}

export const accountsQuery = z.object({
  ownerId: z.string().min(1).max(200).optional(),
  accountType: z.string().min(1).max(64).optional(),
  status: z.enum(["ACTIVE", "FROZEN", "CLOSED"]).optional(),
  ...pageQuery,
});

// --- Postings --------------------------------------------------------------------------------

export const entryRequest = z.object({ accountId: uuid, side, amount });

export const recordPostingBody = z.object({
  id: uuid.nullish(),
  transactionType: z.string().min(1).max(64).nullish(),
  reference: z.string().min(1).max(200).nullish(),
  description: z.string().max(500).nullish(),
  entries: z.array(entryRequest).min(2, "a posting has at least 2 entries").max(100),
  metadata: metadata.optional(),
});

export const posting = z
  .object({
    id: z.string(),
    status: z.enum(["POSTED", "REVERSED"]),
    transactionType: z.string().nullable(),
    reference: z.string().nullable(),
    description: z.string().nullable(),
    entries: z.array(z.object({ accountId: z.string(), side, amount })).readonly(),
    metadata: z.record(z.string(), z.unknown()),
    createdAt: z.string(),
    reverses: z.string().nullable(),
    reversedBy: z.string().nullable(),
    position: z.string().optional(),
  })
  .meta({ id: "Posting" });

export const postingParams = z.object({ id: uuid });
export const reverseBody = z.object({ reason });

export const postingsQuery = z.object({
  accountId: uuid.optional(),
  transactionType: z.string().min(1).max(64).optional(),
  status: z.enum(["POSTED", "REVERSED"]).optional(),
  from: instant.optional(),
  to: instant.optional(),
  ...pageQuery,
});

// --- Holds -----------------------------------------------------------------------------------

export const placeHoldBody = z.object({
  id: uuid.nullish(),
  amount,
  reason: reason.nullish(),
  expiresAt: instant.nullish(),
});

export const hold = z
  .object({
    id: z.string(),
    accountId: z.string(),
    amount,
    status: z.enum(["ACTIVE", "RELEASED", "CAPTURED", "EXPIRED"]),
    reason: z.string().nullable().optional(),
    expiresAt: z.string().nullable(),
    createdAt: z.string().optional(),
    position: z.string().optional(),
  })
  .meta({ id: "Hold" });

export const holdParams = z.object({ id: uuid });
export const captureBody = z.object({ toAccountId: uuid, amount: amount.nullish() });

// --- Errors ----------------------------------------------------------------------------------

export const problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    requestId: z.string(),
  })
  .meta({ id: "Problem", description: "RFC 9457 problem details (application/problem+json)." });

/** Headers every command accepts. */
export const commandHeaders = z.object({
  "idempotency-key": z
    .string()
    .regex(/^[\x21-\x7e]{1,255}$/, "must be 1 to 255 printable ASCII characters")
    .optional(),
});

/** Headers every read accepts. */
export const readHeaders = z.object({
  "x-min-position": z
    .string()
    .regex(/^(0|[1-9][0-9]{0,19})\.(0|[1-9][0-9]{0,19})$/, "must be a position like 1234.5678")
    .optional(),
});
