/**
 * `nova audit verify` end to end on a test database: configuration, the store it opens, the
 * summary and the discrepancy lines on stdout, and the exit codes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuditOutput, parseAuditArgs, runAuditCommand } from "../../src/cli/audit.js";
import { parsePosition } from "../../src/eventstore/port.js";
import { LedgerProjection } from "../../src/projections/ledger-projection.js";
import { ProjectorRunner } from "../../src/projections/runner.js";
import {
  actor,
  createTestLedger,
  defineTypes,
  ok,
  openAccount,
  type TestLedger,
  transfer,
} from "../commands/support.js";

let t: TestLedger;
let runner: ProjectorRunner;
let environment: NodeJS.ProcessEnv;
let wallet: string;

beforeAll(async () => {
  t = await createTestLedger();
  runner = new ProjectorRunner(t.store, t.database.pool, new LedgerProjection());
  await runner.start();
  await defineTypes(t.ledger);
  const funding = await openAccount(t.ledger, "SUSPENSE");
  wallet = await openAccount(t.ledger);
  const outcome = await t.ledger.recordPosting(transfer(funding, wallet, "25.00"), actor());
  ok(outcome);
  const position = outcome.ok ? parsePosition(outcome.position) : undefined;
  if (position === undefined) throw new Error("no position");
  expect(await runner.waitFor(position, 20_000)).toBe(true);
  environment = { DATABASE_URL: t.database.connectionString, LOG_LEVEL: "silent" };
});

afterAll(async () => {
  await runner.stop();
  await t.close();
});

async function nova(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const output: AuditOutput = { out: (line) => out.push(line), err: (line) => err.push(line) };
  const exitCode = await runAuditCommand(args, { environment, output, progress: false });
  return { exitCode, out, err };
}

describe("nova audit verify", () => {
  it("exits 0 with a summary when everything holds", async () => {
    const result = await nova("verify");
    expect(result.exitCode).toBe(0);
    expect(result.out[0]).toMatch(/^Verified \d+ events in \d+ streams \(2 accounts, 1 postings/);
    expect(result.out[1]).toMatch(/^Read models compared at checkpoint \d+\.\d+; 0 events/);
    expect(result.out.at(-1)).toMatch(/^OK:/);
  });

  it("prints the report as one JSON object with --json", async () => {
    const result = await nova("verify", "--json");
    expect(result.exitCode).toBe(0);
    expect(result.out).toHaveLength(1);
    expect(JSON.parse(result.out[0] ?? "")).toMatchObject({
      ok: true,
      accounts: 2,
      postings: 1,
      discrepancyCount: 0,
      discrepancies: [],
    });
  });

  it("exits 1 naming each discrepancy: stream, revision, expected, found", async () => {
    await t.database.pool.query(
      "UPDATE account_balances SET posted = 24.99 WHERE account_id = $1",
      [wallet],
    );
    try {
      const all = await nova("verify");
      expect(all.exitCode).toBe(1);
      expect(all.out).toContain(
        `READ_MODEL_BALANCE account-${wallet}@1: account_balances.posted is not the balance ` +
          "the entries add up to (expected 25.00 XCD, found 24.99 XCD)",
      );
      expect(all.out.at(-1)).toBe("FAILED: 1 discrepancies.");
      const one = await nova("verify", "--stream", `account-${wallet}`, "--json");
      expect(one.exitCode).toBe(1);
      expect(JSON.parse(one.out[0] ?? "").discrepancies).toEqual([
        expect.objectContaining({ kind: "READ_MODEL_BALANCE", revision: 1, found: "24.99 XCD" }),
      ]);
    } finally {
      await t.database.pool.query("UPDATE account_balances SET posted = 25 WHERE account_id = $1", [
        wallet,
      ]);
    }
  });

  it("exits 2 with the usage on a wrong command line", async () => {
    for (const args of [[], ["check"], ["verify", "--nope"], ["verify", "--stream", "a b"]]) {
      const result = await nova(...args);
      expect(result.exitCode, args.join(" ")).toBe(2);
      expect(result.err.join("\n")).toContain("Usage:");
      expect(result.out).toEqual([]);
    }
    expect(parseAuditArgs(["verify", "--stream", "posting-x", "--json"])).toEqual({
      stream: "posting-x",
      json: true,
    });
  });
});
