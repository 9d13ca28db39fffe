// Proves the emulated hardware itself, with iproute2 and sysfs only, so the
// lab is validated independently of accelnet's helper: the igb PF creates VFs
// with their own netdevs and IOMMU groups and takes VF settings, a VF binds to
// vfio-pci, VDUSE devices reach the vdpa bus and switch drivers, netdevsim
// accepts the VF settings igb refuses, and netdevs move between netns. Also
// that Debian's IPAM plugins the guest tests delegate to run in the guest.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  PF,
  cleanupAll,
  cniPath,
  createNetdevsim,
  createNetns,
  createVdpa,
  createVfs,
  inLab,
  iommuGroup,
  pciDriver,
  pciNetdevs,
  pfNetdev,
  rebindPci,
  rebindVdpa,
  sh,
  sysfsRead,
  vdpaDriver,
  vhostVdpaChardev,
  virtioNetdev,
  waitFor,
  type Vf,
} from "./prelude.js";

interface IpVfInfo {
  vf: number;
  address: string;
  vlan_list?: { vlan: number; qos?: number; protocol?: string }[];
  spoofchk?: boolean;
  trust?: boolean;
  rate?: { max_tx?: number; min_tx?: number };
  link_state?: string;
}

/** Runs a CNI plugin from cniPath the way a runtime does: config on stdin, CNI_* in the environment. */
function cniPlugin(type: string, command: string, config: object): { code: number | null; out: unknown } {
  const r = spawnSync(path.join(cniPath, type), [], {
    input: JSON.stringify(config),
    encoding: "utf8",
    env: {
      CNI_COMMAND: command,
      CNI_CONTAINERID: "lab-sub",
      CNI_NETNS: "/proc/self/ns/net",
      CNI_IFNAME: "net1",
      CNI_PATH: cniPath,
    },
  });
  return { code: r.status, out: r.stdout.trim() === "" ? null : (JSON.parse(r.stdout) as unknown) };
}

async function ipVfs(pf: string): Promise<IpVfInfo[]> {
  const { stdout } = await sh(["ip", "-j", "-d", "link", "show", "dev", pf]);
  const [link] = JSON.parse(stdout) as { vfinfo_list?: IpVfInfo[] }[];
  return link?.vfinfo_list ?? [];
}

describe.skipIf(!inLab)("lab substrate (iproute2 and sysfs only; runs in the lab VM)", () => {
  let vfs: Vf[] = [];
  let pf = "";

  beforeAll(async () => {
    pf = pfNetdev();
    await sh(["ip", "link", "set", "dev", pf, "up"]);
    vfs = await createVfs(2);
  });
  afterAll(cleanupAll);

  test("the igb PF at 0000:00:02.0 supports SR-IOV", () => {
    expect(pciDriver(PF)).toBe("igb");
    expect(Number(sysfsRead(`/sys/bus/pci/devices/${PF}/sriov_totalvfs`))).toBeGreaterThanOrEqual(2);
  });

  test("two VFs appear at 00:12.0 and 00:12.2, bound to igbvf, each with a netdev and its own IOMMU group", () => {
    expect(vfs.map((vf) => vf.addr)).toEqual(["0000:00:12.0", "0000:00:12.2"]);
    const groups = new Set([iommuGroup(PF)]);
    for (const vf of vfs) {
      expect(pciDriver(vf.addr)).toBe("igbvf");
      expect(pciNetdevs(vf.addr)).toEqual([vf.netdev]);
      const group = iommuGroup(vf.addr);
      expect(group).not.toBeNull();
      groups.add(group);
    }
    expect(groups.size).toBe(3);
  });

  test("igb takes MAC, VLAN+QoS, spoofchk, trust and max_tx_rate for a VF through the PF", async () => {
    await sh(["ip", "link", "set", "dev", pf, "vf", "1", "mac", "02:00:00:aa:bb:01"]);
    await sh(["ip", "link", "set", "dev", pf, "vf", "1", "vlan", "100", "qos", "3"]);
    await sh(["ip", "link", "set", "dev", pf, "vf", "1", "spoofchk", "off"]);
    await sh(["ip", "link", "set", "dev", pf, "vf", "1", "trust", "on"]);
    await sh(["ip", "link", "set", "dev", pf, "vf", "1", "max_tx_rate", "100"]);
    const vf = (await ipVfs(pf)).find((info) => info.vf === 1);
    expect(vf?.address).toBe("02:00:00:aa:bb:01");
    expect(vf?.vlan_list?.[0]).toMatchObject({ vlan: 100, qos: 3 });
    expect(vf?.spoofchk).toBe(false);
    expect(vf?.trust).toBe(true);
    expect(vf?.rate?.max_tx).toBe(100);
  });

  test("igb refuses link state, min_tx_rate and 802.1ad for a VF, like the real 82576", async () => {
    for (const args of [
      ["state", "enable"],
      ["min_tx_rate", "10"],
      ["vlan", "10", "proto", "802.1ad"],
    ]) {
      const result = await sh(["ip", "link", "set", "dev", pf, "vf", "0", ...args], { allowFailure: true });
      expect(result.code, args.join(" ")).not.toBe(0);
    }
  });

  test("a VF netdev moves into a netns and back", async () => {
    const vf = vfs[0];
    if (vf === undefined) throw new Error("no VF");
    await createNetns("lab-sub-ns1");
    await sh(["ip", "link", "set", "dev", vf.netdev, "netns", "lab-sub-ns1"]);
    expect(pciNetdevs(vf.addr)).toEqual([]);
    await sh(["ip", "-n", "lab-sub-ns1", "link", "show", "dev", vf.netdev]);
    await sh(["ip", "-n", "lab-sub-ns1", "link", "set", "dev", vf.netdev, "netns", "1"]);
    expect(pciNetdevs(vf.addr)).toEqual([vf.netdev]);
  });

  test("a VF binds to vfio-pci, gets /dev/vfio/<group>, and binds back to igbvf", async () => {
    const vf = vfs[1];
    if (vf === undefined) throw new Error("no VF");
    const group = iommuGroup(vf.addr);
    rebindPci(vf.addr, "vfio-pci");
    expect(pciDriver(vf.addr)).toBe("vfio-pci");
    expect(pciNetdevs(vf.addr)).toEqual([]);
    expect(existsSync(`/dev/vfio/${group}`)).toBe(true);
    rebindPci(vf.addr, "igbvf");
    expect(pciDriver(vf.addr)).toBe("igbvf");
    await waitFor(`netdev of ${vf.addr} after rebinding`, () => pciNetdevs(vf.addr)[0]);
  });

  test("a VDUSE virtio-net device reaches the vdpa bus bound to vhost_vdpa, with its MAC and MTU", async () => {
    const device = await createVdpa("lab-sub-vdpa0", "02:00:00:00:10:01", 1400);
    expect(vdpaDriver(device.name)).toBe("vhost_vdpa");
    const chardev = vhostVdpaChardev(device.name);
    expect(chardev).toMatch(/^\/dev\/vhost-vdpa-\d+$/);
    expect(existsSync(chardev ?? "")).toBe(true);
    const { stdout } = await sh(["vdpa", "-j", "dev", "config", "show", device.name]);
    const config = (JSON.parse(stdout) as { config: Record<string, { mac?: string; mtu?: number }> }).config[
      device.name
    ];
    expect(config).toMatchObject({ mac: "02:00:00:00:10:01", mtu: 1400 });
  });

  test("the VDUSE device switches to virtio_vdpa (a virtio-net netdev with its MAC) and back", async () => {
    const name = "lab-sub-vdpa0";
    rebindVdpa(name, "virtio_vdpa");
    expect(vdpaDriver(name)).toBe("virtio_vdpa");
    const netdev = await waitFor(`virtio-net netdev of ${name}`, () => virtioNetdev(name));
    expect(sysfsRead(`/sys/class/net/${netdev}/address`)).toBe("02:00:00:00:10:01");
    rebindVdpa(name, "vhost_vdpa");
    expect(vdpaDriver(name)).toBe("vhost_vdpa");
    await waitFor(`vhost-vdpa char device of ${name}`, () => vhostVdpaChardev(name));
  });

  test("netdevsim takes the VF settings igb refuses: link state, min_tx_rate, 802.1ad", async () => {
    const nsim = await createNetdevsim(11, 2);
    await sh(["ip", "link", "set", "dev", nsim.netdev, "vf", "0", "state", "enable"]);
    await sh(["ip", "link", "set", "dev", nsim.netdev, "vf", "0", "min_tx_rate", "10", "max_tx_rate", "200"]);
    await sh(["ip", "link", "set", "dev", nsim.netdev, "vf", "1", "vlan", "20", "qos", "1", "proto", "802.1ad"]);
    const [vf0, vf1] = await ipVfs(nsim.netdev);
    expect(vf0).toMatchObject({ link_state: "enable", rate: { min_tx: 10, max_tx: 200 } });
    expect(vf1?.vlan_list?.[0]).toMatchObject({ vlan: 20, qos: 1, protocol: "802.1ad" });
  });

  test("Debian's IPAM plugins host-local and static run from /usr/lib/cni (what guest tests delegate to)", () => {
    for (const type of ["host-local", "static"]) {
      const { code, out } = cniPlugin(type, "VERSION", { cniVersion: "1.0.0" });
      expect(code, type).toBe(0);
      expect((out as { supportedVersions: string[] }).supportedVersions, type).toContain("1.0.0");
    }
    const dataDir = mkdtempSync("/tmp/lab-sub-ipam-");
    try {
      const config = {
        cniVersion: "1.0.0",
        name: "labsub",
        ipam: { type: "host-local", ranges: [[{ subnet: "10.55.0.0/24" }]], dataDir },
      };
      const add = cniPlugin("host-local", "ADD", { ...config, type: "host-local" });
      expect(add.code).toBe(0);
      expect(add.out).toMatchObject({ ips: [{ address: "10.55.0.2/24", gateway: "10.55.0.1" }] });
      expect(readdirSync(path.join(dataDir, "labsub"))).toContain("10.55.0.2");
      expect(cniPlugin("host-local", "DEL", { ...config, type: "host-local" }).code).toBe(0);
      expect(readdirSync(path.join(dataDir, "labsub"))).not.toContain("10.55.0.2");
      const fixed = cniPlugin("static", "ADD", {
        cniVersion: "1.0.0",
        name: "labsub",
        type: "static",
        ipam: { type: "static", addresses: [{ address: "10.55.1.7/24" }] },
      });
      expect(fixed).toMatchObject({ code: 0, out: { ips: [{ address: "10.55.1.7/24" }] } });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
