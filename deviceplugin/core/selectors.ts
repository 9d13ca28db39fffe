// Does a device match a pool's selector? The rules follow sriov-network-device-plugin:
// every non-empty list must contain the device's value; pfNames/rootDevices
// select VFs of a PF (optionally by VF index range); vdpaType requires a vDPA
// device of that kind on the VF.
import type { DeviceType, Selector, VdpaType } from "./config.js";
import type { PciDevice, VdpaDevice } from "./inventory.js";
import { vfIndexInRanges, type VfRangeSelector } from "./vf-range.js";

/** Link type from the PCI class (0x0200 Ethernet, 0x0207 InfiniBand), as "linkTypes" names them. */
export function linkTypeOf(pci: PciDevice): string | null {
  const cls = pci.class.toLowerCase().replace(/^0x/, "");
  if (cls.startsWith("0200")) return "ether";
  if (cls.startsWith("0207")) return "infiniband";
  return null;
}

/** The vDPA kind a bus driver gives: vhost_vdpa → "vhost", virtio_vdpa → "virtio". */
export function vdpaTypeOf(vdpa: VdpaDevice): VdpaType | null {
  if (vdpa.driver === "vhost_vdpa") return "vhost";
  if (vdpa.driver === "virtio_vdpa") return "virtio";
  return null;
}

/** PCI devices a pool of this type may hold (by PCI class; a PF that has VFs is never handed out). */
export function isCandidateFor(deviceType: DeviceType, pci: PciDevice): boolean {
  if (pci.isPf && (pci.numVfs ?? 0) > 0) return false;
  const cls = pci.class.toLowerCase().replace(/^0x/, "");
  switch (deviceType) {
    case "netDevice":
      return cls.startsWith("02");
    case "accelerator":
      return cls.startsWith("12") || cls.startsWith("0b40");
    case "auxNetDevice":
      // Auxiliary (sub-function) devices are not in the helper inventory.
      return false;
  }
}

function matchesParent(list: readonly VfRangeSelector[], names: readonly string[], pci: PciDevice): boolean {
  if (list.length === 0) return true;
  return list.some((sel) => {
    if (!names.includes(sel.parent)) return false;
    // A PF (without VFs) matches its own name; VF ranges only make sense for VFs.
    return pci.isVf ? vfIndexInRanges(sel, pci.vfIndex) : sel.ranges === null;
  });
}

export interface PciMatch {
  /** The vDPA device the pool hands out, when the selector asks for one. */
  readonly vdpa: VdpaDevice | null;
}

/** Matches a PCI device (VF, or PF without VFs) against one selector. */
export function matchPci(
  sel: Selector,
  pci: PciDevice,
  pf: PciDevice | null,
  vdpaByName: ReadonlyMap<string, VdpaDevice>,
): PciMatch | null {
  if (sel.vendors.length > 0 && !sel.vendors.includes(pci.vendor.toLowerCase())) return null;
  if (sel.devices.length > 0 && !sel.devices.includes(pci.device.toLowerCase())) return null;
  if (sel.drivers.length > 0 && (pci.driver === null || !sel.drivers.includes(pci.driver))) return null;
  if (sel.pciAddresses.length > 0 && !sel.pciAddresses.includes(pci.addr.toLowerCase())) return null;
  const parentNames = pci.isVf ? (pf?.netdevs ?? []) : pci.netdevs;
  if (!matchesParent(sel.pfNames, parentNames, pci)) return null;
  const parentAddr = pci.isVf ? (pci.pf ?? "") : pci.addr;
  if (!matchesParent(sel.rootDevices, [parentAddr.toLowerCase()], pci)) return null;
  if (sel.linkTypes.length > 0) {
    const lt = linkTypeOf(pci);
    if (lt === null || !sel.linkTypes.includes(lt)) return null;
  }
  if (sel.vdpaType === null) return { vdpa: null };
  for (const name of pci.vdpa) {
    const vdpa = vdpaByName.get(name);
    if (vdpa !== undefined && vdpaTypeOf(vdpa) === sel.vdpaType) return { vdpa };
  }
  return null;
}

/**
 * Matches a vDPA device without a PCI parent (e.g. VDUSE). Only a selector that
 * asks for its vdpaType and has no PCI-specific lists can select it.
 */
export function matchParentlessVdpa(sel: Selector, vdpa: VdpaDevice): boolean {
  if (sel.vdpaType === null || vdpaTypeOf(vdpa) !== sel.vdpaType) return false;
  return (
    sel.vendors.length === 0 &&
    sel.devices.length === 0 &&
    sel.drivers.length === 0 &&
    sel.pciAddresses.length === 0 &&
    sel.pfNames.length === 0 &&
    sel.rootDevices.length === 0 &&
    sel.linkTypes.length === 0
  );
}
