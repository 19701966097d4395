/**
 * The HTTP contract of the audit, statement and report endpoints (API.md "Limits, statements,
 * reports, audit, operations") as Zod schemas: request validation, handler types and the
 * OpenAPI document, like schemas.ts for the ledger's own endpoints.
 */
import { z } from "zod";
import { streamNameLengthMax } from "../eventstore/validation.js";
import { currencyCode, instant, pageQuery, signedDecimalString, uuid } from "./schemas.js";

const money = signedDecimalString;
const examplePosting = "7d1c6f0e-2b9a-4c55-8e3f-0a9b8c7d6e5f";
const exampleAccount = "0b6f5e2c-3d1a-4f8e-9c7b-2a4d6e8f0a1b";

// --- Audit -------------------------------------------------------------------------------------

export const auditStreamParams = z.object({
  stream: z
    .string()
    .min(1)
    .max(streamNameLengthMax)
    .meta({ example: `account-${exampleAccount}` }),
});

export const auditStreamQuery = z.object({
  fromRevision: z.coerce
    .number()
    .int()
    .min(0)
    .max(Number.MAX_SAFE_INTEGER)
    .optional()
    .meta({ description: "First revision to return (inclusive); default 0." }),
  ...pageQuery,
});

export const auditEvent = z
  .object({
    id: z.string(),
    stream: z.string(),
    revision: z.number().int(),
    position: z.string(),
    type: z.string(),
    data: z.record(z.string(), z.unknown()),
    metadata: z.record(z.string(), z.unknown()),
    recordedAt: z.string(),
  })
  .meta({
    id: "AuditEvent",
    description:
      "A raw event as the store holds it. `metadata.prevHash` and `metadata.hash` form the " +
      "stream's hash chain: hash = SHA-256(prevHash ‖ type ‖ RFC 8785 JSON of data).",
  });

export const auditEventPage = z
  .object({ data: z.array(auditEvent).readonly(), nextCursor: z.string().nullable() })
  .meta({ id: "AuditEventList" });

// --- Statements --------------------------------------------------------------------------------

export const statementFormats = ["json", "csv", "pdf"] as const;

export const statementRequest = z
  .object({
    accountId: uuid,
    from: instant.meta({ description: "Inclusive.", example: "2026-11-01T00:00:00Z" }),
    to: instant.meta({ description: "Exclusive.", example: "2026-12-01T00:00:00Z" }),
    format: z.enum(statementFormats).default("json"),
  })
  .meta({ id: "StatementRequest" });

export const statementLine = z
  .object({
    postedAt: z.string(),
    postingId: z.string(),
    transactionType: z.string().nullable(),
    reference: z.string().nullable(),
    description: z.string().nullable(),
    debit: money.nullable(),
    credit: money.nullable(),
    balance: money,
  })
  .meta({ id: "StatementLine" });

export const statement = z
  .object({
    accountId: z.string(),
    currency: z.string(),
    from: z.string(),
    to: z.string(),
    openingBalance: money,
    closingBalance: money,
    totalDebits: money,
    totalCredits: money,
    lines: z.array(statementLine).readonly(),
  })
  .meta({
    id: "Statement",
    description:
      "Balances in the account's normal-balance sense, at the currency's scale. With " +
      '`format: "csv"` the lines come as text/csv with the same columns; with `"pdf"`, as an ' +
      "application/pdf statement.",
    example: {
      accountId: exampleAccount,
      currency: "XCD",
      from: "2026-11-01T00:00:00.000Z",
      to: "2026-12-01T00:00:00.000Z",
      openingBalance: "100.00",
      closingBalance: "87.50",
      totalDebits: "12.50",
      totalCredits: "0.00",
      lines: [
        {
          postedAt: "2026-11-26T12:00:00.000Z",
          postingId: examplePosting,
          transactionType: "P2P",
          reference: "inv-1042",
          description: "rent share",
          debit: "12.50",
          credit: null,
          balance: "87.50",
        },
      ],
    },
  });

/** `format: "csv"`: the lines as RFC 4180 text/csv, with a header row of the line's fields. */
export const statementCsvBody = z.string().meta({
  description: "postedAt,postingId,transactionType,reference,description,debit,credit,balance",
});

/** `format: "pdf"`: the statement as a document of about 40 lines a page. */
export const statementPdfBody = z
  .custom<Buffer>((value) => Buffer.isBuffer(value))
  .meta({ type: "string", format: "binary" });

/** The three renderings of a statement, chosen by the request's `format`. */
export const statementResponse = {
  description: "The statement, in the requested format.",
  content: {
    "application/json": { schema: statement },
    "text/csv": { schema: statementCsvBody },
    "application/pdf": { schema: statementPdfBody },
  },
};

// --- Reports -----------------------------------------------------------------------------------

export const trialBalanceQuery = z.object({
  asOf: instant
    .optional()
    .meta({ description: "Counts what was posted at or before this instant; default now." }),
});

export const trialBalance = z
  .object({
    asOf: z.string(),
    currencies: z
      .array(
        z.object({
          currency: z.string(),
          totalDebits: money,
          totalCredits: money,
          balanced: z.boolean(),
        }),
      )
      .readonly(),
    accountTypes: z
      .array(
        z.object({
          accountType: z.string(),
          currency: z.string(),
          debits: money.meta({ description: "Σ balances of its accounts on the debit side." }),
          credits: money.meta({ description: "Σ balances of its accounts on the credit side." }),
          balance: money.meta({ description: "Net, in the type's normal-balance sense." }),
        }),
      )
      .readonly(),
  })
  .meta({ id: "TrialBalance" });

export const endOfDayQuery = z.object({
  date: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, "must be a day like 2026-11-26")
    .meta({ description: "A UTC day: [00:00, 24:00).", example: "2026-11-26" }),
});

export const endOfDay = z
  .object({
    date: z.string(),
    from: z.string(),
    to: z.string(),
    transactionTypes: z
      .array(
        z.object({
          transactionType: z.string().nullable(),
          currency: currencyCode,
          count: z.number().int(),
          amount: money,
        }),
      )
      .readonly(),
    accountTypes: z
      .array(
        z.object({
          accountType: z.string(),
          currency: currencyCode,
          opening: money,
          debits: money,
          credits: money,
          closing: money,
        }),
      )
      .readonly(),
  })
  .meta({
    id: "EndOfDay",
    description:
      "Per transaction type: the postings created that day and the money they moved (Σ debit " +
      "legs). Per account type: opening balance, the day's debits and credits, closing balance " +
      "(normal-balance sense).",
  });
