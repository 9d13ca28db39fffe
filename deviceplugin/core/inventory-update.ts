// Incremental rescans: what a rescan hint names (a PCI function, a netdev, an
// IOMMU group), which PCI functions must be read again for it, and the last
// inventory brought up to date with what was read. Anything that cannot be
// attributed with certainty asks for a full read (null): the inventory must
// stay what a full `inventory` would report.
import type { Inventory, PciDevice } from "./inventory.js";

/** What a hint names; "full" when it names nothing we can attribute (monitor ready, events lost, vDPA). */
export type RescanScope =
  | "full"
  | {
      readonly pci: readonly string[];
      readonly netdevs: readonly string[];
      readonly iommuGroups: readonly number[];
    };

export const FULL: RescanScope = "full";

export function pciScope(...addrs: string[]): RescanScope {
  return { pci: addrs, netdevs: [], iommuGroups: [] };
}

export function netdevScope(name: string): RescanScope {
  return { pci: [], netdevs: [name], iommuGroups: [] };
}

export function iommuGroupScope(group: number): RescanScope {
  return { pci: [], netdevs: [], iommuGroups: [group] };
}

/** The scope of a burst of hints: everything each names; one full hint makes it full. */
export function mergeScopes(a: RescanScope | null, b: RescanScope): RescanScope {
  if (a === null) return b;
  if (a === "full" || b === "full") return "full";
  return {
    pci: [...new Set([...a.pci, ...b.pci])],
    netdevs: [...new Set([...a.netdevs, ...b.netdevs])],
    iommuGroups: [...new Set([...a.iommuGroups, ...b.iommuGroups])],
  };
}

/** Above this many functions one full read is cheaper than the targeted ones (a PF creating its VFs). */
export const MAX_TARGETED_READS = 32;

function known(inv: Inventory): Map<string, PciDevice> {
  return new Map([...inv.pfs, ...inv.vfs].map((d) => [d.addr, d]));
}

/**
 * The PCI functions to read again for a scope: each named function and, for a
 * VF, its PF (its VF count and carrier decide the VF's health). null: read
 * everything (a name the inventory does not know, or too many).
 */
export function functionsToRead(inv: Inventory, scope: RescanScope): string[] | null {
  if (scope === "full") return null;
  const byAddr = known(inv);
  const addrs = new Set(scope.pci);
  for (const name of scope.netdevs) {
    const owner = [...byAddr.values()].find((d) => d.netdevs.includes(name));
    if (owner === undefined) return null;
    addrs.add(owner.addr);
  }
  for (const group of scope.iommuGroups) {
    const members = [...byAddr.values()].filter((d) => d.iommuGroup === group);
    if (members.length === 0) return null;
    for (const d of members) addrs.add(d.addr);
  }
  for (const addr of [...addrs]) {
    const pf = byAddr.get(addr)?.pf;
    if (pf !== null && pf !== undefined) addrs.add(pf);
  }
  return addrs.size > MAX_TARGETED_READS ? null : [...addrs].sort();
}

/**
 * PFs of VFs just read whose PF was not read with them: a VF the inventory did
 * not know (its PF's VF count changed, or the PF is new). Read them too, then apply.
 */
export function missingPfs(read: ReadonlyMap<string, PciDevice | null>): string[] {
  const pfs = new Set<string>();
  for (const d of read.values()) {
    if (d?.isVf === true && d.pf !== null && !read.has(d.pf)) pfs.add(d.pf);
  }
  return [...pfs];
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * The inventory with the functions read again (null: the function no longer
 * exists). null when only a full read can say what changed: a PF or an unknown
 * function gone, a function whose vDPA devices changed (their objects come
 * from the full read), a VF whose PF is unknown.
 */
export function applyReads(inv: Inventory, read: ReadonlyMap<string, PciDevice | null>): Inventory | null {
  const byAddr = known(inv);
  const pfs = new Map(inv.pfs.map((d) => [d.addr, d]));
  const vfs = new Map(inv.vfs.map((d) => [d.addr, d]));
  // PFs first: a new VF needs its PF in place.
  const entries = [...read].sort(([, a], [, b]) => Number(b?.isPf ?? false) - Number(a?.isPf ?? false));
  for (const [addr, now] of entries) {
    const before = byAddr.get(addr);
    if (now === null) {
      if (before === undefined || before.isPf) return null;
      vfs.delete(addr);
      continue;
    }
    if (!now.isPf && !now.isVf) {
      if (before !== undefined) return null;
      continue; // another PCI function: not inventory
    }
    if (!sameList(now.vdpa, before?.vdpa ?? [])) return null;
    if (before !== undefined && before.isPf !== now.isPf) return null;
    if (now.isPf) pfs.set(addr, now);
    else if (now.pf === null || !pfs.has(now.pf)) return null;
    else vfs.set(addr, now);
  }
  return { pfs: [...pfs.values()], vfs: [...vfs.values()], vdpa: inv.vdpa };
}
