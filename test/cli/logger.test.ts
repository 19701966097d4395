/**
 * The server's logger writes stdout asynchronously: every line logged before the process exits
 * still arrives (flushed on exit), and secrets stay redacted.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

describe("the logger of nova commands", () => {
  it("writes every line logged before process.exit, secrets redacted", () => {
    const script = `
      import { createLogger } from "./src/cli/connect.ts";
      const logger = createLogger({ logLevel: "info" });
      for (let i = 0; i < 2000; i++) logger.info({ i, key: { apiKey: "sk-secret-" + i } }, "line");
      process.exit(0);
    `;
    const run = spawnSync(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", script],
      {
        cwd: process.cwd(),
        env: { ...process.env, NODE_ENV: "production" },
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    expect(run.status).toBe(0);
    const lines = run.stdout
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line));
    expect(lines.map((line) => line.i)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    expect(lines[0]).toMatchObject({ msg: "line", key: { apiKey: "[redacted]" } });
    expect(run.stdout).not.toContain("sk-secret-");
  });
});
