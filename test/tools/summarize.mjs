#!/usr/bin/env node
// Prints the suite's closing line from vitest's JSON report and decides the verdict: any failure fails;
// under CI (or ACCELNET_REQUIRE_ALL=1) any skipped test fails too, naming it, because CI runs as root
// with the lab available and a skip there means a test silently did not run.
import { readFileSync } from "node:fs";

const report = JSON.parse(readFileSync(process.argv[2] ?? "dist/test-results.json", "utf8"));
let passed = 0;
let failed = 0;
const skipped = [];
for (const file of report.testResults ?? []) {
  for (const t of file.assertionResults ?? []) {
    if (t.status === "passed") passed++;
    else if (t.status === "failed") failed++;
    else skipped.push(`${file.name.replace(process.cwd() + "/", "")}: ${t.fullName}`);
  }
  // A file that failed to load has no assertions but must still fail the run.
  if ((file.assertionResults ?? []).length === 0 && file.status === "failed") failed++;
}
const requireAll = process.env.CI === "true" || process.env.ACCELNET_REQUIRE_ALL === "1";
if (skipped.length > 0) {
  process.stderr.write(`skipped tests${requireAll ? " (not allowed here)" : ""}:\n  ${skipped.join("\n  ")}\n`);
}
process.stdout.write(`${passed} passed, ${failed} failed, ${skipped.length} skipped\n`);
process.exit(failed > 0 || (requireAll && skipped.length > 0) ? 1 : 0);
