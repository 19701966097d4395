/**
 * The server's configuration, read once from the environment and checked with Zod: a wrong
 * value stops the start with a message naming the variable, instead of surfacing later.
 * The README's configuration table lists the same variables; keep the two together.
 */
import { z } from "zod";

const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const port = z.coerce.number().int().min(1).max(65_535);
const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === "" ? undefined : value));

/** NOVA_SECRET_KEY: standard or URL-safe base64 (padding optional). */
const base64Pattern = /^[A-Za-z0-9+/_-]+={0,2}$/;
/** AES-256 needs 32 bytes; a shorter key would be padded entropy, not a key. */
export const secretKeyBytesMin = 32;

const environmentSchema = z.object({
  DATABASE_URL: optionalText,
  NOVA_DATA_DIR: z.string().min(1).default("./.nova"),
  NOVA_EMBEDDED_PG_PORT: port.default(54_329),
  PORT: port.default(3000),
  HOST: z.string().min(1).default("127.0.0.1"),
  NOVA_ADMIN_KEY: optionalText.refine((key) => key === undefined || key.length >= 32, {
    message: "must be at least 32 characters (use e.g. `openssl rand -hex 32`)",
  }),
  NOVA_SECRET_KEY: optionalText.refine(
    (key) =>
      key === undefined ||
      (base64Pattern.test(key) && Buffer.from(key, "base64").length >= secretKeyBytesMin),
    {
      message: `must be at least ${secretKeyBytesMin} random bytes in base64 (use e.g. \`openssl rand -base64 32\`)`,
    },
  ),
  NOVA_EVENT_STORE: z.enum(["postgres", "kurrentdb"]).default("postgres"),
  KURRENTDB_URL: optionalText,
  LOG_LEVEL: z.enum(logLevels).default("info"),
  NOVA_DB_POOL_SIZE: z.coerce.number().int().min(2).max(200).default(20),
});

export interface Config {
  /** Unset: Nova starts an embedded Postgres under `dataDir`. */
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly embeddedPostgresPort: number;
  readonly port: number;
  readonly host: string;
  readonly adminKey: string | undefined;
  /**
   * NOVA_SECRET_KEY, decoded: encrypts the principals' TOTP secrets at rest (src/auth/totp.ts).
   * Unset: step-up two-factor authentication is unavailable (503 TWO_FACTOR_UNAVAILABLE).
   */
  readonly secretKey: Buffer | undefined;
  readonly eventStore: "postgres" | "kurrentdb";
  readonly kurrentDbUrl: string | undefined;
  readonly logLevel: (typeof logLevels)[number];
  readonly databasePoolSizeMax: number;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export function loadConfig(environment: NodeJS.ProcessEnv = process.env): Config {
  const parsed = environmentSchema.safeParse(environment);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.join(".")}: ${issue.message}`,
    );
    throw new ConfigError(`invalid configuration:\n  ${problems.join("\n  ")}`);
  }
  const env = parsed.data;
  if (env.NOVA_EVENT_STORE === "kurrentdb" && env.KURRENTDB_URL === undefined) {
    throw new ConfigError(
      "invalid configuration:\n  KURRENTDB_URL: required when NOVA_EVENT_STORE=kurrentdb",
    );
  }
  return {
    databaseUrl: env.DATABASE_URL,
    dataDir: env.NOVA_DATA_DIR,
    embeddedPostgresPort: env.NOVA_EMBEDDED_PG_PORT,
    port: env.PORT,
    host: env.HOST,
    adminKey: env.NOVA_ADMIN_KEY,
    secretKey:
      env.NOVA_SECRET_KEY === undefined ? undefined : Buffer.from(env.NOVA_SECRET_KEY, "base64"),
    eventStore: env.NOVA_EVENT_STORE,
    kurrentDbUrl: env.KURRENTDB_URL,
    logLevel: env.LOG_LEVEL,
    databasePoolSizeMax: env.NOVA_DB_POOL_SIZE,
  };
}
