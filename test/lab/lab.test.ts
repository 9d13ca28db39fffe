// The lab as part of the normal test run: sets the lab up (cached), boots one
// VM per guest test file under test/lab/guest/ and turns every guest test
// into a host test of the same name, so `npx vitest run test/lab` shows each
// one. The VMs run while this file is collected (the guest test names are
// only known once they ran); the tests below then replay the verdicts.
import { readdirSync } from "node:fs";
import { describe, test } from "vitest";
import { guestDir } from "./src/paths.js";
import { runGuestFiles, type GuestFileResult } from "./src/runner.js";
import { labUnavailableReason, setupLab } from "./src/setup.js";

const unavailable = labUnavailableReason();
const guestFiles = readdirSync(guestDir)
  .filter((name) => name.endsWith(".test.ts"))
  .sort()
  .map((name) => `test/lab/guest/${name}`);

let results: GuestFileResult[] = [];
let setupError: Error | null = null;
if (unavailable === null) {
  try {
    results = await runGuestFiles(await setupLab(), guestFiles);
  } catch (error) {
    setupError = error instanceof Error ? error : new Error(`lab setup failed: ${JSON.stringify(error)}`);
  }
}

function diagnostics(result: GuestFileResult): string {
  const log = result.guestLog.trimEnd().split("\n").slice(-30).join("\n");
  return `\n--- guest log (tail) ---\n${log}\n--- console (tail) ---\n${result.consoleTail}\n--- files: ${result.runDir}`;
}

describe.skipIf(unavailable !== null)(`lab VMs${unavailable === null ? "" : ` (skipped: ${unavailable})`}`, () => {
  if (unavailable !== null) {
    test("runs every guest test file in its own VM", () => {});
    return;
  }
  test("lab setup (packages, module set, netdevsim, initramfs, VDUSE tool)", () => {
    if (setupError !== null) throw setupError;
  });
  for (const result of results) {
    describe(result.file, () => {
      test("VM boots, runs the file and reports", () => {
        if (result.problem !== null) throw new Error(`${result.problem}${diagnostics(result)}`);
      });
      for (const guestCase of result.cases) {
        if (guestCase.status !== "passed" && guestCase.status !== "failed") {
          test.skip(`${guestCase.fullName} (${guestCase.status} in the guest)`, () => {});
          continue;
        }
        test(guestCase.fullName, () => {
          if (guestCase.status === "failed") {
            throw new Error(`${guestCase.failureMessages.join("\n")}\n(guest log: ${result.runDir}/share/guest.log)`);
          }
        });
      }
    });
  }
});
