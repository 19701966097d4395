/**
 * Transaction types and account-type permissions (API.md "Configuration"): define, read and
 * list transaction types with their posting templates; set and read which transaction types
 * an account type's accounts may take part in.
 */
import type { FastifyInstance } from "fastify";
import { isRejection } from "../../domain/errors.js";
import type { TransactionType } from "../../domain/transaction-types/transaction-type.js";
import { actorOf, notFound, rejectionProblem } from "../outcomes.js";
import { commandHeaders, listOf, problem, readHeaders } from "../schemas.js";
import {
  accountTypePermissions,
  defineTransactionTypeBody,
  limit,
  limitCheckBody,
  limitCheckResponse,
  limitsQuery,
  setLimitBody,
  setPermissionsBody,
  transactionType,
  transactionTypeParams,
  transactionTypesQuery,
} from "../transaction-schemas.js";
import { withZod } from "./context.js";
import { commandResult, readsAfter, type TransactionsApi } from "./transactions.js";

const tags = ["Transaction types"];

export async function transactionTypeRoutes(
  instance: FastifyInstance,
  api: TransactionsApi,
): Promise<void> {
  const app = withZod(instance);
  readsAfter(instance, api);

  app.post(
    "/v1/transaction-types",
    {
      config: { scope: "config:write" },
      schema: {
        tags,
        summary: "Define a transaction type and its posting template",
        description:
          'Each leg names a `role` (filled by the request, e.g. `payer`) or a fixed `accountId`, and takes `percent` of the amount as a decimal fraction of 1 ("0.75" is 75 %). The DEBIT legs sum to exactly 1 and so do the CREDIT legs. Every template problem is listed in `errors` of one 422 INVALID_TEMPLATE.',
        headers: commandHeaders,
        body: defineTransactionTypeBody,
        response: { 201: transactionType, 400: problem, 409: problem, 422: problem },
      },
    },
    async (request, reply) => {
      const outcome = await api.commands.defineTransactionType(request.body, actorOf(request));
      const { result, position } = commandResult(outcome, reply);
      return reply.status(201).send(transactionTypeBody(result, position));
    },
  );

  app.get(
    "/v1/transaction-types",
    {
      config: { scope: "postings:read" },
      schema: {
        tags,
        summary: "List transaction types",
        headers: readHeaders,
        querystring: transactionTypesQuery,
        response: { 200: listOf(transactionType, "TransactionTypeList"), 400: problem },
      },
    },
    async (request) => api.queries.listTransactionTypes(request.query),
  );

  app.get(
    "/v1/transaction-types/:code",
    {
      config: { scope: "postings:read" },
      schema: {
        tags,
        summary: "Read a transaction type",
        headers: readHeaders,
        params: transactionTypeParams,
        response: { 200: transactionType, 404: problem },
      },
    },
    async (request) => {
      const found = await api.queries.getTransactionType(request.params.code);
      if (found === undefined) throw transactionTypeNotFound(request.params.code);
      return found;
    },
  );

  app.put(
    "/v1/account-types/:code/transaction-types",
    {
      config: { scope: "config:write" },
      schema: {
        tags,
        summary: "Set the transaction types an account type's accounts may take part in",
        description:
          "Replaces the list. A type with no list takes part in none (default deny); every transaction type named must exist (422 UNKNOWN_TRANSACTION_TYPE).",
        params: transactionTypeParams,
        body: setPermissionsBody,
        response: { 200: accountTypePermissions, 400: problem, 404: problem, 422: problem },
      },
    },
    async (request, reply) => {
      const code = request.params.code;
      const outcome = await api.commands.setAccountTypeTransactionTypes(
        { code, transactionTypes: request.body.transactionTypes },
        actorOf(request),
      );
      if (!outcome.ok && outcome.rejection.code === "UNKNOWN_ACCOUNT_TYPE") {
        throw notFound("ACCOUNT_TYPE_NOT_FOUND", `no account type ${code}`);
      }
      const { result, position } = commandResult(outcome, reply);
      return { ...result, position };
    },
  );

  app.get(
    "/v1/account-types/:code/transaction-types",
    {
      config: { scope: "accounts:read" },
      schema: {
        tags,
        summary: "Read the transaction types an account type's accounts may take part in",
        headers: readHeaders,
        params: transactionTypeParams,
        response: { 200: accountTypePermissions, 404: problem },
      },
    },
    async (request) => {
      const found = await api.queries.getAccountTypePermissions(request.params.code);
      if (found === undefined) {
        throw notFound("ACCOUNT_TYPE_NOT_FOUND", `no account type ${request.params.code}`);
      }
      return found;
    },
  );
}

/** Limits (API.md "Configuration" and `POST /v1/limits/check`). */
export async function limitRoutes(instance: FastifyInstance, api: TransactionsApi): Promise<void> {
  const app = withZod(instance);
  readsAfter(instance, api);
  const tags = ["Limits"];

  app.put(
    "/v1/limits",
    {
      config: { scope: "config:write" },
      schema: {
        tags,
        summary: "Set the limit of an account type for a transaction type",
        description:
          "Replaces it; every amount null removes it. A limit counts what an account pays (its DEBIT legs in postings of the type), over UTC days and months.",
        body: setLimitBody,
        response: { 200: limit, 400: problem, 422: problem },
      },
    },
    async (request, reply) => {
      const outcome = await api.commands.setLimit(request.body, actorOf(request));
      const { result, position } = commandResult(outcome, reply);
      return {
        accountType: result.accountType,
        transactionType: result.transactionType,
        perTransactionMax: result.perTransactionMax,
        dailyAmountMax: result.dailyAmountMax,
        dailyCountMax: result.dailyCountMax,
        monthlyAmountMax: result.monthlyAmountMax,
        updatedAt: result.setAt,
        position,
      };
    },
  );

  app.get(
    "/v1/limits",
    {
      config: { scope: "accounts:read" },
      schema: {
        tags,
        summary: "List limits",
        headers: readHeaders,
        querystring: limitsQuery,
        response: { 200: listOf(limit, "LimitList"), 400: problem },
      },
    },
    async (request) => api.queries.listLimits(request.query),
  );

  app.post(
    "/v1/limits/check",
    {
      config: { scope: "postings:read" },
      schema: {
        tags,
        summary: "Whether an account could pay an amount in a transaction type now",
        description: "Answered from the write model; moves nothing.",
        body: limitCheckBody,
        response: { 200: limitCheckResponse, 400: problem, 422: problem },
      },
    },
    async (request) => {
      const check = await api.commands.checkLimit(request.body, new Date());
      if (isRejection(check)) throw rejectionProblem(check);
      return check;
    },
  );
}

function transactionTypeBody(type: TransactionType, position: string) {
  return {
    code: type.code,
    description: type.description,
    requiresTwoFactor: type.requiresTwoFactor,
    postings: type.postings,
    allowedAccountTypes: type.allowedAccountTypes,
    version: type.version,
    createdAt: type.definedAt,
    position,
  };
}

function transactionTypeNotFound(code: string) {
  return notFound("TRANSACTION_TYPE_NOT_FOUND", `no transaction type ${code}`);
}
