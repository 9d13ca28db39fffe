// Builders for helper inventory objects (native/PROTOCOL.md PCI and VDPA
// objects), for core unit tests and for --inventory-file in daemon tests.
import type { Inventory, PciDevice, VdpaDevice } from "../../deviceplugin/core/inventory.js";

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export function pf(addr: string, netdev: string, numVfs: number, extra: Partial<PciDevice> = {}): Mutable<PciDevice> {
  return {
    addr,
    vendor: "8086",
    device: "10c9",
    class: "020000",
    driver: "igb",
    netdevs: [netdev],
    numaNode: 0,
    iommuGroup: 1,
    isPf: true,
    isVf: false,
    pf: null,
    vfIndex: null,
    numVfs,
    totalVfs: 8,
    linkState: "up",
    vdpa: [],
    ...extra,
  };
}

export function vf(addr: string, pfAddr: string, vfIndex: number, extra: Partial<PciDevice> = {}): Mutable<PciDevice> {
  return {
    addr,
    vendor: "8086",
    device: "10ca",
    class: "020000",
    driver: "igbvf",
    netdevs: [],
    numaNode: 0,
    iommuGroup: 10 + vfIndex,
    isPf: false,
    isVf: true,
    pf: pfAddr,
    vfIndex,
    numVfs: null,
    totalVfs: null,
    linkState: null,
    vdpa: [],
    ...extra,
  };
}

export function vdpa(
  name: string,
  parentPci: string | null,
  driver: "vhost_vdpa" | "virtio_vdpa",
  extra: Partial<VdpaDevice> = {},
): Mutable<VdpaDevice> {
  return {
    name,
    mgmtdev: parentPci === null ? "vduse" : `pci/${parentPci}`,
    parentPci,
    driver,
    chardev: driver === "vhost_vdpa" ? `/dev/vhost-vdpa-${name.replace(/\D/g, "") || "0"}` : null,
    netdev: driver === "virtio_vdpa" ? `eth-${name}` : null,
    ...extra,
  };
}

/**
 * The node the daemon tests use: PF 0000:01:00.0 "ens1f0" with four VFs
 *   01:10.0 igbvf (netdev pool), 01:10.1 vfio-pci group 21 (vfio pool),
 *   01:10.2 igbvf + vdpa0 on vhost_vdpa (vdpa pool), 01:10.3 igbvf NUMA 1,
 * and a VDUSE vDPA device "vduse1" (no PCI parent) on vhost_vdpa.
 */
export function sampleInventory(): {
  pfs: Mutable<PciDevice>[];
  vfs: Mutable<PciDevice>[];
  vdpa: Mutable<VdpaDevice>[];
} {
  const p = "0000:01:00.0";
  return {
    pfs: [pf(p, "ens1f0", 4)],
    vfs: [
      vf("0000:01:10.0", p, 0),
      vf("0000:01:10.1", p, 1, { driver: "vfio-pci", iommuGroup: 21 }),
      vf("0000:01:10.2", p, 2, { vdpa: ["vdpa0"] }),
      vf("0000:01:10.3", p, 3, { numaNode: 1 }),
    ],
    vdpa: [
      vdpa("vdpa0", "0000:01:10.2", "vhost_vdpa"),
      vdpa("vduse1", null, "vhost_vdpa", { chardev: "/dev/vhost-vdpa-1" }),
    ],
  };
}

export function asInventory(i: ReturnType<typeof sampleInventory>): Inventory {
  return i;
}

/** sriov-network-device-plugin style config for sampleInventory(). */
export function sampleConfig(): { resourceList: object[] } {
  return {
    resourceList: [
      { resourceName: "vdpa_vhost", selectors: { vdpaType: "vhost" } },
      { resourceName: "vfio", selectors: { drivers: ["vfio-pci"] }, additionalInfo: { "*": { role: "dpdk" } } },
      {
        resourceName: "netdev",
        resourcePrefix: "example.com",
        selectors: [{ pfNames: ["ens1f0#0,3"], drivers: ["igbvf"] }],
        excludeTopology: false,
      },
    ],
  };
}
