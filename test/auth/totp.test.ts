/**
 * The TOTP store on a real database, as the least-privilege role the server works as: codes
 * accepted once, the window's edges on an injected clock, the lock after wrong codes, and the
 * secret sealed at rest.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { Secret, TOTP, URI } from "otpauth";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  failedAttemptsMax,
  lockoutMs,
  TotpStore,
  TotpUnavailableError,
  timeStepOf,
  totpPeriodSeconds,
} from "../../src/auth/totp.js";
import { createPool } from "../../src/db/pool.js";
import { appRole } from "../../src/db/roles.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

const stepMs = totpPeriodSeconds * 1_000;
/** A step well inside any plausible epoch, so the window never reaches step 0. */
const baseStep = 59_000_000;

let database: TestDatabase;
let appPool: pg.Pool;
let nowMs = baseStep * stepMs;
const encryptionKey = randomBytes(32);

function storeWith(key: Buffer = encryptionKey): TotpStore {
  return new TotpStore(appPool, { encryptionKey: key, clockMs: () => nowMs });
}

function codeAt(secret: string, step: number): string {
  return TOTP.generate({
    secret: Secret.fromBase32(secret),
    algorithm: "SHA1",
    digits: 6,
    period: totpPeriodSeconds,
    timestamp: step * stepMs,
  });
}

/** A principal enrolled and confirmed at `baseStep`, its clock back at the start of that step. */
async function confirmedPrincipal(store: TotpStore): Promise<{ id: string; secret: string }> {
  const id = `key:${randomUUID()}`;
  nowMs = baseStep * stepMs;
  const enrolment = await store.enrol(id, "test");
  if (enrolment === undefined) throw new Error("not enrolled");
  const check = await store.check(id, codeAt(enrolment.secret, baseStep), "confirm");
  expect(check.accepted).toBe(true);
  return { id, secret: enrolment.secret };
}

beforeAll(async () => {
  database = await createTestDatabase();
  appPool = createPool({ connectionString: database.connectionString, role: appRole });
});

afterAll(async () => {
  await appPool.end();
  await database.drop();
});

describe("enrolment", () => {
  it("gives an otpauth URI an authenticator app reads, with the secret also in base32", async () => {
    const enrolment = await storeWith().enrol("key:uri", "agent app");
    expect(enrolment).toBeDefined();
    const parsed = URI.parse(enrolment?.otpauthUri ?? "");
    expect(parsed).toBeInstanceOf(TOTP);
    expect(parsed).toMatchObject({
      issuer: "Nova Ledger",
      label: "agent app",
      algorithm: "SHA1",
      digits: 6,
      period: 30,
    });
    expect(parsed.secret.base32).toBe(enrolment?.secret);
    expect(Secret.fromBase32(enrolment?.secret ?? "").bytes).toHaveLength(20);
  });

  it("stores the secret sealed: neither its bytes nor its base32 are in the row", async () => {
    const enrolment = await storeWith().enrol("key:sealed", "sealed");
    const secretBytes = Buffer.from(Secret.fromBase32(enrolment?.secret ?? "").bytes);
    const { rows } = await database.pool.query(
      "SELECT * FROM principal_totp WHERE principal = 'key:sealed'",
    );
    const row = rows[0];
    expect(row.confirmed_at).toBeNull();
    const stored = Buffer.concat([row.secret_nonce, row.secret_ciphertext, row.secret_tag]);
    expect(stored.includes(secretBytes)).toBe(false);
    expect(JSON.stringify(row)).not.toContain(enrolment?.secret);
  });

  it("is pending until a code confirms it: a step-up before that is refused", async () => {
    const store = storeWith();
    nowMs = baseStep * stepMs;
    const enrolment = await store.enrol("key:pending", "pending");
    const code = codeAt(enrolment?.secret ?? "", baseStep);
    expect(await store.check("key:pending", code, "step-up")).toEqual({
      accepted: false,
      reason: "NOT_CONFIRMED",
    });
    expect((await store.state("key:pending")).status).toBe("PENDING");
    expect(await store.check("key:pending", code, "confirm")).toMatchObject({
      accepted: true,
      step: baseStep,
    });
    expect((await store.state("key:pending")).status).toBe("CONFIRMED");
  });

  it("a pending enrolment is replaced by a new one; the old secret stops working", async () => {
    const store = storeWith();
    nowMs = baseStep * stepMs;
    const first = await store.enrol("key:again", "again");
    const second = await store.enrol("key:again", "again");
    expect(second?.secret).not.toBe(first?.secret);
    expect(
      await store.check("key:again", codeAt(first?.secret ?? "", baseStep), "confirm"),
    ).toEqual({ accepted: false, reason: "WRONG" });
    const check = await store.check("key:again", codeAt(second?.secret ?? "", baseStep), "confirm");
    expect(check.accepted).toBe(true);
  });

  it("a confirmed enrolment stays unless replacing it was allowed", async () => {
    const store = storeWith();
    const principal = await confirmedPrincipal(store);
    expect(await store.enrol(principal.id, "again")).toBeUndefined();
    nowMs += stepMs;
    expect(
      (await store.check(principal.id, codeAt(principal.secret, baseStep + 1), "step-up")).accepted,
    ).toBe(true);
    const replaced = await store.enrol(principal.id, "again", { replaceConfirmed: true });
    expect(replaced).toBeDefined();
    expect((await store.state(principal.id)).status).toBe("PENDING");
  });

  it("without NOVA_SECRET_KEY nothing can be enrolled or checked", async () => {
    const store = new TotpStore(appPool, { encryptionKey: undefined });
    expect(store.available).toBe(false);
    await expect(store.enrol("key:none", "none")).rejects.toBeInstanceOf(TotpUnavailableError);
    await expect(store.check("key:none", "123456", "step-up")).rejects.toBeInstanceOf(
      TotpUnavailableError,
    );
  });

  it("a secret sealed under another NOVA_SECRET_KEY is refused as such and may be re-enrolled", async () => {
    const principal = await confirmedPrincipal(storeWith());
    const rotated = storeWith(randomBytes(32));
    nowMs += stepMs;
    expect(
      await rotated.check(principal.id, codeAt(principal.secret, baseStep + 1), "step-up"),
    ).toEqual({ accepted: false, reason: "KEY_CHANGED" });
    expect(await rotated.enrol(principal.id, "new key")).toBeDefined();
  });

  it("a sealed secret copied to another principal's row does not open", async () => {
    const store = storeWith();
    const principal = await confirmedPrincipal(store);
    await store.enrol("key:victim", "victim");
    await database.pool.query(
      `UPDATE principal_totp AS victim
          SET secret_nonce = source.secret_nonce, secret_ciphertext = source.secret_ciphertext,
              secret_tag = source.secret_tag, confirmed_at = source.confirmed_at
         FROM principal_totp AS source
        WHERE victim.principal = 'key:victim' AND source.principal = $1`,
      [principal.id],
    );
    nowMs += stepMs;
    await expect(
      store.check("key:victim", codeAt(principal.secret, baseStep + 1), "step-up"),
    ).rejects.toThrow(/authenticate/);
  });
});

describe("checking a code", () => {
  it("accepts a code once; the same code again is refused as a replay", async () => {
    const store = storeWith();
    const principal = await confirmedPrincipal(store);
    nowMs = (baseStep + 1) * stepMs;
    const code = codeAt(principal.secret, baseStep + 1);
    expect(await store.check(principal.id, code, "step-up")).toMatchObject({
      accepted: true,
      step: baseStep + 1,
    });
    expect(await store.check(principal.id, code, "step-up")).toEqual({
      accepted: false,
      reason: "REPLAYED",
    });
    nowMs += stepMs;
    const next = codeAt(principal.secret, baseStep + 2);
    expect((await store.check(principal.id, next, "step-up")).accepted).toBe(true);
  });

  it("the confirming code is used up too", async () => {
    const store = storeWith();
    const principal = await confirmedPrincipal(store);
    expect(await store.check(principal.id, codeAt(principal.secret, baseStep), "step-up")).toEqual({
      accepted: false,
      reason: "REPLAYED",
    });
  });

  it("refuses a code older than the last one accepted, though still in the window", async () => {
    const store = storeWith();
    const principal = await confirmedPrincipal(store);
    nowMs = (baseStep + 2) * stepMs;
    expect(
      (await store.check(principal.id, codeAt(principal.secret, baseStep + 2), "step-up")).accepted,
    ).toBe(true);
    expect(
      await store.check(principal.id, codeAt(principal.secret, baseStep + 1), "step-up"),
    ).toEqual({ accepted: false, reason: "REPLAYED" });
  });

  it("of two requests racing with one code, exactly one is accepted", async () => {
    const store = storeWith();
    const principal = await confirmedPrincipal(store);
    nowMs = (baseStep + 1) * stepMs;
    const code = codeAt(principal.secret, baseStep + 1);
    const checks = await Promise.all(
      Array.from({ length: 8 }, () => store.check(principal.id, code, "step-up")),
    );
    expect(checks.filter((check) => check.accepted)).toHaveLength(1);
    expect(checks.filter((check) => !check.accepted && check.reason === "REPLAYED")).toHaveLength(
      7,
    );
  });

  it.each([
    ["the last millisecond of the step before (one step early)", 10, 9, stepMs - 1, true],
    ["the first millisecond of the step before", 10, 9, 0, true],
    ["its own step", 10, 10, stepMs / 2, true],
    ["the last millisecond of the step after (one step late)", 10, 11, stepMs - 1, true],
    ["the first millisecond two steps after", 10, 12, 0, false],
    ["the last millisecond two steps before", 10, 8, stepMs - 1, false],
  ])(
    "a code checked at %s: accepted %s",
    async (_when, codeStep, clockStep, offsetMs, accepted) => {
      const store = storeWith();
      const principal = await confirmedPrincipal(store);
      nowMs = (baseStep + clockStep) * stepMs + offsetMs;
      expect(timeStepOf(nowMs)).toBe(baseStep + clockStep);
      const check = await store.check(
        principal.id,
        codeAt(principal.secret, baseStep + codeStep),
        "step-up",
      );
      expect(check.accepted).toBe(accepted);
      if (!check.accepted) expect(check.reason).toBe("WRONG");
    },
  );

  it("refuses a wrong code, a malformed one and a principal who never enrolled", async () => {
    const store = storeWith();
    const principal = await confirmedPrincipal(store);
    nowMs += stepMs;
    const right = codeAt(principal.secret, baseStep + 1);
    const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, "0");
    expect(await store.check(principal.id, wrong, "step-up")).toEqual({
      accepted: false,
      reason: "WRONG",
    });
    for (const malformed of ["", "12345", "1234567", "12a456", " 123456"]) {
      expect(await store.check(principal.id, malformed, "step-up")).toEqual({
        accepted: false,
        reason: "MALFORMED",
      });
    }
    expect(await store.check("key:nobody", right, "step-up")).toEqual({
      accepted: false,
      reason: "NOT_ENROLLED",
    });
    expect((await store.check(principal.id, right, "step-up")).accepted).toBe(true);
  });

  it(`locks after ${failedAttemptsMax} wrong codes in a row, the right one included, until the lock ends`, async () => {
    const store = storeWith();
    const principal = await confirmedPrincipal(store);
    nowMs = (baseStep + 1) * stepMs;
    const right = codeAt(principal.secret, baseStep + 1);
    const wrong = String((Number(right) + 7) % 1_000_000).padStart(6, "0");
    for (let attempt = 1; attempt < failedAttemptsMax; attempt++) {
      expect(await store.check(principal.id, wrong, "step-up")).toEqual({
        accepted: false,
        reason: "WRONG",
      });
    }
    const locking = await store.check(principal.id, wrong, "step-up");
    expect(locking).toMatchObject({ accepted: false, reason: "LOCKED" });
    expect(await store.check(principal.id, right, "step-up")).toMatchObject({
      accepted: false,
      reason: "LOCKED",
    });
    expect((await store.state(principal.id)).lockedUntil).toEqual(new Date(nowMs + lockoutMs));
    nowMs += lockoutMs;
    const later = codeAt(principal.secret, timeStepOf(nowMs));
    expect((await store.check(principal.id, later, "step-up")).accepted).toBe(true);
  });

  it("a right code resets the count of wrong ones", async () => {
    const store = storeWith();
    const principal = await confirmedPrincipal(store);
    const wrongAt = (step: number) =>
      String((Number(codeAt(principal.secret, step)) + 3) % 1_000_000).padStart(6, "0");
    nowMs = (baseStep + 1) * stepMs;
    for (let attempt = 1; attempt < failedAttemptsMax; attempt++) {
      await store.check(principal.id, wrongAt(baseStep + 1), "step-up");
    }
    const right = codeAt(principal.secret, baseStep + 1);
    expect((await store.check(principal.id, right, "step-up")).accepted).toBe(true);
    nowMs += stepMs;
    expect(await store.check(principal.id, wrongAt(baseStep + 2), "step-up")).toMatchObject({
      reason: "WRONG",
    });
  });
});
