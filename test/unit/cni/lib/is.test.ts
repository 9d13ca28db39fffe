import { describe, expect, it } from "vitest";
import { isInteger, isObject, isString, isStringArray, jsonType } from "../../../../cni/lib/is.js";

describe("is", () => {
  it.each([
    [{}, true],
    [[], false],
    [null, false],
    ["x", false],
  ])("isObject(%j) is %s", (v, want) => {
    expect(isObject(v)).toBe(want);
  });

  it("isString(), isStringArray() and isInteger() narrow JSON values", () => {
    expect(isString("a")).toBe(true);
    expect(isString(1)).toBe(false);
    expect(isStringArray(["a", "b"])).toBe(true);
    expect(isStringArray(["a", 1])).toBe(false);
    expect(isInteger(3)).toBe(true);
    expect(isInteger(3.5)).toBe(false);
    expect(isInteger("3")).toBe(false);
  });

  it.each([
    [null, "null"],
    [[], "array"],
    [{}, "object"],
    [1, "number"],
    ["s", "string"],
    [true, "boolean"],
  ])("jsonType(%j) is %s", (v, want) => {
    expect(jsonType(v)).toBe(want);
  });
});
