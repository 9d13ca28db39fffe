import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ACCELNET_VERSION } from "../../../../deviceplugin/core/version.js";

describe("ACCELNET_VERSION", () => {
  it("equals the version in package.json", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../../../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    expect(ACCELNET_VERSION).toBe(pkg.version);
  });
});
