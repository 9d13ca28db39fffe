// Runs guest test files, one VM per file, several VMs at a time. Each VM gets
// a fresh writable share holding its job script; the guest writes vitest's
// JSON report, its log and its exit code there. The serial console, with
// "ACCELNET-LAB:" marker lines, is the fallback when the share has nothing.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import path from "node:path";
import { log } from "./exec.js";
import { bootVm, chooseAccel, type Accel, type VmOutcome } from "./qemu.js";
import { cacheDir, guestNode, guestRepoMount, guestResultsMount, repoRoot } from "./paths.js";
import type { LabImage } from "./setup.js";

export type CaseStatus = "passed" | "failed" | "skipped" | "pending" | "todo" | "disabled";

export interface GuestTestCase {
  fullName: string;
  status: CaseStatus;
  durationMs: number;
  failureMessages: string[];
}

export interface GuestFileResult {
  /** Repo-relative path of the guest test file. */
  file: string;
  ok: boolean;
  cases: GuestTestCase[];
  /** What went wrong beyond failing cases (VM died, timeout, no report, load error). */
  problem: string | null;
  guestLog: string;
  consoleTail: string;
  runDir: string;
  accel: Accel;
  vm: VmOutcome;
  /** Guest uptime when /init reached the job, from the console marker. */
  bootSeconds: number | null;
  /** The guest booted, then the VM ended without the job finishing and without a timeout. */
  stoppedEarly: boolean;
  /** Set when this is the second attempt; names where the first attempt's files are. */
  retriedAfter: string | null;
}

export interface RunOptions {
  parallel?: number;
  timeoutMs?: number;
}

const guestFilePattern = /^test\/lab\/guest\/[A-Za-z0-9._-]+\.test\.ts$/;

/** The job the guest's /init runs: vitest on one file, JSON report into the share. */
function jobScript(file: string): string {
  const node = path.posix.join(guestRepoMount, path.relative(repoRoot, guestNode));
  return [
    `cd ${guestRepoMount} || exit 120`,
    "export HOME=/tmp ACCELNET_LAB=1 NO_COLOR=1 CI=1",
    ...helperOverride(),
    ...killSeed(),
    `exec ${node} node_modules/vitest/vitest.mjs run --config test/lab/guest/vitest.config.ts --configLoader native \\`,
    `  --reporter=default --reporter=json --outputFile.json=${guestResultsMount}/report.json ${file}`,
    "",
  ].join("\n");
}

/**
 * ACCELNET_LAB_HELPER=<repo-relative path> makes the guest tests use another
 * helper build (e.g. a deliberately broken one, to check that the smoke suite
 * notices). The path is validated: it is written into the guest's job script.
 */
function helperOverride(): string[] {
  const override = process.env.ACCELNET_LAB_HELPER;
  if (override === undefined || override === "") return [];
  if (!/^[A-Za-z0-9._/-]+$/.test(override) || override.split("/").includes("..") || override.startsWith("/")) {
    throw new Error(`ACCELNET_LAB_HELPER must be a repo-relative path of [A-Za-z0-9._/-], got ${override}`);
  }
  if (!existsSync(path.join(repoRoot, override))) throw new Error(`ACCELNET_LAB_HELPER: ${override} does not exist`);
  return [`export ACCELNET_LAB_HELPER=${override}`];
}

/**
 * ACCELNET_LAB_KILL_SEED=<decimal> replays guest/kill-campaign.test.ts with the seed a failed run
 * printed. Digits only: it is written into the guest's job script.
 */
function killSeed(): string[] {
  const seed = process.env.ACCELNET_LAB_KILL_SEED;
  if (seed === undefined || seed === "") return [];
  if (!/^\d{1,10}$/.test(seed) || Number(seed) > 0xffffffff) {
    throw new Error(`ACCELNET_LAB_KILL_SEED must be a decimal integer below 2^32, got ${seed}`);
  }
  return [`export ACCELNET_LAB_KILL_SEED=${seed}`];
}

interface VitestJsonReport {
  testResults?: {
    name: string;
    status: string;
    message?: string;
    assertionResults?: { fullName: string; status: CaseStatus; duration?: number | null; failureMessages?: string[] }[];
  }[];
}

async function readIfExists(file: string): Promise<string> {
  return existsSync(file) ? readFile(file, "utf8") : "";
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/**
 * A fresh directory for one lab invocation, runs/<time>-<pid>-<random>/ (made
 * with mkdtemp, so it is never shared, even by two invocations in one process
 * within a second). Two VMs writing one run directory is what once made a
 * finished job look stopped: the runner read the other VM's console. Run
 * directories older than a day go.
 */
async function invocationDir(): Promise<string> {
  const runs = path.join(cacheDir, "runs");
  await mkdir(runs, { recursive: true });
  const dayAgo = Date.now() - 24 * 3600 * 1000;
  for (const entry of await readdir(runs)) {
    const dir = path.join(runs, entry);
    // Another invocation may be removing the same old entry: a vanished one is fine.
    const mtime = await stat(dir).then(
      (st) => st.mtimeMs,
      () => Infinity,
    );
    if (mtime < dayAgo) await rm(dir, { recursive: true, force: true });
  }
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "");
  return mkdtemp(path.join(runs, `${stamp}-${process.pid}-`));
}

/** What one VM attempt left behind: read after QEMU has exited, never before. */
export interface AttemptEvidence {
  /** The serial console file. */
  consoleText: string;
  /** share/exit-code, trimmed; "" when the guest did not write it. */
  exitText: string;
  /** share/report.json as text; null when absent. */
  reportText: string | null;
  vm: Pick<VmOutcome, "timedOut" | "exitCode" | "signal" | "stderr">;
  timeoutMs: number;
}

export interface AttemptVerdict {
  ok: boolean;
  cases: GuestTestCase[];
  problems: string[];
  bootSeconds: number | null;
  /** The guest's job ran to its end: its exit code is in the share, or the EXIT marker is on the console. */
  finished: boolean;
  /** Booted, then ended without finishing and without a timeout: worth one more attempt. */
  stoppedEarly: boolean;
}

/**
 * Judges one attempt. Completion comes first from the results share: /init
 * writes share/exit-code (9p, uncached, so it is on the host when the write
 * returns) and syncs before it prints the EXIT marker and powers off. The
 * console marker is only the fallback: it can be lost or split, because the
 * console is shared with the kernel's own messages and power-off follows it
 * at once. A job that finished is never "stopped early", so never rerun.
 */
export function judgeAttempt(evidence: AttemptEvidence): AttemptVerdict {
  const { consoleText, exitText, reportText, vm } = evidence;
  const booted = /ACCELNET-LAB: BOOTED ([\d.]+)/.exec(consoleText);
  const markers = [...consoleText.matchAll(/ACCELNET-LAB: (MODULE-FAILED|MOUNT-FAILED) (\S+)/g)].map(
    (m) => `${m[1]} ${m[2]}`,
  );
  const exitMarker = /ACCELNET-LAB: EXIT (\d+)/.exec(consoleText);
  const exitCode = exitText !== "" ? exitText : (exitMarker?.[1] ?? "");
  const finished = exitCode !== "";
  // The guest's files in the share also prove it booted, when the BOOTED line got lost.
  const reachedJob = booted !== null || finished || reportText !== null;

  const cases: GuestTestCase[] = [];
  const problems: string[] = [];
  let report: VitestJsonReport | null = null;
  if (reportText !== null) {
    try {
      report = JSON.parse(reportText) as VitestJsonReport;
    } catch (error) {
      problems.push(
        `the guest's report.json is not valid JSON (${error instanceof Error ? error.message : String(error)})`,
      );
    }
  }
  if (report !== null) {
    for (const fileResult of report.testResults ?? []) {
      if (fileResult.message) problems.push(`guest vitest: ${fileResult.message}`);
      else if (
        fileResult.status === "failed" &&
        !(fileResult.assertionResults ?? []).some((a) => a.status === "failed")
      ) {
        problems.push("guest vitest marked the file failed (a hook failed?); see the guest log");
      }
      for (const assertion of fileResult.assertionResults ?? []) {
        cases.push({
          fullName: assertion.fullName,
          status: assertion.status,
          durationMs: Math.round(assertion.duration ?? 0),
          failureMessages: assertion.failureMessages ?? [],
        });
      }
    }
    if (cases.length === 0) problems.push("the guest report lists no tests");
  } else if (reportText === null) {
    problems.push("the guest wrote no report.json");
  }
  if (vm.timedOut) problems.push(`the VM did not finish within ${Math.round(evidence.timeoutMs / 1000)} s`);
  else if (vm.exitCode !== 0) problems.push(`QEMU exited with ${vm.exitCode ?? vm.signal}: ${tail(vm.stderr, 5)}`);
  if (!reachedJob) problems.push("the guest never reached its job (no BOOTED marker on the console)");
  if (markers.length > 0) problems.push(`guest /init: ${markers.join(", ")}`);
  const stoppedEarly = reachedJob && !finished && !vm.timedOut;
  if (stoppedEarly) {
    problems.push(
      `the guest stopped before its job finished (no exit code in the share, no EXIT marker; QEMU exit ` +
        `${vm.exitCode ?? vm.signal}${vm.stderr.trim() ? `: ${tail(vm.stderr, 3)}` : ""}; CPU resets in qemu.log)`,
    );
  }

  const failed = cases.some((c) => c.status === "failed");
  const ok = problems.length === 0 && !failed && exitCode === "0";
  if (!ok && problems.length === 0 && !failed) problems.push(`the guest job exited with ${exitCode}`);
  return {
    ok,
    cases,
    problems,
    bootSeconds: booted?.[1] === undefined ? null : Number(booted[1]),
    finished,
    stoppedEarly,
  };
}

export async function runGuestFile(
  image: LabImage,
  file: string,
  options: RunOptions = {},
  runsDir?: string,
): Promise<GuestFileResult> {
  if (!guestFilePattern.test(file))
    throw new Error(`not a guest test file: ${file} (expected ${guestFilePattern.source})`);
  if (!existsSync(path.join(repoRoot, file))) throw new Error(`guest test file does not exist: ${file}`);
  const runDir = path.join(runsDir ?? (await invocationDir()), path.basename(file));
  await rm(runDir, { recursive: true, force: true });
  const shareDir = path.join(runDir, "share");
  await mkdir(shareDir, { recursive: true });
  await writeFile(path.join(shareDir, "job.sh"), jobScript(file));
  const consoleFile = path.join(runDir, "console.log");
  const accel = await chooseAccel(image.kernel);
  const timeoutMs = options.timeoutMs ?? 600_000;

  const vm = await bootVm({
    kernel: image.kernel,
    initrd: image.initrd,
    accel,
    consoleFile,
    qemuLogFile: path.join(runDir, "qemu.log"),
    timeoutMs,
    shares: [
      { tag: "repo", dir: repoRoot, readonly: true },
      { tag: "results", dir: shareDir, readonly: false },
    ],
  });

  // QEMU has exited (bootVm waits for it): nothing writes these files any more.
  const consoleText = await readIfExists(consoleFile);
  const guestLog = await readIfExists(path.join(shareDir, "guest.log"));
  const reportFile = path.join(shareDir, "report.json");
  const verdict = judgeAttempt({
    consoleText,
    exitText: (await readIfExists(path.join(shareDir, "exit-code"))).trim(),
    reportText: existsSync(reportFile) ? await readFile(reportFile, "utf8") : null,
    vm,
    timeoutMs,
  });
  await writeFile(path.join(runDir, "qemu.stderr"), vm.stderr);
  return {
    file,
    ok: verdict.ok,
    cases: verdict.cases,
    problem: verdict.problems.length > 0 ? verdict.problems.join("; ") : null,
    guestLog,
    consoleTail: tail(consoleText, 40),
    runDir,
    accel,
    vm,
    bootSeconds: verdict.bootSeconds,
    stoppedEarly: verdict.stoppedEarly,
    retriedAfter: null,
  };
}

/** Runs files with at most `parallel` VMs at once (default: one per core). */
export async function runGuestFiles(image: LabImage, files: readonly string[], options: RunOptions = {}) {
  // One VM per file, one run directory per file name: the same file twice would share it.
  const duplicate = files.find((file, index) => files.indexOf(file) !== index);
  if (duplicate !== undefined) throw new Error(`guest test file given twice: ${duplicate}`);
  const parallel = Math.max(1, options.parallel ?? Number(process.env.ACCELNET_LAB_PARALLEL ?? availableParallelism()));
  const results: GuestFileResult[] = new Array<GuestFileResult>(files.length);
  const runsDir = await invocationDir();
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < files.length; index = next++) {
      const file = files[index];
      if (file === undefined) continue;
      let result = await runGuestFile(image, file, options, runsDir);
      if (result.stoppedEarly) {
        // The VM booted and ended without a timeout, and the job left neither
        // its exit code in the share nor the EXIT marker (judgeAttempt): a
        // real stop. One retry; the first attempt's files are kept.
        const kept = `${result.runDir}.stopped`;
        await rm(kept, { recursive: true, force: true });
        await rename(result.runDir, kept);
        log(`${file}: the VM stopped before the job finished; retrying once (first attempt kept in ${kept})`);
        result = { ...(await runGuestFile(image, file, options, runsDir)), retriedAfter: kept };
      }
      const boot = result.bootSeconds === null ? "?" : result.bootSeconds.toFixed(1);
      log(
        `${file}: ${result.ok ? "pass" : "FAIL"} (${result.accel}, VM ${(result.vm.wallMs / 1000).toFixed(1)} s,` +
          ` boot ${boot} s, QEMU peak RSS ${Math.round(result.vm.peakRssKb / 1024)} MB)`,
      );
      results[index] = result;
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, files.length) }, worker));
  return results;
}
