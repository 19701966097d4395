/**
 * Account metadata schemas (API.md "Accounts"): an account type may carry a JSON Schema that
 * every account's metadata must satisfy. The schema is checked when the type is defined (not
 * a valid JSON Schema → VALIDATION_ERROR) and compiled once per account type, so opening an
 * account runs a compiled validator, synchronously, inside the pure decision.
 *
 * Schemas come from principals with `config:write`, yet Ajv treats a schema like code: a huge
 * or deeply nested one makes compiling slow or overflows the stack. So a schema is bounded in
 * size and depth before Ajv sees it (Ajv's "security considerations"). A slow `pattern` stays
 * possible; operators own their patterns.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { LRUCache } from "lru-cache";
import type { AccountType } from "../domain/account-types/account-type.js";
import { type FieldError, type Rejection, rejectWithErrors } from "../domain/errors.js";

/** Longest schema, as JSON text; a metadata schema is a few hundred bytes. */
export const metadataSchemaTextLengthMax = 65_536;
/** Deepest nesting of objects and arrays in a schema. */
export const metadataSchemaDepthMax = 32;
/** Most compiled validators kept (one per account type). */
export const compiledSchemasMax = 1_000;
/** Most violations listed in one answer (allErrors can find many). */
const listedErrorsMax = 50;

/**
 * strict: false — a schema may carry keywords Ajv does not know (vendor extensions), which
 * JSON Schema allows; the meta-schema check still runs.
 */
const ajvOptions = { allErrors: true, strict: false } as const;

export class MetadataSchemas {
  /** Checks schemas against the meta-schema only; it never holds an account type's schema. */
  private readonly ajv = new Ajv(ajvOptions);
  private readonly compiled = new LRUCache<string, ValidateFunction>({ max: compiledSchemasMax });

  /** Why `schema` cannot serve as a metadata schema (empty: it can). */
  schemaErrors(schema: Readonly<Record<string, unknown>> | null | undefined): FieldError[] {
    if (schema === null || schema === undefined) return [];
    const bounded = boundsProblem(schema);
    if (bounded !== undefined) return [{ path: "/metadataSchema", message: bounded }];
    if (!this.ajv.validateSchema(schema)) {
      return fieldErrors("/metadataSchema", this.ajv.errors ?? []);
    }
    try {
      compileAlone(schema);
      return [];
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return [{ path: "/metadataSchema", message }];
    }
  }

  schemaRejection(schema: Readonly<Record<string, unknown>> | null | undefined) {
    const errors = this.schemaErrors(schema);
    if (errors.length === 0) return undefined;
    return rejectWithErrors(
      "VALIDATION_ERROR",
      "metadataSchema is not a valid JSON Schema",
      errors,
    );
  }

  /** VALIDATION_ERROR listing where `metadata` breaks the type's schema; else undefined. */
  check(type: AccountType, metadata: Readonly<Record<string, unknown>>): Rejection | undefined {
    if (type.metadataSchema === null) return undefined;
    const validate = this.validatorFor(type);
    if (validate === undefined) {
      return rejectWithErrors("VALIDATION_ERROR", `account type ${type.code} has a broken schema`, [
        { path: "/accountType", message: "its metadataSchema does not compile" },
      ]);
    }
    if (validate(metadata)) return undefined;
    return rejectWithErrors(
      "VALIDATION_ERROR",
      `metadata does not satisfy the ${type.code} metadata schema`,
      fieldErrors("/metadata", validate.errors ?? []),
    );
  }

  private validatorFor(type: AccountType): ValidateFunction | undefined {
    // A type is defined once; its definition instant tells a redefinition apart all the same.
    const key = `${type.code}\n${type.definedAt}`;
    const cached = this.compiled.get(key);
    if (cached !== undefined) return cached;
    if (type.metadataSchema === null || this.schemaErrors(type.metadataSchema).length > 0) {
      return undefined;
    }
    const validate = compileAlone(type.metadataSchema);
    this.compiled.set(key, validate);
    return validate;
  }
}

/**
 * Each schema is compiled by an Ajv of its own: Ajv registers a schema's `$id`, and a second
 * schema with the same `$id` (another type's, or this one compiled again) would be refused.
 */
function compileAlone(schema: Readonly<Record<string, unknown>>): ValidateFunction {
  return new Ajv(ajvOptions).compile(schema);
}

function fieldErrors(prefix: string, errors: readonly ErrorObject[]): FieldError[] {
  return errors.slice(0, listedErrorsMax).map((error) => ({
    path: `${prefix}${error.instancePath}`,
    message: error.message ?? "is invalid",
  }));
}

function boundsProblem(schema: Readonly<Record<string, unknown>>): string | undefined {
  // Depth first: it stops early, where serialising a hostile schema could overflow the stack.
  if (depthOf(schema, 0) > metadataSchemaDepthMax) {
    return `nests deeper than ${metadataSchemaDepthMax} levels`;
  }
  if (JSON.stringify(schema).length > metadataSchemaTextLengthMax) {
    return `is longer than ${metadataSchemaTextLengthMax} characters`;
  }
  return undefined;
}

/** Nesting depth, stopping as soon as it passes the bound (a hostile schema is not walked). */
function depthOf(value: unknown, depth: number): number {
  if (depth > metadataSchemaDepthMax || typeof value !== "object" || value === null) return depth;
  let deepest = depth;
  for (const child of Object.values(value)) {
    deepest = Math.max(deepest, depthOf(child, depth + 1));
    if (deepest > metadataSchemaDepthMax) break;
  }
  return deepest;
}
