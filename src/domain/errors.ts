/**
 * Business rejections: typed values with the stable codes of API.md, never thrown strings.
 * The HTTP status of each code is the API layer's business (src/api), not the domain's.
 */
export const rejectionCodes = [
  "VALIDATION_ERROR",
  "UNBALANCED",
  "ACCOUNT_NOT_FOUND",
  "ACCOUNT_EXISTS",
  "CURRENCY_MISMATCH",
  "ACCOUNT_NOT_ACTIVE",
  "ACCOUNT_NOT_EMPTY",
  "INVALID_STATUS_TRANSITION",
  "INSUFFICIENT_FUNDS",
  "LIMIT_EXCEEDED",
  "DUPLICATE_REFERENCE",
  "POSTING_NOT_FOUND",
  "POSTING_EXISTS",
  "ALREADY_REVERSED",
  "CANNOT_REVERSE_REVERSAL",
  "IDEMPOTENCY_KEY_REUSED",
  "UNKNOWN_ACCOUNT_TYPE",
  "DUPLICATE_CODE",
  "HOLD_NOT_FOUND",
  "HOLD_EXISTS",
  "HOLD_NOT_ACTIVE",
  "CAPTURE_EXCEEDS_HOLD",
  "INVALID_TEMPLATE",
  "UNKNOWN_TRANSACTION_TYPE",
  "TRANSACTION_TYPE_NOT_ALLOWED",
  "TRANSACTION_NOT_FOUND",
  "TRANSACTION_EXISTS",
  "POSTING_OF_TRANSACTION",
] as const;

export type RejectionCode = (typeof rejectionCodes)[number];

/** One violation of a rule about the request's content, located by a JSON Pointer. */
export interface FieldError {
  readonly path: string;
  readonly message: string;
}

export interface Rejection {
  readonly kind: "rejection";
  readonly code: RejectionCode;
  readonly message: string;
  /** Facts a client can act on (e.g. the account short of funds); plain JSON. */
  readonly details?: Readonly<Record<string, string>>;
  /** Every violation found, when a rule checks many things at once (a template, metadata). */
  readonly errors?: readonly FieldError[];
}

export function reject(
  code: RejectionCode,
  message: string,
  details?: Readonly<Record<string, string>>,
): Rejection {
  return details === undefined
    ? { kind: "rejection", code, message }
    : { kind: "rejection", code, message, details };
}

/** A rejection listing every violation found, so a client can fix them all in one go. */
export function rejectWithErrors(
  code: RejectionCode,
  message: string,
  errors: readonly FieldError[],
): Rejection {
  return { kind: "rejection", code, message, errors };
}

export function isRejection(value: unknown): value is Rejection {
  return (
    typeof value === "object" && value !== null && "kind" in value && value.kind === "rejection"
  );
}

/** A broken precondition inside the domain: a bug, never a business outcome (STYLE.md). */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
