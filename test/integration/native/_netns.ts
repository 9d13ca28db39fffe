// Shared fixtures for the helper's integration tests: throwaway network
// namespaces with veth masters (no dummy links on our machines), the ASan
// helper, and sanitizer settings that make any finding fail the test.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const isRoot = process.getuid?.() === 0;

export const HELPER_ASAN = fileURLToPath(new URL("../../../dist/native/accelnet-helper-asan", import.meta.url));

export function requireHelper(): void {
  if (!existsSync(HELPER_ASAN)) throw new Error(`Cannot find "${HELPER_ASAN}": run "make -C native" first`);
}

/** A short random tag so parallel runs never share a name (ifnames are at most 15 bytes). */
export function tag(): string {
  return randomBytes(2).toString("hex");
}

export function ip(...args: string[]): string {
  return execFileSync("ip", args, { encoding: "utf8" });
}

export function netnsPath(name: string): string {
  return `/run/netns/${name}`;
}

export function addNetns(name: string): string {
  ip("netns", "add", name);
  ip("-n", name, "link", "set", "lo", "up");
  return netnsPath(name);
}

export function delNetns(name: string): void {
  spawnSync("ip", ["netns", "del", name]);
}

/** Names of the links in a netns, by asking the kernel through iproute2 (independent of the helper). */
export function linkNames(ns: string): string[] {
  const out = JSON.parse(ip("-n", ns, "-j", "link", "show")) as { ifname: string }[];
  return out.map((l) => l.ifname).sort();
}

export function readSysctl(ns: string, path: string): string {
  return execFileSync("ip", ["netns", "exec", ns, "cat", `/proc/sys/${path}`], { encoding: "utf8" }).trim();
}

/**
 * Sanitizer settings for every helper the test process spawns: stop at the first
 * finding with a distinctive exit code, and write reports to files checked by
 * assertNoSanitizerReports (the client does not expose stderr on success).
 */
export function sanitize(): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(join(tmpdir(), "acn-asan-"));
  const env = {
    ASAN_OPTIONS: `halt_on_error=1:exitcode=86:detect_leaks=1:log_path=${dir}/asan`,
    UBSAN_OPTIONS: `halt_on_error=1:print_stacktrace=1:log_path=${dir}/ubsan`,
  };
  Object.assign(process.env, env);
  return { dir, env };
}

export function sanitizerReports(dir: string): string {
  return readdirSync(dir)
    .map((f) => readFileSync(join(dir, f), "utf8"))
    .join("\n");
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
