/** Account types (API.md "Configuration"): define, list, read. */

import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { actorOf, notFound, resultOf } from "../outcomes.js";
import { accountTypeBody } from "../presenters.js";
import {
  accountType,
  accountTypeParams,
  commandHeaders,
  defineAccountTypeBody,
  listOf,
  pageQuery,
  problem,
  readHeaders,
} from "../schemas.js";
import { type LedgerApi, withZod } from "./context.js";

const tags = ["Account types"];

export async function accountTypeRoutes(instance: FastifyInstance, api: LedgerApi): Promise<void> {
  const app = withZod(instance);

  app.post(
    "/v1/account-types",
    {
      config: { scope: "config:write" },
      schema: {
        tags,
        summary: "Define an account type",
        headers: commandHeaders,
        body: defineAccountTypeBody,
        response: { 201: accountType, 409: problem, 400: problem },
      },
    },
    async (request, reply) => {
      const outcome = await api.ledger.defineAccountType(request.body, actorOf(request));
      const { result } = resultOf(outcome, reply);
      return reply.status(201).send(accountTypeBody(result));
    },
  );

  app.get(
    "/v1/account-types",
    {
      config: { scope: "accounts:read" },
      schema: {
        tags,
        summary: "List account types",
        headers: readHeaders,
        querystring: z.object(pageQuery),
        response: { 200: listOf(accountType, "AccountTypeList"), 400: problem },
      },
    },
    async (request) => api.readModels.listAccountTypes(request.query),
  );

  app.get(
    "/v1/account-types/:code",
    {
      config: { scope: "accounts:read" },
      schema: {
        tags,
        summary: "Read an account type",
        headers: readHeaders,
        params: accountTypeParams,
        response: { 200: accountType, 404: problem },
      },
    },
    async (request) => {
      const found = await api.readModels.getAccountType(request.params.code);
      if (found === undefined) {
        throw notFound("ACCOUNT_TYPE_NOT_FOUND", `no account type ${request.params.code}`);
      }
      return found;
    },
  );
}
