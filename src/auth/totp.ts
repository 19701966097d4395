/**
 * Step-up two-factor authentication: one TOTP secret (RFC 6238, via `otpauth`) per principal,
 * in the `principal_totp` table (migrations/010.do.totp.sql).
 *
 * - **Enrolment** gives the principal a new secret, shown once (as an `otpauth://` URI and in
 *   base32) and pending until a first code confirms it. A pending enrolment may be replaced by
 *   a new one at will; a confirmed one only by `replaceConfirmed` (the caller proved a current
 *   code first) or when it was sealed under a NOVA_SECRET_KEY the server no longer has.
 * - **At rest** the secret is sealed with AES-256-GCM under a key derived (HKDF-SHA-256) from
 *   NOVA_SECRET_KEY, with the principal's id as associated data, so a copied table or backup
 *   yields no secret, and a row's ciphertext does not open under another principal.
 * - **A code is accepted once**: the accepted code's time step is stored, and the update that
 *   stores it only succeeds when it is later than the last accepted one. Two requests racing
 *   with the same code both pass the check but only one update matches: the other is refused.
 *   Codes of older steps than the last accepted are refused too.
 * - **Guessing is throttled** (RFC 4226 §7.3): `failedAttemptsMax` wrong codes in a row lock
 *   the principal's second factor for `lockoutMs`, correct codes included.
 * - Time comes from the injected clock, so tests can stand on a step's edges.
 *
 * Nothing here logs; the secret leaves this module only in the enrolment's answer.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { Secret, TOTP } from "otpauth";
import type pg from "pg";

/** RFC 6238 defaults, which every authenticator app supports (SHA-1, 6 digits, 30 s). */
export const totpAlgorithm = "SHA1";
export const totpDigits = 6;
export const totpPeriodSeconds = 30;
/** RFC 4226 §4: at least 128 bits, 160 recommended (the HMAC-SHA-1 block's key length). */
export const totpSecretBytes = 20;
/**
 * Steps accepted either side of the current one: a code typed as it rolls over, or a phone
 * whose clock is up to 30 s off (RFC 6238 §5.2 recommends at most one step back).
 */
export const totpWindowSteps = 1;
export const totpIssuer = "Nova Ledger";
/** Wrong codes in a row before the second factor locks. */
export const failedAttemptsMax = 5;
/** How long a lock lasts: 5 guesses per 5 minutes leave a 6-digit code out of reach. */
export const lockoutMs = 5 * 60_000;
/** NOVA_SECRET_KEY's minimum length in bytes, as src/config/config.ts checks it. */
export const encryptionKeyBytesMin = 32;
/** What an enrolment's label may hold (the principal's name, shown in the authenticator). */
export const labelLengthMax = 100;

const codePattern = /^[0-9]{6}$/;
const nonceBytes = 12;
const keyIdBytes = 8;
const sealInfo = "nova-ledger/totp-secret/aes-256-gcm/v1";
const keyIdInfo = "nova-ledger/totp-secret/key-id/v1";

export type TotpStatus = "NONE" | "PENDING" | "CONFIRMED";

export interface TotpEnrolmentState {
  readonly status: TotpStatus;
  readonly enrolledAt: Date | null;
  readonly confirmedAt: Date | null;
  /** Set while wrong codes keep the second factor locked. */
  readonly lockedUntil: Date | null;
}

/** A new secret: the only time it exists outside the principal's authenticator. */
export interface TotpEnrolment {
  readonly otpauthUri: string;
  /** Base32, for typing into an authenticator app by hand. */
  readonly secret: string;
  readonly enrolledAt: Date;
}

/** Why a code was not accepted. */
export type TotpRefusal =
  /** Not six digits. */
  | "MALFORMED"
  | "NOT_ENROLLED"
  /** Enrolled, but no code confirmed the enrolment yet (step-up only). */
  | "NOT_CONFIRMED"
  | "WRONG"
  /** The code's step, or a later one, was already accepted. */
  | "REPLAYED"
  | "LOCKED"
  /** Sealed under another NOVA_SECRET_KEY: unreadable here; the principal enrols again. */
  | "KEY_CHANGED";

export type TotpCheck =
  | { readonly accepted: true; readonly step: number; readonly confirmedAt: Date }
  | { readonly accepted: false; readonly reason: TotpRefusal; readonly lockedUntil?: Date };

/** Step-up needs a confirmed enrolment; confirming one accepts a pending enrolment too. */
export type TotpPurpose = "step-up" | "confirm";

/** The store was built without NOVA_SECRET_KEY: nothing can be sealed or opened. */
export class TotpUnavailableError extends Error {
  override readonly name = "TotpUnavailableError";
  constructor() {
    super("NOVA_SECRET_KEY is not set: two-factor authentication is unavailable");
  }
}

export interface TotpStoreOptions {
  /** NOVA_SECRET_KEY, decoded (≥ 32 bytes); absent: enrolment and checks are unavailable. */
  readonly encryptionKey: Buffer | undefined;
  /** Milliseconds since the epoch; `Date.now` unless a test stands on a step's edge. */
  readonly clockMs?: () => number;
}

interface SealingKey {
  readonly key: Buffer;
  readonly id: string;
}

interface SealedSecret {
  readonly nonce: Buffer;
  readonly ciphertext: Buffer;
  readonly tag: Buffer;
}

interface TotpRow {
  secret_nonce: Buffer;
  secret_ciphertext: Buffer;
  secret_tag: Buffer;
  key_id: string;
  enrolled_at: Date;
  confirmed_at: Date | null;
  last_step: string | null;
  locked_until: Date | null;
}

export class TotpStore {
  private readonly sealing: SealingKey | undefined;
  private readonly clockMs: () => number;

  constructor(
    private readonly pool: pg.Pool,
    options: TotpStoreOptions,
  ) {
    this.sealing =
      options.encryptionKey === undefined ? undefined : sealingKey(options.encryptionKey);
    this.clockMs = options.clockMs ?? Date.now;
  }

  /** Whether the server has NOVA_SECRET_KEY, without which nothing can be enrolled or checked. */
  get available(): boolean {
    return this.sealing !== undefined;
  }

  async state(principalId: string): Promise<TotpEnrolmentState> {
    const row = await this.row(principalId);
    if (row === undefined) {
      return { status: "NONE", enrolledAt: null, confirmedAt: null, lockedUntil: null };
    }
    const locked = row.locked_until !== null && row.locked_until.getTime() > this.clockMs();
    return {
      status: row.confirmed_at === null ? "PENDING" : "CONFIRMED",
      enrolledAt: row.enrolled_at,
      confirmedAt: row.confirmed_at,
      lockedUntil: locked ? row.locked_until : null,
    };
  }

  /**
   * A new secret for the principal, pending until `check(…, "confirm")` accepts a code of it.
   * Undefined when a confirmed enrolment stands and may not be replaced.
   */
  async enrol(
    principalId: string,
    label: string,
    options: { readonly replaceConfirmed?: boolean } = {},
  ): Promise<TotpEnrolment | undefined> {
    const sealing = this.requireSealing();
    const secret = new Secret({ size: totpSecretBytes });
    const sealed = seal(sealing.key, principalId, Buffer.from(secret.bytes));
    const enrolledAt = new Date(this.clockMs());
    const result = await this.pool.query(
      `INSERT INTO principal_totp AS current
         (principal, secret_nonce, secret_ciphertext, secret_tag, key_id, enrolled_at)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (principal) DO UPDATE SET
         secret_nonce = EXCLUDED.secret_nonce,
         secret_ciphertext = EXCLUDED.secret_ciphertext,
         secret_tag = EXCLUDED.secret_tag,
         key_id = EXCLUDED.key_id,
         enrolled_at = EXCLUDED.enrolled_at,
         confirmed_at = NULL,
         last_step = NULL,
         failed_attempts = 0,
         locked_until = NULL
       WHERE current.confirmed_at IS NULL OR current.key_id <> EXCLUDED.key_id OR $7
       RETURNING principal`,
      [
        principalId,
        sealed.nonce,
        sealed.ciphertext,
        sealed.tag,
        sealing.id,
        enrolledAt,
        options.replaceConfirmed === true,
      ],
    );
    if (result.rowCount !== 1) return undefined;
    const totp = totpOf(secret, label.slice(0, labelLengthMax));
    return { otpauthUri: totp.toString(), secret: secret.base32, enrolledAt };
  }

  /**
   * Accepts `code` at most once: for a step-up the enrolment must be confirmed; `confirm`
   * confirms a pending one with it. A wrong code counts towards the lock.
   */
  async check(principalId: string, code: string, purpose: TotpPurpose): Promise<TotpCheck> {
    const sealing = this.requireSealing();
    if (!codePattern.test(code)) return refused("MALFORMED");
    const row = await this.row(principalId);
    if (row === undefined) return refused("NOT_ENROLLED");
    if (row.key_id !== sealing.id) return refused("KEY_CHANGED");
    if (purpose === "step-up" && row.confirmed_at === null) return refused("NOT_CONFIRMED");
    const nowMs = this.clockMs();
    if (row.locked_until !== null && row.locked_until.getTime() > nowMs) {
      return { accepted: false, reason: "LOCKED", lockedUntil: row.locked_until };
    }
    const secret = open(sealing.key, principalId, row);
    const step = matchingStep(secret, code, nowMs);
    if (step === undefined) return this.countFailure(principalId, nowMs);
    if (row.last_step !== null && step <= Number(row.last_step)) return refused("REPLAYED");
    return this.consume(principalId, row, step, nowMs);
  }

  /** Stores the accepted step, unless a concurrent check accepted this step (or a later) first. */
  private async consume(
    principalId: string,
    row: TotpRow,
    step: number,
    nowMs: number,
  ): Promise<TotpCheck> {
    const result = await this.pool.query<{ confirmed_at: Date }>(
      `UPDATE principal_totp
          SET last_step = $2, failed_attempts = 0, confirmed_at = coalesce(confirmed_at, $3)
        WHERE principal = $1 AND secret_nonce = $4
          AND (last_step IS NULL OR last_step < $2)
          AND (locked_until IS NULL OR locked_until <= $3)
        RETURNING confirmed_at`,
      [principalId, step, new Date(nowMs), row.secret_nonce],
    );
    const confirmed = result.rows[0];
    // No row: another request took this step first, or the secret was replaced meanwhile.
    if (confirmed === undefined) return refused("REPLAYED");
    return { accepted: true, step, confirmedAt: confirmed.confirmed_at };
  }

  /** One more wrong code; the one that reaches the limit locks and starts the count afresh. */
  private async countFailure(principalId: string, nowMs: number): Promise<TotpCheck> {
    const result = await this.pool.query<{ locked_until: Date | null }>(
      `UPDATE principal_totp SET
         failed_attempts = CASE WHEN failed_attempts + 1 >= $2 THEN 0 ELSE failed_attempts + 1 END,
         locked_until = CASE WHEN failed_attempts + 1 >= $2 THEN $3 ELSE locked_until END
       WHERE principal = $1
       RETURNING locked_until`,
      [principalId, failedAttemptsMax, new Date(nowMs + lockoutMs)],
    );
    const lockedUntil = result.rows[0]?.locked_until;
    const locked =
      lockedUntil !== undefined && lockedUntil !== null && lockedUntil.getTime() > nowMs;
    return locked ? { accepted: false, reason: "LOCKED", lockedUntil } : refused("WRONG");
  }

  private async row(principalId: string): Promise<TotpRow | undefined> {
    const result = await this.pool.query<TotpRow>(
      `SELECT secret_nonce, secret_ciphertext, secret_tag, key_id, enrolled_at, confirmed_at,
              last_step, locked_until
         FROM principal_totp WHERE principal = $1`,
      [principalId],
    );
    return result.rows[0];
  }

  private requireSealing(): SealingKey {
    if (this.sealing === undefined) throw new TotpUnavailableError();
    return this.sealing;
  }
}

/** The time step (RFC 6238 T) of `nowMs`. */
export function timeStepOf(nowMs: number): number {
  return Math.floor(nowMs / 1_000 / totpPeriodSeconds);
}

/** The step within the window whose code `code` is, or undefined. */
function matchingStep(secret: Secret, code: string, nowMs: number): number | undefined {
  const delta = TOTP.validate({
    token: code,
    secret,
    algorithm: totpAlgorithm,
    digits: totpDigits,
    period: totpPeriodSeconds,
    timestamp: nowMs,
    window: totpWindowSteps,
  });
  return delta === null ? undefined : timeStepOf(nowMs) + delta;
}

function totpOf(secret: Secret, label: string): TOTP {
  return new TOTP({
    issuer: totpIssuer,
    label,
    algorithm: totpAlgorithm,
    digits: totpDigits,
    period: totpPeriodSeconds,
    secret,
  });
}

function refused(reason: TotpRefusal): TotpCheck {
  return { accepted: false, reason };
}

/**
 * The AES-256 key and its public id, both derived from NOVA_SECRET_KEY with HKDF under
 * different labels: the id tells which key sealed a row without revealing anything of the key.
 */
function sealingKey(encryptionKey: Buffer): SealingKey {
  if (encryptionKey.length < encryptionKeyBytesMin) {
    throw new RangeError(`the TOTP encryption key needs at least ${encryptionKeyBytesMin} bytes`);
  }
  const derive = (info: string, bytes: number) =>
    Buffer.from(hkdfSync("sha256", encryptionKey, Buffer.alloc(0), info, bytes));
  return { key: derive(sealInfo, 32), id: derive(keyIdInfo, keyIdBytes).toString("hex") };
}

function associatedData(principalId: string): Buffer {
  return Buffer.from(`principal_totp\n${principalId}`, "utf8");
}

function seal(key: Buffer, principalId: string, secret: Buffer): SealedSecret {
  const nonce = randomBytes(nonceBytes);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(associatedData(principalId));
  const ciphertext = Buffer.concat([cipher.update(secret), cipher.final()]);
  return { nonce, ciphertext, tag: cipher.getAuthTag() };
}

/** Opens a row's secret; a row that fails authentication was tampered with: that is loud. */
function open(key: Buffer, principalId: string, row: TotpRow): Secret {
  const decipher = createDecipheriv("aes-256-gcm", key, row.secret_nonce);
  decipher.setAAD(associatedData(principalId));
  decipher.setAuthTag(row.secret_tag);
  const bytes = Buffer.concat([decipher.update(row.secret_ciphertext), decipher.final()]);
  return new Secret({ buffer: toArrayBuffer(bytes) });
}

function toArrayBuffer(bytes: Buffer): ArrayBuffer {
  const copy = new ArrayBuffer(bytes.length);
  new Uint8Array(copy).set(bytes);
  return copy;
}
