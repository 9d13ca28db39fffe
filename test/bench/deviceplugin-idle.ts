// Device plugin cost at scale: the shipped daemon (bundled, Node 24) with the
// real helper on a fake 1024-VF sysfs tree (8 PFs × 128 VFs, test/deviceplugin/
// fake-sysfs.ts), registered with the kubelet simulator, then left idle. Prints
// idle CPU (daemon + its helper processes, % of one core) and the daemon's RSS
// over the window; asserts nothing. Run by deviceplugin-idle.mjs:
//   node test/bench/deviceplugin-idle.mjs [--seconds N] [--rescan-interval-ms M (60000, the default)]
//     [--bundle [--node-flags "--max-semi-space-size=1 ..."]]
// (default 120 s; the 10-minute run of the README is --seconds 600).
import { readFileSync, readdirSync, mkdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { buildScaleTree, fakeTreeTempDir } from "../deviceplugin/fake-sysfs.js";
import { KubeletSimulator } from "../deviceplugin/kubelet-simulator.js";
import { DaemonProcess, NODE24 } from "../deviceplugin/daemon-process.js";
import { freePort } from "../deviceplugin/daemon-env.js";

const repo = new URL("../../", import.meta.url).pathname;
const HELPER = join(repo, "dist/native/accelnet-helper");
const TICKS_PER_S = 100; // USER_HZ on Linux

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

/**
 * A just-written binary (our build's output) sits in the page cache as large folios and a process
 * mapping it is charged the whole folios (~20 MB more RSS; README "Benchmark"): evict it first, as
 * test/bench/run.mjs does, so the daemon is measured as it runs on a node.
 */
function evictFromPageCache(file: string): void {
  execFileSync("sync", [file]);
  execFileSync("dd", [`if=${file}`, "iflag=nocache", "count=0", "status=none"]);
}

/** utime+stime of a process, plus its reaped children's (cutime+cstime), in seconds; 0 when gone. */
function cpuSeconds(pid: number, withChildren: boolean): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields after "(comm) ": state=0 … utime=11 stime=12 cutime=13 cstime=14
    const own = Number(f[11]) + Number(f[12]);
    return (withChildren ? own + Number(f[13]) + Number(f[14]) : own) / TICKS_PER_S;
  } catch {
    return 0;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((t) =>
      readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

/** CPU seconds of the daemon, its reaped helpers and its live children (the uevent-monitor). */
function treeCpu(pid: number): number {
  return cpuSeconds(pid, true) + childrenOf(pid).reduce((s, c) => s + cpuSeconds(c, true), 0);
}

/** The daemon's own view of its memory (accelnet_deviceplugin_memory_bytes, by area), in MiB. */
async function memoryAreas(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^accelnet_deviceplugin_memory_bytes\{area="(\w+)"\} (\d+)$/gm)) {
    out[m[1]!] = Number(m[2]) / 2 ** 20;
  }
  return out;
}

/** The kernel's view: resident anonymous (V8 heap, code, malloc, stacks) and file-backed memory (the executable's pages), in MiB. */
function smapsAreas(pid: number): Record<string, number> {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN) / 1024;
  return { Rss: kib("Rss"), Anonymous: kib("Anonymous"), fileBacked: kib("Rss") - kib("Anonymous") };
}

function fmtAreas(a: Record<string, number>): string {
  return Object.entries(a)
    .map(([k, v]) => `${k} ${v.toFixed(1)}`)
    .join(", ");
}

async function main(): Promise<void> {
  if (!existsSync(HELPER)) throw new Error(`Cannot find "${HELPER}": run npm run build`);
  const seconds = arg("seconds", 120);
  const rescanMs = arg("rescan-interval-ms", 60_000);
  const root = fakeTreeTempDir("acn-dp-bench-");
  const sysfs = join(root, "sys");
  const dp = join(root, "dp");
  mkdirSync(dp);
  buildScaleTree(sysfs);
  writeFileSync(
    join(root, "config.json"),
    JSON.stringify({
      resourceList: [
        { resourceName: "net", selectors: { drivers: ["igbvf"] } },
        { resourceName: "dpdk", selectors: { drivers: ["vfio-pci"] } },
      ],
    }),
  );
  const metricsPort = await freePort();
  const kubelet = new KubeletSimulator(dp);
  await kubelet.start();
  const t0 = performance.now();
  // The packaged executable (its V8 flags are part of the package), or the bundle with --bundle.
  const exe = join(repo, "dist/accelnet-deviceplugin");
  const useBundle = process.argv.includes("--bundle");
  // With --bundle: V8/Node flags to try before packaging them (test/tools/build.mjs DAEMON_V8_FLAGS).
  const flagsAt = process.argv.indexOf("--node-flags");
  const nodeFlags = flagsAt > 0 ? (process.argv[flagsAt + 1] ?? "").split(" ").filter(Boolean) : [];
  if (!useBundle && !existsSync(exe)) throw new Error(`Cannot find "${exe}": run npm run build`);
  evictFromPageCache(useBundle ? NODE24 : exe);
  const start = (args: string[], env: NodeJS.ProcessEnv): Promise<DaemonProcess> | DaemonProcess =>
    useBundle ? DaemonProcess.start(args, env, nodeFlags) : DaemonProcess.startExecutable(exe, args, env);
  const d = await start(
    [
      `--config=${join(root, "config.json")}`,
      `--helper=${HELPER}`,
      `--sysfs-root=${sysfs}`,
      `--dev-root=${join(root, "dev")}`,
      `--device-plugin-dir=${dp}`,
      `--plugins-registry-dir=${join(root, "none")}`,
      `--devinfo-dir=${join(root, "devinfo")}`,
      `--rescan-interval-ms=${rescanMs}`,
      `--metrics-addr=127.0.0.1:${metricsPort}`,
    ],
    { ACCELNET_TRACE: "daemon" },
  );
  try {
    await kubelet.waitFor(
      () => kubelet.allocatable("accelnet.io/net") === 512 && kubelet.allocatable("accelnet.io/dpdk") === 512,
      120_000,
      "1024 VFs",
    );
    const readyMs = performance.now() - t0;
    const pid = d.child.pid ?? 0;
    const rssAtRegistration = d.rssKiB() / 1024;
    const areasAtRegistration = { ...(await memoryAreas(metricsPort)), ...smapsAreas(pid) };
    // Settle: start-up garbage collected, first safety-net rescan not yet due.
    await new Promise((r) => setTimeout(r, 5000));
    const cpu0 = treeCpu(pid);
    const w0 = performance.now();
    const rss: number[] = [];
    const sampleMs = Math.min(10_000, (seconds * 1000) / 12);
    while (performance.now() - w0 < seconds * 1000) {
      await new Promise((r) => setTimeout(r, sampleMs));
      rss.push(d.rssKiB() / 1024);
    }
    const wallS = (performance.now() - w0) / 1000;
    const cpuPct = ((treeCpu(pid) - cpu0) / wallS) * 100;
    const areasAtEnd = { ...(await memoryAreas(metricsPort)), ...smapsAreas(pid) };
    const rescans = d.logs.filter((l) => l.msg === "rescanned");
    const rescanTimes = rescans.filter((l) => l["trigger"] === "timer").map((l) => Number(l["ms"]));
    const secondHalf = rss.slice(Math.floor(rss.length / 2));
    const fmt = (x: number): string => x.toFixed(1);
    console.log(
      `device plugin (${useBundle ? `bundle on Node 24 ${nodeFlags.join(" ")}` : "dist/accelnet-deviceplugin"}) at 1024 VFs (8 PFs), helper on a fake sysfs tree, kubelet simulator`,
    );
    console.log(`  start -> kubelet has 1024 VFs:        ${readyMs.toFixed(0)} ms`);
    console.log(`  rescan timer (safety net):             ${rescanMs} ms`);
    console.log(`  idle window:                           ${fmt(wallS)} s`);
    console.log(`  idle CPU, daemon + helpers:            ${cpuPct.toFixed(2)} % of one core (target <= 1 %)`);
    console.log(`  timer rescans in the window:           ${rescanTimes.length} (${rescanTimes.join(", ")} ms each)`);
    console.log(`  daemon RSS at registration:            ${fmt(rssAtRegistration)} MiB`);
    console.log(
      `  daemon RSS over the window:            min ${fmt(Math.min(...rss))}, max ${fmt(Math.max(...rss))}, last ${fmt(rss.at(-1) ?? NaN)} MiB (target <= 80 MiB steady)`,
    );
    console.log(`  daemon RSS, max of the second half:    ${fmt(Math.max(...secondHalf))} MiB`);
    console.log(`  memory at registration (MiB):          ${fmtAreas(areasAtRegistration)}`);
    console.log(`  memory at the end (MiB):               ${fmtAreas(areasAtEnd)}`);
    console.log(
      "    (rss..arrayBuffers: process.memoryUsage() through /metrics; Rss, Anonymous, fileBacked: /proc/PID/smaps_rollup)",
    );
  } finally {
    await d.stop("SIGTERM");
    await kubelet.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
