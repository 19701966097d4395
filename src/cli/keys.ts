/**
 * `nova keys create --name <name> --scopes a,b`, `nova keys revoke <id>`, `nova keys list`:
 * API key administration on the database the server uses (DATABASE_URL, or the embedded
 * Postgres, joined when a server already runs it).
 *
 * `create` prints the new key alone on stdout, once (`KEY=$(nova keys create …)` works), and
 * its details on stderr; the key is never logged. Diagnostics go to stderr for that reason.
 */
import { parseArgs } from "node:util";
import pino, { type Logger } from "pino";
import {
  type ApiKeyRecord,
  ApiKeyStore,
  InvalidApiKeyRequestError,
  isKeyId,
} from "../auth/keys.js";
import { isScope, type Scope, scopes } from "../auth/scopes.js";
import { type Config, loadConfig } from "../config/config.js";
import { migrate } from "../db/migrate.js";
import { createPool } from "../db/pool.js";
import { openDatabase } from "./connect.js";

export const keysUsage = `Usage:
  nova keys create --name <name> --scopes <scope,scope,…>
  nova keys revoke <key id>
  nova keys list

Scopes: ${scopes.join(", ")} (admin implies every scope).
create prints the key once on stdout; only its hash is stored.`;

/** Where the command writes: stdout for results, stderr for everything else. */
export interface KeysOutput {
  out(line: string): void;
  err(line: string): void;
}

export interface KeysCommandOptions {
  readonly environment?: NodeJS.ProcessEnv;
  readonly output?: KeysOutput;
}

const processOutput: KeysOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** Exit codes: 0 done, 1 the key to revoke does not exist, 2 a usage error. */
export type KeysExitCode = 0 | 1 | 2;

export type KeysRequest =
  | { readonly action: "create"; readonly name: string; readonly scopes: readonly Scope[] }
  | { readonly action: "revoke"; readonly id: string }
  | { readonly action: "list" };

class KeysUsageError extends Error {
  override readonly name = "KeysUsageError";
}

/** The `nova keys …` entry of src/cli/main.ts: `args` are the words after `keys`. */
export async function keysCommand(args: readonly string[]): Promise<void> {
  process.exitCode = await runKeysCommand(args);
}

export async function runKeysCommand(
  args: readonly string[],
  options: KeysCommandOptions = {},
): Promise<KeysExitCode> {
  const output = options.output ?? processOutput;
  let request: KeysRequest;
  try {
    request = parseKeysArgs(args);
  } catch (error) {
    if (!(error instanceof KeysUsageError)) throw error;
    output.err(`${error.message}\n\n${keysUsage}`);
    return 2;
  }
  const config = loadConfig(options.environment ?? process.env);
  return withKeyStore(config, (store) => runKeysRequest(store, request, output));
}

/** Runs one parsed request against a store; exported for callers that hold a pool already. */
export async function runKeysRequest(
  store: ApiKeyStore,
  request: KeysRequest,
  output: KeysOutput,
): Promise<KeysExitCode> {
  switch (request.action) {
    case "create":
      return createKey(store, request, output);
    case "revoke":
      return revokeKey(store, request.id, output);
    case "list":
      return listKeys(store, output);
  }
}

async function createKey(
  store: ApiKeyStore,
  request: { readonly name: string; readonly scopes: readonly Scope[] },
  output: KeysOutput,
): Promise<KeysExitCode> {
  try {
    const created = await store.create({ name: request.name, scopes: request.scopes });
    output.err(
      `created key ${created.id} "${created.name}" (prefix ${created.prefix}, principal ` +
        `${created.principal}, scopes ${created.scopes.join(",")}).\n` +
        "Store the key printed below now: it is not shown again.",
    );
    output.out(created.key);
    return 0;
  } catch (error) {
    if (!(error instanceof InvalidApiKeyRequestError)) throw error;
    output.err(`${error.message}\n\n${keysUsage}`);
    return 2;
  }
}

async function revokeKey(store: ApiKeyStore, id: string, output: KeysOutput) {
  const revoked = await store.revoke(id);
  if (revoked === undefined) {
    output.err(`no API key with id ${id}`);
    return 1;
  }
  output.out(
    `revoked key ${revoked.id} "${revoked.name}" at ${revoked.revokedAt?.toISOString()}; ` +
      "running servers refuse it within a few seconds",
  );
  return 0;
}

async function listKeys(store: ApiKeyStore, output: KeysOutput): Promise<KeysExitCode> {
  const keys = await store.list();
  const header = ["id", "name", "prefix", "scopes", "created", "revoked"];
  const rows = keys.map(listRow);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)),
  );
  for (const row of [header, ...rows]) {
    output.out(
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join("  ")
        .trimEnd(),
    );
  }
  return 0;
}

function listRow(key: ApiKeyRecord): string[] {
  return [
    key.id,
    key.name,
    key.prefix,
    key.scopes.join(","),
    key.createdAt.toISOString(),
    key.revokedAt?.toISOString() ?? "-",
  ];
}

export function parseKeysArgs(args: readonly string[]): KeysRequest {
  let parsed: ReturnType<typeof parseKeyOptions>;
  try {
    parsed = parseKeyOptions(args);
  } catch (error) {
    throw new KeysUsageError(error instanceof Error ? error.message : String(error));
  }
  const [action, ...rest] = parsed.positionals;
  switch (action) {
    case "create":
      return parseCreate(parsed.values, rest);
    case "revoke":
      return parseRevoke(parsed.values, rest);
    case "list":
      expectNoMore(parsed.values, rest, "list");
      return { action: "list" };
    default:
      throw new KeysUsageError(
        action === undefined ? "name a keys command" : `unknown keys command "${action}"`,
      );
  }
}

function parseKeyOptions(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    options: { name: { type: "string" }, scopes: { type: "string" } },
    allowPositionals: true,
    strict: true,
  });
}

interface KeyOptionValues {
  readonly name?: string | undefined;
  readonly scopes?: string | undefined;
}

function parseCreate(values: KeyOptionValues, rest: readonly string[]): KeysRequest {
  if (rest.length > 0) throw new KeysUsageError(`unexpected "${rest.join(" ")}"`);
  const name = values.name?.trim();
  if (name === undefined || name === "") throw new KeysUsageError("create needs --name");
  if (values.scopes === undefined) throw new KeysUsageError("create needs --scopes");
  const requested = values.scopes
    .split(",")
    .map((scope) => scope.trim())
    .filter((scope) => scope !== "");
  const unknown = requested.filter((scope) => !isScope(scope));
  if (unknown.length > 0) throw new KeysUsageError(`unknown scope(s): ${unknown.join(", ")}`);
  if (requested.length === 0) throw new KeysUsageError("--scopes names no scope");
  return { action: "create", name, scopes: requested.filter(isScope) };
}

function parseRevoke(values: KeyOptionValues, rest: readonly string[]): KeysRequest {
  const [id, ...extra] = rest;
  if (id === undefined) throw new KeysUsageError("revoke needs the key id (see nova keys list)");
  expectNoMore(values, extra, "revoke");
  if (!isKeyId(id)) throw new KeysUsageError(`"${id}" is not a key id (a UUID)`);
  return { action: "revoke", id };
}

function expectNoMore(values: KeyOptionValues, rest: readonly string[], action: string): void {
  const given = [...rest, ...Object.keys(values).map((option) => `--${option}`)];
  if (given.length > 0) throw new KeysUsageError(`${action} takes no "${given.join(" ")}"`);
}

/** Opens the database (migrated, as the server would leave it), runs `use`, closes it all. */
async function withKeyStore<T>(config: Config, use: (store: ApiKeyStore) => Promise<T>) {
  const logger = stderrLogger(config);
  const database = await openDatabase(config, logger);
  try {
    await migrate(database.url);
    const pool = createPool({ connectionString: database.url, poolSizeMax: 2 });
    try {
      return await use(new ApiKeyStore(pool));
    } finally {
      await pool.end();
    }
  } finally {
    await database.embedded?.stop();
  }
}

/** stdout carries only the command's result (the key), so logs go to stderr. */
function stderrLogger(config: Pick<Config, "logLevel">): Logger {
  return pino({ level: config.logLevel }, pino.destination(2));
}
