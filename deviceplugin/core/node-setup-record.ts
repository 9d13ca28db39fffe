// What node setup changed on the node, so that removing it from the config
// undoes exactly that: the VF count and PF MTU found before accelnet first
// changed them, the driver each VF had before accelnet rebound it, and the vDPA
// devices accelnet created. A PF or device accelnet never touched is not in the
// record and is never touched on removal. Stored as JSON by io/node-setup.ts.

export interface PfRecord {
  /** sriov_numvfs before accelnet first changed it. */
  readonly numVfs?: number;
  /** The PF netdev's MTU before accelnet first changed it. */
  readonly mtu?: number;
  /** VF index → its PCI driver before accelnet first rebound it (null: unbound). */
  readonly vfDrivers?: Readonly<Record<string, string | null>>;
}

export interface NodeSetupRecord {
  /** PF PCI address → what accelnet changed on it. */
  readonly pfs: Readonly<Record<string, PfRecord>>;
  /** vDPA devices accelnet created: name → its management device. */
  readonly vdpa: Readonly<Record<string, { readonly mgmtdev: string }>>;
}

export const EMPTY_RECORD: NodeSetupRecord = { pfs: {}, vdpa: {} };

/** One change to the record: "remember" keeps the first value seen (the node's own), "forget" drops it. */
export type RecordOp =
  | { readonly op: "remember-num-vfs"; readonly pf: string; readonly numVfs: number }
  | { readonly op: "forget-num-vfs"; readonly pf: string }
  | { readonly op: "remember-mtu"; readonly pf: string; readonly mtu: number }
  | { readonly op: "forget-mtu"; readonly pf: string }
  | { readonly op: "remember-vf-driver"; readonly pf: string; readonly vfIndex: number; readonly driver: string | null }
  | { readonly op: "forget-vf-driver"; readonly pf: string; readonly vfIndex: number }
  /** The PF's VFs were destroyed and created anew: their old drivers are moot. */
  | { readonly op: "forget-vf-drivers"; readonly pf: string }
  | { readonly op: "remember-vdpa"; readonly name: string; readonly mgmtdev: string }
  | { readonly op: "forget-vdpa"; readonly name: string };

function withPf(r: NodeSetupRecord, pf: string, change: (p: PfRecord) => PfRecord): NodeSetupRecord {
  const next = change(r.pfs[pf] ?? {});
  const pfs = { ...r.pfs };
  if (next.numVfs === undefined && next.mtu === undefined && Object.keys(next.vfDrivers ?? {}).length === 0) {
    delete pfs[pf];
  } else {
    pfs[pf] = next;
  }
  return { ...r, pfs };
}

function without<T extends object>(o: T, key: keyof T): T {
  const copy = { ...o };
  delete copy[key];
  return copy;
}

export function applyRecordOp(r: NodeSetupRecord, o: RecordOp): NodeSetupRecord {
  switch (o.op) {
    case "remember-num-vfs":
      return withPf(r, o.pf, (p) => (p.numVfs !== undefined ? p : { ...p, numVfs: o.numVfs }));
    case "forget-num-vfs":
      return withPf(r, o.pf, (p) => without(p, "numVfs"));
    case "remember-mtu":
      return withPf(r, o.pf, (p) => (p.mtu !== undefined ? p : { ...p, mtu: o.mtu }));
    case "forget-mtu":
      return withPf(r, o.pf, (p) => without(p, "mtu"));
    case "remember-vf-driver":
      return withPf(r, o.pf, (p) => {
        const key = String(o.vfIndex);
        if (p.vfDrivers?.[key] !== undefined) return p;
        return { ...p, vfDrivers: { ...p.vfDrivers, [key]: o.driver } };
      });
    case "forget-vf-driver":
      return withPf(r, o.pf, (p) => ({ ...p, vfDrivers: without(p.vfDrivers ?? {}, String(o.vfIndex)) }));
    case "forget-vf-drivers":
      return withPf(r, o.pf, (p) => without(p, "vfDrivers"));
    case "remember-vdpa":
      return r.vdpa[o.name] !== undefined ? r : { ...r, vdpa: { ...r.vdpa, [o.name]: { mgmtdev: o.mgmtdev } } };
    case "forget-vdpa":
      return { ...r, vdpa: without(r.vdpa, o.name) };
  }
}

export function applyRecordOps(r: NodeSetupRecord, ops: readonly RecordOp[]): NodeSetupRecord {
  return ops.reduce(applyRecordOp, r);
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function bad(what: string): never {
  throw new TypeError(`Cannot read the node setup record: ${what}`);
}

function optInt(o: Obj, key: string, where: string): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  return Number.isInteger(v) && (v as number) >= 0 ? (v as number) : bad(`${where}.${key} is not a count`);
}

/** Validates a stored record (the file is root-only, but may be damaged or from another version). */
export function parseRecord(raw: unknown): NodeSetupRecord {
  if (!isObj(raw) || !isObj(raw["pfs"]) || !isObj(raw["vdpa"])) return bad(`expected {"pfs": {...}, "vdpa": {...}}`);
  const pfs: Record<string, PfRecord> = {};
  for (const [addr, p] of Object.entries(raw["pfs"])) {
    if (!isObj(p)) return bad(`pfs["${addr}"] is not an object`);
    const drivers: Record<string, string | null> = {};
    const rawDrivers = p["vfDrivers"] ?? {};
    if (!isObj(rawDrivers)) return bad(`pfs["${addr}"].vfDrivers is not an object`);
    for (const [idx, d] of Object.entries(rawDrivers)) {
      if (!/^\d+$/.test(idx) || (d !== null && typeof d !== "string")) return bad(`pfs["${addr}"].vfDrivers["${idx}"]`);
      drivers[idx] = d;
    }
    const numVfs = optInt(p, "numVfs", `pfs["${addr}"]`);
    const mtu = optInt(p, "mtu", `pfs["${addr}"]`);
    pfs[addr] = {
      ...(numVfs === undefined ? {} : { numVfs }),
      ...(mtu === undefined ? {} : { mtu }),
      ...(Object.keys(drivers).length === 0 ? {} : { vfDrivers: drivers }),
    };
  }
  const vdpa: Record<string, { mgmtdev: string }> = {};
  for (const [name, d] of Object.entries(raw["vdpa"])) {
    if (!isObj(d) || typeof d["mgmtdev"] !== "string") return bad(`vdpa["${name}"] has no mgmtdev`);
    vdpa[name] = { mgmtdev: d["mgmtdev"] };
  }
  return { pfs, vdpa };
}
