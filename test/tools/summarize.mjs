#!/usr/bin/env node
// Prints the suite's closing line from vitest's JSON reports (one or more) and decides the verdict: any failure fails;
// under CI (or ACCELNET_REQUIRE_ALL=1) any skipped test fails too, naming it, because CI runs as root
// with the lab available and a skip there means a test silently did not run.
import { readFileSync } from "node:fs";

const files = process.argv.slice(2);
let passed = 0;
let failed = 0;
const skipped = [];
const results = [];
for (const f of files) {
  try {
    results.push(...(JSON.parse(readFileSync(f, "utf8")).testResults ?? []));
  } catch (err) {
    // A missing report means that vitest run died before writing it: that is a failure, not zero tests.
    process.stderr.write(`cannot read test report "${f}": ${err.message}\n`);
    failed++;
  }
}
for (const file of results) {
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
