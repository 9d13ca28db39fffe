import { describe, expect, it } from "vitest";
import { parseVfRangeSelector, vfIndexInRanges } from "../../../../deviceplugin/core/vf-range.js";

describe("parseVfRangeSelector()", () => {
  it.each([
    ["ens1f0", { parent: "ens1f0", ranges: null }],
    ["ens1f0#3", { parent: "ens1f0", ranges: [[3, 3]] }],
    [
      "ens1f0#0,2-7",
      {
        parent: "ens1f0",
        ranges: [
          [0, 0],
          [2, 7],
        ],
      },
    ],
    [
      "0000:3b:00.0#0-1,4",
      {
        parent: "0000:3b:00.0",
        ranges: [
          [0, 1],
          [4, 4],
        ],
      },
    ],
  ])("parseVfRangeSelector() parses %s", (text, expected) => {
    expect(parseVfRangeSelector(text)).toEqual(expected);
  });

  it.each([
    ["", 'Cannot parse VF range "": the name is empty'],
    ["#1", 'Cannot parse VF range "#1": the name before "#" is empty'],
    ["ens1f0#", 'Cannot parse VF range "ens1f0#": no VF index after "#"'],
    ["ens1f0#a", 'Cannot parse VF range "ens1f0#a": "a" is not a VF index'],
    ["ens1f0#1,", 'Cannot parse VF range "ens1f0#1,": "" is not a VF index'],
    ["ens1f0#5-2", 'Cannot parse VF range "ens1f0#5-2": range "5-2" ends before it starts'],
    ["ens1f0#-2", 'Cannot parse VF range "ens1f0#-2": "" is not a VF index'],
    ["ens1f0#70000", 'Cannot parse VF range "ens1f0#70000": VF index 70000 is above 65535'],
  ])("parseVfRangeSelector() rejects %j", (text, message) => {
    expect(() => parseVfRangeSelector(text)).toThrow(new RangeError(message));
  });

  it("vfIndexInRanges() selects indexes inside the ranges and every VF without ranges", () => {
    const sel = parseVfRangeSelector("p#0,2-3");
    expect([0, 1, 2, 3, 4].map((i) => vfIndexInRanges(sel, i))).toEqual([true, false, true, true, false]);
    expect(vfIndexInRanges(sel, null)).toBe(false);
    expect(vfIndexInRanges(parseVfRangeSelector("p"), 9)).toBe(true);
  });
});
