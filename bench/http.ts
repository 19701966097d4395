/**
 * End-to-end throughput of `POST /v1/postings`: the real server (`nova serve`, in a child
 * process, on a fresh embedded Postgres) driven over HTTP by autocannon at 128 connections,
 * for uniform random transfers between funded wallets and for a hot account (every posting
 * credits one merchant account).
 *
 * Usage: npm run bench:http -- [--seconds N] [--accounts N] [--connections N]
 *          [--workload uniform|hot|both] [--json] [--cpu-prof DIR] [--log-level LEVEL]
 *
 * With --json, one line per workload:
 *   {"workload":"uniform","postingsPerSecond":n,"p50Ms":n,"p99Ms":n,"non2xx":n,"serverCpuUsPerPosting":n}
 *
 * `serverCpuUsPerPosting` is the server process's CPU time (user + system, from its own
 * `process_cpu_seconds_total`) over the run, divided by the 2xx answers: steadier than
 * postings/s when the machine is shared.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { once } from "node:events";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import {
  freePort,
  openBenchDatabase,
  positiveOption,
  type WorkloadName,
  workloadsOf,
} from "./support.js";

interface Options {
  readonly seconds: number;
  readonly accounts: number;
  readonly connections: number;
  readonly workloads: readonly WorkloadName[];
  readonly json: boolean;
  /** A directory for the server's V8 CPU profile (open it in Chrome DevTools). */
  readonly cpuProfileDir: string | undefined;
  /** The server's LOG_LEVEL (default warn: no line per request). */
  readonly logLevel: string;
}

const currency = "XCD";
/** Each wallet starts with this much, so no transfer of the run is refused for funds. */
const fundingValue = "1000000.00";
/** Requests in flight while the accounts are set up. */
const setupConcurrency = 64;
const serverStartWaitMsMax = 120_000;
/** LOG_LEVEL values (README); `info` writes a line per request, as a server usually runs. */
const serverLogLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      seconds: { type: "string", default: "20" },
      accounts: { type: "string", default: "10000" },
      connections: { type: "string", default: "128" },
      workload: { type: "string", default: "both" },
      json: { type: "boolean", default: false },
      "cpu-prof": { type: "string" },
      "log-level": { type: "string", default: "warn" },
    },
  });
  const logLevel = values["log-level"];
  if (!serverLogLevels.includes(logLevel)) {
    throw new Error(`--log-level must be one of ${serverLogLevels.join(", ")}`);
  }
  return {
    seconds: positiveOption("seconds", values.seconds),
    accounts: Math.max(2, positiveOption("accounts", values.accounts)),
    connections: positiveOption("connections", values.connections),
    workloads: workloadsOf(values.workload),
    json: values.json,
    cpuProfileDir: values["cpu-prof"],
    logLevel,
  };
}

class Client {
  constructor(
    readonly baseUrl: string,
    private readonly key: string,
  ) {}

  get headers(): Record<string, string> {
    return { authorization: `Bearer ${this.key}`, "content-type": "application/json" };
  }

  async post(path: string, body: unknown): Promise<{ id: string; position: string }> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method: "POST",
      headers: this.headers,
      body: JSON.stringify(body),
    });
    const answer = (await response.json()) as { id: string; position: string };
    if (response.status !== 201)
      throw new Error(`${path}: ${response.status} ${JSON.stringify(answer)}`);
    return answer;
  }

  /** The server's own metrics: reads one unlabelled series of the Prometheus text. */
  async metrics(): Promise<(series: string) => number> {
    const text = await (await fetch(`${this.baseUrl}/metrics`)).text();
    return (series: string) => {
      const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `));
      return line === undefined ? Number.NaN : Number(line.slice(series.length + 1));
    };
  }

  /** Mean batch size and append duration so far, from the server's own metrics. */
  async batching(): Promise<{ meanBatch: number; meanAppendMs: number }> {
    const value = await this.metrics();
    const batches = value("nova_command_batch_size_count");
    return {
      meanBatch: value("nova_command_batch_size_sum") / batches,
      meanAppendMs: (1_000 * value("nova_append_duration_seconds_sum")) / batches,
    };
  }

  /** The server process's CPU time so far (user + system), in seconds. */
  async cpuSeconds(): Promise<number> {
    return (await this.metrics())("process_cpu_seconds_total");
  }

  async health(): Promise<{ status: string; checks: { projections: { lag: number } } }> {
    const response = await fetch(`${this.baseUrl}/v1/health`);
    return (await response.json()) as { status: string; checks: { projections: { lag: number } } };
  }
}

async function inParallel<T>(count: number, work: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  const worker = async () => {
    for (let index = next++; index < count; index = next++) results[index] = await work(index);
  };
  await Promise.all(Array.from({ length: Math.min(setupConcurrency, count) }, worker));
  return results;
}

function transfer(from: string, to: string, value: string) {
  return {
    entries: [
      { accountId: from, side: "DEBIT", amount: { value, currency } },
      { accountId: to, side: "CREDIT", amount: { value, currency } },
    ],
  };
}

async function setUp(client: Client, accounts: number) {
  await client.post("/v1/account-types", {
    // Codes of its own: a first start has already defined the catalogue's (SUSPENSE among them).
    code: "BENCH_WALLET",
    name: "Bench wallet",
    normalBalance: "CREDIT",
    allowNegative: false,
  });
  await client.post("/v1/account-types", {
    code: "BENCH_FUNDING",
    name: "Bench funding",
    normalBalance: "DEBIT",
    allowNegative: true,
  });
  const funding = (await client.post("/v1/accounts", { accountType: "BENCH_FUNDING", currency }))
    .id;
  const wallets = await inParallel(accounts, async () => {
    return (await client.post("/v1/accounts", { accountType: "BENCH_WALLET", currency })).id;
  });
  await inParallel(accounts, (index) =>
    client.post("/v1/postings", transfer(funding, wallets[index] ?? "", fundingValue)),
  );
  const hot = (await client.post("/v1/accounts", { accountType: "BENCH_WALLET", currency })).id;
  return { wallets, hot };
}

function amount(): string {
  return `${randomInt(1, 100)}.${String(randomInt(0, 100)).padStart(2, "0")}`;
}

async function runWorkload(
  client: Client,
  options: Options,
  name: WorkloadName,
  accounts: { wallets: readonly string[]; hot: string },
) {
  const { wallets, hot } = accounts;
  const pick = () => wallets[randomInt(wallets.length)] ?? "";
  const body = (): string => {
    const payer = pick();
    let payee = name === "hot" ? hot : pick();
    while (payee === payer) payee = pick();
    return JSON.stringify(transfer(payer, payee, amount()));
  };
  const cpuSecondsBefore = await client.cpuSeconds();
  const result = await autocannon({
    url: client.baseUrl,
    connections: options.connections,
    duration: options.seconds,
    requests: [
      {
        method: "POST",
        path: "/v1/postings",
        headers: client.headers,
        setupRequest: (request) => ({ ...request, body: body() }),
      },
    ],
  });
  const cpuSeconds = (await client.cpuSeconds()) - cpuSecondsBefore;
  const health = await client.health();
  const batching = await client.batching();
  return {
    workload: name,
    postingsPerSecond: Math.round(result["2xx"] / options.seconds),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    projectionLagEvents: health.checks.projections.lag,
    serverCpuUsPerPosting: Math.round((1e6 * cpuSeconds) / Math.max(1, result["2xx"])),
    ...batching,
  };
}

async function startServer(
  databaseUrl: string,
  key: string,
  { cpuProfileDir, logLevel }: Pick<Options, "cpuProfileDir" | "logLevel">,
): Promise<{ child: ChildProcess; baseUrl: string }> {
  const port = await freePort();
  const profile =
    cpuProfileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${cpuProfileDir}`];
  const child = spawn(
    process.execPath,
    [...profile, "--import", "tsx", "src/cli/main.ts", "serve"],
    {
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        PORT: String(port),
        HOST: "127.0.0.1",
        NOVA_ADMIN_KEY: key,
        LOG_LEVEL: logLevel,
        NODE_ENV: "production",
      },
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + serverStartWaitMsMax;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`);
    const up = await fetch(`${baseUrl}/v1/health`).then(
      (response) => response.ok,
      () => false,
    );
    if (up) return { child, baseUrl };
    if (Date.now() > deadline) throw new Error("the server did not become healthy in time");
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const database = await openBenchDatabase("full");
  const key = randomBytes(32).toString("base64url");
  let child: ChildProcess | undefined;
  try {
    const server = await startServer(database.connectionString, key, options);
    child = server.child;
    const client = new Client(server.baseUrl, key);
    const log = (line: string) =>
      (options.json ? process.stderr : process.stdout).write(`${line}\n`);
    log(`bench:http on ${database.origin}; server at ${server.baseUrl}`);
    log(`setting up ${options.accounts} funded wallets…`);
    const setupStarted = performance.now();
    const accounts = await setUp(client, options.accounts);
    log(`set up in ${((performance.now() - setupStarted) / 1_000).toFixed(1)} s`);
    for (const name of options.workloads) {
      const figures = await runWorkload(client, options, name, accounts);
      if (options.json) {
        const { workload, postingsPerSecond, p50Ms, p99Ms, non2xx, serverCpuUsPerPosting } =
          figures;
        console.log(
          JSON.stringify({
            workload,
            postingsPerSecond,
            p50Ms,
            p99Ms,
            non2xx,
            serverCpuUsPerPosting,
          }),
        );
      } else {
        log(
          `${name.padEnd(8)} ${figures.postingsPerSecond} postings/s  p50 ${figures.p50Ms} ms  ` +
            `p99 ${figures.p99Ms} ms  max ${figures.maxMs} ms  non-2xx ${figures.non2xx}  ` +
            `errors ${figures.errors}  timeouts ${figures.timeouts}  ` +
            `projection lag at the end ${figures.projectionLagEvents} events  ` +
            `server CPU ${figures.serverCpuUsPerPosting} µs/posting  ` +
            `(since start: mean batch ${figures.meanBatch.toFixed(1)} postings, ` +
            `mean append ${figures.meanAppendMs.toFixed(1)} ms)`,
        );
      }
    }
  } finally {
    if (child !== undefined && child.exitCode === null) {
      child.kill("SIGTERM");
      await once(child, "exit");
    }
    await database.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
