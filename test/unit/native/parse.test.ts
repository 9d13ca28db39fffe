// The helper's C parsers (test/native/parse_test.c) against kernel-shaped
// messages, built and run under ASan/UBSan by `make -C native check`.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const NATIVE = fileURLToPath(new URL("../../../native", import.meta.url));

describe("accelnet-helper C parser tests", () => {
  it("make check passes every check with no sanitizer report", () => {
    const r = spawnSync("make", ["-s", "-C", NATIVE, "check"], { encoding: "utf8" });
    expect(r.stderr).not.toMatch(/Sanitizer|runtime error|check failed/);
    expect(r.stdout).toMatch(/^\d+ checks, 0 failed$/m);
    expect(r.status).toBe(0);
  }, 120_000);
});
