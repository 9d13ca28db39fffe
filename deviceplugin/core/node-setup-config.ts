// Parses the "nodeSetup" section of the device plugin config: the VFs, VF
// drivers and vDPA devices the node should have (README "Node setup"). Like the
// pools, every error names its JSON path and unknown keys are errors. What can
// be checked without looking at the node is checked here (ranges against
// numVfs, overlaps, duplicates); what needs the node (a pfName and a
// pciAddress naming one PF, totalVfs, mgmtdev attributes) is the planner's.
//
//   "nodeSetup": {
//     "pfs": [{ "pfName": "ens1f0" | "pciAddress": "0000:3b:00.0", "numVfs": 8, "mtu": 9000,
//               "vfs": [{ "range": "0-3", "driver": "vfio-pci" | "kernel" },
//                       { "range": "4-5", "vdpa": { "driver": "vhost" | "virtio", "mac", "mtu", "maxVqp" } }] }],
//     "vdpaDevices": [{ "mgmtdev": "vduse" | "pci/0000:3b:00.2", "name": "vdpa0", "driver": "vhost", ... }]
//   }
import { ConfigError } from "./config-error.js";
import { checkKeys, describe, isObj, join, type Obj } from "./config-fields.js";
import { parseVfRangeSelector } from "./vf-range.js";

export type VfDriverChoice = "vfio-pci" | "kernel";
export type VdpaDriverChoice = "vhost" | "virtio";

export interface VdpaAttributes {
  readonly driver: VdpaDriverChoice;
  /** Creation attributes; null: the mgmtdev's default. */
  readonly mac: string | null;
  readonly mtu: number | null;
  readonly maxVqp: number | null;
}

export interface VfSetup {
  /** JSON path of this entry, for refusals. */
  readonly path: string;
  /** Inclusive [first, last] VF index pairs. */
  readonly ranges: readonly (readonly [number, number])[];
  /** "driver": the VF's PCI driver; "vdpa": a vDPA device on the VF's management device (kernel driver). */
  readonly use: { readonly driver: VfDriverChoice } | { readonly vdpa: VdpaAttributes };
}

export type PfSelector = { readonly pfName: string } | { readonly pciAddress: string };

export interface PfSetup {
  readonly path: string;
  readonly select: PfSelector;
  readonly numVfs: number;
  readonly mtu: number | null;
  readonly vfs: readonly VfSetup[];
}

export interface VdpaDeviceSetup extends VdpaAttributes {
  readonly path: string;
  readonly mgmtdev: string;
  readonly name: string;
}

export interface NodeSetup {
  readonly pfs: readonly PfSetup[];
  readonly vdpaDevices: readonly VdpaDeviceSetup[];
}

const PCI_ADDR_RE = /^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/;
/** An interface name as the kernel takes it (IFNAMSIZ, no "/", ":" or spaces). */
const IFNAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;
/** The helper's vdpa device name rule (native/PROTOCOL.md). */
export const VDPA_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.:-]{0,30}$/;
/** "vduse", or "<bus>/<device>" such as "pci/0000:3b:00.2". */
const MGMTDEV_RE = /^(vduse|[a-z][a-z0-9]{0,15}\/[A-Za-z0-9_.:-]{1,63})$/;
const MAC_RE = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;
/** The kernel's SR-IOV limit (sriov_totalvfs is a u16). */
const MAX_NUM_VFS = 65535;
const MIN_MTU = 68;
const MAX_MTU = 65535;
/** virtio-net's max_virtqueue_pairs is a u16 with 1..0x8000 valid. */
const MAX_VQP = 32768;

function int(o: Obj, key: string, path: string, min: number, max: number, required: boolean): number | null {
  const v = o[key];
  if (v === undefined) {
    if (required) throw new ConfigError(path, `"${key}" is missing`);
    return null;
  }
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(join(path, key), `expected an integer from ${min} to ${max}, got ${describe(v)}`);
  }
  return v;
}

function str(o: Obj, key: string, path: string, re: RegExp, what: string): string {
  const v = o[key];
  if (v === undefined) throw new ConfigError(path, `"${key}" is missing`);
  if (typeof v !== "string" || !re.test(v))
    throw new ConfigError(join(path, key), `expected ${what}, got ${describe(v)}`);
  return v;
}

function mac(o: Obj, path: string): string | null {
  const v = o["mac"];
  if (v === undefined) return null;
  const p = join(path, "mac");
  if (typeof v !== "string" || !MAC_RE.test(v))
    throw new ConfigError(p, `expected a MAC like "02:00:00:00:00:01", got ${describe(v)}`);
  const first = parseInt(v.slice(0, 2), 16);
  if ((first & 1) === 1) throw new ConfigError(p, `"${v}" is a multicast MAC; a device needs a unicast one`);
  if (/^(00:){5}00$/.test(v)) throw new ConfigError(p, `"${v}" is the all-zero MAC`);
  return v.toLowerCase();
}

function vdpaDriver(o: Obj, path: string): VdpaDriverChoice {
  const v = o["driver"];
  if (v === undefined) throw new ConfigError(path, `"driver" is missing`);
  if (v !== "vhost" && v !== "virtio")
    throw new ConfigError(join(path, "driver"), `expected "vhost" or "virtio", got ${describe(v)}`);
  return v;
}

function vdpaAttributes(o: Obj, path: string): VdpaAttributes {
  return {
    driver: vdpaDriver(o, path),
    mac: mac(o, path),
    mtu: int(o, "mtu", path, MIN_MTU, MAX_MTU, false),
    maxVqp: int(o, "maxVqp", path, 1, MAX_VQP, false),
  };
}

function list(o: Obj, key: string, path: string): readonly unknown[] {
  const v = o[key];
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new ConfigError(join(path, key), `expected a list, got ${describe(v)}`);
  return v;
}

function parseVf(v: unknown, path: string, numVfs: number): VfSetup {
  if (!isObj(v)) throw new ConfigError(path, `expected a VF range object, got ${describe(v)}`);
  checkKeys(v, path, ["range", "driver", "vdpa"]);
  const rangeRaw = v["range"];
  if (rangeRaw === undefined) throw new ConfigError(path, `"range" is missing`);
  const rangePath = join(path, "range");
  if (typeof rangeRaw !== "string")
    throw new ConfigError(rangePath, `expected VF indexes like "0-3" or "0,2-5", got ${describe(rangeRaw)}`);
  let ranges: readonly (readonly [number, number])[];
  try {
    // The pools' "<pf>#<ranges>" syntax, without the PF part.
    ranges = parseVfRangeSelector(`pf#${rangeRaw}`).ranges ?? [];
  } catch (err) {
    throw new ConfigError(
      rangePath,
      (err instanceof Error ? err.message : String(err)).replace(`"pf#${rangeRaw}"`, `"${rangeRaw}"`),
    );
  }
  const beyond = ranges.find(([, last]) => last >= numVfs);
  if (beyond !== undefined) {
    throw new ConfigError(rangePath, `VF ${beyond[1]} is beyond numVfs ${numVfs} (VFs are 0 to ${numVfs - 1})`);
  }
  const hasDriver = v["driver"] !== undefined;
  const hasVdpa = v["vdpa"] !== undefined;
  if (hasDriver === hasVdpa) throw new ConfigError(path, `expected exactly one of "driver" and "vdpa"`);
  if (hasDriver) {
    const d = v["driver"];
    if (d !== "vfio-pci" && d !== "kernel")
      throw new ConfigError(join(path, "driver"), `expected "vfio-pci" or "kernel", got ${describe(d)}`);
    return { path, ranges, use: { driver: d } };
  }
  const raw = v["vdpa"];
  const vp = join(path, "vdpa");
  if (!isObj(raw)) throw new ConfigError(vp, `expected an object, got ${describe(raw)}`);
  checkKeys(raw, vp, ["driver", "mac", "mtu", "maxVqp"]);
  const attrs = vdpaAttributes(raw, vp);
  const count = ranges.reduce((n, [a, b]) => n + b - a + 1, 0);
  if (attrs.mac !== null && count > 1) {
    throw new ConfigError(join(vp, "mac"), `one MAC cannot go to several VFs; give each VF its own entry`);
  }
  return { path, ranges, use: { vdpa: attrs } };
}

function rangeText([a, b]: readonly [number, number]): string {
  return a === b ? String(a) : `${a}-${b}`;
}

function parsePf(v: unknown, path: string): PfSetup {
  if (!isObj(v)) throw new ConfigError(path, `expected a PF object, got ${describe(v)}`);
  checkKeys(v, path, ["pfName", "pciAddress", "numVfs", "mtu", "vfs"]);
  let select: PfSelector;
  if (v["pfName"] !== undefined && v["pciAddress"] !== undefined) {
    throw new ConfigError(path, `expected one of "pfName" and "pciAddress", not both`);
  } else if (v["pfName"] !== undefined) {
    select = { pfName: str(v, "pfName", path, IFNAME_RE, 'an interface name such as "ens1f0"') };
  } else if (v["pciAddress"] !== undefined) {
    select = { pciAddress: str(v, "pciAddress", path, PCI_ADDR_RE, 'a PCI address like "0000:3b:00.0"').toLowerCase() };
  } else {
    throw new ConfigError(path, `"pfName" or "pciAddress" is missing`);
  }
  const numVfs = int(v, "numVfs", path, 0, MAX_NUM_VFS, true) ?? 0;
  const vfs = list(v, "vfs", path).map((item, i) => parseVf(item, join(join(path, "vfs"), i), numVfs));
  const owner = new Map<number, number>();
  vfs.forEach((vf, i) => {
    for (const r of vf.ranges) {
      for (let idx = r[0]; idx <= r[1]; idx++) {
        const first = owner.get(idx);
        if (first !== undefined && first !== i) {
          throw new ConfigError(
            join(vf.path, "range"),
            `VF ${idx} (in "${rangeText(r)}") is already set up at "${join(join(path, "vfs"), first)}"`,
          );
        }
        owner.set(idx, i);
      }
    }
  });
  return { path, select, numVfs, mtu: int(v, "mtu", path, MIN_MTU, MAX_MTU, false), vfs };
}

function parseVdpaDevice(v: unknown, path: string): VdpaDeviceSetup {
  if (!isObj(v)) throw new ConfigError(path, `expected a vDPA device object, got ${describe(v)}`);
  checkKeys(v, path, ["mgmtdev", "name", "driver", "mac", "mtu", "maxVqp"]);
  return {
    path,
    mgmtdev: str(v, "mgmtdev", path, MGMTDEV_RE, 'a management device such as "vduse" or "pci/0000:3b:00.2"'),
    name: str(v, "name", path, VDPA_NAME_RE, "a vdpa device name (up to 31 letters, digits, _ . : -)"),
    ...vdpaAttributes(v, path),
  };
}

function selectorText(s: PfSelector): string {
  return "pfName" in s ? `pfName "${s.pfName}"` : `pciAddress "${s.pciAddress}"`;
}

/** Parses config["nodeSetup"] (absent: null, nothing to set up). Throws ConfigError naming the path. */
export function parseNodeSetup(v: unknown, path: string): NodeSetup | null {
  if (v === undefined) return null;
  if (!isObj(v)) throw new ConfigError(path, `expected an object with "pfs" and/or "vdpaDevices", got ${describe(v)}`);
  checkKeys(v, path, ["pfs", "vdpaDevices"]);
  const pfs = list(v, "pfs", path).map((item, i) => parsePf(item, join(join(path, "pfs"), i)));
  const seenPf = new Map<string, string>();
  for (const pf of pfs) {
    const key = selectorText(pf.select);
    const first = seenPf.get(key);
    if (first !== undefined) {
      throw new ConfigError(
        join(pf.path, "pfName" in pf.select ? "pfName" : "pciAddress"),
        `${key} is already set up at "${first}"`,
      );
    }
    seenPf.set(key, pf.path);
  }
  const vdpaDevices = list(v, "vdpaDevices", path).map((item, i) =>
    parseVdpaDevice(item, join(join(path, "vdpaDevices"), i)),
  );
  const seenName = new Map<string, string>();
  for (const d of vdpaDevices) {
    const first = seenName.get(d.name);
    if (first !== undefined)
      throw new ConfigError(join(d.path, "name"), `vdpa device "${d.name}" is already defined at "${first}"`);
    if (d.name.startsWith(VF_VDPA_NAME_PREFIX)) {
      throw new ConfigError(
        join(d.path, "name"),
        `names starting with "${VF_VDPA_NAME_PREFIX}" are the VF vDPA devices' (pfs[].vfs[].vdpa)`,
      );
    }
    seenName.set(d.name, d.path);
  }
  return { pfs, vdpaDevices };
}

/** The vDPA device a pfs[].vfs[].vdpa entry creates on a VF is named after the VF: "vf-0000:3b:02.1". */
export const VF_VDPA_NAME_PREFIX = "vf-";

export function vfVdpaName(vfAddr: string): string {
  return `${VF_VDPA_NAME_PREFIX}${vfAddr}`;
}
