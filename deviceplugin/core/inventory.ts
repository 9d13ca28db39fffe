// The node inventory as the helper's `inventory` command reports it
// (native/PROTOCOL.md: PCI and VDPA objects). parseInventory() is the one place
// where the untyped helper reply becomes these types.

export interface PciDevice {
  readonly addr: string;
  readonly vendor: string;
  readonly device: string;
  readonly class: string;
  readonly driver: string | null;
  readonly netdevs: readonly string[];
  readonly numaNode: number;
  readonly iommuGroup: number | null;
  readonly isPf: boolean;
  readonly isVf: boolean;
  readonly pf: string | null;
  readonly vfIndex: number | null;
  readonly numVfs: number | null;
  readonly totalVfs: number | null;
  readonly linkState: string | null;
  readonly vdpa: readonly string[];
}

export interface VdpaDevice {
  readonly name: string;
  readonly mgmtdev: string;
  readonly parentPci: string | null;
  readonly driver: string | null;
  readonly chardev: string | null;
  readonly netdev: string | null;
}

export interface Inventory {
  readonly pfs: readonly PciDevice[];
  readonly vfs: readonly PciDevice[];
  readonly vdpa: readonly VdpaDevice[];
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function fail(path: string, expected: string, value: unknown): never {
  throw new TypeError(
    `Cannot read inventory at "${path}": expected ${expected}, got ${JSON.stringify(value) ?? "undefined"}`,
  );
}

function str(o: Obj, key: string, path: string): string {
  const v = o[key];
  return typeof v === "string" ? v : fail(`${path}.${key}`, "a string", v);
}

function strOrNull(o: Obj, key: string, path: string): string | null {
  const v = o[key];
  if (v === null || v === undefined) return null;
  return typeof v === "string" ? v : fail(`${path}.${key}`, "a string or null", v);
}

function intOrNull(o: Obj, key: string, path: string): number | null {
  const v = o[key];
  if (v === null || v === undefined) return null;
  return Number.isInteger(v) ? (v as number) : fail(`${path}.${key}`, "an integer or null", v);
}

function bool(o: Obj, key: string, path: string): boolean {
  const v = o[key];
  return typeof v === "boolean" ? v : fail(`${path}.${key}`, "a boolean", v);
}

function strList(o: Obj, key: string, path: string): string[] {
  const v = o[key];
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string"))
    return fail(`${path}.${key}`, "a list of strings", v);
  return v;
}

/** One PCI object (the helper's `pci-show` result), validated like the inventory's. */
export function parsePciDevice(v: unknown, path: string): PciDevice {
  if (!isObj(v)) return fail(path, "a PCI object", v);
  return {
    addr: str(v, "addr", path),
    vendor: str(v, "vendor", path),
    device: str(v, "device", path),
    class: str(v, "class", path),
    driver: strOrNull(v, "driver", path),
    netdevs: strList(v, "netdevs", path),
    numaNode: intOrNull(v, "numaNode", path) ?? -1,
    iommuGroup: intOrNull(v, "iommuGroup", path),
    isPf: bool(v, "isPf", path),
    isVf: bool(v, "isVf", path),
    pf: strOrNull(v, "pf", path),
    vfIndex: intOrNull(v, "vfIndex", path),
    numVfs: intOrNull(v, "numVfs", path),
    totalVfs: intOrNull(v, "totalVfs", path),
    linkState: strOrNull(v, "linkState", path),
    vdpa: strList(v, "vdpa", path),
  };
}

function parseVdpa(v: unknown, path: string): VdpaDevice {
  if (!isObj(v)) return fail(path, "a VDPA object", v);
  return {
    name: str(v, "name", path),
    mgmtdev: str(v, "mgmtdev", path),
    parentPci: strOrNull(v, "parentPci", path),
    driver: strOrNull(v, "driver", path),
    chardev: strOrNull(v, "chardev", path),
    netdev: strOrNull(v, "netdev", path),
  };
}

function list<T>(o: Obj, key: string, parse: (v: unknown, path: string) => T): T[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) return fail(key, "a list", v);
  return v.map((item, i) => parse(item, `${key}[${i}]`));
}

/** Validates the helper's `inventory` result and returns it typed. Throws TypeError naming the bad field. */
export function parseInventory(raw: unknown): Inventory {
  if (!isObj(raw)) return fail("", "an inventory object", raw);
  return {
    pfs: list(raw, "pfs", parsePciDevice),
    vfs: list(raw, "vfs", parsePciDevice),
    vdpa: list(raw, "vdpa", parseVdpa),
  };
}
