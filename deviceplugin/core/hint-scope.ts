// What a kernel event names, as a rescan scope (core/inventory-update.ts): the
// PCI function of a pci event or of a PCI netdev, the group of a /dev/vfio node,
// the netdev of a link change. vDPA events, netdevs that are not a PCI
// function's own (virtio_vdpa) and anything malformed name nothing: full rescan.
import { FULL, iommuGroupScope, netdevScope, pciScope, type RescanScope } from "./inventory-update.js";

/** The fields of native/client's Uevent this needs. */
export interface UeventFields {
  readonly subsystem: string;
  readonly devpath: string;
  readonly pciSlot: string | null;
}

const PCI_ADDR = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

/** The last PCI function in a devpath and what follows it ("/devices/pci0000:00/0000:01:10.0/net/eth1"). */
function lastPciFunction(devpath: string): { addr: string; below: string[] } | null {
  const parts = devpath.split("/");
  for (let i = parts.length - 1; i >= 0; i--) {
    const p = parts[i] ?? "";
    if (PCI_ADDR.test(p)) return { addr: p, below: parts.slice(i + 1) };
  }
  return null;
}

export function scopeOfUevent(e: UeventFields): RescanScope {
  switch (e.subsystem) {
    case "pci": {
      const fn = lastPciFunction(e.devpath);
      const addr = e.pciSlot ?? (fn?.below.length === 0 ? fn.addr : null);
      return addr !== null && PCI_ADDR.test(addr) ? pciScope(addr) : FULL;
    }
    case "net": {
      const fn = lastPciFunction(e.devpath);
      // Only "<function>/net/<ifname>": a netdev below a vDPA device belongs to the vDPA objects.
      return fn !== null && fn.below.length === 2 && fn.below[0] === "net" ? pciScope(fn.addr) : FULL;
    }
    case "vfio": {
      const m = /^\/devices\/virtual\/vfio\/(\d{1,9})$/.exec(e.devpath);
      return m === null ? FULL : iommuGroupScope(Number(m[1]));
    }
    default:
      return FULL;
  }
}

export function scopeOfLink(l: { readonly interface: string | null }): RescanScope {
  return l.interface === null ? FULL : netdevScope(l.interface);
}
