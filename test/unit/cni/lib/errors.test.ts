import { describe, expect, it } from "vitest";
import { CniCode, CniError, errorCode, errorMessage } from "../../../../cni/lib/errors.js";

describe("CniCode", () => {
  it("uses the CNI spec 1.1.0 well-known codes", () => {
    expect(CniCode).toMatchObject({
      IncompatibleVersion: 1,
      UnsupportedField: 2,
      UnknownContainer: 3,
      InvalidEnvironment: 4,
      IoFailure: 5,
      DecodingFailure: 6,
      InvalidConfig: 7,
      TryAgainLater: 11,
      PluginNotAvailable: 50,
      LimitedConnectivity: 51,
      Internal: 999,
    });
  });

  it("keeps accelnet's own codes at 100 and up, each used once", () => {
    const own = Object.values(CniCode).filter((c) => c >= 100 && c < 999);
    expect(own).toEqual([100, 101, 102, 103, 104, 105]);
    expect(new Set(Object.values(CniCode)).size).toBe(Object.values(CniCode).length);
  });
});

describe("CniError", () => {
  it("carries code, message, details and cause", () => {
    const cause = new Error("inner");
    const err = new CniError(7, 'Cannot use config field "mtu": bad', { details: "d", cause });
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ code: 7, message: 'Cannot use config field "mtu": bad', details: "d", cause });
    expect(new CniError(5, "x").details).toBe("");
  });

  it("errorMessage() and errorCode() narrow unknown values", () => {
    expect(errorMessage(new Error("boom"))).toBe("boom");
    expect(errorMessage("text")).toBe("text");
    expect(errorCode(Object.assign(new Error("x"), { code: "ENOENT" }))).toBe("ENOENT");
    expect(errorCode({ code: 5 })).toBeUndefined();
    expect(errorCode(null)).toBeUndefined();
  });
});
