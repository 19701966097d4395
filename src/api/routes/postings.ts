/** Postings (API.md "Postings"): record, read, list, reverse. */
import type { FastifyInstance } from "fastify";
import { assertScope } from "../auth.js";
import { actorOf, notFound, resultOf } from "../outcomes.js";
import { postingBody } from "../presenters.js";
import {
  commandHeaders,
  listOf,
  posting,
  postingParams,
  postingsQuery,
  problem,
  readHeaders,
  recordPostingBody,
  reverseBody,
} from "../schemas.js";
import { type LedgerApi, withZod } from "./context.js";
import { assertPostingReversalStepUp, assertPostingStepUp, otpHeaders } from "./principals.js";

const tags = ["Postings"];

export async function postingRoutes(instance: FastifyInstance, api: LedgerApi): Promise<void> {
  const app = withZod(instance);

  app.post(
    "/v1/postings",
    {
      config: { scope: "postings:write" },
      schema: {
        tags,
        summary: "Record a double-entry posting",
        description:
          "Raw postings (no `transactionType`) need the `admin` scope. A type that requires two-factor authentication needs a current code in `X-OTP` (403 TWO_FACTOR_REQUIRED). Every rule's code is in API.md.",
        headers: commandHeaders.extend(otpHeaders),
        body: recordPostingBody,
        response: { 201: posting, 400: problem, 403: problem, 409: problem, 422: problem },
      },
    },
    async (request, reply) => {
      if (!request.body.transactionType) assertScope(request, "admin");
      await assertPostingStepUp(request, request.body);
      const outcome = await api.ledger.recordPosting(request.body, actorOf(request));
      const { result, position } = resultOf(outcome, reply);
      return reply.status(201).send(postingBody(result.posting, position));
    },
  );

  app.get(
    "/v1/postings",
    {
      config: { scope: "postings:read" },
      schema: {
        tags,
        summary: "List postings",
        description: "`from` is inclusive and `to` exclusive (instants of creation).",
        headers: readHeaders,
        querystring: postingsQuery,
        response: { 200: listOf(posting, "PostingList"), 400: problem },
      },
    },
    async (request) => {
      const { from, to, ...rest } = request.query;
      return api.readModels.listPostings({
        ...rest,
        ...(from === undefined ? {} : { from: new Date(from) }),
        ...(to === undefined ? {} : { to: new Date(to) }),
      });
    },
  );

  app.get(
    "/v1/postings/:id",
    {
      config: { scope: "postings:read" },
      schema: {
        tags,
        summary: "Read a posting",
        headers: readHeaders,
        params: postingParams,
        response: { 200: posting, 404: problem },
      },
    },
    async (request) => {
      const found = await api.readModels.getPosting(request.params.id);
      if (found === undefined) {
        throw notFound("POSTING_NOT_FOUND", `posting ${request.params.id} does not exist`);
      }
      return found;
    },
  );

  app.post(
    "/v1/postings/:id/reverse",
    {
      config: { scope: "postings:write" },
      schema: {
        tags,
        summary: "Reverse a posting",
        description:
          "Mirrors every leg in a new posting; the original becomes REVERSED. Reversing a posting of a type that requires two-factor authentication needs `X-OTP` too.",
        headers: commandHeaders.extend(otpHeaders),
        params: postingParams,
        body: reverseBody,
        response: { 201: posting, 403: problem, 404: problem, 409: problem, 422: problem },
      },
    },
    async (request, reply) => {
      await assertPostingReversalStepUp(request, request.params.id);
      const outcome = await api.ledger.reversePosting(
        { postingId: request.params.id, reason: request.body.reason },
        actorOf(request),
      );
      const { result, position } = resultOf(outcome, reply);
      return reply.status(201).send(postingBody(result.posting, position));
    },
  );
}
