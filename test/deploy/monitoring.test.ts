/**
 * The alert rules and the dashboard name only metrics the server exports: a renamed metric
 * would otherwise silence an alert without anyone noticing.
 */
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { startTestApi, type TestApi } from "../api/support.js";

let api: TestApi;
let exported: Set<string>;

beforeAll(async () => {
  api = await startTestApi();
  const text = (await api.call("GET", "/metrics", { key: null })).body as string;
  exported = new Set(
    text
      .split("\n")
      .filter((line) => line.startsWith("# TYPE "))
      .flatMap((line) => {
        const [, , name, type] = line.split(" ");
        if (name === undefined) return [];
        return type === "histogram" ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
      }),
  );
});
afterAll(async () => api.close());

/** Metric names in a PromQL expression: nova_/ledger_ identifiers. */
function metricsIn(expression: string): string[] {
  return [...expression.matchAll(/\b((?:nova|ledger)_[a-z_]+)\b/g)].map((match) => match[1] ?? "");
}

describe("deploy/ monitoring", () => {
  it("alerts only on exported metrics, each rule with an expression and a summary", async () => {
    const rules = parse(await readFile("deploy/prometheus/alerts.yml", "utf8")).groups.flatMap(
      (group: { rules: unknown[] }) => group.rules,
    ) as Array<{ alert: string; expr: string; annotations: { summary: string } }>;
    expect(rules.map((rule) => rule.alert)).toEqual(
      expect.arrayContaining([
        "NovaProjectionStopped",
        "NovaTrialBalanceImbalance",
        "NovaServerErrors",
      ]),
    );
    for (const rule of rules) {
      expect(rule.annotations.summary, rule.alert).toEqual(expect.any(String));
      for (const metric of metricsIn(rule.expr))
        expect(exported, `${rule.alert}: ${metric}`).toContain(metric);
    }
  });

  it("charts only exported metrics", async () => {
    const dashboard = JSON.parse(await readFile("deploy/grafana/dashboard.json", "utf8")) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
    };
    expect(dashboard.panels.length).toBeGreaterThan(5);
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) {
        for (const metric of metricsIn(target.expr))
          expect(exported, `${panel.title}: ${metric}`).toContain(metric);
      }
    }
  });
});
