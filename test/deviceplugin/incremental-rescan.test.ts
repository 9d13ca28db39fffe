// A rescan reads only what its event names. The daemon in-process, with the real
// helper on a fake sysfs tree (pci-show and inventory read the tree) and the
// uevent hint source fed the monitor's messages by the test (the kernel cannot
// send events about a fake tree's devices); every helper command is counted.
// The rescan timer is 60 s, so only the event explains an update.
//  1. the sample node: a PF's carrier loss and a VF's rebind read that PF (and
//     the VF), reach kubelet with the right health, and run no `inventory`;
//     an event naming nothing attributable (vDPA) still reads everything;
//  2. 1024 VFs: prints the cost of one event's rescan next to a full one.
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Daemon } from "../../deviceplugin/io/daemon.js";
import { createLogger } from "../../deviceplugin/io/logger.js";
import { createHelperRunner } from "../../deviceplugin/io/helper-runner.js";
import { helperInventorySource, type BatchRunner } from "../../deviceplugin/io/inventory-source.js";
import { UeventHintSource } from "../../deviceplugin/io/uevent-hints.js";
import type { UeventMessage } from "../../native/client/index.js";
import { KubeletSimulator } from "./kubelet-simulator.js";
import { sampleConfig } from "./inventory-fixtures.js";
import { buildSampleTree, buildScaleTree, fakeTreeTempDir, type FakeSysfs } from "./fake-sysfs.js";

const HELPER = new URL("../../dist/native/accelnet-helper", import.meta.url).pathname;
const NET = "example.com/netdev";
const VFIO = "accelnet.io/vfio";
const HANG_MS = 15_000;
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Harness {
  readonly daemon: Daemon;
  readonly kubelet: KubeletSimulator;
  readonly tree: FakeSysfs;
  /** Helper commands run since the last reset, one string per command ("pci-show addr=..."). */
  readonly commands: string[];
  readonly logs: Record<string, unknown>[];
  /** Hands a message to the daemon as the uevent monitor would. */
  emit(m: UeventMessage): void;
}

async function start(
  build: (root: string) => FakeSysfs,
  config: object,
  ready: (k: KubeletSimulator) => boolean,
): Promise<Harness> {
  if (!existsSync(HELPER)) throw new Error(`Cannot find "${HELPER}": run npm run build`);
  const root = fakeTreeTempDir("acn-dp-incr-");
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  const dp = join(root, "dp");
  mkdirSync(dp);
  writeFileSync(join(root, "config.json"), JSON.stringify(config));
  const tree = build(join(root, "sys"));
  const kubelet = new KubeletSimulator(dp);
  await kubelet.start();
  cleanups.push(() => kubelet.stop());
  const helper = createHelperRunner({ helperPath: HELPER, sysfsRoot: join(root, "sys"), devRoot: join(root, "dev") });
  const commands: string[] = [];
  const counting: BatchRunner = {
    run: (cmds) => {
      commands.push(...cmds.map((c) => [c.name, ...c.args].join(" ")));
      return helper.run(cmds);
    },
  };
  let toDaemon: ((m: UeventMessage) => void) | null = null;
  const monitor = new UeventHintSource({
    startMonitor: (onMessage) => {
      toDaemon = onMessage;
      return { close: () => undefined, exited: new Promise<Error | null>(() => undefined) };
    },
  });
  const logs: Record<string, unknown>[] = [];
  const daemon = new Daemon({
    configPath: join(root, "config.json"),
    resourcePrefix: "accelnet.io",
    devicePluginDir: dp,
    pluginsRegistryDir: join(root, "no-registry"),
    registrationMode: "classic",
    devinfoDir: join(root, "devinfo"),
    cdiDir: null,
    metricsAddr: null,
    inventory: helperInventorySource(counting),
    hintSources: [monitor],
    log: createLogger({
      level: "info",
      trace: "daemon",
      write: (l) => logs.push(JSON.parse(l) as Record<string, unknown>),
    }),
    rescanIntervalMs: 60_000,
  });
  await daemon.start();
  cleanups.push(() => daemon.tryShutdown());
  await kubelet.waitFor(() => ready(kubelet), 120_000, "the tree's devices in kubelet");
  return { daemon, kubelet, tree, commands, logs, emit: (m) => toDaemon?.(m) };
}

const rescans = (h: Harness, trigger: string) =>
  h.logs.filter((l) => l["msg"] === "rescanned" && l["trigger"] === trigger);

function setCarrier(tree: FakeSysfs, netdev: string, up: boolean): void {
  writeFileSync(join(tree.root, "class/net", netdev, "carrier"), up ? "1\n" : "0\n");
  writeFileSync(join(tree.root, "class/net", netdev, "operstate"), up ? "up\n" : "down\n");
}

function pciEvent(action: "bind" | "add", addr: string, driver: string | null): UeventMessage {
  return {
    type: "event",
    event: { action, subsystem: "pci", devpath: `/devices/pci0000:00/${addr}`, driver, interface: null, pciSlot: addr },
  };
}

describe("incremental rescans: an event reads only the device it names", () => {
  it("a PF's carrier loss and a VF's rebind read only that PF (and VF) with pci-show; kubelet gets the health right", async () => {
    const h = await start(buildSampleTree, sampleConfig(), () => true);
    await h.kubelet.waitFor(
      () => h.kubelet.allocatable(NET) === 2 && h.kubelet.allocatable(VFIO) === 1,
      HANG_MS,
      "devices",
    );
    h.commands.length = 0;

    setCarrier(h.tree, "ens1f0", false);
    h.emit({
      type: "link",
      link: { action: "change", ifindex: 7, interface: "ens1f0", carrier: false, operstate: "lowerlayerdown" },
    });
    await h.kubelet.waitFor(() => h.kubelet.allocatable(NET) === 0, HANG_MS, "the PF's VFs Unhealthy");
    expect(h.kubelet.devices(NET).every((d) => d.health === "Unhealthy")).toBe(true);
    expect(h.commands).toEqual(["pci-show addr=0000:01:00.0"]);

    h.commands.length = 0;
    setCarrier(h.tree, "ens1f0", true);
    h.tree.rebind("0000:01:10.0", "vfio-pci");
    h.emit(pciEvent("bind", "0000:01:10.0", "vfio-pci"));
    await h.kubelet.waitFor(
      () => h.kubelet.allocatable(VFIO) === 2 && h.kubelet.allocatable(NET) === 1,
      HANG_MS,
      "the rebound VF in the vfio pool; the PF's carrier back",
    );
    expect(h.commands).toEqual(["pci-show addr=0000:01:00.0", "pci-show addr=0000:01:10.0"]);
    expect(rescans(h, "uevent").at(-1)?.["read"]).toEqual(["0000:01:00.0", "0000:01:10.0"]);

    // A vDPA event names nothing pci-show can read: everything is read.
    h.commands.length = 0;
    h.emit({
      type: "event",
      event: {
        action: "change",
        subsystem: "vdpa",
        devpath: "/devices/virtual/vduse/vduse1",
        driver: null,
        interface: null,
        pciSlot: null,
      },
    });
    await h.kubelet.waitFor(
      () => h.commands.length > 0 && rescans(h, "uevent").at(-1)?.["read"] === "all",
      HANG_MS,
      "a full rescan",
    );
    expect(h.commands).toEqual(["inventory"]);
    expect(h.daemon.metrics.get("accelnet_deviceplugin_rescans_total", { trigger: "timer", result: "ok" })).toBe(0);
  });

  it("at 1024 VFs one VF's event rescans in a fraction of a full rescan; prints both", async () => {
    const config = {
      resourceList: [
        { resourceName: "net", selectors: { drivers: ["igbvf"] } },
        { resourceName: "dpdk", selectors: { drivers: ["vfio-pci"] } },
      ],
    };
    const h = await start(
      (root) => buildScaleTree(root),
      config,
      (k) => k.allocatable("accelnet.io/net") === 512,
    );
    const ms = (l: Record<string, unknown> | undefined): number => Number(l?.["ms"]);
    const full: number[] = [];
    const targeted: number[] = [];
    for (let i = 0; i < 3; i++) {
      await h.daemon.rescan("timer");
      full.push(ms(rescans(h, "timer").at(-1)));
      const vf = `0000:10:10.${2 * i}`; // igbvf VFs of PF 0000:10:00.0
      const before = rescans(h, "uevent").length;
      h.tree.rebind(vf, "vfio-pci");
      h.emit(pciEvent("bind", vf, "vfio-pci"));
      await h.kubelet.waitFor(() => rescans(h, "uevent").length > before, HANG_MS, "the event's rescan");
      const done = rescans(h, "uevent").at(-1);
      expect(done?.["read"]).toEqual(["0000:10:00.0", vf]);
      targeted.push(ms(done));
    }
    await h.kubelet.waitFor(() => h.kubelet.allocatable("accelnet.io/dpdk") === 515, HANG_MS, "3 VFs moved to dpdk");
    console.log(
      `rescan at 1024 VFs: full (timer) ${full.join(", ")} ms; one VF's uevent (its PF and it, pci-show) ${targeted.join(", ")} ms`,
    );
  }, 240_000);
});
