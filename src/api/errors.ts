/**
 * The one place where errors become responses (Fastify's error and not-found handlers).
 * Bad input of any kind is a 4xx with its API.md code; only a bug reaches the 500 branch.
 */
import type { FastifyError, FastifyInstance } from "fastify";
import { InvalidCursor } from "../queries/index.js";
import { type Problem, ProblemError, sendProblem } from "./problem.js";

/** Fastify's own error codes for requests it refuses before a handler runs. */
const transportProblems: Readonly<Record<string, Omit<Problem, "detail">>> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: "UNSUPPORTED_MEDIA_TYPE",
    title: "Unsupported media type",
  },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: "PAYLOAD_TOO_LARGE", title: "Body too large" },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: "VALIDATION_ERROR", title: "Invalid request" },
  FST_ERR_CTP_INVALID_JSON_BODY: {
    status: 400,
    code: "VALIDATION_ERROR",
    title: "Invalid request",
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: "VALIDATION_ERROR",
    title: "Invalid request",
  },
};

export function registerErrorHandlers(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) =>
    sendProblem(request, reply, {
      status: 404,
      code: "NOT_FOUND",
      title: "Not found",
      detail: `no route ${request.method} ${request.url.split("?")[0]}`,
    }),
  );

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof ProblemError) return sendProblem(request, reply, error.problem);
    const known = error.code === undefined ? undefined : transportProblems[error.code];
    if (known !== undefined)
      return sendProblem(request, reply, { ...known, detail: error.message });
    if (error.validation !== undefined) {
      // A body field's path is plain (`/entries/0/amount`); other parts say where they are.
      const where = error.validationContext === "body" ? "" : `/${error.validationContext}`;
      return sendProblem(request, reply, {
        status: 400,
        code: "VALIDATION_ERROR",
        title: "Invalid request",
        detail: error.message,
        errors: error.validation.map((issue) => ({
          path: `${where}${issue.instancePath}`,
          message: issue.message ?? "is invalid",
        })),
      });
    }
    if (error instanceof InvalidCursor) {
      return sendProblem(request, reply, {
        status: 400,
        code: "VALIDATION_ERROR",
        title: "Invalid request",
        detail: error.message,
        errors: [{ path: "/querystring/cursor", message: "is not a cursor this list gave" }],
      });
    }
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      return sendProblem(request, reply, {
        status: error.statusCode,
        code: "BAD_REQUEST",
        title: "Bad request",
        detail: error.message,
      });
    }
    request.log.error({ err: error }, "request failed");
    return sendProblem(request, reply, {
      status: 500,
      code: "INTERNAL",
      title: "Internal error",
      detail: "the server failed to handle this request; it has been logged",
    });
  });
}
