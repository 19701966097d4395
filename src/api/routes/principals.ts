/**
 * Step-up two-factor authentication over HTTP (API.md "Postings": a transaction type that
 * `requiresTwoFactor` and no valid `X-OTP` → 403 TWO_FACTOR_REQUIRED).
 *
 * - `POST /v1/principals/me/totp` enrols the calling principal (its TOTP secret, once, pending);
 *   `POST /v1/principals/me/totp/verify` `{ code }` confirms it; `GET /v1/principals/me/totp`
 *   says where it stands. They need `postings:write`: step-up guards only what that scope does.
 * - `TwoFactorGate.assert` is what the money-moving routes call before their command: postings
 *   and domain transactions of a type that requires 2FA, and the reversal of one (a reversal
 *   moves the same money between the same accounts, so undoing a high-risk movement is as
 *   high-risk as making it). The code in `X-OTP` is accepted once; anything else is 403
 *   TWO_FACTOR_REQUIRED before the command runs, so nothing is recorded, not even a FAILED
 *   transaction.
 * - An idempotent retry is not asked for a fresh code: when what the request would create
 *   already exists (the id derived from its Idempotency-Key, or the client's own id), the
 *   command only answers the original (or 409) and moves nothing. Its first code is spent, so
 *   demanding one again would break API.md's replay promise.
 * - Whether a type requires 2FA is read from its own stream in the event store (the first
 *   event defines it, and a type is defined once), so a type defined a moment ago is guarded
 *   at once, which the read models, catching up, could not promise. Defined types are cached.
 *
 * Without NOVA_SECRET_KEY nothing can be enrolled or checked. Enrolling answers 403
 * TWO_FACTOR_UNAVAILABLE, and a request that needs a step-up 403 TWO_FACTOR_REQUIRED with
 * reason UNAVAILABLE: no code can be valid there, which is API.md's rule, and a server
 * deliberately run without the variable is not failing (API.md: a 5xx is a bug). The plugin
 * warns at start instead. Codes and secrets are never logged: the request log line holds neither
 * headers nor bodies, and the logger redacts `x-otp` besides.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from "fastify";
import { LRUCache } from "lru-cache";
import { z } from "zod";
import type { TotpCheck, TotpEnrolmentState, TotpRefusal, TotpStore } from "../../auth/totp.js";
import { creationId } from "../../commands/requests.js";
import { postingStream, transactionStream, transactionTypeStream } from "../../domain/streams.js";
import { transactionTypeCodePattern } from "../../domain/transaction-types/transaction-type.js";
import type { EventStore } from "../../eventstore/port.js";
import { principalOf } from "../auth.js";
import { actorOf } from "../outcomes.js";
import { ProblemError } from "../problem.js";
import { problem, readHeaders } from "../schemas.js";
import { withZod } from "./context.js";

declare module "fastify" {
  interface FastifyInstance {
    /** Step-up 2FA for the routes that move money (decorated by the `twoFactor` plugin). */
    twoFactor: TwoFactorGate;
  }
}

export interface TwoFactorOptions {
  /** The TOTP store; absent, or without NOVA_SECRET_KEY: 2FA is unavailable. */
  readonly store: TotpStore | undefined;
  /** Where transaction types, postings and transactions are read from (their first events). */
  readonly events: Pick<EventStore, "readStream">;
}

/** Transaction types whose requirement is remembered; each is defined once and never changes. */
const transactionTypesCachedMax = 1_000;

/** The header the money-moving routes declare (any string: a bad code is a 403, not a 400). */
export const otpHeaders = {
  "x-otp": z
    .string()
    .optional()
    .describe(
      "A current TOTP code from the principal's authenticator; needed when the transaction type requires two-factor authentication. Each code is accepted once.",
    ),
};

/** What a request would move money under, and what it would create. */
export interface StepUp {
  /** The transaction type; null or absent: untyped (admin-only raw postings), no step-up. */
  readonly transactionType: string | null | undefined;
  /** The stream the request creates when its id is known beforehand (keyed or client id). */
  readonly creates: string | undefined;
}

export class TwoFactorGate {
  private readonly requirements = new LRUCache<string, boolean>({
    max: transactionTypesCachedMax,
  });

  constructor(
    private readonly store: TotpStore | undefined,
    private readonly events: Pick<EventStore, "readStream">,
  ) {}

  /** Throws 403 TWO_FACTOR_REQUIRED unless the request may go ahead. */
  async assert(request: FastifyRequest, stepUp: StepUp): Promise<void> {
    const type = stepUp.transactionType;
    if (type === null || type === undefined || type === "") return;
    if (!(await this.requiresTwoFactor(type))) return;
    if (stepUp.creates !== undefined && (await this.exists(stepUp.creates))) return;
    const store = this.store;
    if (store === undefined || !store.available) throw twoFactorRequired(type, "UNAVAILABLE");
    const code = request.headers["x-otp"];
    if (typeof code !== "string" || code === "") throw twoFactorRequired(type, "MISSING");
    const check = await store.check(principalOf(request).id, code, "step-up");
    if (!check.accepted) throw twoFactorRequired(type, check.reason, check.lockedUntil);
  }

  /** Unknown types need nothing here: the command refuses them. They are not cached. */
  async requiresTwoFactor(transactionType: string): Promise<boolean> {
    if (!transactionTypeCodePattern.test(transactionType)) return false;
    const cached = this.requirements.get(transactionType);
    if (cached !== undefined) return cached;
    const definition = await this.firstEvent(transactionTypeStream(transactionType));
    if (definition === undefined) return false;
    const requires = definition.data.requiresTwoFactor;
    if (definition.type !== "TransactionTypeDefined" || typeof requires !== "boolean") {
      throw new Error(`assertion failed: ${transactionType}'s stream starts with no definition`);
    }
    this.requirements.set(transactionType, requires);
    return requires;
  }

  /** The transaction type a recorded posting was made under (null: untyped or unknown). */
  async postingType(postingId: string): Promise<string | null> {
    return typeIn(await this.firstEvent(postingStream(postingId)), "PostingRecorded");
  }

  /** The transaction type a recorded domain transaction was made under. */
  async transactionType(transactionId: string): Promise<string | null> {
    return typeIn(await this.firstEvent(transactionStream(transactionId)), "TransactionRequested");
  }

  /** Whether this server can enrol and check (it has NOVA_SECRET_KEY). */
  get available(): boolean {
    return this.store?.available === true;
  }

  /** Where a principal's enrolment stands (readable without the key); none without a store. */
  async state(principalId: string): Promise<TotpEnrolmentState | undefined> {
    return this.store?.state(principalId);
  }

  /** The store, or 403 TWO_FACTOR_UNAVAILABLE when the server cannot seal or open secrets. */
  availableStore(): TotpStore {
    const store = this.store;
    if (store === undefined || !store.available) throw twoFactorUnavailable();
    return store;
  }

  private async exists(stream: string): Promise<boolean> {
    return (await this.firstEvent(stream)) !== undefined;
  }

  private async firstEvent(stream: string) {
    const [first] = await this.events.readStream(stream, { limit: 1 });
    return first;
  }
}

function typeIn(
  event: { readonly type: string; readonly data: Record<string, unknown> } | undefined,
  expected: string,
): string | null {
  if (event === undefined || event.type !== expected) return null;
  const type = event.data.transactionType;
  return typeof type === "string" ? type : null;
}

/** The gate of the app serving `request` (the plugin decorates the root instance). */
function gateOf(request: FastifyRequest): TwoFactorGate {
  const gate = request.server.twoFactor;
  if (gate === undefined)
    throw new Error("assertion failed: the twoFactor plugin is not registered");
  return gate;
}

/**
 * The stream a request creates, when its id can be known before the command runs: derived
 * from the Idempotency-Key, or the client's own. `operation` must be the command's own
 * (src/commands/ledger.ts, transactions.ts); the replay tests of test/api/two-factor.test.ts
 * fail if the two drift apart.
 */
function createdStream(
  request: FastifyRequest,
  operation: string,
  clientId: string | null | undefined,
  streamOf: (id: string) => string,
): string | undefined {
  const actor = actorOf(request);
  const hasClientId = clientId !== undefined && clientId !== null;
  if (actor.idempotencyKey === undefined && !hasClientId) return undefined;
  return streamOf(creationId(actor, operation, clientId).id);
}

/** `POST /v1/postings`: a posting of a type that requires 2FA. */
export function assertPostingStepUp(
  request: FastifyRequest,
  body: { readonly transactionType?: string | null; readonly id?: string | null },
): Promise<void> {
  return gateOf(request).assert(request, {
    transactionType: body.transactionType,
    creates: createdStream(request, "postings.create", body.id, postingStream),
  });
}

/** `POST /v1/postings/{id}/reverse`: the reversal of a posting of such a type. */
export async function assertPostingReversalStepUp(
  request: FastifyRequest,
  postingId: string,
): Promise<void> {
  const gate = gateOf(request);
  await gate.assert(request, {
    transactionType: await gate.postingType(postingId),
    creates: createdStream(request, `postings.reverse:${postingId}`, undefined, postingStream),
  });
}

/** `POST /v1/transactions`: a domain transaction of such a type. */
export function assertTransactionStepUp(
  request: FastifyRequest,
  body: { readonly transactionType: string; readonly id?: string | null },
): Promise<void> {
  return gateOf(request).assert(request, {
    transactionType: body.transactionType,
    creates: createdStream(request, "transactions.create", body.id, transactionStream),
  });
}

/** `POST /v1/transactions/{id}/reverse`: the reversal of a domain transaction of such a type. */
export async function assertTransactionReversalStepUp(
  request: FastifyRequest,
  transactionId: string,
): Promise<void> {
  const gate = gateOf(request);
  await gate.assert(request, {
    transactionType: await gate.transactionType(transactionId),
    creates: createdStream(
      request,
      `transactions.reverse:${transactionId}`,
      undefined,
      postingStream,
    ),
  });
}

/** Why a step-up failed: the store's refusals, no code at all, or a server without the key. */
type StepUpRefusal = TotpRefusal | "MISSING" | "UNAVAILABLE";

const refusalDetails: Readonly<Record<StepUpRefusal, string>> = {
  MISSING: "send a current code from your authenticator in the X-OTP header",
  UNAVAILABLE:
    "this server has no NOVA_SECRET_KEY, so it cannot check codes; an operator must set it",
  MALFORMED: "the code is not six digits",
  NOT_ENROLLED:
    "this principal has no authenticator: enrol with POST /v1/principals/me/totp, then confirm",
  NOT_CONFIRMED:
    "this principal's authenticator is not confirmed yet: POST /v1/principals/me/totp/verify",
  WRONG: "the code is not valid",
  REPLAYED: "the code was already used; wait for the next one",
  LOCKED: "too many wrong codes: two-factor checks are locked for a while",
  KEY_CHANGED:
    "this principal's authenticator was enrolled under another server key: enrol again (POST /v1/principals/me/totp)",
};

function twoFactorRequired(
  transactionType: string,
  reason: StepUpRefusal,
  lockedUntil?: Date,
): ProblemError {
  return new ProblemError({
    status: 403,
    code: "TWO_FACTOR_REQUIRED",
    title: "Two-factor authentication required",
    detail: `transaction type ${transactionType} requires two-factor authentication: ${refusalDetails[reason]}`,
    extensions: {
      reason,
      ...(lockedUntil === undefined ? {} : { lockedUntil: lockedUntil.toISOString() }),
    },
  });
}

function twoFactorUnavailable(): ProblemError {
  return new ProblemError({
    status: 403,
    code: "TWO_FACTOR_UNAVAILABLE",
    title: "Two-factor authentication unavailable",
    detail:
      "this server has no NOVA_SECRET_KEY, so it can neither enrol authenticators nor check codes; an operator must set it",
  });
}

const tags = ["Principals"];

const enrolment = z
  .object({
    otpauthUri: z.string(),
    secret: z.string().describe("The same secret in base32, for typing in by hand."),
    status: z.literal("PENDING"),
    enrolledAt: z.string(),
  })
  .meta({
    id: "TotpEnrolment",
    description:
      "Shown once. Scan `otpauthUri` (or type `secret`) into an authenticator app, then confirm with a code.",
  });

const enrolmentState = z
  .object({
    principal: z.string(),
    status: z.enum(["NONE", "PENDING", "CONFIRMED"]),
    enrolledAt: z.string().nullable(),
    confirmedAt: z.string().nullable(),
    lockedUntil: z.string().nullable(),
    available: z.boolean().describe("Whether this server can enrol and check (NOVA_SECRET_KEY)."),
  })
  .meta({ id: "TotpEnrolmentState" });

const verifyBody = z.object({
  code: z
    .string()
    .regex(/^[0-9]{6}$/, "must be six digits")
    .meta({ example: "492039" }),
});

async function twoFactorPlugin(app: FastifyInstance, options: TwoFactorOptions): Promise<void> {
  const gate = new TwoFactorGate(options.store, options.events);
  if (!gate.available) {
    app.log.warn(
      "NOVA_SECRET_KEY is not set: two-factor enrolment is refused, and transaction types that require 2FA cannot be used over the API",
    );
  }
  app.decorate("twoFactor", gate);
  principalRoutes(app, gate);
}

/**
 * The plugin, registered once inside the ledger block of src/api/app.ts, before the
 * money-moving routes. `skip-override` (what fastify-plugin sets) puts the decoration on the
 * root instance, where every route's `request.server` finds it.
 */
export const twoFactor: FastifyPluginAsync<TwoFactorOptions> = Object.assign(twoFactorPlugin, {
  [Symbol.for("skip-override")]: true,
});

function principalRoutes(instance: FastifyInstance, gate: TwoFactorGate): void {
  const app = withZod(instance);

  app.get(
    "/v1/principals/me/totp",
    {
      config: { scope: "postings:write" },
      schema: {
        tags,
        summary: "Where the calling principal's two-factor enrolment stands",
        headers: readHeaders,
        response: { 200: enrolmentState },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      return stateBody(principal.id, await gate.state(principal.id), gate.available);
    },
  );

  app.post(
    "/v1/principals/me/totp",
    {
      config: { scope: "postings:write" },
      schema: {
        tags,
        summary: "Enrol an authenticator for the calling principal (TOTP, RFC 6238)",
        description:
          "Answers a new secret once, pending until POST /v1/principals/me/totp/verify confirms it with a code; a pending enrolment is replaced by calling again. A confirmed one is replaced only with a current code of it in `X-OTP` (else 409 TWO_FACTOR_ALREADY_ENROLLED). Not idempotent by key: the secret is never stored in clear to answer twice.",
        headers: z.object(otpHeaders),
        response: { 201: enrolment, 403: problem, 409: problem },
      },
    },
    async (request, reply) => {
      const store = gate.availableStore();
      const principal = principalOf(request);
      let enrolled = await store.enrol(principal.id, principal.name);
      if (enrolled === undefined) {
        await proveCurrentCode(request, store);
        enrolled = await store.enrol(principal.id, principal.name, { replaceConfirmed: true });
      }
      if (enrolled === undefined) throw alreadyEnrolled();
      reply.header("cache-control", "no-store");
      return reply.status(201).send({
        otpauthUri: enrolled.otpauthUri,
        secret: enrolled.secret,
        status: "PENDING" as const,
        enrolledAt: enrolled.enrolledAt.toISOString(),
      });
    },
  );

  app.post(
    "/v1/principals/me/totp/verify",
    {
      config: { scope: "postings:write" },
      schema: {
        tags,
        summary: "Confirm the calling principal's enrolment with a code",
        description:
          "Accepts a current code once (it cannot then be replayed in X-OTP). On a confirmed enrolment it only checks the code.",
        body: verifyBody,
        response: { 200: enrolmentState, 400: problem, 403: problem, 409: problem, 422: problem },
      },
    },
    async (request) => {
      const store = gate.availableStore();
      const principal = principalOf(request);
      const check = await store.check(principal.id, request.body.code, "confirm");
      if (!check.accepted) throw verificationProblem(check);
      return stateBody(principal.id, await store.state(principal.id), true);
    },
  );
}

/** Replacing a confirmed enrolment takes a current code of it: a stolen API key alone cannot. */
async function proveCurrentCode(request: FastifyRequest, store: TotpStore): Promise<void> {
  const code = request.headers["x-otp"];
  if (typeof code !== "string" || code === "") throw alreadyEnrolled();
  const check = await store.check(principalOf(request).id, code, "step-up");
  if (check.accepted) return;
  throw new ProblemError({
    status: 403,
    code: "TWO_FACTOR_REQUIRED",
    title: "Two-factor authentication required",
    detail: `replacing a confirmed authenticator needs a current code of it: ${refusalDetails[check.reason]}`,
    extensions: {
      reason: check.reason,
      ...(check.lockedUntil === undefined ? {} : { lockedUntil: check.lockedUntil.toISOString() }),
    },
  });
}

function alreadyEnrolled(): ProblemError {
  return new ProblemError({
    status: 409,
    code: "TWO_FACTOR_ALREADY_ENROLLED",
    title: "Already enrolled",
    detail:
      "this principal has a confirmed authenticator; to replace it, send a current code of it in X-OTP",
  });
}

function verificationProblem(check: Extract<TotpCheck, { accepted: false }>): ProblemError {
  if (check.reason === "NOT_ENROLLED" || check.reason === "KEY_CHANGED") {
    return new ProblemError({
      status: 409,
      code: "TWO_FACTOR_NOT_ENROLLED",
      title: "Not enrolled",
      detail: refusalDetails[check.reason],
    });
  }
  return new ProblemError({
    status: 422,
    code: "INVALID_OTP",
    title: "Invalid code",
    detail: refusalDetails[check.reason],
    extensions: {
      reason: check.reason,
      ...(check.lockedUntil === undefined ? {} : { lockedUntil: check.lockedUntil.toISOString() }),
    },
  });
}

function stateBody(principal: string, state: TotpEnrolmentState | undefined, available: boolean) {
  return {
    principal,
    status: state?.status ?? "NONE",
    enrolledAt: state?.enrolledAt?.toISOString() ?? null,
    confirmedAt: state?.confirmedAt?.toISOString() ?? null,
    lockedUntil: state?.lockedUntil?.toISOString() ?? null,
    available,
  };
}
