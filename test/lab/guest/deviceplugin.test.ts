// The device plugin on the lab's real devices: the daemon (deviceplugin/main.ts bundled as shipped,
// run by Node 24) discovers the emulated igb VFs through accelnet-helper's `inventory` (one VF on
// igbvf for a netdev pool, one bound to vfio-pci by the helper's `pci-bind` for a DPDK pool) and a
// VDUSE vDPA device on vhost_vdpa (vhost pool). The kubelet simulator of test/deviceplugin/
// allocates one device of each pool; the DeviceSpecs must name device nodes that exist in the guest.
// Then the VFs are unplugged (`sriov-numvfs count=0` through the helper): kubelet must see them
// Unhealthy or gone. The time that takes is printed; the bound asserted only catches a hang.
// Expected values are read from sysfs and /dev, independently of the helper.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, onTestFailed, test } from "vitest";
import { KubeletSimulator } from "../../deviceplugin/kubelet-simulator.js";
import { DaemonProcess, daemonBundle } from "../../deviceplugin/daemon-process.js";
import { helper, requireCommands } from "./helper.js";
import {
  cleanupAll,
  createVdpa,
  helperPath,
  inLab,
  iommuGroup,
  listVfs,
  onCleanup,
  PF,
  pciDriver,
  pciNetdevs,
  pfNetdev,
  sysfsRead,
  vhostVdpaChardev,
  waitFor,
  type VdpaDevice,
} from "./prelude.js";

const NET = "accelnet.io/lab_net";
const VFIO = "accelnet.io/lab_vfio";
const VHOST = "accelnet.io/lab_vhost";
/** Only catches a hang: a TCG guest on a busy host starts Node and the daemon in tens of seconds. */
const HANG_MS = 120_000;

describe.skipIf(!inLab)("lab: the device plugin serves igb VFs and a VDUSE vDPA device to kubelet", () => {
  let root = "";
  let kubelet: KubeletSimulator;
  let daemon: DaemonProcess | null = null;
  let netVf = "";
  let vfioVf = "";
  let vdpa: VdpaDevice;
  let startedAt = 0;

  /** On failure, the daemon's own account of it. */
  function printDaemonLogOnFailure(): void {
    onTestFailed(() => console.log(`device plugin stderr:\n${daemon?.stderr ?? "(not started)"}`));
  }

  beforeAll(async () => {
    await requireCommands("inventory", "pci-bind", "sriov-numvfs", "link-up");
    root = mkdtempSync(path.join(tmpdir(), "acn-lab-dp-"));
    onCleanup(`remove ${root}`, () => rmSync(root, { recursive: true, force: true }));

    // The PF carries the VFs' traffic: a netDevice pool's VFs are Unhealthy while it has no carrier.
    const pf = pfNetdev();
    if (sysfsRead(`/sys/class/net/${pf}/operstate`) !== "up") {
      await helper("link-up", { name: pf });
      onCleanup(`set ${pf} down`, async () => void (await helper("link-down", { name: pf })));
    }
    await waitFor(`carrier on ${pf}`, () => (sysfsRead(`/sys/class/net/${pf}/operstate`) === "up" ? true : undefined));

    await helper("sriov-numvfs", { addr: PF, count: 2 });
    onCleanup(`remove the VFs of ${PF}`, async () => void (await helper("sriov-numvfs", { addr: PF, count: 0 })));
    const vfs = await waitFor("2 VFs with igbvf netdevs", () => {
      const found = listVfs();
      return found.length === 2 && found.every((v) => pciNetdevs(v.addr).length > 0) ? found : undefined;
    });
    netVf = vfs[0]!.addr;
    vfioVf = vfs[1]!.addr;
    await helper("pci-bind", { addr: vfioVf, driver: "vfio-pci" });
    vdpa = await createVdpa("acndp0", "02:00:00:aa:dd:01");

    const dp = path.join(root, "device-plugins");
    mkdirSync(dp);
    writeFileSync(
      path.join(root, "config.json"),
      JSON.stringify({
        resourceList: [
          { resourceName: "lab_net", selectors: { pfNames: [pf], drivers: ["igbvf"] } },
          { resourceName: "lab_vfio", selectors: { pfNames: [pf], drivers: ["vfio-pci"] } },
          { resourceName: "lab_vhost", selectors: { vdpaType: "vhost" } },
        ],
      }),
    );
    kubelet = new KubeletSimulator(dp);
    await kubelet.start();
    onCleanup("stop the kubelet simulator", () => kubelet.stop());
    await daemonBundle(); // built once per process; not part of the daemon's start-up time
    startedAt = performance.now();
    daemon = await DaemonProcess.start(
      [
        `--config=${path.join(root, "config.json")}`,
        `--helper=${helperPath}`,
        `--device-plugin-dir=${dp}`,
        `--plugins-registry-dir=${path.join(root, "no-plugins-registry")}`,
        `--devinfo-dir=${path.join(root, "devinfo")}`,
        "--metrics-addr=",
      ],
      { ACCELNET_TRACE: "daemon" },
    );
    const d = daemon;
    onCleanup("kill the device plugin", async () => void (await d.stop("SIGKILL")));
  });

  /** Durations of the daemon's rescans so far (its "rescanned" trace lines). */
  function rescanMs(): number[] {
    return (daemon?.logs ?? []).filter((l) => l.msg === "rescanned").map((l) => Number(l["ms"]));
  }

  afterAll(async () => {
    await cleanupAll();
  });

  test("discovers the netdev VF, the vfio-pci VF and the vhost vDPA device as Healthy devices", async () => {
    printDaemonLogOnFailure();
    await kubelet.waitFor(
      () => kubelet.allocatable(NET) === 1 && kubelet.allocatable(VFIO) === 1 && kubelet.allocatable(VHOST) === 1,
      HANG_MS,
      "one Healthy device in each pool",
    );
    console.log(`daemon start -> kubelet has all 3 devices: ${(performance.now() - startedAt).toFixed(0)} ms`);
    expect(pciDriver(netVf)).toBe("igbvf");
    expect(pciDriver(vfioVf)).toBe("vfio-pci");
    expect(kubelet.devices(NET).map((x) => [x.ID, x.health])).toEqual([[netVf, "Healthy"]]);
    expect(kubelet.devices(VFIO).map((x) => [x.ID, x.health])).toEqual([[vfioVf, "Healthy"]]);
    expect(kubelet.devices(VHOST).map((x) => [x.ID, x.health])).toEqual([[vdpa.name, "Healthy"]]);
  });

  test("Allocate answers each pool with device nodes that exist in the guest, and writes device-info files", async () => {
    printDaemonLogOnFailure();
    const net = await kubelet.allocate(NET, [netVf]);
    expect(net.envs["PCIDEVICE_ACCELNET_IO_LAB_NET"]).toBe(netVf);
    expect(net.devices).toEqual([]);

    const group = iommuGroup(vfioVf);
    expect(group).not.toBeNull();
    const vfio = await kubelet.allocate(VFIO, [vfioVf]);
    expect(vfio.envs["PCIDEVICE_ACCELNET_IO_LAB_VFIO"]).toBe(vfioVf);
    expect(vfio.devices).toEqual([
      { container_path: "/dev/vfio/vfio", host_path: "/dev/vfio/vfio", permissions: "rw" },
      { container_path: `/dev/vfio/${group}`, host_path: `/dev/vfio/${group}`, permissions: "rw" },
    ]);

    const chardev = vhostVdpaChardev(vdpa.name);
    expect(chardev).toMatch(/^\/dev\/vhost-vdpa-\d+$/);
    const vhost = await kubelet.allocate(VHOST, [vdpa.name]);
    expect(vhost.envs["PCIDEVICE_ACCELNET_IO_LAB_VHOST"]).toBe(vdpa.name);
    expect(vhost.devices).toEqual([{ container_path: chardev, host_path: chardev, permissions: "rw" }]);

    for (const node of [...vfio.devices, ...vhost.devices]) {
      expect(existsSync(node.host_path), `${node.host_path} exists in the guest`).toBe(true);
    }
    const devinfo = path.join(root, "devinfo");
    expect(readdirSync(devinfo).sort()).toEqual(
      [
        `accelnet.io-lab_net-${netVf}-device.json`,
        `accelnet.io-lab_vfio-${vfioVf}-device.json`,
        `accelnet.io-lab_vhost-${vdpa.name}-device.json`,
      ].sort(),
    );
    expect(JSON.parse(readFileSync(path.join(devinfo, `accelnet.io-lab_vfio-${vfioVf}-device.json`), "utf8"))).toEqual({
      type: "pci",
      version: "1.1.0",
      pci: { "pci-address": vfioVf, "pf-pci-address": PF },
    });
  });

  test("unplugging the VFs (sriov-numvfs count=0) turns them Unhealthy or absent; prints the time", async () => {
    printDaemonLogOnFailure();
    const gone = (resource: string, id: string): boolean =>
      !kubelet.devices(resource).some((x) => x.ID === id && x.health === "Healthy");
    const rescansBefore = rescanMs().length;
    const t0 = performance.now();
    await helper("sriov-numvfs", { addr: PF, count: 0 });
    const t1 = performance.now();
    await kubelet.waitFor(() => gone(NET, netVf) && gone(VFIO, vfioVf), HANG_MS, "VFs Unhealthy or gone");
    const t2 = performance.now();
    console.log(
      `VF unplug -> kubelet sees both VFs Unhealthy or absent: ${(t2 - t0).toFixed(0)} ms ` +
        `(helper sriov-numvfs count=0: ${(t1 - t0).toFixed(0)} ms, then ${(t2 - t1).toFixed(0)} ms to kubelet; ` +
        `daemon rescans meanwhile: ${rescanMs().slice(rescansBefore).join(", ")} ms)`,
    );
    expect(listVfs()).toEqual([]);
    expect(kubelet.allocatable(NET)).toBe(0);
    expect(kubelet.allocatable(VFIO)).toBe(0);
    // The vDPA device is untouched.
    expect(kubelet.devices(VHOST).map((x) => [x.ID, x.health])).toEqual([[vdpa.name, "Healthy"]]);
  });

  test("SIGTERM stops the daemon cleanly: sockets and device-info files removed", async () => {
    printDaemonLogOnFailure();
    const d = daemon!;
    expect(await d.stop("SIGTERM")).toBe(0);
    expect(readdirSync(path.join(root, "devinfo"))).toEqual([]);
    expect(readdirSync(path.join(root, "device-plugins"))).toEqual(["kubelet.sock"]);
  });
});
