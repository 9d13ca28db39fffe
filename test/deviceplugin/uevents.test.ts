// Rescan hints reach kubelet without the timer. The rescan timer is set to 60 s in
// every test here, and every wait is bounded well below it, so only a hint can
// explain a fast update. Times are printed, never asserted.
//
// 1. In-process Daemon, hints injected at the io boundary (a HintSource the test
//    fires), inventory from memory: the hint → ListAndWatch path, and a failing
//    UeventHintSource counted in the errors metric while the timer keeps going.
// 2. The shipped daemon (bundled, Node 24) with the real helper on a fake sysfs
//    tree (root): a real kernel uevent (a synthetic pci "change" written to a real
//    PCI device's sysfs `uevent` file) makes it rescan; the helper's uevent-monitor
//    dying is logged and it is restarted.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Daemon } from "../../deviceplugin/io/daemon.js";
import { createLogger } from "../../deviceplugin/io/logger.js";
import type { InventorySource } from "../../deviceplugin/io/inventory-source.js";
import { UeventHintSource, type HintSink, type HintSource } from "../../deviceplugin/io/uevent-hints.js";
import { watchUevents } from "../../native/client/index.js";
import { KubeletSimulator } from "./kubelet-simulator.js";
import { DaemonProcess } from "./daemon-process.js";
import { asInventory, sampleConfig, sampleInventory } from "./inventory-fixtures.js";
import { buildSampleTree, fakeTreeTempDir } from "./fake-sysfs.js";

const NET = "example.com/netdev";
const VFIO = "accelnet.io/vfio";
/** Far above any hint's latency, far below the 60 s rescan timer. */
const HANG_MS = 15_000;
const TIMER_MS = 60_000;
const HELPER = new URL("../../dist/native/accelnet-helper", import.meta.url).pathname;
const isRoot = process.getuid?.() === 0;
const PCI_DEVICES = "/sys/bus/pci/devices";
const realPciDevice = existsSync(PCI_DEVICES) ? readdirSync(PCI_DEVICES).sort()[0] : undefined;
const helperHasMonitor =
  existsSync(HELPER) &&
  (
    (JSON.parse(spawnSync(HELPER, ["--version"], { encoding: "utf8" }).stdout || "{}") as { commands?: string[] })
      .commands ?? []
  ).includes("uevent-monitor");

let root = "";
let dpDir = "";
let kubelet: KubeletSimulator;
const cleanups: (() => Promise<void> | void)[] = [];

beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), "acn-dp-uev-"));
  dpDir = join(root, "dp");
  mkdirSync(dpDir);
  writeFileSync(join(root, "config.json"), JSON.stringify(sampleConfig()));
  kubelet = new KubeletSimulator(dpDir);
  await kubelet.start();
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await kubelet.stop();
  rmSync(root, { recursive: true, force: true });
});

/** A hint source the test fires by hand. */
class ManualHints implements HintSource {
  readonly name = "manual";
  sink: HintSink | null = null;
  start(sink: HintSink): void {
    this.sink = sink;
  }
  stop(): void {
    this.sink = null;
  }
}

async function inProcessDaemon(hintSources: HintSource[], rescanIntervalMs = TIMER_MS) {
  let inv = sampleInventory();
  const inventory: InventorySource = { hintPaths: [], read: () => Promise.resolve(asInventory(inv)) };
  const logs: Record<string, unknown>[] = [];
  const daemon = new Daemon({
    configPath: join(root, "config.json"),
    resourcePrefix: "accelnet.io",
    devicePluginDir: dpDir,
    pluginsRegistryDir: join(root, "no-registry"),
    registrationMode: "classic",
    devinfoDir: join(root, "devinfo"),
    cdiDir: null,
    metricsAddr: null,
    inventory,
    hintSources,
    log: createLogger({
      level: "info",
      trace: "daemon",
      write: (line) => logs.push(JSON.parse(line) as Record<string, unknown>),
    }),
    rescanIntervalMs,
  });
  await daemon.start();
  cleanups.push(() => daemon.tryShutdown());
  await kubelet.waitFor(() => kubelet.allocatable(VFIO) === 1 && kubelet.allocatable(NET) === 2, HANG_MS, "devices");
  return {
    daemon,
    logs,
    setInventory: (next: ReturnType<typeof sampleInventory>) => {
      inv = next;
    },
  };
}

describe("device plugin rescans on hints, not only on its timer", () => {
  it("a hint from a hint source reaches kubelet's ListAndWatch without the timer; prints the time", async () => {
    const hints = new ManualHints();
    const { daemon, setInventory } = await inProcessDaemon([hints]);
    const next = sampleInventory();
    next.vfs = next.vfs.filter((v) => v.addr !== "0000:01:10.1");
    setInventory(next);
    // Control: without a hint nothing looks at the inventory (timer 60 s).
    await new Promise((r) => setTimeout(r, 500));
    expect(kubelet.allocatable(VFIO)).toBe(1);

    const t0 = performance.now();
    hints.sink!.hint("uevent", { action: "remove", subsystem: "pci" });
    hints.sink!.hint("uevent", { action: "remove", subsystem: "net" }); // same burst: one rescan
    await kubelet.waitFor(() => kubelet.allocatable(VFIO) === 0, HANG_MS, "the removed VF gone");
    const ms = performance.now() - t0;
    console.log(`hint -> kubelet sees the VF gone: ${ms.toFixed(1)} ms (rescan timer ${TIMER_MS} ms)`);
    expect(daemon.metrics.get("accelnet_deviceplugin_rescans_total", { trigger: "uevent", result: "ok" })).toBe(1);
    expect(daemon.metrics.get("accelnet_deviceplugin_rescans_total", { trigger: "timer", result: "ok" })).toBe(0);
  });

  it("a uevent monitor that keeps dying is counted in the errors metric and restarted; the timer keeps rescanning", async () => {
    let started = 0;
    const source = new UeventHintSource({
      initialBackoffMs: 20,
      maxBackoffMs: 40,
      startMonitor: () => {
        started++;
        return { close: () => undefined, exited: Promise.resolve(new Error("Cannot uevent-monitor: bind failed")) };
      },
    });
    const { daemon, logs } = await inProcessDaemon([source], 100);
    await kubelet.waitFor(() => started >= 4, HANG_MS, "three restarts");
    const timerRescans = daemon.metrics.get("accelnet_deviceplugin_rescans_total", { trigger: "timer", result: "ok" });
    await kubelet.waitFor(
      () =>
        daemon.metrics.get("accelnet_deviceplugin_rescans_total", { trigger: "timer", result: "ok" }) > timerRescans,
      HANG_MS,
      "another timer rescan",
    );
    expect(daemon.metrics.get("accelnet_deviceplugin_errors_total", { kind: "uevents" })).toBeGreaterThanOrEqual(3);
    expect(
      logs.find((l) => l["msg"] === "rescan hint source failed, restarting it; the rescan timer keeps running"),
    ).toMatchObject({ level: "error", source: "uevents", error: "Cannot uevent-monitor: bind failed", retryMs: 20 });
  });
});

const canWatchLinks = isRoot && helperHasMonitor;
describe.skipIf(!canWatchLinks)(
  canWatchLinks
    ? "a link's carrier change (no uevent) reaches kubelet through the helper's rtnetlink watch (needs root)"
    : `a link's carrier change reaches kubelet (skipped: needs root and ${HELPER} with uevent-monitor)`,
  () => {
    it("a PF losing carrier makes its VFs Unhealthy in kubelet without the timer; prints the time", async () => {
      // A veth pair stands in for the PF's link (virtual=1 lets the monitor report it): the
      // kernel's RTM_NEWLINK is real; the inventory the rescan reads is the test's.
      const tag = `${process.pid % 10000}${Math.floor(Math.random() * 100)}`;
      const [a, b] = [`dpl${tag}a`, `dpl${tag}b`];
      const ip = (...args: string[]): void => {
        const r = spawnSync("ip", args, { encoding: "utf8" });
        if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
      };
      ip("link", "add", a, "type", "veth", "peer", "name", b);
      cleanups.push(() => void spawnSync("ip", ["link", "del", a]));
      ip("link", "set", a, "up");
      ip("link", "set", b, "up");
      const links: string[] = [];
      const source = new UeventHintSource({
        startMonitor: (onMessage) =>
          watchUevents({ helperPath: HELPER, includeVirtual: true }, (m) => {
            if (m.type === "link" && m.link.interface === a) links.push(`${m.link.carrier}/${m.link.operstate}`);
            onMessage(m);
          }),
      });
      const { daemon, setInventory } = await inProcessDaemon([source]);
      // The monitor is up once its "ready" hint has been rescanned.
      await kubelet.waitFor(
        () => daemon.metrics.get("accelnet_deviceplugin_rescans_total", { trigger: "uevent", result: "ok" }) >= 1,
        HANG_MS,
        "the monitor's ready rescan",
      );
      const down = sampleInventory();
      down.pfs[0]!.linkState = "down";
      setInventory(down);
      const t0 = performance.now();
      ip("link", "set", b, "down"); // a loses carrier: RTM_NEWLINK, no uevent
      await kubelet.waitFor(() => kubelet.allocatable(NET) === 0, HANG_MS, "VFs Unhealthy after the carrier loss");
      const ms = performance.now() - t0;
      console.log(
        `PF carrier lost -> kubelet sees its VFs Unhealthy: ${ms.toFixed(1)} ms (rescan timer ${TIMER_MS} ms)`,
      );
      expect(links).toContain("false/lowerlayerdown");
      expect(
        daemon.metrics.get("accelnet_deviceplugin_rescans_total", { trigger: "link", result: "ok" }),
      ).toBeGreaterThan(0);
      expect(daemon.metrics.get("accelnet_deviceplugin_rescans_total", { trigger: "timer", result: "ok" })).toBe(0);
    });
  },
);

/** PIDs of a process's children (from /proc; no process names involved). */
function childPids(pid: number): number[] {
  const tasks = readdirSync(`/proc/${pid}/task`);
  return tasks.flatMap((t) =>
    readFileSync(`/proc/${pid}/task/${t}/children`, "utf8")
      .split(" ")
      .filter((s) => s.trim() !== "")
      .map(Number),
  );
}

const canRun = isRoot && helperHasMonitor && realPciDevice !== undefined;
describe.skipIf(!canRun)(
  canRun
    ? "shipped daemon with the helper: real kernel uevents trigger rescans (needs root)"
    : `shipped daemon with the helper: real kernel uevents trigger rescans (skipped: needs root, ${HELPER} with uevent-monitor and a PCI device)`,
  () => {
    async function startDaemon(extra: string[] = []) {
      const sysfs = fakeTreeTempDir("acn-dp-uev-sysfs-");
      cleanups.push(() => rmSync(sysfs, { recursive: true, force: true }));
      const tree = buildSampleTree(sysfs);
      const d = await DaemonProcess.start(
        [
          `--config=${join(root, "config.json")}`,
          `--helper=${HELPER}`,
          `--sysfs-root=${sysfs}`,
          `--dev-root=${join(sysfs, "dev")}`,
          `--device-plugin-dir=${dpDir}`,
          `--plugins-registry-dir=${join(root, "no-registry")}`,
          `--devinfo-dir=${join(root, "devinfo")}`,
          "--metrics-addr=",
          `--rescan-interval-ms=${TIMER_MS}`,
          ...extra,
        ],
        { ACCELNET_TRACE: "daemon" },
      );
      cleanups.push(async () => void (await d.stop("SIGKILL")));
      await kubelet.waitFor(() => kubelet.allocatable(NET) === 2, HANG_MS, "devices from the fake tree");
      return { d, tree };
    }
    const readyHints = (d: DaemonProcess) =>
      d.logs.filter((l) => l.msg === "rescan hint" && l["reason"] === "monitor ready").length;
    const uevent = (addr: string) => writeFileSync(join(PCI_DEVICES, addr, "uevent"), "change");

    it("a real pci uevent makes the daemon rescan: a rebound VF reaches kubelet without the timer; prints the time", async () => {
      const { d, tree } = await startDaemon();
      await d.waitForLog((l) => l.msg === "rescanned" && l["trigger"] === "uevent", HANG_MS); // after "ready"
      tree.rebind("0000:01:10.0", "vfio-pci");
      // Control: the tree changed, but no uevent and no timer: kubelet keeps the old view.
      await new Promise((r) => setTimeout(r, 1000));
      expect(kubelet.allocatable(NET)).toBe(2);

      const t0 = performance.now();
      uevent(realPciDevice!);
      await kubelet.waitFor(
        () => kubelet.allocatable(NET) === 1 && kubelet.allocatable(VFIO) === 2,
        HANG_MS,
        "the rebound VF moved pools",
      );
      const ms = performance.now() - t0;
      console.log(
        `real pci uevent -> helper uevent-monitor -> daemon rescan -> kubelet ListAndWatch: ${ms.toFixed(1)} ms ` +
          `(rescan timer ${TIMER_MS} ms)`,
      );
      expect(
        d.logs.some(
          (l) =>
            l.msg === "rescan hint" &&
            l["subsystem"] === "pci" &&
            l["pciSlot"] === realPciDevice &&
            l["action"] === "change",
        ),
      ).toBe(true);
      expect(d.logs.filter((l) => l.msg === "rescanned" && l["trigger"] === "timer")).toEqual([]);
    });

    it("--uevents=false runs no monitor: the same uevent changes nothing", async () => {
      const { d, tree } = await startDaemon(["--uevents=false"]);
      expect(childPids(d.child.pid!)).toEqual([]);
      tree.rebind("0000:01:10.0", "vfio-pci");
      uevent(realPciDevice!);
      await new Promise((r) => setTimeout(r, 1000));
      expect(kubelet.allocatable(NET)).toBe(2);
      expect(d.logs.filter((l) => l.msg === "rescan hint")).toEqual([]);
    });

    it("a killed uevent monitor is logged and restarted, and hints work again", async () => {
      const { d, tree } = await startDaemon();
      await d.waitForLog((l) => l.msg === "rescan hint" && l["reason"] === "monitor ready", HANG_MS);
      const [monitor] = childPids(d.child.pid!);
      expect(monitor).toBeDefined();
      process.kill(monitor!, "SIGKILL");
      const failed = await d.waitForLog((l) => l.msg.startsWith("rescan hint source failed"), HANG_MS);
      expect(failed).toMatchObject({ level: "error", source: "uevents", retryMs: 500 });
      expect(String(failed["error"])).toContain("ended unexpectedly (killed by SIGKILL)");
      await d.waitForLog(() => readyHints(d) >= 2, HANG_MS);
      expect(childPids(d.child.pid!)).not.toContain(monitor);
      // Let the rescan that follows the new monitor's "ready" finish before changing the tree.
      await d.waitForLog(() => d.logs.filter((l) => l.msg === "rescanned" && l["trigger"] === "uevent").length >= 2);

      tree.rebind("0000:01:10.0", "vfio-pci");
      uevent(realPciDevice!);
      await kubelet.waitFor(() => kubelet.allocatable(NET) === 1, HANG_MS, "the rebound VF seen after the restart");
    });
  },
);
