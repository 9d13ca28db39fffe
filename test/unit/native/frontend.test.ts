// The CNI front end's pure parts (test/native/frontend/frontend_test.c: cniVersion scan, env filter,
// request framing, answer checker, error JSON), built and run under ASan/UBSan by
// `make -C native check-frontend`.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const NATIVE = fileURLToPath(new URL("../../../native", import.meta.url));

describe("accelnet front end C unit tests", () => {
  it("make check-frontend passes every check with no sanitizer report", () => {
    const r = spawnSync("make", ["-s", "-C", NATIVE, "check-frontend"], { encoding: "utf8" });
    expect(r.stderr).not.toMatch(/Sanitizer|runtime error|check failed/);
    expect(r.stdout).toMatch(/^\d+ checks, 0 failed$/m);
    expect(r.status).toBe(0);
  }, 120_000);
});
