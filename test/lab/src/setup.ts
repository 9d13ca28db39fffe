// The whole one-time lab setup, each step cached: pinned packages (kernel,
// Open vSwitch), module set, netdevsim, initramfs, VDUSE tool. Returns what a VM boots from and
// how long each step took.
import { existsSync } from "node:fs";
import path from "node:path";
import { buildInitramfs } from "./initramfs.js";
import { buildModuleSet, depmod } from "./modules.js";
import { buildNetdevsim } from "./netdevsim.js";
import { debsWithRole, ensureHostPackages, extractTree, readLock } from "./packages.js";
import { timed } from "./exec.js";
import { buildVduseTool } from "./vduse-tool.js";

export interface LabImage {
  kernel: string;
  initrd: string;
  release: string;
  timings: Record<string, number>;
}

/** Why the lab cannot run here, or null when it can. */
export function labUnavailableReason(): string | null {
  if (process.platform !== "linux" || process.arch !== "x64") return "the lab needs Linux on x86-64";
  if (process.getuid?.() !== 0) return "the lab needs root (apt, QEMU, module builds)";
  if (!existsSync("/usr/bin/apt-get") && !existsSync("/usr/bin/qemu-system-x86_64")) {
    return "the lab needs a Debian host (apt-get) to fetch its pinned packages";
  }
  return null;
}

let pending: Promise<LabImage> | null = null;

/** Runs the setup once per process; concurrent callers share it. */
export function setupLab(): Promise<LabImage> {
  pending ??= runSetup();
  return pending;
}

async function runSetup(): Promise<LabImage> {
  const timings: Record<string, number> = {};
  const lock = await readLock();
  const release = lock.kernelRelease;
  await timed(timings, "host packages", () => ensureHostPackages(lock));
  const [kernelTree, headersTree, sourceTree, ovsTree] = await timed(timings, "kernel and OVS packages", () =>
    Promise.all([
      extractTree("image", debsWithRole(lock, "image"), (root) => depmod(root, release)),
      extractTree("headers", debsWithRole(lock, "headers")),
      extractTree("source", debsWithRole(lock, "source")),
      extractTree("ovs", debsWithRole(lock, "ovs")),
    ]),
  );
  const netdevsimInputs = [...debsWithRole(lock, "source"), ...debsWithRole(lock, "headers")]
    .map((deb) => deb.sha256)
    .join(",");
  // Independent builds: run them side by side.
  const [modules, netdevsim] = await Promise.all([
    timed(timings, "module set", () => buildModuleSet(kernelTree, release)),
    timed(timings, "netdevsim", () => buildNetdevsim(sourceTree, headersTree, release, netdevsimInputs)),
  ]);
  const loaded = new Set(modules.loadOrder.map((file) => path.basename(file, ".ko").replaceAll("-", "_")));
  for (const dependency of netdevsim.depends) {
    if (!loaded.has(dependency.replaceAll("-", "_"))) {
      throw new Error(`netdevsim needs module ${dependency}, which is not in the guest module set (src/modules.ts)`);
    }
  }
  const initramfs = await timed(timings, "initramfs", () => buildInitramfs(release, modules, netdevsim, ovsTree));
  await timed(timings, "vduse tool", () => buildVduseTool());
  return {
    kernel: path.join(kernelTree, "boot", `vmlinuz-${release}`),
    initrd: initramfs.file,
    release,
    timings,
  };
}
