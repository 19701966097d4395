/** Holds (API.md "Holds"): place, read, release, capture. */
import type { FastifyInstance } from "fastify";
import { actorOf, notFound, resultOf } from "../outcomes.js";
import { holdBody, postingBody } from "../presenters.js";
import {
  accountParams,
  captureBody,
  commandHeaders,
  hold,
  holdParams,
  placeHoldBody,
  posting,
  problem,
  readHeaders,
} from "../schemas.js";
import { type LedgerApi, withZod } from "./context.js";

const tags = ["Holds"];

export async function holdRoutes(instance: FastifyInstance, api: LedgerApi): Promise<void> {
  const app = withZod(instance);

  app.post(
    "/v1/accounts/:id/holds",
    {
      config: { scope: "postings:write" },
      schema: {
        tags,
        summary: "Place a hold on an account",
        headers: commandHeaders,
        params: accountParams,
        body: placeHoldBody,
        response: { 201: hold, 400: problem, 404: problem, 409: problem, 422: problem },
      },
    },
    async (request, reply) => {
      const accountId = request.params.id;
      const { id, amount, reason, expiresAt } = request.body;
      const outcome = await api.ledger.placeHold(
        { id: id ?? null, accountId, amount, reason: reason ?? null, expiresAt: expiresAt ?? null },
        actorOf(request),
      );
      const { result, position } = resultOf(outcome, reply, { pathAccountId: accountId });
      return reply
        .status(201)
        .send(holdBody(result, position, { reason: reason ?? null, createdAt: null }));
    },
  );

  app.get(
    "/v1/holds/:id",
    {
      config: { scope: "accounts:read" },
      schema: {
        tags,
        summary: "Read a hold",
        headers: readHeaders,
        params: holdParams,
        response: { 200: hold, 404: problem },
      },
    },
    async (request) => {
      const found = await api.readModels.getHold(request.params.id);
      if (found === undefined) throw holdNotFound(request.params.id);
      return found;
    },
  );

  app.post(
    "/v1/holds/:id/release",
    {
      config: { scope: "postings:write" },
      schema: {
        tags,
        summary: "Release a hold",
        params: holdParams,
        response: { 200: hold, 404: problem, 422: problem },
      },
    },
    async (request, reply) => {
      const outcome = await api.ledger.releaseHold({ holdId: request.params.id }, actorOf(request));
      const { result, position } = resultOf(outcome, reply);
      return holdBody(result, position, { reason: null, createdAt: null });
    },
  );

  app.post(
    "/v1/holds/:id/capture",
    {
      config: { scope: "postings:write" },
      schema: {
        tags,
        summary: "Capture a hold into a posting",
        description: "Captures the whole hold unless `amount` says less; the rest is released.",
        headers: commandHeaders,
        params: holdParams,
        body: captureBody,
        response: { 201: posting, 400: problem, 404: problem, 409: problem, 422: problem },
      },
    },
    async (request, reply) => {
      const outcome = await api.ledger.captureHold(
        {
          holdId: request.params.id,
          toAccountId: request.body.toAccountId,
          amount: request.body.amount ?? null,
        },
        actorOf(request),
      );
      const { result, position } = resultOf(outcome, reply);
      return reply.status(201).send(postingBody(result.posting, position));
    },
  );
}

function holdNotFound(holdId: string) {
  return notFound("HOLD_NOT_FOUND", `hold ${holdId} does not exist`);
}
