/**
 * How a command's outcome becomes a response: a rejection's API.md status and problem, a
 * replay's `Idempotent-Replayed: true`, and the actor (principal, correlation, idempotency
 * key) every write is recorded under.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { CommandOutcome } from "../commands/pipeline.js";
import type { Actor } from "../commands/requests.js";
import type { Rejection, RejectionCode } from "../domain/errors.js";
import { principalOf } from "./auth.js";
import { ProblemError } from "./problem.js";

declare module "fastify" {
  interface FastifyRequest {
    /** What a command answered, for the request's log line. */
    commandResult:
      | {
          readonly position: string;
          readonly replayed: boolean;
          readonly postingId?: string;
          readonly accountId?: string;
          readonly holdId?: string;
          readonly transactionId?: string;
        }
      | undefined;
  }
}

/** API.md: every business rule's status. Anything not listed is 422. */
const statusOfCode: Partial<Record<RejectionCode, number>> = {
  VALIDATION_ERROR: 400,
  ACCOUNT_EXISTS: 409,
  DUPLICATE_REFERENCE: 409,
  POSTING_EXISTS: 409,
  ALREADY_REVERSED: 409,
  IDEMPOTENCY_KEY_REUSED: 409,
  DUPLICATE_CODE: 409,
  HOLD_EXISTS: 409,
  POSTING_NOT_FOUND: 404,
  HOLD_NOT_FOUND: 404,
  TRANSACTION_EXISTS: 409,
  TRANSACTION_NOT_FOUND: 404,
};

const titles: Partial<Record<RejectionCode, string>> = {
  VALIDATION_ERROR: "Invalid request",
  INSUFFICIENT_FUNDS: "Insufficient funds",
  UNBALANCED: "Posting does not balance",
  ACCOUNT_NOT_FOUND: "Account not found",
  IDEMPOTENCY_KEY_REUSED: "Idempotency key reused",
};

export interface RejectionContext {
  /**
   * The account the URL names: its absence is a 404 (the resource does not exist), while an
   * unknown account inside a posting's body is a 422 (API.md "Postings").
   */
  readonly pathAccountId?: string;
}

export function rejectionProblem(rejection: Rejection, context: RejectionContext = {}) {
  const status =
    rejection.code === "ACCOUNT_NOT_FOUND" &&
    context.pathAccountId !== undefined &&
    (rejection.details?.accountId ?? context.pathAccountId) === context.pathAccountId
      ? 404
      : (statusOfCode[rejection.code] ?? 422);
  return new ProblemError({
    status,
    code: rejection.code,
    title: titles[rejection.code] ?? rejection.code.toLowerCase().replaceAll("_", " "),
    detail: rejection.message,
    ...(rejection.errors === undefined ? {} : { errors: rejection.errors }),
    ...(rejection.details === undefined ? {} : { extensions: { details: rejection.details } }),
  });
}

/**
 * The successful result of a command, or throws its rejection as a problem. A replay gets the
 * `Idempotent-Replayed` header; the caller sends the body with the status a first answer has.
 */
export function resultOf<Result>(
  outcome: CommandOutcome<Result>,
  reply: FastifyReply,
  context?: RejectionContext,
): { result: Result; position: string } {
  if (!outcome.ok) throw rejectionProblem(outcome.rejection, context);
  if (outcome.replayed) reply.header("idempotent-replayed", "true");
  reply.request.commandResult = {
    position: outcome.position,
    replayed: outcome.replayed,
    ...resourceIdsOf(outcome.result),
  };
  return { result: outcome.result, position: outcome.position };
}

/** The ids a command's result names (posting, account, hold), for the request's log line. */
function resourceIdsOf(result: unknown): {
  postingId?: string;
  accountId?: string;
  holdId?: string;
} {
  if (typeof result !== "object" || result === null) return {};
  const { posting, account, holdId, transaction } = result as {
    posting?: { id?: unknown };
    account?: { id?: unknown };
    holdId?: unknown;
    transaction?: { id?: unknown };
  };
  return {
    ...(typeof transaction?.id === "string" ? { transactionId: transaction.id } : {}),
    ...(typeof posting?.id === "string" ? { postingId: posting.id } : {}),
    ...(typeof account?.id === "string" ? { accountId: account.id } : {}),
    ...(typeof holdId === "string" ? { holdId } : {}),
  };
}

/** Who is asking: the authenticated principal, the request id and the Idempotency-Key. */
export function actorOf(request: FastifyRequest): Actor {
  const key = request.headers["idempotency-key"];
  return {
    principal: principalOf(request).id,
    correlationId: request.id,
    ...(typeof key === "string" ? { idempotencyKey: key } : {}),
  };
}

export function notFound(
  code:
    | "ACCOUNT_NOT_FOUND"
    | "POSTING_NOT_FOUND"
    | "HOLD_NOT_FOUND"
    | "ACCOUNT_TYPE_NOT_FOUND"
    | "TRANSACTION_TYPE_NOT_FOUND"
    | "TRANSACTION_NOT_FOUND",
  detail: string,
): ProblemError {
  return new ProblemError({ status: 404, code, title: "Not found", detail });
}
