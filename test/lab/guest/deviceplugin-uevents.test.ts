// Kernel uevents drive the device plugin's rescans on real devices: the daemon (bundled as
// shipped, run by Node 24, discovering through accelnet-helper) runs with a rescan timer of
// 60 s, so only its uevent monitor can explain a fast update. Measured, from the helper
// command that changes the devices to kubelet's ListAndWatch update: VFs created
// (`sriov-numvfs count=2`), a VF moved to vfio-pci (`pci-bind`), VFs removed (`count=0`).
// Then the same with uevents off and a 1 s timer, for comparison (sriov-numvfs
// itself takes seconds, so the timer often catches up while it runs; pci-bind shows the
// difference). Times are
// printed; the bound asserted (20 s, a third of the timer) only proves the timer was not
// needed, and the daemon's own log must show no timer rescan at all.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, onTestFailed, test } from "vitest";
import { KubeletSimulator } from "../../deviceplugin/kubelet-simulator.js";
import { DaemonProcess, daemonBundle } from "../../deviceplugin/daemon-process.js";
import { helper, requireCommands } from "./helper.js";
import {
  cleanupAll,
  helperPath,
  inLab,
  listVfs,
  onCleanup,
  PF,
  pciNetdevs,
  pfNetdev,
  sysfsRead,
  waitFor,
} from "./prelude.js";

const NET = "accelnet.io/lab_net";
const VFIO = "accelnet.io/lab_vfio";
const TIMER_MS = 60_000;
/** A third of the timer: an update inside it cannot have waited for the timer. */
const WITHOUT_TIMER_MS = 20_000;
/** Only catches a hang (TCG guest on a busy host). */
const HANG_MS = 120_000;

describe.skipIf(!inLab)("lab: kernel uevents bring VF changes to kubelet without the rescan timer", () => {
  let root = "";
  let pf = "";
  const results: string[] = [];

  beforeAll(async () => {
    await requireCommands("inventory", "pci-bind", "sriov-numvfs", "link-up", "uevent-monitor");
    root = mkdtempSync(path.join(tmpdir(), "acn-lab-dpu-"));
    onCleanup(`remove ${root}`, () => rmSync(root, { recursive: true, force: true }));
    pf = pfNetdev();
    if (sysfsRead(`/sys/class/net/${pf}/operstate`) !== "up") {
      await helper("link-up", { name: pf });
      onCleanup(`set ${pf} down`, async () => void (await helper("link-down", { name: pf })));
    }
    await waitFor(`carrier on ${pf}`, () => (sysfsRead(`/sys/class/net/${pf}/operstate`) === "up" ? true : undefined));
    await helper("sriov-numvfs", { addr: PF, count: 0 });
    onCleanup(`remove the VFs of ${PF}`, async () => void (await helper("sriov-numvfs", { addr: PF, count: 0 })));
    writeFileSync(
      path.join(root, "config.json"),
      JSON.stringify({
        resourceList: [
          { resourceName: "lab_net", selectors: { pfNames: [pf], drivers: ["igbvf"] } },
          { resourceName: "lab_vfio", selectors: { pfNames: [pf], drivers: ["vfio-pci"] } },
        ],
      }),
    );
    await daemonBundle();
  });

  afterAll(async () => {
    console.log(`uevent propagation summary:\n  ${results.join("\n  ")}`);
    await cleanupAll();
  });

  /** A kubelet simulator and a daemon in their own dirs; stopped by the cleanup stack. */
  async function startPlugin(name: string, flags: string[]): Promise<{ kubelet: KubeletSimulator; d: DaemonProcess }> {
    const dp = path.join(root, name);
    mkdirSync(dp);
    const kubelet = new KubeletSimulator(dp);
    await kubelet.start();
    onCleanup(`stop the kubelet simulator ${name}`, () => kubelet.stop());
    const d = await DaemonProcess.start(
      [
        `--config=${path.join(root, "config.json")}`,
        `--helper=${helperPath}`,
        `--device-plugin-dir=${dp}`,
        `--plugins-registry-dir=${path.join(root, "no-plugins-registry")}`,
        `--devinfo-dir=${path.join(root, `devinfo-${name}`)}`,
        "--metrics-addr=",
        ...flags,
      ],
      { ACCELNET_TRACE: "daemon" },
    );
    onCleanup(`kill the device plugin ${name}`, async () => void (await d.stop("SIGKILL")));
    onTestFailed(() => console.log(`device plugin ${name} stderr:\n${d.stderr}`));
    await kubelet.waitFor(() => kubelet.isRegistered(NET) && kubelet.isRegistered(VFIO), HANG_MS, "registration");
    return { kubelet, d };
  }

  /** Runs `change`, then waits for kubelet to show `done`; returns [total ms, helper ms, after-helper ms]. */
  async function measure(
    kubelet: KubeletSimulator,
    what: string,
    change: () => Promise<unknown>,
    done: () => boolean,
  ): Promise<number> {
    const t0 = performance.now();
    await change();
    const t1 = performance.now();
    await kubelet.waitFor(done, HANG_MS, what);
    const t2 = performance.now();
    const line = `${what}: ${(t2 - t0).toFixed(0)} ms (helper ${(t1 - t0).toFixed(0)} ms, then ${(t2 - t1).toFixed(0)} ms to kubelet)`;
    console.log(line);
    results.push(line);
    return t2 - t0;
  }

  const healthy = (k: KubeletSimulator, resource: string): string[] =>
    k
      .devices(resource)
      .filter((x) => x.health === "Healthy")
      .map((x) => x.ID)
      .sort();

  test("uevents, timer 60 s: VFs created, one rebound to vfio-pci, VFs removed, each reach kubelet in well under the timer", async () => {
    const { kubelet, d } = await startPlugin("uevents", [`--rescan-interval-ms=${TIMER_MS}`]);
    // The monitor is up (its "ready" rescan ran) before the devices change.
    await d.waitForLog((l) => l.msg === "rescanned" && l["trigger"] === "uevent", HANG_MS);
    expect(kubelet.devices(NET)).toEqual([]);

    const created = await measure(
      kubelet,
      "[uevents] sriov-numvfs count=2 -> kubelet has 2 Healthy igbvf VFs",
      () => helper("sriov-numvfs", { addr: PF, count: 2 }),
      () => healthy(kubelet, NET).length === 2,
    );
    const vfs = listVfs();
    expect(healthy(kubelet, NET)).toEqual(vfs.map((v) => v.addr).sort());
    expect(vfs.every((v) => pciNetdevs(v.addr).length > 0)).toBe(true);

    const vf = vfs[1]!.addr;
    const rebound = await measure(
      kubelet,
      "[uevents] pci-bind vfio-pci -> kubelet has the VF in the vfio pool",
      () => helper("pci-bind", { addr: vf, driver: "vfio-pci" }),
      () => healthy(kubelet, VFIO).includes(vf) && !healthy(kubelet, NET).includes(vf),
    );

    const removed = await measure(
      kubelet,
      "[uevents] sriov-numvfs count=0 -> kubelet has no Healthy VF",
      () => helper("sriov-numvfs", { addr: PF, count: 0 }),
      () => healthy(kubelet, NET).length === 0 && healthy(kubelet, VFIO).length === 0,
    );

    const hints = d.logs.filter((l) => l.msg === "rescan hint" && typeof l["subsystem"] === "string");
    const kinds = [...new Set(hints.map((l) => `${String(l["subsystem"])} ${String(l["action"])}`))].sort();
    console.log(`uevents the daemon was woken for: ${kinds.join(", ")}`);
    results.push(`uevents seen: ${kinds.join(", ")}`);
    expect(kinds).toEqual(expect.arrayContaining(["pci add", "pci remove", "pci bind", "pci unbind", "net add"]));
    for (const ms of [created, rebound, removed]) expect(ms).toBeLessThan(WITHOUT_TIMER_MS);
    expect(d.logs.filter((l) => l.msg === "rescanned" && l["trigger"] === "timer")).toEqual([]);
    expect(await d.stop("SIGTERM")).toBe(0);
  });

  test("for comparison, --uevents=false with a 1 s timer: the same changes; prints the times", async () => {
    const { kubelet, d } = await startPlugin("timer", ["--uevents=false", "--rescan-interval-ms=1000"]);
    await measure(
      kubelet,
      "[timer 1 s] sriov-numvfs count=2 -> kubelet has 2 Healthy igbvf VFs",
      () => helper("sriov-numvfs", { addr: PF, count: 2 }),
      () => healthy(kubelet, NET).length === 2,
    );
    // sriov-numvfs takes seconds inside the helper, so a 1 s timer often rescans before it returns;
    // pci-bind is quick, so it shows the timer's own delay.
    const vf = listVfs()[1]!.addr;
    await measure(
      kubelet,
      "[timer 1 s] pci-bind vfio-pci -> kubelet has the VF in the vfio pool",
      () => helper("pci-bind", { addr: vf, driver: "vfio-pci" }),
      () => healthy(kubelet, VFIO).includes(vf) && !healthy(kubelet, NET).includes(vf),
    );
    await measure(
      kubelet,
      "[timer 1 s] sriov-numvfs count=0 -> kubelet has no Healthy VF",
      () => helper("sriov-numvfs", { addr: PF, count: 0 }),
      () => healthy(kubelet, NET).length === 0 && healthy(kubelet, VFIO).length === 0,
    );
    expect(d.logs.filter((l) => l.msg === "rescan hint")).toEqual([]);
    expect(await d.stop("SIGTERM")).toBe(0);
  });
});
