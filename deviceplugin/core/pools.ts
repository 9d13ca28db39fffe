// Builds resource pools from the config and one inventory snapshot. A device
// belongs to the first pool (config order) whose selectors match it. Health is
// decided here too, against the previous snapshot: a device that left a pool
// (disappeared, or no longer matches, e.g. its driver changed) stays listed as
// Unhealthy for health.forgetMissingAfterSeconds so kubelet stops handing it out
// but keeps track of pods that hold it.
import type { DevicePluginConfig, ResourceConfig } from "./config.js";
import type { Inventory, PciDevice, VdpaDevice } from "./inventory.js";
import { isCandidateFor, matchParentlessVdpa, matchPci } from "./selectors.js";

export type DeviceKind = "pci" | "vdpa";

export interface PoolDevice {
  /** VF PCI address; for a vDPA device without PCI parent, the vdpa device name. */
  readonly id: string;
  readonly kind: DeviceKind;
  readonly healthy: boolean;
  /** Why the device is Unhealthy; null when Healthy. */
  readonly reason: string | null;
  /** NUMA node reported to kubelet; null when unknown or excludeTopology. */
  readonly numaNode: number | null;
  /** The PCI function (the vDPA parent for vdpa devices); null for parentless vDPA. */
  readonly pci: PciDevice | null;
  readonly pfAddr: string | null;
  readonly vdpa: VdpaDevice | null;
  /** When the device left the pool (ms); null while it is a member. */
  readonly goneSince: number | null;
}

export interface Pool {
  readonly config: ResourceConfig;
  /** Sorted by id. */
  readonly devices: readonly PoolDevice[];
}

export type Pools = ReadonlyMap<string, Pool>;

const NO_CARRIER = new Set(["down", "lowerlayerdown", "notpresent"]);

function memberHealth(
  config: ResourceConfig,
  pci: PciDevice | null,
  pf: PciDevice | null,
  vdpa: VdpaDevice | null,
): string | null {
  if (config.health.pfCarrier && config.deviceType === "netDevice" && pf !== null && pf.linkState !== null) {
    if (NO_CARRIER.has(pf.linkState)) return `PF "${pf.netdevs[0] ?? pf.addr}" has no carrier`;
  }
  if (pci !== null && vdpa === null && pci.driver === "vfio-pci" && pci.iommuGroup === null) {
    return "bound to vfio-pci but has no IOMMU group";
  }
  if (vdpa !== null && vdpa.driver === "vhost_vdpa" && vdpa.chardev === null) {
    return `vDPA device "${vdpa.name}" has no vhost-vdpa char device`;
  }
  return null;
}

function member(
  config: ResourceConfig,
  pci: PciDevice | null,
  pf: PciDevice | null,
  vdpa: VdpaDevice | null,
): PoolDevice {
  const reason = memberHealth(config, pci, pf, vdpa);
  const numa = pci?.numaNode ?? -1;
  return {
    id: pci?.addr ?? vdpa?.name ?? "",
    kind: vdpa === null ? "pci" : "vdpa",
    healthy: reason === null,
    reason,
    numaNode: config.excludeTopology || numa < 0 ? null : numa,
    pci,
    pfAddr: pci?.isVf === true ? pci.pf : null,
    vdpa,
    goneSince: null,
  };
}

/** Assigns every inventory device to the first matching pool; returns members per resource. */
function assignMembers(config: DevicePluginConfig, inv: Inventory): Map<string, PoolDevice[]> {
  const members = new Map<string, PoolDevice[]>(config.resources.map((r) => [r.fullName, []]));
  const pfByAddr = new Map(inv.pfs.map((p) => [p.addr, p]));
  const vdpaByName = new Map(inv.vdpa.map((v) => [v.name, v]));
  for (const pci of [...inv.pfs, ...inv.vfs]) {
    const pf = pci.isVf && pci.pf !== null ? (pfByAddr.get(pci.pf) ?? null) : null;
    for (const r of config.resources) {
      if (!isCandidateFor(r.deviceType, pci)) continue;
      const match = r.selectors.map((s) => matchPci(s, pci, pf, vdpaByName)).find((m) => m !== null);
      if (match === undefined) continue;
      members.get(r.fullName)?.push(member(r, pci, pf, match.vdpa));
      break;
    }
  }
  for (const vdpa of inv.vdpa) {
    if (vdpa.parentPci !== null) continue;
    const r = config.resources.find(
      (res) => res.deviceType === "netDevice" && res.selectors.some((s) => matchParentlessVdpa(s, vdpa)),
    );
    if (r !== undefined) members.get(r.fullName)?.push(member(r, null, null, vdpa));
  }
  return members;
}

function whyGone(prev: PoolDevice, inv: Inventory): string {
  if (prev.pci !== null) {
    const now = inv.vfs.find((d) => d.addr === prev.pci?.addr) ?? inv.pfs.find((d) => d.addr === prev.pci?.addr);
    if (now === undefined) return "disappeared";
    if (prev.vdpa !== null) {
      const v = inv.vdpa.find((d) => d.name === prev.vdpa?.name);
      if (v === undefined) return `vDPA device "${prev.vdpa.name}" disappeared`;
      if (v.driver !== prev.vdpa.driver) return `vDPA driver is now "${v.driver ?? "none"}"`;
    }
    if (now.driver !== prev.pci.driver)
      return `driver is now "${now.driver ?? "none"}", which the pool does not select`;
    return "no longer matches the pool selectors";
  }
  const v = inv.vdpa.find((d) => d.name === prev.vdpa?.name);
  if (v === undefined) return "disappeared";
  return `vDPA driver is now "${v.driver ?? "none"}"`;
}

/**
 * Builds every pool from an inventory. previous is the last result (null at
 * start); nowMs stamps devices that leave a pool.
 */
export function buildPools(
  config: DevicePluginConfig,
  inv: Inventory,
  previous: Pools | null,
  nowMs: number,
): Map<string, Pool> {
  const members = assignMembers(config, inv);
  const pools = new Map<string, Pool>();
  for (const r of config.resources) {
    const current = members.get(r.fullName) ?? [];
    const ids = new Set(current.map((d) => d.id));
    const devices = [...current];
    for (const prev of previous?.get(r.fullName)?.devices ?? []) {
      if (ids.has(prev.id)) continue;
      const goneSince = prev.goneSince ?? nowMs;
      if (nowMs - goneSince > r.health.forgetMissingAfterSeconds * 1000) continue;
      devices.push({ ...prev, healthy: false, reason: whyGone(prev, inv), goneSince });
    }
    devices.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    pools.set(r.fullName, { config: r, devices });
  }
  return pools;
}

/** The part of a pool kubelet sees (IDs, health, NUMA); a change here must be pushed through ListAndWatch. */
export function kubeletView(pool: Pool): string {
  return pool.devices.map((d) => `${d.id}|${d.healthy ? "H" : "U"}|${d.numaNode ?? ""}`).join(",");
}

export function findDevice(pool: Pool, id: string): PoolDevice | undefined {
  return pool.devices.find((d) => d.id === id);
}
