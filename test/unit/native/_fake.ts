// Helpers for the helper's sysfs commands against fake trees (no root): run the
// ASan build with tracing on (the trace lists every sysfs write in order), and
// build a small node with test/deviceplugin/fake-sysfs.ts.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { FakeSysfs } from "../../deviceplugin/fake-sysfs.js";

export const HELPER_ASAN = fileURLToPath(new URL("../../../dist/native/accelnet-helper-asan", import.meta.url));

export function requireHelper(): void {
  if (!existsSync(HELPER_ASAN)) throw new Error(`Cannot find "${HELPER_ASAN}": run "make -C native" first`);
}

export interface HelperError {
  index: number | null;
  cmd: string | null;
  op: string;
  object: string;
  errno: number;
  errname: string;
  message: string;
  attr?: string;
}

export interface Run {
  code: number | null;
  ok: boolean;
  result: Record<string, unknown>;
  error: HelperError | undefined;
  /** "write <path relative to the root> <value>" for every sysfs write, in order. */
  writes: string[];
  stderr: string;
}

export const SANITIZER_ENV = {
  ASAN_OPTIONS: "halt_on_error=1:exitcode=86:detect_leaks=1",
  UBSAN_OPTIONS: "halt_on_error=1:print_stacktrace=1",
  ACCELNET_HELPER_TRACE: "1",
};

export function parseRun(root: string, code: number | null, stdout: string, stderr: string): Run {
  if (/Sanitizer|runtime error/.test(stderr)) throw new Error(`sanitizer report:\n${stderr}`);
  let reply: { ok: boolean; results: Record<string, unknown>[]; error?: HelperError };
  try {
    reply = JSON.parse(stdout) as typeof reply;
  } catch {
    throw new Error(`helper exited ${String(code)} without a JSON reply: ${stdout}${stderr}`);
  }
  const writes = stderr
    .split("\n")
    .filter((l) => l.startsWith("accelnet-helper: write "))
    .map((l) => l.slice("accelnet-helper: ".length).replace(` ${root}/`, " "));
  return { code, ok: reply.ok, result: reply.results[0] ?? {}, error: reply.error, writes, stderr };
}

/** Runs one helper command against the fake tree at root (and an optional fake /dev). */
export function helper(root: string, args: readonly string[], devRoot?: string): Run {
  const argv = [`--sysfs-root=${root}`, ...(devRoot === undefined ? [] : [`--dev-root=${devRoot}`]), ...args];
  const r = spawnSync(HELPER_ASAN, argv, { encoding: "utf8", env: { ...process.env, ...SANITIZER_ENV } });
  return parseRun(root, r.status, r.stdout, r.stderr);
}

/** Writes an executable sh script @name with @body into @dir: a stand-in helper for the client's tests. */
export function fakeScript(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

export function tempRoot(cleanup: (() => void)[]): string {
  const dir = mkdtempSync(join(tmpdir(), "acn-fakesys-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export const PF = "0000:01:00.0";
export const VF0 = "0000:01:10.0"; // igbvf, netdev v0
export const VF1 = "0000:01:10.1"; // vfio-pci
export const VF2 = "0000:01:10.2"; // igbvf + vdpa0 on vhost_vdpa

/** One igb PF "ens1f0" (NUMA 1, carrier up) with three VFs, and a VDUSE device "vduse1" on virtio_vdpa. */
export function smallNode(root: string): FakeSysfs {
  const fs = new FakeSysfs(root);
  fs.addPf({
    addr: PF,
    netdev: "ens1f0",
    driver: "igb",
    numaNode: 1,
    carrier: true,
    vendor: "8086",
    pfDevice: "10c9",
    vfDevice: "10ca",
    iommuGroup: 7,
    totalVfs: 7,
    vfs: [
      { addr: VF0, driver: "igbvf", iommuGroup: 20, netdev: "v0" },
      { addr: VF1, driver: "vfio-pci", iommuGroup: 21, netdev: null },
      {
        addr: VF2,
        driver: "igbvf",
        iommuGroup: 22,
        netdev: "v2",
        vdpa: { name: "vdpa0", driver: "vhost_vdpa", vhostIndex: 3 },
      },
    ],
  });
  fs.addVduse({ name: "vduse1", driver: "virtio_vdpa", vhostIndex: 0 });
  return fs;
}
