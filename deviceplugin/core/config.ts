// Parses the device plugin config file. The format is the one of
// sriov-network-device-plugin ({"resourceList": [...]}) so users can switch
// with their file, plus accelnet's additions ("health", "allocation" at the top
// level and per resource). Every error names its JSON path; nothing is silently
// ignored: unknown keys are errors, and keys of that plugin we do not implement
// are reported as unsupported.
import { ConfigError } from "./config-error.js";
import { checkKeys, describe, isObj, join, type Obj } from "./config-fields.js";
import { parseNodeSetup, type NodeSetup } from "./node-setup-config.js";
import { parseVfRangeSelector, type VfRangeSelector } from "./vf-range.js";

export const DEFAULT_RESOURCE_PREFIX = "accelnet.io";

export type DeviceType = "netDevice" | "accelerator" | "auxNetDevice";
export type VdpaType = "vhost" | "virtio";
export type AllocationPolicy = "pack" | "spread";

export interface Selector {
  readonly vendors: readonly string[];
  readonly devices: readonly string[];
  readonly drivers: readonly string[];
  readonly pciAddresses: readonly string[];
  readonly pfNames: readonly VfRangeSelector[];
  readonly rootDevices: readonly VfRangeSelector[];
  readonly linkTypes: readonly string[];
  readonly needVhostNet: boolean;
  readonly vdpaType: VdpaType | null;
}

export interface HealthOptions {
  /** A VF whose PF has no carrier is Unhealthy (netDevice pools only). */
  readonly pfCarrier: boolean;
  /** How long a device that disappeared stays listed as Unhealthy. */
  readonly forgetMissingAfterSeconds: number;
}

export interface AllocationOptions {
  readonly policy: AllocationPolicy;
  readonly preferSingleNuma: boolean;
}

export interface ResourceConfig {
  /** Position in resourceList; pools match devices in this order. */
  readonly index: number;
  readonly resourceName: string;
  readonly resourcePrefix: string;
  /** "prefix/name", the name kubelet knows. */
  readonly fullName: string;
  readonly deviceType: DeviceType;
  readonly excludeTopology: boolean;
  /** additionalInfo: "*" or a device ID → key/value pairs (the INFO env "extra" section). */
  readonly additionalInfo: Readonly<Record<string, Readonly<Record<string, string>>>> | null;
  /** A device matches when any selector matches (the object form is a list of one). */
  readonly selectors: readonly Selector[];
  readonly health: HealthOptions;
  readonly allocation: AllocationOptions;
}

export interface DevicePluginConfig {
  readonly resources: readonly ResourceConfig[];
  /** The node setup to converge to (node-setup-config.ts); null: the file has none. */
  readonly nodeSetup: NodeSetup | null;
}

const DEFAULT_HEALTH: HealthOptions = { pfCarrier: true, forgetMissingAfterSeconds: 600 };
const DEFAULT_ALLOCATION: AllocationOptions = { policy: "pack", preferSingleNuma: true };

const NAME_RE = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const PREFIX_RE = new RegExp(`^${DNS_LABEL}(\\.${DNS_LABEL})*$`);
const HEX4_RE = /^[0-9a-fA-F]{4}$/;
const PCI_ADDR_RE = /^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/;

const RESOURCE_KEYS = [
  "resourceName",
  "resourcePrefix",
  "deviceType",
  "excludeTopology",
  "additionalInfo",
  "selectors",
  "health",
  "allocation",
] as const;
const SELECTOR_KEYS = [
  "vendors",
  "devices",
  "drivers",
  "pciAddresses",
  "pfNames",
  "rootDevices",
  "linkTypes",
  "needVhostNet",
  "vdpaType",
] as const;
/** Keys of sriov-network-device-plugin that accelnet does not implement: accepted only when empty/false. */
const UNSUPPORTED_SELECTOR_KEYS = ["isRdma", "ddpProfiles", "pKeys", "acpiIndexes", "auxTypes"] as const;
const NET_ONLY_KEYS = ["pfNames", "rootDevices", "linkTypes", "needVhostNet", "vdpaType"] as const;

function optBool(o: Obj, key: string, path: string, dflt: boolean): boolean {
  const v = o[key];
  if (v === undefined) return dflt;
  if (typeof v !== "boolean") throw new ConfigError(join(path, key), `expected true or false, got ${describe(v)}`);
  return v;
}

function stringList(o: Obj, key: string, path: string, check?: (s: string, p: string) => void): string[] {
  const v = o[key];
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new ConfigError(join(path, key), `expected a list of strings, got ${describe(v)}`);
  return v.map((item, i) => {
    const p = join(join(path, key), i);
    if (typeof item !== "string") throw new ConfigError(p, `expected a string, got ${describe(item)}`);
    check?.(item, p);
    return item;
  });
}

function hex4(kind: string) {
  return (s: string, p: string): void => {
    if (!HEX4_RE.test(s)) throw new ConfigError(p, `expected a 4-digit hex ${kind} ID, got "${s}"`);
  };
}

function vfRanges(o: Obj, key: string, path: string): VfRangeSelector[] {
  return stringList(o, key, path).map((s, i) => {
    try {
      return parseVfRangeSelector(s);
    } catch (err) {
      throw new ConfigError(join(join(path, key), i), err instanceof Error ? err.message : String(err));
    }
  });
}

function parseSelector(v: unknown, path: string, deviceType: DeviceType): Selector {
  if (!isObj(v)) throw new ConfigError(path, `expected a selector object, got ${describe(v)}`);
  checkKeys(v, path, [...SELECTOR_KEYS, ...UNSUPPORTED_SELECTOR_KEYS]);
  for (const key of UNSUPPORTED_SELECTOR_KEYS) {
    const value = v[key];
    const empty = value === undefined || value === false || (Array.isArray(value) && value.length === 0);
    if (!empty) throw new ConfigError(join(path, key), `"${key}" is not supported by accelnet`);
  }
  if (deviceType === "accelerator") {
    for (const key of NET_ONLY_KEYS) {
      if (v[key] !== undefined) {
        throw new ConfigError(join(path, key), `"${key}" applies to netDevice pools, not to deviceType "accelerator"`);
      }
    }
  }
  const vdpaRaw = v["vdpaType"];
  let vdpaType: VdpaType | null = null;
  if (vdpaRaw !== undefined) {
    if (vdpaRaw !== "vhost" && vdpaRaw !== "virtio") {
      throw new ConfigError(join(path, "vdpaType"), `expected "vhost" or "virtio", got ${describe(vdpaRaw)}`);
    }
    if (deviceType !== "netDevice") {
      throw new ConfigError(join(path, "vdpaType"), `"vdpaType" needs deviceType "netDevice", not "${deviceType}"`);
    }
    vdpaType = vdpaRaw;
  }
  return {
    vendors: stringList(v, "vendors", path, hex4("vendor")).map((s) => s.toLowerCase()),
    devices: stringList(v, "devices", path, hex4("device")).map((s) => s.toLowerCase()),
    drivers: stringList(v, "drivers", path),
    pciAddresses: stringList(v, "pciAddresses", path, (s, p) => {
      if (!PCI_ADDR_RE.test(s)) throw new ConfigError(p, `expected a PCI address like "0000:3b:02.1", got "${s}"`);
    }).map((s) => s.toLowerCase()),
    pfNames: vfRanges(v, "pfNames", path),
    rootDevices: vfRanges(v, "rootDevices", path).map((r) => {
      if (!PCI_ADDR_RE.test(r.parent)) {
        throw new ConfigError(join(path, "rootDevices"), `expected PF PCI addresses, got "${r.parent}"`);
      }
      return { parent: r.parent.toLowerCase(), ranges: r.ranges };
    }),
    linkTypes: stringList(v, "linkTypes", path).map((s) => s.toLowerCase()),
    needVhostNet: optBool(v, "needVhostNet", path, false),
    vdpaType,
  };
}

function parseSelectors(v: unknown, path: string, deviceType: DeviceType): Selector[] {
  if (v === undefined) throw new ConfigError(path, `"selectors" is missing`);
  if (Array.isArray(v)) {
    if (v.length === 0) throw new ConfigError(path, "the selector list is empty");
    return v.map((s, i) => parseSelector(s, join(path, i), deviceType));
  }
  return [parseSelector(v, path, deviceType)];
}

function parseAdditionalInfo(v: unknown, path: string): ResourceConfig["additionalInfo"] {
  if (v === undefined) return null;
  if (!isObj(v)) throw new ConfigError(path, `expected an object of device ID → {key: value}, got ${describe(v)}`);
  const out: Record<string, Record<string, string>> = {};
  for (const [id, entries] of Object.entries(v)) {
    const p = join(path, id);
    if (id !== "*" && !PCI_ADDR_RE.test(id) && !NAME_RE.test(id)) {
      throw new ConfigError(p, `expected "*" or a device ID, got "${id}"`);
    }
    if (!isObj(entries)) throw new ConfigError(p, `expected an object of strings, got ${describe(entries)}`);
    const pairs: Record<string, string> = {};
    for (const [k, val] of Object.entries(entries)) {
      if (typeof val !== "string") throw new ConfigError(join(p, k), `expected a string, got ${describe(val)}`);
      pairs[k] = val;
    }
    out[id] = pairs;
  }
  return out;
}

function parseHealth(v: unknown, path: string, base: HealthOptions): HealthOptions {
  if (v === undefined) return base;
  if (!isObj(v)) throw new ConfigError(path, `expected an object, got ${describe(v)}`);
  checkKeys(v, path, ["pfCarrier", "forgetMissingAfterSeconds"]);
  const forget = v["forgetMissingAfterSeconds"];
  if (forget !== undefined && (typeof forget !== "number" || !Number.isFinite(forget) || forget < 0)) {
    throw new ConfigError(join(path, "forgetMissingAfterSeconds"), `expected seconds >= 0, got ${describe(forget)}`);
  }
  return {
    pfCarrier: optBool(v, "pfCarrier", path, base.pfCarrier),
    forgetMissingAfterSeconds: forget ?? base.forgetMissingAfterSeconds,
  };
}

function parseAllocation(v: unknown, path: string, base: AllocationOptions): AllocationOptions {
  if (v === undefined) return base;
  if (!isObj(v)) throw new ConfigError(path, `expected an object, got ${describe(v)}`);
  checkKeys(v, path, ["policy", "preferSingleNuma"]);
  const policy = v["policy"];
  if (policy !== undefined && policy !== "pack" && policy !== "spread") {
    throw new ConfigError(join(path, "policy"), `expected "pack" or "spread", got ${describe(policy)}`);
  }
  return {
    policy: policy ?? base.policy,
    preferSingleNuma: optBool(v, "preferSingleNuma", path, base.preferSingleNuma),
  };
}

function parseResource(
  v: unknown,
  index: number,
  path: string,
  defaults: { prefix: string; health: HealthOptions; allocation: AllocationOptions },
): ResourceConfig {
  if (!isObj(v)) throw new ConfigError(path, `expected a resource object, got ${describe(v)}`);
  checkKeys(v, path, RESOURCE_KEYS);
  const name = v["resourceName"];
  if (name === undefined) throw new ConfigError(path, `"resourceName" is missing`);
  if (typeof name !== "string" || name.length > 63 || !NAME_RE.test(name)) {
    throw new ConfigError(
      join(path, "resourceName"),
      `expected up to 63 letters, digits, "_", "-" or "." starting and ending with a letter or digit, got ${describe(name)}`,
    );
  }
  const prefixRaw = v["resourcePrefix"];
  if (prefixRaw !== undefined && typeof prefixRaw !== "string") {
    throw new ConfigError(join(path, "resourcePrefix"), `expected a domain name, got ${describe(prefixRaw)}`);
  }
  const prefix = prefixRaw ?? defaults.prefix;
  checkPrefix(prefix, prefixRaw === undefined ? "" : join(path, "resourcePrefix"));
  const typeRaw = v["deviceType"] ?? "netDevice";
  if (typeRaw !== "netDevice" && typeRaw !== "accelerator" && typeRaw !== "auxNetDevice") {
    throw new ConfigError(
      join(path, "deviceType"),
      `expected "netDevice", "accelerator" or "auxNetDevice", got ${describe(typeRaw)}`,
    );
  }
  return {
    index,
    resourceName: name,
    resourcePrefix: prefix,
    fullName: `${prefix}/${name}`,
    deviceType: typeRaw,
    excludeTopology: optBool(v, "excludeTopology", path, false),
    additionalInfo: parseAdditionalInfo(v["additionalInfo"], join(path, "additionalInfo")),
    selectors: parseSelectors(v["selectors"], join(path, "selectors"), typeRaw),
    health: parseHealth(v["health"], join(path, "health"), defaults.health),
    allocation: parseAllocation(v["allocation"], join(path, "allocation"), defaults.allocation),
  };
}

/** Validates a resource prefix (a DNS subdomain outside kubernetes.io). */
export function checkPrefix(prefix: string, path: string): void {
  if (prefix.length > 253 || !PREFIX_RE.test(prefix)) {
    throw new ConfigError(path, `resource prefix "${prefix}" is not a DNS subdomain such as "example.com"`);
  }
  if (prefix === "kubernetes.io" || prefix.endsWith(".kubernetes.io")) {
    throw new ConfigError(path, `resource prefix "${prefix}" is reserved for Kubernetes`);
  }
}

/**
 * Parses the config file text. defaultPrefix comes from --resource-prefix.
 * Throws ConfigError naming the JSON path of the first problem.
 */
export function parseConfig(text: string, defaultPrefix: string = DEFAULT_RESOURCE_PREFIX): DevicePluginConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError("", `cannot parse JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!isObj(raw)) throw new ConfigError("", `expected an object with "resourceList", got ${describe(raw)}`);
  checkKeys(raw, "", ["resourceList", "health", "allocation", "nodeSetup"]);
  checkPrefix(defaultPrefix, "");
  const list = raw["resourceList"];
  if (list === undefined) throw new ConfigError("", `"resourceList" is missing`);
  if (!Array.isArray(list)) throw new ConfigError("resourceList", `expected a list, got ${describe(list)}`);
  const defaults = {
    prefix: defaultPrefix,
    health: parseHealth(raw["health"], "health", DEFAULT_HEALTH),
    allocation: parseAllocation(raw["allocation"], "allocation", DEFAULT_ALLOCATION),
  };
  const seen = new Map<string, number>();
  const resources = list.map((item, i) => {
    const r = parseResource(item, i, join("resourceList", i), defaults);
    const first = seen.get(r.fullName);
    if (first !== undefined) {
      throw new ConfigError(
        join(join("resourceList", i), "resourceName"),
        `resource "${r.fullName}" is already defined at "resourceList[${first}]"`,
      );
    }
    seen.set(r.fullName, i);
    return r;
  });
  return { resources, nodeSetup: parseNodeSetup(raw["nodeSetup"], "nodeSetup") };
}
