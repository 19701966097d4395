/**
 * Domain transactions (API.md "Domain transactions"): record one through its type's template,
 * read, list, reverse. A business rejection leaves a FAILED transaction behind: the answer is
 * the rejection's problem with that transaction's id in `transactionId`.
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import type { CommandOutcome } from "../../commands/pipeline.js";
import type { TransactionCommands, TransactionResult } from "../../commands/transactions.js";
import type { Rejection } from "../../domain/errors.js";
import type { DomainTransaction } from "../../domain/transactions/transaction.js";
import type { TransactionQueries } from "../../queries/transactions.js";
import { awaitMinPosition, type ReadModelProgress } from "../consistency.js";
import { actorOf, notFound, rejectionProblem, resultOf } from "../outcomes.js";
import { ProblemError } from "../problem.js";
import { commandHeaders, listOf, problem, readHeaders } from "../schemas.js";
import {
  recordTransactionBody,
  reverseTransactionBody,
  transaction,
  transactionParams,
  transactionProblem,
  transactionsQuery,
} from "../transaction-schemas.js";
import { withZod } from "./context.js";
import {
  assertTransactionReversalStepUp,
  assertTransactionStepUp,
  otpHeaders,
} from "./principals.js";

/** What the transaction plugins are handed: their commands, queries and projector progress. */
export interface TransactionsApi {
  readonly commands: TransactionCommands;
  readonly queries: TransactionQueries;
  /** The "transactions" projector: its read models answer these plugins' GETs. */
  readonly progress: ReadModelProgress;
}

const tags = ["Transactions"];

export async function transactionRoutes(
  instance: FastifyInstance,
  api: TransactionsApi,
): Promise<void> {
  const app = withZod(instance);
  readsAfter(instance, api);

  app.post(
    "/v1/transactions",
    {
      config: { scope: "postings:write" },
      schema: {
        tags,
        summary: "Make a domain transaction through its type's template",
        description:
          "The template turns it into one posting (each side's legs split the amount by largest remainder). A business rejection answers its problem with `transactionId`: that transaction is kept, FAILED, with the reason. A type that requires two-factor authentication needs a current code in `X-OTP`: without one the answer is 403 TWO_FACTOR_REQUIRED and nothing is recorded.",
        headers: commandHeaders.extend(otpHeaders),
        body: recordTransactionBody,
        response: {
          201: transaction,
          400: transactionProblem,
          403: problem,
          404: transactionProblem,
          409: transactionProblem,
          422: transactionProblem,
        },
      },
    },
    async (request, reply) => {
      await assertTransactionStepUp(request, request.body);
      const outcome = await api.commands.recordTransaction(request.body, actorOf(request));
      const { result, position } = commandResult(outcome, reply);
      return reply.status(201).send(transactionBody(result, position));
    },
  );

  app.get(
    "/v1/transactions",
    {
      config: { scope: "postings:read" },
      schema: {
        tags,
        summary: "List domain transactions",
        description:
          "`accountId` keeps the transactions that involve the account (a party or a fixed leg); `from` is inclusive and `to` exclusive.",
        headers: readHeaders,
        querystring: transactionsQuery,
        response: { 200: listOf(transaction, "TransactionList"), 400: problem },
      },
    },
    async (request) => {
      const { from, to, ...rest } = request.query;
      return api.queries.listTransactions({
        ...rest,
        ...(from === undefined ? {} : { from: new Date(from) }),
        ...(to === undefined ? {} : { to: new Date(to) }),
      });
    },
  );

  app.get(
    "/v1/transactions/:id",
    {
      config: { scope: "postings:read" },
      schema: {
        tags,
        summary: "Read a domain transaction (FAILED ones too, with their reason)",
        headers: readHeaders,
        params: transactionParams,
        response: { 200: transaction, 404: problem },
      },
    },
    async (request) => {
      const found = await api.queries.getTransaction(request.params.id);
      if (found === undefined) throw transactionNotFound(request.params.id);
      return found;
    },
  );

  app.post(
    "/v1/transactions/:id/reverse",
    {
      config: { scope: "postings:write" },
      schema: {
        tags,
        summary: "Reverse a posted transaction",
        description:
          "Reverses its posting (every leg mirrored, funds rules apply) and marks it REVERSED, in one append. Again → 409 ALREADY_REVERSED; a FAILED one → 422 INVALID_STATUS_TRANSITION. A type that requires two-factor authentication needs `X-OTP` here too.",
        headers: commandHeaders.extend(otpHeaders),
        params: transactionParams,
        body: reverseTransactionBody,
        response: { 201: transaction, 403: problem, 404: problem, 409: problem, 422: problem },
      },
    },
    async (request, reply) => {
      await assertTransactionReversalStepUp(request, request.params.id);
      const outcome = await api.commands.reverseTransaction(
        { transactionId: request.params.id, reason: request.body.reason },
        actorOf(request),
      );
      const { result, position } = commandResult(outcome, reply);
      return reply.status(201).send(transactionBody(result, position));
    },
  );
}

/**
 * The plugins' GETs answer from the transactions projection, which keeps its own checkpoint:
 * `X-Min-Position` waits for it too (the app-wide hook waits for the ledger projection).
 */
export function readsAfter(instance: FastifyInstance, api: TransactionsApi): void {
  instance.addHook("preHandler", async (request) => {
    if (request.method === "GET") await awaitMinPosition(request, api.progress);
  });
}

/**
 * A command's result, or its problem: the rejection's API.md status with every field error in
 * `errors`. A FAILED transaction is a result (it was recorded) answered as its problem.
 */
export function commandResult<Result>(
  outcome: CommandOutcome<Result>,
  reply: FastifyReply,
): { result: Result; position: string } {
  const { result, position } = resultOf(outcome, reply);
  if (isFailedTransaction(result)) {
    const failure = result.transaction.failure;
    throw problemOf(
      {
        kind: "rejection",
        code: failure.code,
        message: failure.message,
        ...(failure.details === null ? {} : { details: failure.details }),
        ...(failure.errors === null ? {} : { errors: failure.errors }),
      },
      { transactionId: result.transaction.id, position },
    );
  }
  return { result, position };
}

function isFailedTransaction(result: unknown): result is TransactionResult & {
  transaction: DomainTransaction & { failure: NonNullable<DomainTransaction["failure"]> };
} {
  if (typeof result !== "object" || result === null || !("transaction" in result)) return false;
  const candidate = (result as TransactionResult).transaction;
  return candidate.status === "FAILED" && candidate.failure !== null;
}

function problemOf(rejection: Rejection, extensions: Record<string, unknown> = {}): ProblemError {
  const base = rejectionProblem(rejection).problem;
  return new ProblemError({ ...base, extensions: { ...base.extensions, ...extensions } });
}

function transactionBody(result: TransactionResult, position: string) {
  const transaction = result.transaction;
  return {
    id: transaction.id,
    transactionType: transaction.transactionType,
    transactionTypeVersion: transaction.transactionTypeVersion,
    status: transaction.status,
    amount: transaction.amount,
    parties: transaction.parties,
    postingId: transaction.postingId,
    reversalPostingId: transaction.reversalPostingId,
    reference: transaction.reference,
    description: transaction.description,
    metadata: transaction.metadata,
    failure: transaction.failure,
    history: transaction.history,
    createdAt: transaction.createdAt,
    position,
  };
}

function transactionNotFound(id: string): ProblemError {
  return notFound("TRANSACTION_NOT_FOUND", `transaction ${id} does not exist`);
}
