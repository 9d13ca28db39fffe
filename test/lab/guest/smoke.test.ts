// The smoke suite: accelnet's own helper (dist/native/accelnet-helper, the
// commands of native/PROTOCOL.md) against the lab's emulated hardware. Every
// test first checks that the helper implements what it uses and FAILS (never
// skips) with "helper lacks command X" when it does not. Where it matters,
// results are cross-checked against the kernel through sysfs or iproute2, so
// a helper that reports what it was asked instead of what the kernel did
// fails here.
import { existsSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { helper, requireCommands, runHelper } from "./helper.js";
import {
  PF,
  cleanupAll,
  createNetdevsim,
  createNetns,
  createVdpa,
  createVfs,
  inLab,
  iommuGroup,
  pciDriver,
  pciNetdevs,
  pfNetdev,
  sh,
  sysfsRead,
  vhostVdpaChardev,
  virtioNetdev,
  waitFor,
  type Netdevsim,
  type VdpaDevice,
  type Vf,
} from "./prelude.js";

type Pci = Record<string, unknown>;
type VfInfo = Record<string, unknown>;

function numaNode(addr: string): number {
  return Number(sysfsRead(`/sys/bus/pci/devices/${addr}/numa_node`));
}

/** The kernel's view of one VF, from iproute2, to cross-check the helper. */
async function kernelVf(pf: string, vf: number): Promise<Record<string, unknown>> {
  const { stdout } = await sh(["ip", "-j", "-d", "link", "show", "dev", pf]);
  const [link] = JSON.parse(stdout) as { vfinfo_list?: Record<string, unknown>[] }[];
  const info = link?.vfinfo_list?.find((entry) => entry.vf === vf);
  if (info === undefined) throw new Error(`ip shows no vf ${vf} on ${pf}`);
  return info;
}

describe.skipIf(!inLab)("lab smoke: accelnet-helper on emulated SR-IOV, VFIO and vDPA", () => {
  let vfs: Vf[] = [];
  let pf = "";
  let nsim: Netdevsim;
  let vdpa: VdpaDevice;

  beforeAll(async () => {
    pf = pfNetdev();
    // igb accepts max_tx_rate only while the PF link is up.
    await sh(["ip", "link", "set", "dev", pf, "up"]);
    vfs = await createVfs(2);
    nsim = await createNetdevsim(21, 2);
    vdpa = await createVdpa("lab-smoke-vdpa0", "02:00:00:00:20:01", 1450);
  });
  afterAll(cleanupAll);

  test("inventory and pci-show list the PF and its VFs with drivers, IOMMU groups and NUMA node", async () => {
    await requireCommands("inventory", "pci-show");
    const inventory = (await helper("inventory")) as { pfs: Pci[]; vfs: Pci[] };
    const pfEntry = inventory.pfs.find((entry) => entry.addr === PF);
    expect(pfEntry).toMatchObject({
      addr: PF,
      driver: "igb",
      isPf: true,
      isVf: false,
      numVfs: 2,
      netdevs: [pf],
      iommuGroup: iommuGroup(PF),
      numaNode: numaNode(PF),
    });
    for (const vf of vfs) {
      const expected = {
        addr: vf.addr,
        driver: "igbvf",
        isVf: true,
        pf: PF,
        vfIndex: vf.index,
        netdevs: [vf.netdev],
        iommuGroup: iommuGroup(vf.addr),
        numaNode: numaNode(vf.addr),
      };
      expect(inventory.vfs.find((entry) => entry.addr === vf.addr)).toMatchObject(expected);
      expect((await helper("pci-show", { addr: vf.addr })).pci).toMatchObject(expected);
    }
  });

  test("link-show vfs=1 reports the PF's VFs as the kernel holds them", async () => {
    await requireCommands("link-show");
    await sh(["ip", "link", "set", "dev", pf, "vf", "0", "mac", "02:00:00:bb:00:00"]);
    const { link } = (await helper("link-show", { name: pf, vfs: 1 })) as { link: Record<string, unknown> };
    expect(link).toMatchObject({ name: pf, parentBus: "pci", parentDev: PF, numVfs: 2 });
    const kernel = await kernelVf(pf, 0);
    expect((link.vfs as VfInfo[])[0]).toMatchObject({ vf: 0, mac: "02:00:00:bb:00:00", spoofchk: kernel.spoofchk });
  });

  test("vf-set on igb sets MAC, VLAN+QoS, spoofchk, trust and max_tx_rate through the PF and reads them back", async () => {
    await requireCommands("vf-set", "vf-show");
    const set = async (keys: Record<string, string | number>): Promise<VfInfo> =>
      (await helper("vf-set", { pf, vf: 1, ...keys })).vf as VfInfo;
    expect(await set({ mac: "02:00:00:bb:00:01" })).toMatchObject({ vf: 1, mac: "02:00:00:bb:00:01" });
    expect(await set({ vlan: 100, qos: 3 })).toMatchObject({ vlan: 100, qos: 3 });
    expect(await set({ spoofchk: "off" })).toMatchObject({ spoofchk: false });
    expect(await set({ trust: "on" })).toMatchObject({ trust: true });
    expect(await set({ max_tx_rate: 100 })).toMatchObject({ maxTxRate: 100 });

    const shown = (await helper("vf-show", { pf })) as { vfs: VfInfo[] };
    expect(shown.vfs.find((vf) => vf.vf === 1)).toMatchObject({
      mac: "02:00:00:bb:00:01",
      vlan: 100,
      qos: 3,
      spoofchk: false,
      trust: true,
      maxTxRate: 100,
    });
    const kernel = await kernelVf(pf, 1);
    expect(kernel).toMatchObject({ address: "02:00:00:bb:00:01", spoofchk: false, trust: true });
    expect(kernel.rate).toMatchObject({ max_tx: 100 });
  });

  test("vf-set on igb clears the admin MAC with 00:00:00:00:00:00 (how igb starts a VF, what DEL restores)", async () => {
    await requireCommands("vf-set");
    const set = async (mac: string): Promise<VfInfo> => (await helper("vf-set", { pf, vf: 0, mac })).vf as VfInfo;
    expect(await set("02:00:00:bb:00:02")).toMatchObject({ vf: 0, mac: "02:00:00:bb:00:02" });
    expect(await set("00:00:00:00:00:00")).toMatchObject({ vf: 0, mac: "00:00:00:00:00:00" });
    expect(await kernelVf(pf, 0)).toMatchObject({ address: "00:00:00:00:00:00" });
  });

  test("vf-set on igb reports the kernel's refusal of link state, min_tx_rate and 802.1ad, naming attribute and driver", async () => {
    await requireCommands("vf-set");
    // igb's answers (native/PROTOCOL.md, vf-set notes); the message names the PF's driver from sysfs.
    const refusals = [
      { keys: ["state=enable"], errname: "EOPNOTSUPP", text: "Operation not supported", attr: "IFLA_VF_LINK_STATE" },
      { keys: ["min_tx_rate=10"], errname: "EINVAL", text: "Invalid argument", attr: "IFLA_VF_RATE" },
      {
        keys: ["vlan=10", "proto=802.1ad"],
        errname: "EPROTONOSUPPORT",
        text: "Protocol not supported",
        attr: "IFLA_VF_VLAN_LIST",
      },
    ];
    const before = await kernelVf(pf, 0);
    for (const { keys, errname, text, attr } of refusals) {
      const { code, reply } = await runHelper(["vf-set", `pf=${pf}`, "vf=0", ...keys]);
      expect(code, keys.join(" ")).toBe(1);
      expect(reply.ok).toBe(false);
      expect(reply.error, keys.join(" ")).toMatchObject({
        index: 0,
        cmd: "vf-set",
        op: "RTM_NEWLINK",
        object: `${pf} vf 0`,
        errname,
        attr,
        message: `${text}: driver igb (${PF}) refused ${attr}`,
      });
    }
    expect(await kernelVf(pf, 0), "a refused setting changes nothing").toEqual(before);
  });

  test("vf-set on netdevsim sets link state, min/max rate and an 802.1ad VLAN and reads them back", async () => {
    await requireCommands("vf-set", "vf-show");
    const set = async (vf: number, keys: Record<string, string | number>): Promise<VfInfo> =>
      (await helper("vf-set", { pf: nsim.netdev, vf, ...keys })).vf as VfInfo;
    expect(await set(0, { state: "enable" })).toMatchObject({ linkState: "enable" });
    expect(await set(0, { min_tx_rate: 10, max_tx_rate: 200 })).toMatchObject({ minTxRate: 10, maxTxRate: 200 });
    expect(await set(1, { vlan: 20, qos: 1, proto: "802.1ad" })).toMatchObject({
      vlan: 20,
      qos: 1,
      vlanProto: "802.1ad",
    });
    const shown = (await helper("vf-show", { pf: nsim.netdev })) as { vfs: VfInfo[] };
    expect(shown.vfs).toHaveLength(2);
    const kernel = await kernelVf(nsim.netdev, 0);
    expect(kernel).toMatchObject({ link_state: "enable", rate: { min_tx: 10, max_tx: 200 } });
  });

  test("link-move moves a VF netdev into a netns and back", async () => {
    await requireCommands("link-move", "link-show");
    const vf = vfs[0];
    if (vf === undefined) throw new Error("no VF");
    const netns = await createNetns("lab-smoke-ns1");
    const moved = (await helper("link-move", { name: vf.netdev, to: netns })).link as Record<string, unknown>;
    expect(moved).toMatchObject({ name: vf.netdev, parentDev: vf.addr });
    expect(pciNetdevs(vf.addr)).toEqual([]);
    expect((await helper("link-show", { netns, name: vf.netdev })).link).toMatchObject({ name: vf.netdev });
    await helper("link-move", { netns, name: vf.netdev, to: "/proc/1/ns/net" });
    expect(pciNetdevs(vf.addr)).toEqual([vf.netdev]);
  });

  test("pci-bind moves a VF to vfio-pci (vfio-info finds its group) and back to igbvf", async () => {
    await requireCommands("pci-bind", "vfio-info");
    const vf = vfs[1];
    if (vf === undefined) throw new Error("no VF");
    const group = iommuGroup(vf.addr);
    expect((await helper("pci-bind", { addr: vf.addr, driver: "vfio-pci" })).pci).toMatchObject({
      addr: vf.addr,
      driver: "vfio-pci",
      netdevs: [],
    });
    expect(pciDriver(vf.addr)).toBe("vfio-pci");
    expect(await helper("vfio-info", { addr: vf.addr })).toMatchObject({
      group,
      path: `/dev/vfio/${group}`,
      viable: true,
    });
    expect((await helper("pci-bind", { addr: vf.addr, driver: "igbvf" })).pci).toMatchObject({ driver: "igbvf" });
    expect(pciDriver(vf.addr)).toBe("igbvf");
    expect(readFileSync(`/sys/bus/pci/devices/${vf.addr}/driver_override`, "utf8").trim()).toBe("(null)");
    await waitFor(`netdev of ${vf.addr}`, () => pciNetdevs(vf.addr)[0]);
  });

  test("vdpa-list, vdpa-show and vhost-vdpa-info find the VDUSE device, its /dev/vhost-vdpa-N, MAC and MTU", async () => {
    await requireCommands("vdpa-list", "vdpa-show", "vhost-vdpa-info");
    const chardev = vhostVdpaChardev(vdpa.name);
    const expected = {
      name: vdpa.name,
      mgmtdev: "vduse",
      driver: "vhost_vdpa",
      deviceId: 1,
      chardev,
      netdev: null,
      mac: vdpa.mac,
      mtu: vdpa.mtu,
    };
    const list = (await helper("vdpa-list")) as { vdpa: Record<string, unknown>[] };
    expect(list.vdpa.find((entry) => entry.name === vdpa.name)).toMatchObject(expected);
    expect((await helper("vdpa-show", { dev: vdpa.name })).vdpa).toMatchObject(expected);
    const info = await helper("vhost-vdpa-info", { dev: vdpa.name });
    expect(info).toMatchObject({ deviceId: 1, mac: vdpa.mac, mtu: vdpa.mtu, path: chardev });
    const features = BigInt(String(info.features));
    expect(features & (1n << 32n), "VIRTIO_F_VERSION_1").not.toBe(0n);
    expect(features & (1n << 5n), "VIRTIO_NET_F_MAC").not.toBe(0n);
  });

  test("vdpa-bind switches the VDUSE device to virtio_vdpa (a netdev with its MAC) and back to vhost_vdpa", async () => {
    await requireCommands("vdpa-bind");
    const virtio = (await helper("vdpa-bind", { dev: vdpa.name, driver: "virtio_vdpa" })).vdpa as Record<
      string,
      unknown
    >;
    expect(virtio).toMatchObject({ driver: "virtio_vdpa", chardev: null });
    const netdev = await waitFor(`virtio-net netdev of ${vdpa.name}`, () => virtioNetdev(vdpa.name));
    expect(virtio.netdev).toBe(netdev);
    expect(sysfsRead(`/sys/class/net/${netdev}/address`)).toBe(vdpa.mac);
    const vhost = (await helper("vdpa-bind", { dev: vdpa.name, driver: "vhost_vdpa" })).vdpa as Record<string, unknown>;
    const chardev = await waitFor(`vhost-vdpa char device of ${vdpa.name}`, () => vhostVdpaChardev(vdpa.name));
    expect(vhost).toMatchObject({ driver: "vhost_vdpa", chardev, netdev: null });
    expect(existsSync(chardev)).toBe(true);
  });
});
