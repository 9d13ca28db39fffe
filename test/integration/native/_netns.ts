// Shared fixtures for the helper's integration tests: throwaway network
// namespaces with veth masters (no dummy links on our machines), the ASan
// helper (through the client or raw argv), and sanitizer settings that make
// any finding fail the test.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, expect } from "vitest";

import { createNativeClient, NativeError, type NativeClient } from "../../../native/client/index.js";

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

/** Waits for @p and returns the NativeError it rejects with; any other outcome fails the test. */
export async function failure(p: Promise<unknown>): Promise<NativeError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof NativeError) return e;
    throw e;
  }
  throw new Error("Expected the helper to fail");
}

/** The helper's reply as raw JSON, for the fields the client does not surface. */
export interface RawReply {
  ok: boolean;
  results: Record<string, unknown>[];
  error?: {
    index: number | null;
    cmd: string | null;
    op: string;
    object: string;
    errname: string;
    message: string;
    attr?: string;
  };
}

/** Raw argv run of the ASan helper, for refusals (exit 2) and failures whose reply shape is checked field by field. */
export function rawHelper(...argv: string[]): { status: number | null; reply: RawReply } {
  const r = spawnSync(HELPER_ASAN, argv, { encoding: "utf8" });
  expect(r.stderr).not.toMatch(/Sanitizer|runtime error/);
  return { status: r.status, reply: JSON.parse(r.stdout) as RawReply };
}

/**
 * The ASan helper's client for one describe block: checks that the build exists, sends sanitizer reports to a
 * temp dir (see sanitize), fails the test after which a report appeared, and removes the dir at the end. Hooks a
 * suite registers after this call run before these after-hooks (vitest runs after-hooks as a stack).
 */
export function useSanitizedClient(): NativeClient {
  const client = createNativeClient({ helperPath: HELPER_ASAN, timeoutMs: 20_000 });
  let dir: string | undefined;

  beforeAll(() => {
    requireHelper();
    dir = sanitize().dir;
  });
  afterEach(() => {
    if (dir !== undefined) expect(sanitizerReports(dir)).toBe("");
  });
  afterAll(() => {
    if (dir !== undefined) removeDir(dir);
  });
  return client;
}
