/**
 * Posting templates: the legs a transaction type expands into. Each leg takes a share of the
 * amount on its side; `percent` is that share as a decimal fraction of 1 ("0.75" is 75 %, "1"
 * the whole amount), the unit API.md gives ("0.75"). The DEBIT legs' shares sum to exactly 1
 * and so do the CREDIT legs', so an expanded posting balances by construction.
 *
 * Validation lists every violation at once (each with a JSON Pointer into the request), so a
 * client fixes a template in one round trip instead of one error at a time.
 */
import type { AccountTypeState } from "../account-types/account-type.js";
import type { Side } from "../accounts/account.js";
import type { FieldError } from "../errors.js";
import { Decimal, WEIGHT_DECIMALS_MAX } from "../money/index.js";

/** A template has at least a DEBIT and a CREDIT leg and at most this many legs. */
export const templateLegsMax = 20;

/** A role names the party a request fills in: `payer`, `payee`, `agent`. */
export const rolePattern = /^[a-z][a-zA-Z0-9_]{0,31}$/;

/** A share: a plain decimal, no sign or exponent; its range (0, 1] is checked separately. */
const percentPattern = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;

export interface TemplateLegRequest {
  readonly side: Side;
  readonly role?: string | null;
  readonly accountId?: string | null;
  readonly accountType?: string | null;
  readonly percent: string;
}

/** A validated leg: exactly one of `role` and `accountId` is set; `percent` is canonical. */
export interface TemplateLeg {
  readonly side: Side;
  readonly role: string | null;
  readonly accountId: string | null;
  /** The type the leg's account must have (checked when a transaction is made). */
  readonly accountType: string | null;
  readonly percent: string;
}

/** Which account types may fill each role; a role not listed takes any type. */
export type AllowedAccountTypes = Readonly<Record<string, readonly string[]>>;

export interface TemplateRequest {
  readonly postings: readonly TemplateLegRequest[];
  readonly allowedAccountTypes?: AllowedAccountTypes | null;
}

/**
 * Every way `template` breaks the rules. `accountTypes` holds the state of each account type
 * the template names (undefined: it does not exist).
 */
export function templateViolations(
  template: TemplateRequest,
  accountTypes: ReadonlyMap<string, AccountTypeState>,
): FieldError[] {
  const legs = template.postings;
  if (legs.length < 2 || legs.length > templateLegsMax) {
    return [{ path: "/postings", message: `a template has 2 to ${templateLegsMax} legs` }];
  }
  return [
    ...legs.flatMap((leg, index) => legViolations(leg, index, accountTypes)),
    ...sideSumViolations(legs),
    ...partyViolations(legs),
    ...allowedTypeViolations(template, accountTypes),
  ];
}

/** The template's legs in canonical form; call only once `templateViolations` found none. */
export function canonicalLegs(legs: readonly TemplateLegRequest[]): TemplateLeg[] {
  return legs.map((leg) => ({
    side: leg.side,
    role: leg.role ?? null,
    accountId: leg.accountId ?? null,
    accountType: leg.accountType ?? null,
    percent: new Decimal(leg.percent).toFixed(),
  }));
}

/** The roles the template's legs name, in order of first appearance. */
export function templateRoles(legs: readonly TemplateLeg[]): string[] {
  return [...new Set(legs.flatMap((leg) => (leg.role === null ? [] : [leg.role])))];
}

function legViolations(
  leg: TemplateLegRequest,
  index: number,
  accountTypes: ReadonlyMap<string, AccountTypeState>,
): FieldError[] {
  const at = `/postings/${index}`;
  const errors: FieldError[] = [];
  const percent = percentProblem(leg.percent);
  if (percent !== undefined) errors.push({ path: `${at}/percent`, message: percent });
  const hasRole = typeof leg.role === "string";
  const hasAccount = typeof leg.accountId === "string";
  if (hasRole === hasAccount) {
    errors.push({
      path: at,
      message: hasRole
        ? "a leg names a role or a fixed accountId, not both"
        : "a leg names a role or a fixed accountId",
    });
  }
  if (hasRole && !rolePattern.test(leg.role ?? "")) {
    errors.push({ path: `${at}/role`, message: `must match ${rolePattern.source}` });
  }
  const accountType = leg.accountType ?? null;
  if (accountType !== null && accountTypes.get(accountType) === undefined) {
    errors.push({ path: `${at}/accountType`, message: `no account type ${accountType}` });
  }
  return errors;
}

function percentProblem(percent: string): string | undefined {
  if (typeof percent !== "string" || !percentPattern.test(percent)) {
    return 'must be a decimal fraction of 1 such as "0.75"';
  }
  const decimals = percent.split(".")[1]?.length ?? 0;
  if (decimals > WEIGHT_DECIMALS_MAX) return `has more than ${WEIGHT_DECIMALS_MAX} decimals`;
  const share = new Decimal(percent);
  if (share.isZero()) return "must be more than 0";
  if (share.greaterThan(1)) return 'must be at most 1 (the whole amount); "0.75" is 75 %';
  return undefined;
}

function sideSumViolations(legs: readonly TemplateLegRequest[]): FieldError[] {
  const errors: FieldError[] = [];
  for (const side of ["DEBIT", "CREDIT"] as const) {
    const shares = legs
      .filter((leg) => leg.side === side && percentProblem(leg.percent) === undefined)
      .map((leg) => new Decimal(leg.percent));
    const total = shares.reduce((sum, share) => sum.plus(share), new Decimal(0));
    if (!total.equals(1)) {
      errors.push({
        path: "/postings",
        message: `the ${side} legs' percents sum to ${total.toFixed()}; they must sum to exactly 1 (100 %)`,
      });
    }
  }
  return errors;
}

/**
 * A party (a role, or a fixed account) on both sides would pay itself; one whose legs demand
 * different account types could never be filled. Either is a template mistake.
 */
function partyViolations(legs: readonly TemplateLegRequest[]): FieldError[] {
  const errors: FieldError[] = [];
  const seen = new Map<string, { side: Side; accountType: string | null; index: number }>();
  legs.forEach((leg, index) => {
    const party = partyOf(leg);
    if (party === undefined) return;
    const first = seen.get(party.key);
    if (first === undefined) {
      seen.set(party.key, { side: leg.side, accountType: leg.accountType ?? null, index });
      return;
    }
    if (first.side !== leg.side) {
      errors.push({
        path: `/postings/${index}/${party.field}`,
        message: `${party.label} is on both the DEBIT and the CREDIT side`,
      });
    }
    const accountType = leg.accountType ?? null;
    if (first.accountType !== accountType) {
      errors.push({
        path: `/postings/${index}/accountType`,
        message: `${party.label} names account type ${accountType ?? "(any)"} here and ${first.accountType ?? "(any)"} on leg ${first.index}`,
      });
    }
  });
  return errors;
}

function partyOf(
  leg: TemplateLegRequest,
): { key: string; field: "role" | "accountId"; label: string } | undefined {
  if (typeof leg.role === "string" && typeof leg.accountId !== "string") {
    return { key: `role:${leg.role}`, field: "role", label: `role ${leg.role}` };
  }
  if (typeof leg.accountId === "string" && typeof leg.role !== "string") {
    return {
      key: `account:${leg.accountId}`,
      field: "accountId",
      label: `account ${leg.accountId}`,
    };
  }
  return undefined;
}

function allowedTypeViolations(
  template: TemplateRequest,
  accountTypes: ReadonlyMap<string, AccountTypeState>,
): FieldError[] {
  const allowed = template.allowedAccountTypes ?? {};
  const errors: FieldError[] = [];
  for (const [role, codes] of Object.entries(allowed)) {
    const at = `/allowedAccountTypes/${role}`;
    const legs = template.postings.filter((leg) => leg.role === role);
    if (legs.length === 0) errors.push({ path: at, message: `no leg has the role ${role}` });
    if (codes.length === 0) errors.push({ path: at, message: "lists no account type" });
    codes.forEach((code, index) => {
      if (accountTypes.get(code) === undefined) {
        errors.push({ path: `${at}/${index}`, message: `no account type ${code}` });
      }
    });
    for (const leg of legs) {
      const fixed = leg.accountType ?? null;
      if (fixed !== null && !codes.includes(fixed)) {
        errors.push({
          path: at,
          message: `a ${role} leg requires account type ${fixed}, which this list leaves out`,
        });
      }
    }
  }
  return errors;
}

/** Every account type a template names, in legs and in allowedAccountTypes. */
export function namedAccountTypes(template: TemplateRequest): string[] {
  const fromLegs = template.postings.flatMap((leg) =>
    typeof leg.accountType === "string" ? [leg.accountType] : [],
  );
  const fromAllowed = Object.values(template.allowedAccountTypes ?? {}).flat();
  return [...new Set([...fromLegs, ...fromAllowed])];
}
