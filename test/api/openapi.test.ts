/**
 * The OpenAPI document is generated from the routes' schemas; this walks it: every documented
 * operation exists on the server (no route 404), and every example in it validates against the
 * schema it illustrates.
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "./support.js";

let api: TestApi;
// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document is walked as plain JSON
let document: any;

beforeAll(async () => {
  api = await startTestApi();
  document = (await api.call("GET", "/docs/openapi.json", { key: null })).body;
});
afterAll(async () => api.close());

const sampleUuid = "00000000-0000-4000-8000-000000000000";

function concretePath(template: string): string {
  return template.replace(/\{code\}/g, "WALLET").replace(/\{[^}]+\}/g, sampleUuid);
}

describe("the OpenAPI document", () => {
  it("documents the API.md endpoints", () => {
    const operations = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item as object).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations).toEqual(
      expect.arrayContaining([
        "POST /v1/account-types",
        "GET /v1/account-types",
        "GET /v1/account-types/{code}",
        "POST /v1/accounts",
        "GET /v1/accounts",
        "GET /v1/accounts/{id}",
        "POST /v1/accounts/{id}/freeze",
        "POST /v1/accounts/{id}/unfreeze",
        "POST /v1/accounts/{id}/close",
        "PUT /v1/accounts/{id}/overdraft",
        "GET /v1/accounts/{id}/balances",
        "POST /v1/postings",
        "GET /v1/postings",
        "GET /v1/postings/{id}",
        "POST /v1/postings/{id}/reverse",
        "POST /v1/accounts/{id}/holds",
        "GET /v1/holds/{id}",
        "POST /v1/holds/{id}/release",
        "POST /v1/holds/{id}/capture",
      ]),
    );
  });

  it("has a route on the server for every documented operation", async () => {
    const missing: string[] = [];
    for (const [path, item] of Object.entries(document.paths)) {
      for (const method of Object.keys(item as object)) {
        const response = await api.call(method.toUpperCase(), concretePath(path), {
          ...(method === "get" ? {} : { body: {} }),
        });
        // A missing route is the not-found handler's plain 404 NOT_FOUND; a route that exists
        // answers anything else (its own 404 names the resource).
        if (response.status === 404 && response.body?.code === "NOT_FOUND") {
          missing.push(`${method.toUpperCase()} ${path}`);
        }
        expect(response.status, `${method} ${path}`).toBeLessThan(500);
      }
    }
    expect(missing).toEqual([]);
  });

  it("has examples that validate against their schemas", () => {
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    const checked: string[] = [];
    const failures: string[] = [];
    const check = (node: Record<string, unknown>, where: string) => {
      const { example, examples, ...schema } = node;
      const all = [
        ...(example === undefined ? [] : [example]),
        ...(Array.isArray(examples) ? examples : []),
      ];
      if (all.length === 0 || schema.$ref !== undefined) return;
      const validate = ajv.compile(inlineRefs(schema, document) as object);
      for (const sample of all) {
        checked.push(where);
        if (!validate(sample)) failures.push(`${where}: ${ajv.errorsText(validate.errors)}`);
      }
    };
    const visit = (value: unknown, where: string) => {
      if (value === null || typeof value !== "object") return;
      const node = value as Record<string, unknown>;
      check(node, where);
      for (const [key, child] of Object.entries(node)) visit(child, `${where}/${key}`);
    };
    visit(document.components?.schemas, "#/components/schemas");
    visit(document.paths, "#/paths");
    expect(failures).toEqual([]);
    expect(checked.length).toBeGreaterThan(5);
  });
});

/** The schema with every `#/components/schemas/...` reference replaced by what it names. */
function inlineRefs(schema: unknown, root: { components?: { schemas?: object } }): unknown {
  if (Array.isArray(schema)) return schema.map((item) => inlineRefs(item, root));
  if (schema === null || typeof schema !== "object") return schema;
  const { $ref, ...rest } = schema as Record<string, unknown>;
  if (typeof $ref === "string") {
    const name = $ref.replace("#/components/schemas/", "");
    const target = (root.components?.schemas as Record<string, unknown> | undefined)?.[name];
    return inlineRefs(target, root);
  }
  return Object.fromEntries(
    Object.entries(rest).map(([key, value]) => [key, inlineRefs(value, root)]),
  );
}
