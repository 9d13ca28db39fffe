// Boots one lab VM: q35 with an Intel IOMMU, an igb NIC (the SR-IOV PF at
// 0000:00:02.0), the read-only repo share and a writable per-VM share. KVM is
// used only when a trivial boot proves it works; TCG is the fallback.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { log } from "./exec.js";

export type Accel = "kvm" | "tcg";

export interface VmSpec {
  kernel: string;
  initrd: string;
  accel: Accel;
  /** Shares mounted by the guest's /init: tag → host dir. */
  shares: { tag: string; dir: string; readonly: boolean }[];
  consoleFile: string;
  /** QEMU's own log: CPU resets (a triple fault ends the VM silently) and guest errors. */
  qemuLogFile: string;
  memoryMb?: number;
  timeoutMs: number;
}

export interface VmOutcome {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  wallMs: number;
  /** Peak resident memory of the QEMU process (VmHWM), in KiB. */
  peakRssKb: number;
  stderr: string;
}

/**
 * printk.devkmsg=on: /init's marker lines go through /dev/kmsg, which otherwise drops bursts.
 * hugepages=192: 384 MiB of 2 MiB pages reserved at boot, as a DPDK node has them (dpdk-testpmd
 * on a vfio-pci VF or virtio-user, and OVS-DPDK's ovs-vswitchd, take their memory from there):
 * 128 MiB for ovs-vswitchd (dpdk-socket-mem, guest/ovs.ts) and the rest for two testpmds beside
 * it. /init mounts /dev/hugepages.
 */
const kernelArgs = "console=ttyS0 intel_iommu=on iommu=pt panic=-1 printk.devkmsg=on hugepagesz=2M hugepages=192";

/**
 * TCG's translation cache defaults to 1 GiB per VM; 128 MiB cuts QEMU's peak
 * RSS by about 150 MB at no measurable cost (64 MiB made runs ~30% slower).
 */
const tcgAccel = "tcg,thread=multi,tb-size=128";

export function qemuArgs(spec: VmSpec): string[] {
  const machine =
    spec.accel === "kvm"
      ? ["-accel", "kvm", "-M", "q35,kernel-irqchip=split", "-cpu", "host"]
      : ["-accel", tcgAccel, "-M", "q35", "-cpu", "max"];
  const shares = spec.shares.flatMap((share) => [
    "-virtfs",
    `local,path=${share.dir.replaceAll(",", ",,")},mount_tag=${share.tag},security_model=none${share.readonly ? ",readonly=on" : ""}`,
  ]);
  return [
    ...machine,
    // 1024 MiB: the 384 MiB of hugepages come out of it (leaving the 640 MiB the guest had before OVS
    // came in), and TCG touches only what the guest uses.
    ...["-m", String(spec.memoryMb ?? 1024), "-smp", "1"],
    ...["-device", "intel-iommu,intremap=on,caching-mode=on"],
    ...["-netdev", "user,id=n0", "-device", "igb,netdev=n0,addr=0x2"],
    ...["-kernel", spec.kernel, "-initrd", spec.initrd, "-append", kernelArgs],
    ...["-nodefaults", "-no-reboot", "-display", "none", "-serial", `file:${spec.consoleFile}`],
    ...["-d", "cpu_reset,guest_errors", "-D", spec.qemuLogFile],
    ...shares,
  ];
}

async function peakRssKb(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    return Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

export async function bootVm(spec: VmSpec): Promise<VmOutcome> {
  const start = performance.now();
  const child = spawn("qemu-system-x86_64", qemuArgs(spec), { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  let peak = 0;
  let timedOut = false;
  const sampler = setInterval(() => {
    if (child.pid !== undefined) void peakRssKb(child.pid).then((kb) => (peak = Math.max(peak, kb)));
  }, 500);
  const killer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, spec.timeoutMs);
  const [exitCode, signal] = await new Promise<[number | null, string | null]>((resolve, reject) => {
    child.on("error", reject);
    // "close", not "exit": stderr is complete only once its pipe closed.
    child.on("close", (code, sig) => resolve([code, sig]));
  }).finally(() => {
    clearInterval(sampler);
    clearTimeout(killer);
  });
  return { exitCode, signal, timedOut, wallMs: Math.round(performance.now() - start), peakRssKb: peak, stderr };
}

let accelProbe: Promise<Accel> | null = null;

/**
 * KVM is used only if a kernel boots with it: on nested setups /dev/kvm can
 * exist and still fail (QEMU aborts setting MSRs). The probe boots the kernel
 * without an initrd and looks for the kernel reaching its root mount.
 * ACCELNET_LAB_ACCEL=tcg|kvm skips the probe.
 */
export function chooseAccel(kernel: string): Promise<Accel> {
  const forced = process.env.ACCELNET_LAB_ACCEL;
  if (forced === "tcg" || forced === "kvm") return Promise.resolve(forced);
  accelProbe ??= probeKvm(kernel);
  return accelProbe;
}

async function probeKvm(kernel: string): Promise<Accel> {
  if (!existsSync("/dev/kvm")) {
    log("accel: tcg (no /dev/kvm)");
    return "tcg";
  }
  const dir = await mkdtemp(path.join(tmpdir(), "accelnet-kvm-probe-"));
  try {
    const consoleFile = path.join(dir, "console.log");
    const args = ["-accel", "kvm", "-M", "q35", "-cpu", "host", "-m", "256", "-smp", "1", "-kernel", kernel];
    args.push("-append", "console=ttyS0 panic=-1", "-nodefaults", "-no-reboot", "-display", "none");
    args.push("-serial", `file:${consoleFile}`);
    const child = spawn("qemu-system-x86_64", args, { stdio: "ignore" });
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    await new Promise((resolve) => child.on("exit", resolve).on("error", resolve));
    clearTimeout(timer);
    const console = existsSync(consoleFile) ? await readFile(consoleFile, "utf8") : "";
    const works = /VFS: Unable to mount root|Kernel panic/.test(console);
    log(`accel: ${works ? "kvm" : "tcg (a KVM test boot failed)"}`);
    return works ? "kvm" : "tcg";
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
