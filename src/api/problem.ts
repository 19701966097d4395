/**
 * RFC 9457 problem details: every error the API answers has this shape, with the stable `code`
 * of API.md that clients branch on and the `requestId` that finds the request in the logs.
 */
import type { FastifyReply, FastifyRequest } from "fastify";

export const problemContentType = "application/problem+json";

export interface ProblemFieldError {
  readonly path: string;
  readonly message: string;
}

export interface Problem {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail: string;
  readonly errors?: readonly ProblemFieldError[];
  /** Extra members a code documents (e.g. `transactionId` on a failed domain transaction). */
  readonly extensions?: Readonly<Record<string, unknown>>;
}

/** A problem raised inside a handler; the error handler turns it into the response. */
export class ProblemError extends Error {
  override readonly name = "ProblemError";
  constructor(readonly problem: Problem) {
    super(problem.detail);
  }
}

export function sendProblem(request: FastifyRequest, reply: FastifyReply, problem: Problem) {
  return reply
    .status(problem.status)
    .type(problemContentType)
    .send({
      type: `https://nova-ledger.dev/problems/${problem.code.toLowerCase().replaceAll("_", "-")}`,
      title: problem.title,
      status: problem.status,
      detail: problem.detail,
      code: problem.code,
      ...(problem.errors === undefined ? {} : { errors: problem.errors }),
      ...problem.extensions,
      requestId: request.id,
    });
}
