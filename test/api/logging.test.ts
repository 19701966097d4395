/**
 * The request log: one JSON line per request with who asked and what the command did, and
 * never a secret (API keys, X-OTP codes).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminKey, startTestApi, type TestApi } from "./support.js";

const lines: string[] = [];
let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({ log: { write: (line) => lines.push(line) } });
});
afterAll(async () => api.close());

function requestLines(): Array<Record<string, unknown>> {
  return lines.map((line) => JSON.parse(line)).filter((entry) => entry.msg === "request");
}

describe("the request log", () => {
  it("has one line per request with route, status, duration, principal, ids and position", async () => {
    await api.call("POST", "/v1/account-types", {
      body: { code: "WALLET", name: "W", normalBalance: "CREDIT", allowNegative: false },
    });
    await api.call("POST", "/v1/account-types", {
      body: { code: "SUSPENSE", name: "S", normalBalance: "DEBIT", allowNegative: true },
    });
    const from = (
      await api.call("POST", "/v1/accounts", { body: { accountType: "SUSPENSE", currency: "XCD" } })
    ).body;
    const to = (
      await api.call("POST", "/v1/accounts", { body: { accountType: "WALLET", currency: "XCD" } })
    ).body;
    const posted = await api.call("POST", "/v1/postings", {
      headers: { "x-request-id": "trace-42", "x-otp": "123456" },
      body: {
        entries: [
          { accountId: from.id, side: "DEBIT", amount: { value: "1.00", currency: "XCD" } },
          { accountId: to.id, side: "CREDIT", amount: { value: "1.00", currency: "XCD" } },
        ],
      },
    });
    expect(posted.status).toBe(201);
    expect(posted.headers.get("x-request-id")).toBe("trace-42");
    const line = requestLines().find((entry) => entry.reqId === "trace-42");
    expect(line).toMatchObject({
      method: "POST",
      route: "/v1/postings",
      status: 201,
      principal: "admin",
      postingId: posted.body.id,
      position: posted.body.position,
      replayed: false,
      durationMs: expect.any(Number),
    });
    expect(requestLines().filter((entry) => entry.reqId === "trace-42")).toHaveLength(1);
    // Fastify's own pair of lines per request is off: this one line replaces them.
    expect(lines.filter((line) => line.includes('"incoming request"'))).toEqual([]);
    const opened = requestLines().find((entry) => entry.accountId === to.id);
    expect(opened).toMatchObject({ route: "/v1/accounts", status: 201 });
  });

  it("never writes an API key or an X-OTP code", async () => {
    const refused = await api.call("GET", "/v1/accounts", {
      key: "not-a-real-key-but-secret-looking",
      headers: { "x-request-id": "trace-401" },
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("x-request-id")).toBe("trace-401");
    expect(requestLines().find((entry) => entry.reqId === "trace-401")).toMatchObject({
      route: "/v1/accounts",
      status: 401,
    });
    const all = lines.join("\n");
    expect(all).not.toContain(adminKey);
    expect(all).not.toContain("not-a-real-key-but-secret-looking");
    expect(all).not.toContain("123456");
    expect(requestLines().some((entry) => entry.status === 401)).toBe(true);
  });
});

describe("the request log at LOG_LEVEL=warn", () => {
  it("has no request lines", async () => {
    const quiet: string[] = [];
    const warnApi = await startTestApi({
      log: { write: (line) => quiet.push(line) },
      logLevel: "warn",
    });
    try {
      const answered = await warnApi.call("GET", "/v1/accounts");
      expect(answered.status).toBe(200);
      expect((await warnApi.call("GET", "/v1/accounts", { key: null })).status).toBe(401);
      expect(quiet.map((line) => JSON.parse(line).msg)).not.toContain("request");
    } finally {
      await warnApi.close();
    }
  });
});
