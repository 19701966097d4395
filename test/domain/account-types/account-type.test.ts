import { describe, expect, it } from "vitest";
import {
  type AccountTypeEvent,
  type DefineAccountType,
  decideDefineAccountType,
  evolveAccountType,
} from "../../../src/domain/account-types/account-type.js";
import { anAccountType, expectRejection, now } from "../fixtures.js";

const wallet: DefineAccountType = {
  code: "WALLET",
  name: "Customer wallet",
  normalBalance: "CREDIT",
  allowNegative: false,
};

describe("account types", () => {
  it("defining a new code records AccountTypeDefined with its rules", () => {
    const event = decideDefineAccountType(wallet, undefined, now);
    expect(event).toEqual({
      type: "AccountTypeDefined",
      data: {
        code: "WALLET",
        name: "Customer wallet",
        normalBalance: "CREDIT",
        allowNegative: false,
        metadataSchema: null,
        definedAt: now.toISOString(),
      },
    });
  });

  it("a metadata schema given is kept on the type", () => {
    const schema = { type: "object", required: ["msisdn"] };
    const event = decideDefineAccountType({ ...wallet, metadataSchema: schema }, undefined, now);
    if ("kind" in event) throw new Error("expected an event");
    expect(event.data.metadataSchema).toEqual(schema);
  });

  it("the defined type is the state after folding its event", () => {
    const event = decideDefineAccountType(wallet, undefined, now);
    if ("kind" in event) throw new Error("expected an event");
    const events: AccountTypeEvent[] = [event];
    expect(events.reduce(evolveAccountType, undefined)).toEqual(event.data);
  });

  it("a code already defined is DUPLICATE_CODE", () => {
    const rejection = expectRejection(
      decideDefineAccountType(wallet, anAccountType({ code: "WALLET" }), now),
      "DUPLICATE_CODE",
    );
    expect(rejection.details).toEqual({ code: "WALLET" });
  });

  it.each([
    ["lower case", "wallet"],
    ["a single character", "W"],
    ["a leading digit", "1WALLET"],
    ["a hyphen", "MY-WALLET"],
    ["a space", "MY WALLET"],
    ["more than 32 characters", `W${"A".repeat(32)}`],
    ["empty", ""],
  ])("a code with %s is VALIDATION_ERROR", (_why, code) => {
    expectRejection(
      decideDefineAccountType({ ...wallet, code }, undefined, now),
      "VALIDATION_ERROR",
    );
  });

  it.each(["AB", "MERCHANT_FLOAT", `W${"A".repeat(31)}`, "A1"])(
    "the code %s matches ^[A-Z][A-Z0-9_]{1,31}$",
    (code) => {
      const event = decideDefineAccountType({ ...wallet, code }, undefined, now);
      expect(event).toMatchObject({ type: "AccountTypeDefined", data: { code } });
    },
  );
});
