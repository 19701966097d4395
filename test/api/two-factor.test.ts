/**
 * Step-up two-factor authentication over real HTTP on a real Postgres, as the least-privilege
 * role: enrolment and its confirmation, X-OTP on postings, domain transactions and their
 * reversals (accepted once, replays refused, nothing recorded on a refusal), idempotent
 * retries that need no fresh code, a server without NOVA_SECRET_KEY (and its warning), and no
 * code or secret in the logs.
 *
 * The app is built here with a TOTP store on an injected clock: the ledger service as
 * src/cli/ledger-app.ts wires it (key store, pipeline, projector), with `buildApp` given the
 * `totp` dependency on top.
 */
import { randomBytes } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { Secret, TOTP } from "otpauth";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/api/app.js";
import { TotpStore, totpPeriodSeconds } from "../../src/auth/totp.js";
import { createLedgerApp, type LedgerApp } from "../../src/cli/ledger-app.js";
import { operatorAccountId, seedCatalogue } from "../../src/commands/catalogue.js";
import { LedgerCommands } from "../../src/commands/ledger.js";
import { TransactionCommands } from "../../src/commands/transactions.js";
import { createPool } from "../../src/db/pool.js";
import { appRole } from "../../src/db/roles.js";
import { PostgresEventStore } from "../../src/eventstore/postgres/postgres-event-store.js";
import { ReadModels } from "../../src/queries/index.js";
import { Reports } from "../../src/queries/reports.js";
import { TransactionQueries } from "../../src/queries/transactions.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { adminKey } from "./support.js";

interface Response {
  readonly status: number;
  readonly headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field
  readonly body: any;
}

interface Server {
  readonly app: FastifyInstance;
  readonly baseUrl: string;
}

const stepMs = totpPeriodSeconds * 1_000;
/** The injected clock: starts on a step's first millisecond; tests move it by whole steps. */
let nowMs = 59_000_000 * stepMs;
const logLines: string[] = [];
const keylessLogLines: string[] = [];

let database: TestDatabase;
let pool: ReturnType<typeof createPool>;
let eventStore: PostgresEventStore;
let ledger: LedgerApp;
let server: Server;
/** The same ledger served without NOVA_SECRET_KEY. */
let keyless: Server;

let agentKey: string;
let agentSecret: string;
let float: string;
let wallet: string;
const bank = operatorAccountId("SETTLEMENT_BANK", "XCD");

async function serve(totp: TotpStore, logger = pino({ level: "silent" })): Promise<Server> {
  const app = await buildApp({
    logger,
    health: {
      database: async () => {},
      eventStore: async () => {},
      projections: async () => ({ lag: 0, status: "ok" }),
    },
    ledger: {
      api: {
        ledger: new LedgerCommands(ledger.pipeline),
        readModels: new ReadModels(pool),
        reports: new Reports(pool),
        eventStore,
        progress: ledger.projector,
      },
      authenticator: ledger.keys,
      transactions: {
        commands: new TransactionCommands(ledger.pipeline),
        queries: new TransactionQueries(pool),
        progress: ledger.projector,
      },
      totp,
    },
  });
  const baseUrl = await app.listen({ port: 0, host: "127.0.0.1" });
  return { app, baseUrl };
}

beforeAll(async () => {
  database = await createTestDatabase({ poolSizeMax: 20 });
  // As the server does: every session works as the least-privilege role.
  pool = createPool({
    connectionString: database.connectionString,
    poolSizeMax: 20,
    role: appRole,
  });
  eventStore = new PostgresEventStore(pool);
  ledger = await createLedgerApp({
    store: eventStore,
    pool,
    logger: pino({ level: "silent" }),
    adminKey,
    keyCacheTtlMs: 1,
  });
  const capture = pino({ level: "trace" }, { write: (line: string) => logLines.push(line) });
  server = await serve(
    new TotpStore(pool, { encryptionKey: randomBytes(32), clockMs: () => nowMs }),
    capture,
  );
  keyless = await serve(
    new TotpStore(pool, { encryptionKey: undefined }),
    pino({ level: "warn" }, { write: (line: string) => keylessLogLines.push(line) }),
  );
  await seedCatalogue(ledger.pipeline, {
    principal: "system:test",
    correlationId: "two-factor-test",
  });
  agentKey = (await ledger.keys.create({ name: "agent app", scopes: ["postings:write"] })).key;
  float = await open("AGENT_FLOAT");
  wallet = await open("CUSTOMER_WALLET");
});

afterAll(async () => {
  await server.app.close();
  await keyless.app.close();
  await ledger.close();
  await pool.end();
  await database.drop();
});

async function call(
  method: string,
  path: string,
  options: {
    body?: unknown;
    headers?: Record<string, string>;
    key?: string;
    on?: Server;
  } = {},
): Promise<Response> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${options.key ?? agentKey}`,
    ...options.headers,
  };
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${(options.on ?? server).baseUrl}${path}`, {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text === "" ? text : JSON.parse(text),
  };
}

function expectProblem(response: Response, status: number, code: string, reason?: string) {
  expect({ status: response.status, code: response.body?.code }).toEqual({ status, code });
  if (reason !== undefined) expect(response.body.reason).toBe(reason);
}

async function open(accountType: string): Promise<string> {
  const response = await call("POST", "/v1/accounts", {
    key: adminKey,
    body: { accountType, currency: "XCD" },
  });
  expect(response.status).toBe(201);
  return response.body.id;
}

function codeAt(secret: string, atMs: number): string {
  return TOTP.generate({
    secret: Secret.fromBase32(secret),
    algorithm: "SHA1",
    digits: 6,
    period: totpPeriodSeconds,
    timestamp: atMs,
  });
}

/** The agent's code of the next step, with the clock moved there: each is fresh. */
function nextCode(secret = agentSecret): string {
  nowMs += stepMs;
  return codeAt(secret, nowMs);
}

function wrongCode(code: string): string {
  return String((Number(code) + 1) % 1_000_000).padStart(6, "0");
}

async function eventCount(): Promise<number> {
  const { rows } = await database.pool.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM events",
  );
  return rows[0]?.n ?? -1;
}

const topUp = (value = "100.00") => ({
  transactionType: "FLOAT_TOPUP",
  amount: { value, currency: "XCD" },
  parties: { agent: float },
});

const typedTopUpPosting = (value = "10.00") => ({
  transactionType: "FLOAT_TOPUP",
  entries: [
    { accountId: bank, side: "DEBIT", amount: { value, currency: "XCD" } },
    { accountId: float, side: "CREDIT", amount: { value, currency: "XCD" } },
  ],
});

function transact(body: unknown, code?: string, headers: Record<string, string> = {}) {
  return call("POST", "/v1/transactions", {
    body,
    headers: { ...headers, ...(code === undefined ? {} : { "x-otp": code }) },
  });
}

/** Asserts that `attempt` is refused with 403 TWO_FACTOR_REQUIRED and appends nothing. */
async function refusedWithNothingRecorded(attempt: () => Promise<Response>, reason: string) {
  const before = await eventCount();
  const response = await attempt();
  expectProblem(response, 403, "TWO_FACTOR_REQUIRED", reason);
  expect(response.body.transactionId).toBeUndefined();
  expect(await eventCount()).toBe(before);
}

describe("enrolment", () => {
  it("answers an otpauth URI and the secret once, pending, not to be cached", async () => {
    const response = await call("POST", "/v1/principals/me/totp");
    expect(response.status).toBe(201);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(response.body).toMatchObject({ status: "PENDING", secret: expect.any(String) });
    expect(response.body.otpauthUri).toMatch(
      /^otpauth:\/\/totp\/Nova%20Ledger:agent%20app\?issuer=Nova%20Ledger&secret=[A-Z2-7]+&algorithm=SHA1&digits=6&period=30$/,
    );
    agentSecret = response.body.secret;
    const state = await call("GET", "/v1/principals/me/totp");
    expect(state.body).toMatchObject({ status: "PENDING", confirmedAt: null, available: true });
  });

  it("a pending enrolment passes no step-up", async () => {
    await refusedWithNothingRecorded(() => transact(topUp(), nextCode()), "NOT_CONFIRMED");
  });

  it("is confirmed by a current code; a wrong or malformed one is refused", async () => {
    const code = nextCode();
    const wrong = await call("POST", "/v1/principals/me/totp/verify", {
      body: { code: wrongCode(code) },
    });
    expectProblem(wrong, 422, "INVALID_OTP", "WRONG");
    const malformed = await call("POST", "/v1/principals/me/totp/verify", {
      body: { code: "12345" },
    });
    expectProblem(malformed, 400, "VALIDATION_ERROR");
    const confirmed = await call("POST", "/v1/principals/me/totp/verify", { body: { code } });
    expect(confirmed.status).toBe(200);
    expect(confirmed.body).toMatchObject({ status: "CONFIRMED", confirmedAt: expect.any(String) });
  });

  it("a confirmed enrolment is replaced only with a current code of it", async () => {
    const key = (await ledger.keys.create({ name: "rotating", scopes: ["postings:write"] })).key;
    const first = await call("POST", "/v1/principals/me/totp", { key });
    const confirm = await call("POST", "/v1/principals/me/totp/verify", {
      key,
      body: { code: nextCode(first.body.secret) },
    });
    expect(confirm.status).toBe(200);
    expectProblem(
      await call("POST", "/v1/principals/me/totp", { key }),
      409,
      "TWO_FACTOR_ALREADY_ENROLLED",
    );
    const code = nextCode(first.body.secret);
    expectProblem(
      await call("POST", "/v1/principals/me/totp", { key, headers: { "x-otp": wrongCode(code) } }),
      403,
      "TWO_FACTOR_REQUIRED",
      "WRONG",
    );
    const replaced = await call("POST", "/v1/principals/me/totp", {
      key,
      headers: { "x-otp": code },
    });
    expect(replaced.status).toBe(201);
    expect(replaced.body.secret).not.toBe(first.body.secret);
    const stale = await call("POST", "/v1/principals/me/totp/verify", {
      key,
      body: { code: nextCode(first.body.secret) },
    });
    expectProblem(stale, 422, "INVALID_OTP", "WRONG");
  });

  it("needs postings:write, the scope step-up guards", async () => {
    const key = (await ledger.keys.create({ name: "reader", scopes: ["accounts:read"] })).key;
    expectProblem(await call("POST", "/v1/principals/me/totp", { key }), 403, "FORBIDDEN");
  });

  it("verifying without an enrolment is 409 TWO_FACTOR_NOT_ENROLLED", async () => {
    const key = (await ledger.keys.create({ name: "never", scopes: ["postings:write"] })).key;
    const response = await call("POST", "/v1/principals/me/totp/verify", {
      key,
      body: { code: "123456" },
    });
    expectProblem(response, 409, "TWO_FACTOR_NOT_ENROLLED");
  });
});

describe("X-OTP on a domain transaction of a type that requires 2FA", () => {
  it("is required: none, a wrong one, a malformed one are 403 and record nothing", async () => {
    await refusedWithNothingRecorded(() => transact(topUp()), "MISSING");
    await refusedWithNothingRecorded(() => transact(topUp(), wrongCode(nextCode())), "WRONG");
    await refusedWithNothingRecorded(() => transact(topUp(), "12 456"), "MALFORMED");
  });

  it("accepts a current code once; the same code again is refused and records nothing", async () => {
    const code = nextCode();
    const posted = await transact(topUp("1000.00"), code);
    expect(posted.status).toBe(201);
    expect(posted.body.status).toBe("POSTED");
    await refusedWithNothingRecorded(() => transact(topUp(), code), "REPLAYED");
  });

  it("a code one step old is still good; two steps old it is not", async () => {
    const code = nextCode();
    nowMs += stepMs + stepMs - 1;
    expect((await transact(topUp("1.00"), code)).status).toBe(201);
    const older = nextCode();
    nowMs += 2 * stepMs;
    await refusedWithNothingRecorded(() => transact(topUp(), older), "WRONG");
  });

  it("a principal who never enrolled is refused", async () => {
    const key = (await ledger.keys.create({ name: "no 2fa", scopes: ["postings:write"] })).key;
    await refusedWithNothingRecorded(
      () =>
        call("POST", "/v1/transactions", { key, body: topUp(), headers: { "x-otp": "123456" } }),
      "NOT_ENROLLED",
    );
  });

  it("a type that does not require 2FA needs no code", async () => {
    const response = await transact({
      transactionType: "CASH_IN",
      amount: { value: "50.00", currency: "XCD" },
      parties: { agent: float, customer: wallet },
    });
    expect(response.status).toBe(201);
  });

  it("an idempotent retry gets the original answer without a fresh code", async () => {
    const headers = { "idempotency-key": "topup-retry-1" };
    const code = nextCode();
    const first = await transact(topUp("5.00"), code, headers);
    expect(first.status).toBe(201);
    const before = await eventCount();
    for (const retry of [code, undefined]) {
      const again = await transact(topUp("5.00"), retry, headers);
      expect(again.status).toBe(201);
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      expect(again.body.id).toBe(first.body.id);
    }
    expect(await eventCount()).toBe(before);
  });

  it("reversing one needs a code too", async () => {
    const posted = await transact(topUp("3.00"), nextCode());
    const path = `/v1/transactions/${posted.body.id}/reverse`;
    await refusedWithNothingRecorded(
      () => call("POST", path, { body: { reason: "keyed twice" } }),
      "MISSING",
    );
    const reversed = await call("POST", path, {
      body: { reason: "keyed twice" },
      headers: { "x-otp": nextCode() },
    });
    expect(reversed.status).toBe(201);
    expect(reversed.body.status).toBe("REVERSED");
  });
});

describe("X-OTP on a posting of a type that requires 2FA", () => {
  it("is required, accepted once, and a keyed retry needs no fresh code", async () => {
    await refusedWithNothingRecorded(
      () => call("POST", "/v1/postings", { body: typedTopUpPosting() }),
      "MISSING",
    );
    const code = nextCode();
    const headers = { "x-otp": code, "idempotency-key": "posting-retry-1" };
    const posted = await call("POST", "/v1/postings", { body: typedTopUpPosting(), headers });
    expect(posted.status).toBe(201);
    const replay = await call("POST", "/v1/postings", { body: typedTopUpPosting(), headers });
    expect(replay.status).toBe(201);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    await refusedWithNothingRecorded(
      () => call("POST", "/v1/postings", { body: typedTopUpPosting(), headers: { "x-otp": code } }),
      "REPLAYED",
    );
  });

  it("reversing one needs a code; reversing a posting of another type does not", async () => {
    const posted = await call("POST", "/v1/postings", {
      body: typedTopUpPosting("2.00"),
      headers: { "x-otp": nextCode() },
    });
    const path = `/v1/postings/${posted.body.id}/reverse`;
    await refusedWithNothingRecorded(
      () => call("POST", path, { body: { reason: "wrong agent" } }),
      "MISSING",
    );
    const reversed = await call("POST", path, {
      body: { reason: "wrong agent" },
      headers: { "x-otp": nextCode() },
    });
    expect(reversed.status).toBe(201);

    const cashIn = await transact({
      transactionType: "CASH_IN",
      amount: { value: "4.00", currency: "XCD" },
      parties: { agent: float, customer: wallet },
    });
    // A transaction's posting is reversed through its transaction; CASH_IN needs no code.
    const undo = await call("POST", `/v1/transactions/${cashIn.body.id}/reverse`, {
      body: { reason: "no 2FA type" },
    });
    expect(undo.status).toBe(201);
  });
});

describe("a server without NOVA_SECRET_KEY", () => {
  it("refuses to enrol, and a type that requires 2FA, with 403s that say why", async () => {
    expectProblem(
      await call("POST", "/v1/principals/me/totp", { on: keyless }),
      403,
      "TWO_FACTOR_UNAVAILABLE",
    );
    expectProblem(
      await call("POST", "/v1/principals/me/totp/verify", {
        on: keyless,
        body: { code: "123456" },
      }),
      403,
      "TWO_FACTOR_UNAVAILABLE",
    );
    await refusedWithNothingRecorded(
      () =>
        call("POST", "/v1/transactions", {
          on: keyless,
          body: topUp(),
          headers: { "x-otp": nextCode() },
        }),
      "UNAVAILABLE",
    );
    const state = await call("GET", "/v1/principals/me/totp", { on: keyless });
    expect(state.body).toMatchObject({ status: "CONFIRMED", available: false });
  });

  it("warns at start; a server with the key does not", () => {
    expect(keylessLogLines.join("")).toMatch(/"level":40.*NOVA_SECRET_KEY is not set/);
    expect(logLines.join("")).not.toContain("NOVA_SECRET_KEY is not set");
  });

  it("still serves the types that need no 2FA", async () => {
    const response = await call("POST", "/v1/transactions", {
      on: keyless,
      body: {
        transactionType: "CASH_IN",
        amount: { value: "1.00", currency: "XCD" },
        parties: { agent: float, customer: wallet },
      },
    });
    expect(response.status).toBe(201);
  });
});

describe("the logs", () => {
  it("hold the requests but never a secret or a code", async () => {
    const key = (await ledger.keys.create({ name: "logged", scopes: ["postings:write"] })).key;
    const enrolled = await call("POST", "/v1/principals/me/totp", { key });
    const secret: string = enrolled.body.secret;
    const confirmCode = nextCode(secret);
    await call("POST", "/v1/principals/me/totp/verify", { key, body: { code: confirmCode } });
    const stepUpCode = nextCode(secret);
    const posted = await call("POST", "/v1/transactions", {
      key,
      body: topUp("7.00"),
      headers: { "x-otp": stepUpCode },
    });
    expect(posted.status).toBe(201);
    await call("POST", "/v1/transactions", {
      key,
      body: topUp("7.00"),
      headers: { "x-otp": stepUpCode },
    });
    const log = logLines.join("");
    expect(log).toContain('"route":"/v1/principals/me/totp/verify"');
    expect(log).toContain('"status":403');
    expect(log).not.toContain(secret);
    expect(log).not.toContain(enrolled.body.otpauthUri);
    // A code standing alone: not six digits inside a longer number, a request id or a hash.
    for (const code of [confirmCode, stepUpCode]) {
      expect(log).not.toMatch(new RegExp(`(?<![0-9A-Za-z])${code}(?![0-9A-Za-z])`));
    }
  });
});
