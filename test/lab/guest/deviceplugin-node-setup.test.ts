// Node setup on the lab's real devices: the daemon (bundled as shipped, Node 24, the real helper) starts
// with a config whose nodeSetup creates 2 VFs on the igb PF (which starts with none), binds VF 1 to
// vfio-pci and puts a VDUSE device on the vdpa bus (VDPA_CMD_DEV_NEW on the `vduse` management device;
// the VDUSE device itself is made by the lab tool through /dev/vduse/control, as its userspace server
// would). A second start changes nothing; a VF held by an attachment (a CNI owner marker, in the CNI's
// own format) blocks its rebind and the VF count change, each with one log line; removing nodeSetup from
// the config returns the node to its initial state. The node is read from sysfs, not from the helper.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, onTestFailed, test } from "vitest";
import { OwnerMarkers, deviceKey } from "../../../cni/lib/owner.js";
import { DaemonProcess, daemonBundle, type LogLine } from "../../deviceplugin/daemon-process.js";
import { NODE_SETUP_COMMANDS, requireCommands } from "./helper.js";
import {
  PF,
  cleanupAll,
  helperPath,
  inLab,
  listVfs,
  onCleanup,
  pciDriver,
  numvfsFile,
  serveVduse,
  startWithoutVfs,
  sysfsRead,
  vdpaDriver,
  vfAddr,
  vhostVdpaChardev,
  waitFor,
} from "./prelude.js";

/** Only catches a hang: a TCG guest on a busy host starts Node and the daemon in tens of seconds. */
const HANG_MS = 120_000;
const VDUSE = "acnns0";
describe.skipIf(!inLab)("lab: the device plugin's node setup on the igb PF and VDUSE", () => {
  let root = "";
  let daemon: DaemonProcess | null = null;
  const markers = (): OwnerMarkers => new OwnerMarkers(path.join(root, "cni"));
  const recordFile = (): string => path.join(root, "state/node-setup.json");

  function printDaemonLogOnFailure(): void {
    onTestFailed(() => console.log(`device plugin stderr:\n${daemon?.stderr ?? "(not started)"}`));
  }

  function writeConfig(nodeSetup: unknown): void {
    const resourceList = [
      { resourceName: "lab_net", selectors: { drivers: ["igbvf"] } },
      { resourceName: "lab_vfio", selectors: { drivers: ["vfio-pci"] } },
      { resourceName: "lab_vhost", selectors: { vdpaType: "vhost" } },
    ];
    writeFileSync(path.join(root, "config.json"), JSON.stringify({ resourceList, nodeSetup }));
  }

  const setup = (numVfs: number, vfioRange: string) => ({
    pfs: [{ pciAddress: PF, numVfs, vfs: [{ range: vfioRange, driver: "vfio-pci" }] }],
    vdpaDevices: [{ mgmtdev: "vduse", name: VDUSE, driver: "vhost" }],
  });

  async function start(): Promise<DaemonProcess> {
    const d = await DaemonProcess.start([
      `--config=${path.join(root, "config.json")}`,
      `--helper=${helperPath}`,
      `--device-plugin-dir=${path.join(root, "device-plugins")}`,
      `--plugins-registry-dir=${path.join(root, "no-plugins-registry")}`,
      `--devinfo-dir=${path.join(root, "devinfo")}`,
      `--cni-state-dir=${path.join(root, "cni")}`,
      `--node-setup-state=${recordFile()}`,
      "--reconcile=false",
      "--metrics-addr=",
    ]);
    daemon = d;
    onCleanup("kill the device plugin", async () => void (await d.stop("SIGKILL")));
    await d.waitForLog((l) => l.msg === "device plugin started", HANG_MS);
    return d;
  }

  const since = (from: number, pred: (l: LogLine) => boolean): LogLine[] =>
    (daemon?.logs ?? []).slice(from).filter(pred);

  beforeAll(async () => {
    await requireCommands(...NODE_SETUP_COMMANDS);
    startWithoutVfs();
    root = mkdtempSync(path.join(tmpdir(), "acn-lab-ns-"));
    mkdirSync(path.join(root, "device-plugins"));
    onCleanup(`remove ${root}`, () => rmSync(root, { recursive: true, force: true }));
    await serveVduse(VDUSE, "02:00:00:00:6e:01");
    expect(existsSync(`/sys/bus/vdpa/devices/${VDUSE}`), "the VDUSE device starts off the vdpa bus").toBe(false);
    await daemonBundle();
  });

  afterAll(cleanupAll);

  test("at start, before serving: 2 VFs, VF 1 on vfio-pci, the VDUSE device on the vdpa bus on vhost_vdpa", async () => {
    printDaemonLogOnFailure();
    writeConfig(setup(2, "1"));
    const t0 = performance.now();
    const d = await start();
    console.info(`node setup at start, to "device plugin started": ${(performance.now() - t0).toFixed(0)} ms`);
    expect(sysfsRead(numvfsFile)).toBe("2");
    expect(listVfs()).toHaveLength(2);
    expect(pciDriver(vfAddr(0))).toBe("igbvf");
    expect(pciDriver(vfAddr(1))).toBe("vfio-pci");
    expect(vdpaDriver(VDUSE)).toBe("vhost_vdpa");
    expect(vhostVdpaChardev(VDUSE)).toMatch(/^\/dev\/vhost-vdpa-\d+$/);
    const steps = d.logs
      .filter((l) => l.msg === "node setup: changed")
      .map((l) => `${String(l["step"])} ${String(l["device"] ?? l["pf"])}`);
    console.info(`steps: ${steps.join("; ")}`);
    expect(steps).toContain(`set-num-vfs ${PF}`);
    expect(steps).toContain(`bind-vfio ${vfAddr(1)}`);
    expect(steps).toContain(`vdpa-add ${VDUSE}`);
    const started = d.logs.findIndex((l) => l.msg === "device plugin started");
    expect(d.logs.findLastIndex((l) => l.msg === "node setup: changed")).toBeLessThan(started);
    expect(JSON.parse(readFileSync(recordFile(), "utf8"))).toEqual({
      pfs: { [PF]: { numVfs: 0, vfDrivers: { "1": "igbvf" } } },
      vdpa: { [VDUSE]: { mgmtdev: "vduse" } },
    });
  });

  test("a second start changes nothing and says so", async () => {
    printDaemonLogOnFailure();
    expect(await daemon?.stop()).toBe(0);
    const d = await start();
    expect(d.logs.find((l) => l.msg === "node setup: nothing to change")).toMatchObject({ trigger: "start" });
    expect(d.logs.filter((l) => l.msg === "node setup: changed")).toEqual([]);
    expect(sysfsRead(numvfsFile)).toBe("2");
    expect(pciDriver(vfAddr(1))).toBe("vfio-pci");
  });

  test("a held VF is not rebound and keeps its PF's VF count: one log line each, naming PF, VF, step and holder", async () => {
    printDaemonLogOnFailure();
    const held = vfAddr(0);
    markers().write(deviceKey("pci", held), {
      containerID: "lab-pod-1",
      ifname: "net1",
      netns: "/run/netns/lab-pod-1",
      netnsInode: null,
      network: "lab-sriov",
      since: new Date().toISOString(),
    });
    const from = daemon?.logs.length ?? 0;
    writeConfig(setup(3, "0-1"));
    const refused = await waitFor(
      "two refusals after the reload",
      () => {
        const lines = since(from, (l) => l.msg === "node setup: refused");
        return lines.length >= 2 ? lines : undefined;
      },
      HANG_MS,
    );
    await daemon?.waitForLog((l) => l.msg === "config reloaded", HANG_MS);
    console.info(`refusals: ${JSON.stringify(refused)}`);
    const holder = 'container "lab-pod-1" (ifname net1, netns /run/netns/lab-pod-1)';
    expect(refused.map((l) => [l["pf"], l["device"], l["step"], l["heldBy"]])).toEqual([
      [PF, held, "set-num-vfs", holder],
      [PF, held, "bind-vfio", holder],
    ]);
    expect(sysfsRead(numvfsFile)).toBe("2");
    expect(pciDriver(held)).toBe("igbvf");
    expect(pciDriver(vfAddr(1))).toBe("vfio-pci");
    expect(since(from, (l) => l.msg === "node setup: changed")).toEqual([]);
  });

  test("removing nodeSetup returns the node to its initial state: no VFs, the VDUSE device off the vdpa bus", async () => {
    printDaemonLogOnFailure();
    rmSync(markers().path(deviceKey("pci", vfAddr(0))));
    const from = daemon?.logs.length ?? 0;
    writeConfig(undefined);
    await waitFor("node setup done after the reload", () =>
      since(from, (l) => l.msg === "node setup: done").length > 0 ? true : undefined,
    );
    expect(since(from, (l) => l.msg === "node setup: done")[0]).toMatchObject({ result: "changed" });
    expect(sysfsRead(numvfsFile)).toBe("0");
    expect(listVfs()).toEqual([]);
    expect(existsSync(`/sys/bus/vdpa/devices/${VDUSE}`)).toBe(false);
    expect(JSON.parse(readFileSync(recordFile(), "utf8"))).toEqual({ pfs: {}, vdpa: {} });
    expect(await daemon?.stop()).toBe(0);
  });
});
