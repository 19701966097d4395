/** Accounts (API.md "Accounts"): open, read, list, freeze/unfreeze/close, overdraft, balances. */
import type { FastifyInstance } from "fastify";
import type { StatusAction } from "../../domain/accounts/decide.js";
import { actorOf, notFound, resultOf } from "../outcomes.js";
import { accountBody, balanceBody, overdraftBody } from "../presenters.js";
import { ProblemError } from "../problem.js";
import {
  account,
  accountParams,
  accountsQuery,
  balanceSet,
  balancesQuery,
  commandHeaders,
  listOf,
  openAccountBody,
  overdraftLine,
  overdraftBody as overdraftRequest,
  problem,
  readHeaders,
  statusChangeBody,
} from "../schemas.js";
import { type LedgerApi, withZod } from "./context.js";

const tags = ["Accounts"];
const statusActions: readonly StatusAction[] = ["freeze", "unfreeze", "close"];

export async function accountRoutes(instance: FastifyInstance, api: LedgerApi): Promise<void> {
  const app = withZod(instance);

  app.post(
    "/v1/accounts",
    {
      config: { scope: "accounts:write" },
      schema: {
        tags,
        summary: "Open an account",
        headers: commandHeaders,
        body: openAccountBody,
        response: { 201: account, 400: problem, 409: problem, 422: problem },
      },
    },
    async (request, reply) => {
      const outcome = await api.ledger.openAccount(request.body, actorOf(request));
      const { result, position } = resultOf(outcome, reply);
      return reply.status(201).send(accountBody(result.account, position));
    },
  );

  app.get(
    "/v1/accounts",
    {
      config: { scope: "accounts:read" },
      schema: {
        tags,
        summary: "List accounts",
        headers: readHeaders,
        querystring: accountsQuery,
        response: { 200: listOf(account, "AccountList"), 400: problem },
      },
    },
    async (request) => api.readModels.listAccounts(request.query),
  );

  app.get(
    "/v1/accounts/:id",
    {
      config: { scope: "accounts:read" },
      schema: {
        tags,
        summary: "Read an account",
        headers: readHeaders,
        params: accountParams,
        response: { 200: account, 404: problem },
      },
    },
    async (request) => {
      const found = await api.readModels.getAccount(request.params.id);
      if (found === undefined) throw accountNotFound(request.params.id);
      return found;
    },
  );

  for (const action of statusActions) {
    app.post(
      `/v1/accounts/:id/${action}`,
      {
        config: { scope: "accounts:write" },
        schema: {
          tags,
          summary: `${action[0]?.toUpperCase()}${action.slice(1)} an account`,
          params: accountParams,
          body: statusChangeBody,
          response: { 200: account, 404: problem, 422: problem },
        },
      },
      async (request, reply) => {
        const accountId = request.params.id;
        const outcome = await api.ledger.changeAccountStatus(
          { accountId, action, reason: request.body.reason },
          actorOf(request),
        );
        const { result, position } = resultOf(outcome, reply, { pathAccountId: accountId });
        return accountBody(result.account, position);
      },
    );
  }

  app.put(
    "/v1/accounts/:id/overdraft",
    {
      config: { scope: "accounts:write" },
      schema: {
        tags,
        summary: "Set an account's overdraft line",
        params: accountParams,
        body: overdraftRequest,
        response: { 200: overdraftLine, 400: problem, 404: problem, 422: problem },
      },
    },
    async (request, reply) => {
      const accountId = request.params.id;
      const outcome = await api.ledger.setOverdraftLine(
        { accountId, limit: request.body.limit, expiresAt: request.body.expiresAt ?? null },
        actorOf(request),
      );
      const { result, position } = resultOf(outcome, reply, { pathAccountId: accountId });
      return overdraftBody(result.account, result.balances, position);
    },
  );

  app.get(
    "/v1/accounts/:id/balances",
    {
      config: { scope: "accounts:read" },
      schema: {
        tags,
        summary: "Read an account's balances",
        description:
          "From the read models, or with `consistency=strong` from the write model (every committed posting), or with `asOf` as they stood at a past instant.",
        headers: readHeaders,
        params: accountParams,
        querystring: balancesQuery,
        response: { 200: balanceSet, 400: problem, 404: problem },
      },
    },
    async (request) => {
      const accountId = request.params.id;
      const now = new Date();
      if (request.query.asOf !== undefined) {
        return balancesAsOf(api, accountId, request.query.asOf, request.query.consistency);
      }
      if (request.query.consistency === "strong") {
        const strong = await api.ledger.strongBalances(accountId, now);
        if (strong === undefined) throw accountNotFound(accountId);
        return balanceBody(strong.balances, strong.position, now);
      }
      const position = api.progress.status().position;
      const found = await api.readModels.getBalances(accountId);
      if (found === undefined) throw accountNotFound(accountId);
      return { ...found, position };
    },
  );
}

/**
 * Balances at a past instant (`?asOf=`), from ledger_entries and holds: what was posted and
 * held then. The write model only knows the present, so `consistency=strong` cannot apply.
 */
async function balancesAsOf(
  api: LedgerApi,
  accountId: string,
  asOf: string,
  consistency: "eventual" | "strong" | undefined,
) {
  if (consistency === "strong") {
    throw new ProblemError({
      status: 400,
      code: "VALIDATION_ERROR",
      title: "Invalid request",
      detail: "asOf reads the read models; it cannot be combined with consistency=strong",
      errors: [{ path: "/querystring/asOf", message: "excludes consistency=strong" }],
    });
  }
  const position = api.progress.status().position;
  const found = await api.reports.balancesAsOf(accountId, new Date(asOf));
  if (found === undefined) throw accountNotFound(accountId);
  return { ...found, position };
}

function accountNotFound(accountId: string) {
  return notFound("ACCOUNT_NOT_FOUND", `account ${accountId} does not exist`);
}
