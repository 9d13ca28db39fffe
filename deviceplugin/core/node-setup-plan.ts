// Plans one round of node setup: from the desired state (the config's
// nodeSetup), what the node has (the helper's inventory, PF MTUs, vdpa
// management devices), what attachments hold (the CNI's owner markers) and what
// accelnet changed before (the record), the steps to run and the refusals.
//
// Order: VF counts first (to 0 and then N when the count changes: the kernel
// takes no other change), then PF MTUs, then deletion of vDPA devices no longer
// wanted (a rebind of their VF would otherwise pull them away), then VF drivers,
// then vDPA devices to create or rebind, then a pools rescan. A PF whose VF
// count changes gets its VF steps in the next round, planned from the new VFs;
// the executor plans again until a round has no steps. A node that matches
// gives no steps at all.
//
// Nothing held is touched: a held VF or vDPA device is not rebound or deleted,
// and a PF with a held VF keeps its VF count (any change goes through 0).
// Targets: the config where it says something, else what the record says the
// node had before accelnet (so a removed section is undone), else nothing.
import type { Inventory, PciDevice, VdpaDevice } from "./inventory.js";
import {
  vfVdpaName,
  type NodeSetup,
  type PfSetup,
  type VdpaAttributes,
  type VdpaDriverChoice,
  type VfSetup,
} from "./node-setup-config.js";
import type { NodeSetupRecord, PfRecord, RecordOp } from "./node-setup-record.js";
import { applyRecordOps } from "./node-setup-record.js";

export interface MgmtdevInfo {
  /** "vduse" or "<bus>/<device>", as vdpa devices name their mgmtdev. */
  readonly name: string;
  /**
   * Creation attributes it takes ("mac", "mtu", "max_vqp"), as the helper reports them. No kernel reports
   * them yet (the helper answers []), so [] means "not reported": then KNOWN_CONFIG_ATTRS, else the kernel's
   * answer to the creation decides.
   */
  readonly configAttrs: readonly string[];
}

export interface ObservedNode {
  readonly inventory: Inventory;
  /** PF netdev → MTU, for the PFs whose MTU is configured or recorded. */
  readonly pfMtus: ReadonlyMap<string, number>;
  /** The vdpa management devices, or why they could not be listed. */
  readonly mgmtdevs: readonly MgmtdevInfo[] | { readonly error: string };
  /** Owner marker key ("pci/<addr>", "vdpa/<name>") → who holds the device. */
  readonly held: ReadonlyMap<string, string>;
}

interface StepBase {
  /** PF PCI address; null for the top-level vdpaDevices. */
  readonly pf: string | null;
  /** Record changes made before the step runs (so a crash mid-step still knows the original). */
  readonly before: readonly RecordOp[];
  /** Record changes made once the step succeeded. */
  readonly after: readonly RecordOp[];
}

export type Step = StepBase &
  (
    | { readonly kind: "set-num-vfs"; readonly count: number }
    | { readonly kind: "set-pf-mtu"; readonly netdev: string; readonly mtu: number }
    | { readonly kind: "vdpa-del"; readonly name: string }
    | { readonly kind: "bind-vfio"; readonly vf: string; readonly vfIndex: number }
    | { readonly kind: "reprobe"; readonly vf: string; readonly vfIndex: number }
    | {
        readonly kind: "vdpa-add";
        readonly name: string;
        readonly mgmtdev: string;
        readonly mac: string | null;
        readonly mtu: number | null;
        readonly maxVqp: number | null;
      }
    | { readonly kind: "vdpa-bind"; readonly name: string; readonly driver: VdpaDriverChoice }
    | { readonly kind: "rescan" }
  );

export type StepKind = Step["kind"] | "find-pf";

export interface Refusal {
  /** PF PCI address, or the config's selector when no PF matched; null for the top-level vdpaDevices. */
  readonly pf: string | null;
  /** The VF (PCI address) or vDPA device concerned; null: the PF itself. */
  readonly device: string | null;
  readonly step: StepKind;
  readonly reason: string;
  /** Who holds the device (owner marker), when that is the reason. */
  readonly heldBy: string | null;
}

export interface NodeSetupPlan {
  readonly steps: readonly Step[];
  readonly refusals: readonly Refusal[];
  /** The record without entries that need no step (back to the node's own state, or gone). */
  readonly record: NodeSetupRecord;
  /** Every PF this round looked at (PCI address, or selector when not found), for the per-PF outcome. */
  readonly pfs: readonly string[];
}

const PHASE: Record<Step["kind"], number> = {
  "set-num-vfs": 0,
  "set-pf-mtu": 1,
  "vdpa-del": 2,
  "bind-vfio": 3,
  reprobe: 3,
  "vdpa-add": 4,
  "vdpa-bind": 5,
  rescan: 6,
};

export function vdpaKernelDriver(d: VdpaDriverChoice): "vhost_vdpa" | "virtio_vdpa" {
  return d === "vhost" ? "vhost_vdpa" : "virtio_vdpa";
}

type DriverClass = "vfio-pci" | "kernel" | null;

function driverClass(driver: string | null): DriverClass {
  if (driver === null) return null;
  return driver === "vfio-pci" ? "vfio-pci" : "kernel";
}

function selectorText(pf: PfSetup): string {
  return "pfName" in pf.select ? `pfName "${pf.select.pfName}"` : `pciAddress "${pf.select.pciAddress}"`;
}

function entryFor(pf: PfSetup | null, vfIndex: number | null): VfSetup | null {
  if (pf === null || vfIndex === null) return null;
  return pf.vfs.find((e) => e.ranges.some(([a, b]) => vfIndex >= a && vfIndex <= b)) ?? null;
}

interface WantedVdpa extends VdpaAttributes {
  readonly pf: string | null;
  readonly name: string;
  readonly mgmtdev: string;
  /** The VF it sits on (its holder holds the device too). */
  readonly vf: string | null;
}

/** Management devices whose attributes are known without a report: VDUSE refuses all three (seen in the lab). */
const KNOWN_CONFIG_ATTRS: Readonly<Record<string, readonly string[]>> = { vduse: [] };

/** The attributes a mgmtdev takes; null: not known (the kernel decides at creation). */
function configAttrsOf(m: MgmtdevInfo): readonly string[] | null {
  if (m.configAttrs.length > 0) return m.configAttrs;
  return KNOWN_CONFIG_ATTRS[m.name] ?? null;
}

/** Whether a list of creation attributes has this one, whatever spelling (mac/macaddr, max_vqp...). */
function supports(attrs: readonly string[], attr: "mac" | "mtu" | "maxVqp"): boolean {
  return attrs.some((a) => {
    const n = a.toLowerCase().replace(/[^a-z]/g, "");
    if (attr === "mac") return n === "mac" || n.endsWith("macaddr");
    if (attr === "mtu") return n.endsWith("mtu");
    return n.endsWith("maxvqp");
  });
}

class Planner {
  readonly steps: Step[] = [];
  readonly refusals: Refusal[] = [];
  record: NodeSetupRecord;
  readonly pfs: string[] = [];
  readonly wanted: WantedVdpa[] = [];
  /** PFs whose VFs are destroyed this round: their VF and vDPA steps wait for the next. */
  readonly recreating = new Set<string>();
  private readonly vdpaByName: ReadonlyMap<string, VdpaDevice>;

  constructor(
    private readonly obs: ObservedNode,
    record: NodeSetupRecord,
  ) {
    this.record = record;
    this.vdpaByName = new Map(obs.inventory.vdpa.map((d) => [d.name, d]));
  }

  private step(s: Step): void {
    this.steps.push(s);
  }

  private refuse(r: Refusal): void {
    this.refusals.push(r);
  }

  private prune(ops: readonly RecordOp[]): void {
    this.record = applyRecordOps(this.record, ops);
  }

  /** Who holds a VF: its own marker, or the marker of a vDPA device on it. */
  vfHolder(vf: PciDevice): string | null {
    const own = this.obs.held.get(`pci/${vf.addr}`);
    if (own !== undefined) return own;
    for (const d of this.obs.inventory.vdpa) {
      if (d.parentPci !== vf.addr) continue;
      const who = this.obs.held.get(`vdpa/${d.name}`);
      if (who !== undefined) return `${who} (through vdpa device "${d.name}")`;
    }
    return null;
  }

  /** Resolves the config's PFs to PCI addresses, refusing what matches nothing or twice. */
  resolve(setup: NodeSetup | null): Map<string, PfSetup> {
    const byAddr = new Map<string, PfSetup>();
    for (const pf of setup?.pfs ?? []) {
      const found = this.obs.inventory.pfs.find((p) =>
        "pfName" in pf.select ? p.netdevs.includes(pf.select.pfName) : p.addr === pf.select.pciAddress,
      );
      if (found === undefined) {
        this.pfs.push(selectorText(pf));
        this.refuse({
          pf: selectorText(pf),
          device: null,
          step: "find-pf",
          reason: `no SR-IOV PF with ${selectorText(pf)} on this node (${pf.path})`,
          heldBy: null,
        });
        continue;
      }
      const first = byAddr.get(found.addr);
      if (first !== undefined) {
        this.refuse({
          pf: found.addr,
          device: null,
          step: "find-pf",
          reason: `${pf.path} and ${first.path} both select PF ${found.addr}; the first one applies`,
          heldBy: null,
        });
        continue;
      }
      byAddr.set(found.addr, pf);
    }
    return byAddr;
  }

  pf(addr: string, want: PfSetup | null, rec: PfRecord | undefined): void {
    this.pfs.push(addr);
    const dev = this.obs.inventory.pfs.find((p) => p.addr === addr);
    if (dev === undefined) {
      // A recorded PF that is gone (hot-unplugged): nothing left to undo.
      this.prune([
        { op: "forget-num-vfs", pf: addr },
        { op: "forget-mtu", pf: addr },
        { op: "forget-vf-drivers", pf: addr },
      ]);
      return;
    }
    const vfs = this.obs.inventory.vfs.filter((v) => v.pf === addr).sort((a, b) => (a.vfIndex ?? 0) - (b.vfIndex ?? 0));
    this.numVfs(dev, vfs, want, rec);
    this.mtu(dev, want, rec);
    if (this.recreating.has(addr)) return;
    for (const vf of vfs) this.vf(addr, vf, want, rec);
  }

  private numVfs(dev: PciDevice, vfs: readonly PciDevice[], want: PfSetup | null, rec: PfRecord | undefined): void {
    const addr = dev.addr;
    const current = dev.numVfs ?? vfs.length;
    const target = want?.numVfs ?? rec?.numVfs ?? null;
    if (target === null) return;
    if (target === current) {
      if (want === null) this.prune([{ op: "forget-num-vfs", pf: addr }]);
      return;
    }
    if (dev.totalVfs !== null && target > dev.totalVfs) {
      this.refuse({
        pf: addr,
        device: null,
        step: "set-num-vfs",
        reason: `numVfs ${target} is above the PF's sriov_totalvfs ${dev.totalVfs}`,
        heldBy: null,
      });
      return;
    }
    const held = vfs.map((vf) => ({ vf, by: this.vfHolder(vf) })).filter((h) => h.by !== null);
    if (current > 0 && held.length > 0) {
      const [h] = held;
      this.refuse({
        pf: addr,
        device: h?.vf.addr ?? null,
        step: "set-num-vfs",
        reason:
          `changing numVfs from ${current} to ${target} removes every VF first, and ` +
          `${held.map((x) => `VF ${x.vf.vfIndex} (${x.vf.addr})`).join(", ")} ${held.length === 1 ? "is" : "are"} held`,
        heldBy: held.map((x) => x.by).join("; "),
      });
      return;
    }
    const before: RecordOp[] = [{ op: "remember-num-vfs", pf: addr, numVfs: current }];
    const after: RecordOp[] = [{ op: "forget-vf-drivers", pf: addr }];
    if (want === null) after.push({ op: "forget-num-vfs", pf: addr });
    if (current > 0 && target > 0) {
      this.step({ kind: "set-num-vfs", pf: addr, count: 0, before, after: [{ op: "forget-vf-drivers", pf: addr }] });
      this.step({ kind: "set-num-vfs", pf: addr, count: target, before: [], after });
    } else {
      this.step({ kind: "set-num-vfs", pf: addr, count: target, before, after });
    }
    this.recreating.add(addr);
  }

  private mtu(dev: PciDevice, want: PfSetup | null, rec: PfRecord | undefined): void {
    const addr = dev.addr;
    const target = want?.mtu ?? rec?.mtu ?? null;
    if (target === null) return;
    const restoring = want?.mtu === null || want === null;
    const netdev = dev.netdevs[0];
    const current = netdev === undefined ? undefined : this.obs.pfMtus.get(netdev);
    if (netdev === undefined || current === undefined) {
      this.refuse({
        pf: addr,
        device: null,
        step: "set-pf-mtu",
        reason:
          netdev === undefined ? "the PF has no netdev (is its driver bound?)" : `cannot read the MTU of ${netdev}`,
        heldBy: null,
      });
      return;
    }
    if (current === target) {
      if (restoring) this.prune([{ op: "forget-mtu", pf: addr }]);
      return;
    }
    this.step({
      kind: "set-pf-mtu",
      pf: addr,
      netdev,
      mtu: target,
      before: [{ op: "remember-mtu", pf: addr, mtu: current }],
      after: restoring ? [{ op: "forget-mtu", pf: addr }] : [],
    });
  }

  private vf(pf: string, vf: PciDevice, want: PfSetup | null, rec: PfRecord | undefined): void {
    if (vf.vfIndex === null) return;
    const entry = entryFor(want, vf.vfIndex);
    const recorded = rec?.vfDrivers?.[String(vf.vfIndex)];
    let target: DriverClass;
    if (entry !== null) target = "driver" in entry.use ? entry.use.driver : "kernel";
    else if (recorded !== undefined) target = recorded === "vfio-pci" ? "vfio-pci" : "kernel";
    else return;
    const forget: RecordOp = { op: "forget-vf-driver", pf, vfIndex: vf.vfIndex };
    if (driverClass(vf.driver) === target) {
      if (entry === null) this.prune([forget]);
      else if ("vdpa" in entry.use) this.wantVfVdpa(pf, vf, entry.use.vdpa);
      return;
    }
    const holder = this.vfHolder(vf);
    const kind = target === "vfio-pci" ? "bind-vfio" : "reprobe";
    if (holder !== null) {
      this.refuse({
        pf,
        device: vf.addr,
        step: kind,
        reason: `VF ${vf.vfIndex} (${vf.addr}) is on ${vf.driver ?? "no driver"} and held; it is not rebound`,
        heldBy: holder,
      });
      return;
    }
    this.step({
      kind,
      pf,
      vf: vf.addr,
      vfIndex: vf.vfIndex,
      before: entry === null ? [] : [{ op: "remember-vf-driver", pf, vfIndex: vf.vfIndex, driver: vf.driver }],
      after: entry === null ? [forget] : [],
    });
  }

  private wantVfVdpa(pf: string, vf: PciDevice, attrs: VdpaAttributes): void {
    this.wanted.push({ ...attrs, pf, name: vfVdpaName(vf.addr), mgmtdev: `pci/${vf.addr}`, vf: vf.addr });
  }

  wantTopLevel(setup: NodeSetup | null): void {
    for (const d of setup?.vdpaDevices ?? []) {
      this.wanted.push({ ...d, pf: null, vf: null });
    }
  }

  private pfOfVdpa(d: VdpaDevice): string | null {
    if (d.parentPci === null) return null;
    return this.obs.inventory.vfs.find((v) => v.addr === d.parentPci)?.pf ?? null;
  }

  vdpa(): void {
    const wantedNames = new Set(this.wanted.map((w) => w.name));
    for (const name of Object.keys(this.record.vdpa)) {
      if (wantedNames.has(name)) continue;
      const dev = this.vdpaByName.get(name);
      if (dev === undefined) {
        this.prune([{ op: "forget-vdpa", name }]);
        continue;
      }
      // On a VF that is destroyed this round anyway: the next round finds it gone.
      if (this.recreating.has(this.pfOfVdpa(dev) ?? "")) continue;
      const holder = this.obs.held.get(`vdpa/${name}`);
      const pf = this.pfOfVdpa(dev);
      if (holder !== undefined) {
        this.refuse({
          pf,
          device: name,
          step: "vdpa-del",
          reason: `vdpa device "${name}" is held; it is not deleted`,
          heldBy: holder,
        });
        continue;
      }
      this.step({ kind: "vdpa-del", pf, name, before: [], after: [{ op: "forget-vdpa", name }] });
    }
    for (const w of this.wanted) this.wantedVdpa(w);
  }

  private wantedVdpa(w: WantedVdpa): void {
    const dev = this.vdpaByName.get(w.name);
    const driver = vdpaKernelDriver(w.driver);
    if (dev !== undefined) {
      if (dev.mgmtdev !== w.mgmtdev) {
        this.refuse({
          pf: w.pf,
          device: w.name,
          step: "vdpa-add",
          reason: `the name "${w.name}" is taken by a vdpa device on management device "${dev.mgmtdev}", not "${w.mgmtdev}"`,
          heldBy: null,
        });
        return;
      }
      if (dev.driver === driver) return;
      const holder = this.obs.held.get(`vdpa/${w.name}`);
      if (holder !== undefined) {
        this.refuse({
          pf: w.pf,
          device: w.name,
          step: "vdpa-bind",
          reason: `vdpa device "${w.name}" is on ${dev.driver ?? "no driver"} and held; it is not rebound to ${driver}`,
          heldBy: holder,
        });
        return;
      }
      this.step({ kind: "vdpa-bind", pf: w.pf, name: w.name, driver: w.driver, before: [], after: [] });
      return;
    }
    const refuse = (reason: string, heldBy: string | null = null): void =>
      this.refuse({ pf: w.pf, device: w.name, step: "vdpa-add", reason, heldBy });
    if (w.vf !== null) {
      const vf = this.obs.inventory.vfs.find((v) => v.addr === w.vf);
      const holder = vf === undefined ? null : this.obs.held.get(`pci/${vf.addr}`);
      if (holder !== undefined && holder !== null) {
        refuse(`VF ${w.vf} is held; no vdpa device is created on it`, holder);
        return;
      }
    }
    const list = this.obs.mgmtdevs;
    if (!Array.isArray(list)) {
      refuse(`cannot list the vdpa management devices: ${(list as { error: string }).error}`);
      return;
    }
    const mgmtdev = (list as readonly MgmtdevInfo[]).find((m) => m.name === w.mgmtdev);
    if (mgmtdev === undefined) {
      refuse(
        w.vf !== null
          ? `VF ${w.vf} has no vdpa management device "${w.mgmtdev}" (does its driver support vDPA?)`
          : `no vdpa management device "${w.mgmtdev}"`,
      );
      return;
    }
    const attrs = configAttrsOf(mgmtdev);
    const missing = (["mac", "mtu", "maxVqp"] as const).filter(
      (a) => w[a] !== null && attrs !== null && !supports(attrs, a),
    );
    if (missing.length > 0) {
      const has = attrs === null || attrs.length === 0 ? "none" : attrs.join(", ");
      refuse(`management device "${w.mgmtdev}" does not take ${missing.join(", ")} (it takes: ${has})`);
      return;
    }
    this.step({
      kind: "vdpa-add",
      pf: w.pf,
      name: w.name,
      mgmtdev: w.mgmtdev,
      mac: w.mac,
      mtu: w.mtu,
      maxVqp: w.maxVqp,
      before: [{ op: "remember-vdpa", name: w.name, mgmtdev: w.mgmtdev }],
      after: [],
    });
  }
}

/**
 * One round of node setup. `setup` null (no nodeSetup in the config) plans only
 * the undoing of what the record says accelnet changed.
 */
export function planNodeSetup(setup: NodeSetup | null, obs: ObservedNode, record: NodeSetupRecord): NodeSetupPlan {
  const p = new Planner(obs, record);
  const wanted = p.resolve(setup);
  const addrs = [...new Set([...wanted.keys(), ...Object.keys(record.pfs)])];
  for (const addr of addrs) p.pf(addr, wanted.get(addr) ?? null, record.pfs[addr]);
  p.wantTopLevel(setup);
  p.vdpa();
  if (p.wanted.some((w) => w.pf === null) || Object.values(record.vdpa).some((v) => !v.mgmtdev.startsWith("pci/"))) {
    p.pfs.push(TOP_LEVEL_VDPA);
  }
  const steps = p.steps.map((s, i) => ({ s, i })).sort((a, b) => PHASE[a.s.kind] - PHASE[b.s.kind] || a.i - b.i);
  const ordered = steps.map((x) => x.s);
  if (ordered.length > 0) ordered.push({ kind: "rescan", pf: null, before: [], after: [] });
  return { steps: ordered, refusals: p.refusals, record: p.record, pfs: p.pfs };
}

/** The outcome key of the top-level vdpaDevices (not on a PF). */
export const TOP_LEVEL_VDPA = "vdpaDevices";

/** The device a step changes, for log lines. */
export function stepDevice(s: Step): string | null {
  switch (s.kind) {
    case "set-num-vfs":
    case "rescan":
      return null;
    case "set-pf-mtu":
      return s.netdev;
    case "bind-vfio":
    case "reprobe":
      return s.vf;
    default:
      return s.name;
  }
}

/**
 * "addr=count" for every configured PF whose VF count is not the configured one ("" when all match).
 * A rescan that sees this change (someone wrote sriov_numvfs) converges again.
 */
export function vfCountDrift(setup: NodeSetup | null, inv: Inventory): string {
  const out: string[] = [];
  for (const want of setup?.pfs ?? []) {
    const pf = inv.pfs.find((p) =>
      "pfName" in want.select ? p.netdevs.includes(want.select.pfName) : p.addr === want.select.pciAddress,
    );
    if (pf !== undefined && (pf.numVfs ?? 0) !== want.numVfs) out.push(`${pf.addr}=${pf.numVfs ?? 0}`);
  }
  return out.join(",");
}
