// `node test/lab/run.mjs [--parallel N] [--timeout SECONDS] FILE...`: sets the
// lab up (cached), runs each guest test file in its own VM and prints a
// verdict per test; exit 0 only when every file passed.
import path from "node:path";
import { repoRoot } from "./paths.js";
import { runGuestFiles, type GuestFileResult } from "./runner.js";
import { labUnavailableReason, setupLab } from "./setup.js";

function usage(message: string): never {
  process.stderr.write(
    `${message}\nusage: node test/lab/run.mjs [--parallel N] [--timeout SECONDS] test/lab/guest/X.test.ts...\n`,
  );
  process.exit(2);
}

function parseArgs(argv: string[]): { files: string[]; parallel?: number; timeoutMs?: number } {
  const files: string[] = [];
  let parallel: number | undefined;
  let timeoutMs: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--parallel" || arg === "--timeout") {
      const value = Number(argv[++i]);
      if (!Number.isInteger(value) || value < 1) usage(`${arg} needs a positive integer`);
      if (arg === "--parallel") parallel = value;
      else timeoutMs = value * 1000;
    } else if (arg.startsWith("-")) {
      usage(`unknown option ${arg}`);
    } else {
      files.push(path.relative(repoRoot, path.resolve(arg)));
    }
  }
  if (files.length === 0) usage("no guest test file given");
  return { files, ...(parallel === undefined ? {} : { parallel }), ...(timeoutMs === undefined ? {} : { timeoutMs }) };
}

function report(result: GuestFileResult): void {
  const out = process.stdout;
  const seconds = (result.vm.wallMs / 1000).toFixed(1);
  const boot = result.bootSeconds === null ? "?" : result.bootSeconds.toFixed(1);
  const rss = Math.round(result.vm.peakRssKb / 1024);
  out.write(
    `${result.ok ? "PASS" : "FAIL"} ${result.file}  (${result.accel}, VM ${seconds} s, boot ${boot} s, QEMU peak RSS ${rss} MB)\n`,
  );
  for (const testCase of result.cases) {
    out.write(`  ${testCase.status.padEnd(7)} ${testCase.fullName} (${testCase.durationMs} ms)\n`);
    for (const message of testCase.failureMessages)
      out.write(`          ${message.split("\n").slice(0, 12).join("\n          ")}\n`);
  }
  if (result.ok) {
    out.write(`  files: ${result.runDir}\n`);
    return;
  }
  if (result.problem !== null) out.write(`  problem: ${result.problem}\n`);
  out.write(`  --- guest log (tail) ---\n${result.guestLog.trimEnd().split("\n").slice(-40).join("\n")}\n`);
  out.write(`  --- console (tail) ---\n${result.consoleTail}\n`);
  out.write(`  files: ${result.runDir}\n`);
}

export async function main(argv: string[]): Promise<number> {
  const options = parseArgs(argv);
  const reason = labUnavailableReason();
  if (reason !== null) {
    process.stderr.write(`lab unavailable: ${reason}\n`);
    return 77;
  }
  const setupStart = performance.now();
  const image = await setupLab();
  process.stderr.write(
    `[lab] setup ${((performance.now() - setupStart) / 1000).toFixed(1)} s: ${JSON.stringify(image.timings)}\n`,
  );
  const results = await runGuestFiles(image, options.files, options);
  for (const result of results) report(result);
  return results.every((result) => result.ok) ? 0 : 1;
}
