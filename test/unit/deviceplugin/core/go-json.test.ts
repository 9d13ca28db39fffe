import { describe, expect, it } from "vitest";
import { goJson, GoStruct } from "../../../../deviceplugin/core/go-json.js";

describe("goJson()", () => {
  it("goJson() sorts map keys and keeps struct field order, like Go's encoding/json", () => {
    expect(goJson({ b: 1, a: { d: "x", c: "y" } })).toBe('{"a":{"c":"y","d":"x"},"b":1}');
    expect(
      goJson(
        new GoStruct([
          ["z", 1],
          ["a", 2],
        ]),
      ),
    ).toBe('{"z":1,"a":2}');
  });

  it("goJson() escapes HTML characters, controls and line separators the way Go does", () => {
    expect(goJson('<a&b>\n\t\u0001\u2028"\\')).toBe('"\\u003ca\\u0026b\\u003e\\n\\t\\u0001\\u2028\\"\\\\"');
  });
});
