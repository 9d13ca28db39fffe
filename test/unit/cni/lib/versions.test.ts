import { describe, expect, it } from "vitest";
import { CniError } from "../../../../cni/lib/errors.js";
import {
  compareVersions,
  decodeVersion,
  highestCommon,
  parseVersion,
  requireSupported,
  SUPPORTED_VERSIONS,
} from "../../../../cni/lib/versions.js";

describe("versions", () => {
  it("SUPPORTED_VERSIONS lists every spec version from 0.1.0 to 1.1.0 in order", () => {
    expect(SUPPORTED_VERSIONS).toEqual(["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]);
    expect([...SUPPORTED_VERSIONS].sort(compareVersions)).toEqual([...SUPPORTED_VERSIONS]);
  });

  it.each([
    ["1.0.0", [1, 0, 0]],
    ["0.3", [0, 3, 0]],
    ["2", [2, 0, 0]],
    ["1.x", null],
    ["", null],
  ] as const)("parseVersion(%j) is %j", (v, want) => {
    expect(parseVersion(v)).toEqual(want);
  });

  it.each([
    [{}, "0.1.0"],
    [{ cniVersion: "" }, "0.1.0"],
    [{ cniVersion: "0.4.0" }, "0.4.0"],
  ])("decodeVersion(%j) is %s (missing means 0.1.0)", (conf, want) => {
    expect(decodeVersion(conf)).toBe(want);
  });

  it("decodeVersion() rejects a non-string with code 6", () => {
    expect(() => decodeVersion({ cniVersion: 1 })).toThrow(
      expect.objectContaining({ code: 6, message: 'Cannot decode "cniVersion": expected a string, got number' }),
    );
  });

  it("requireSupported() rejects an unknown version with code 1 and the supported list", () => {
    let err: unknown;
    try {
      requireSupported("2.0.0");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CniError);
    expect(err).toMatchObject({
      code: 1,
      message: 'Cannot use cniVersion "2.0.0": incompatible CNI versions',
      details: 'config is "2.0.0", plugin supports [0.1.0 0.2.0 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0]',
    });
  });

  it("highestCommon() picks the highest shared version (Debian 1.1.1 plugins stop at 1.0.0)", () => {
    expect(highestCommon(SUPPORTED_VERSIONS, ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0"])).toBe("1.0.0");
    expect(highestCommon(["1.1.0"], ["1.0.0"])).toBeNull();
  });
});
