// The fields every accelnet network config shares, whatever the mode: network name, IPAM, DNS,
// runtimeConfig, args.cni, prevResult and logging. Mode fields are parsed by each mode.
// Unknown top-level keys are accepted (Multus adds capabilities, deviceID, pciBusID, args...), except
// `stateDir`: where root keeps state is never the config's choice (trusted-paths.ts), nor are paths
// outside the places made for log and device info files.
import { CniCode, CniError } from "./errors.js";
import { isObject, isString, isStringArray, jsonType, type JsonObject } from "./is.js";
import type { Dns } from "./result.js";
import { checkDeviceInfoPath, checkLogFile, stateDirFieldRefused } from "./trusted-paths.js";

export const LOG_LEVELS = ["error", "warning", "info", "debug"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface RuntimeConfig {
  mac?: string;
  ips?: string[];
  deviceID?: string;
  CNIDeviceInfoFile?: string;
}

export interface NetConf {
  raw: JsonObject;
  name: string;
  type: string;
  /** ipam.type, or undefined for layer 2 only. */
  ipamType?: string;
  dns: Dns;
  runtimeConfig: RuntimeConfig;
  /** args.cni (CNI conventions: `args: {cni: {...}}`). */
  argsCni: { mac?: string; ips?: string[] };
  prevResult?: unknown;
  logLevel: LogLevel;
  logFile?: string;
  /** Path fields DEL dropped instead of refusing them (see parseNetConf), for a warning each. */
  ignored: string[];
}

export interface ParseOptions {
  /** Where logFile and CNIDeviceInfoFile may be: env ACCELNET_LOG_DIR and ACCELNET_DEVINFO_DIR add roots. */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * DEL drops any field it would refuse (noted in `ignored`) instead of failing: the spec calls DEL after
   * every failed ADD and the runtime retries it until it succeeds, and Multus replays the config cached
   * at ADD (made before an upgrade). DEL needs none of them: state dir from env, device and netns from
   * the stored attachment; a refused ipam.type means ADD reserved nothing.
   */
  forDel?: boolean;
}

export function invalidConfig(field: string, why: string): CniError {
  return new CniError(CniCode.InvalidConfig, `Cannot use config field "${field}": ${why}`);
}

export function optionalString(o: JsonObject, key: string, field = key): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!isString(v)) throw invalidConfig(field, `expected a string, got ${jsonType(v)}`);
  return v;
}

export function optionalBoolean(o: JsonObject, key: string, field = key): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw invalidConfig(field, `expected a boolean, got ${jsonType(v)}`);
  return v;
}

export function optionalInteger(o: JsonObject, key: string, min: number, max: number, field = key): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v))
    throw invalidConfig(field, `expected an integer, got ${jsonType(v)}`);
  if (v < min || v > max) throw invalidConfig(field, `${v} is out of range [${min}, ${max}]`);
  return v;
}

function optionalObject(o: JsonObject, key: string, field = key): JsonObject | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw invalidConfig(field, `expected an object, got ${jsonType(v)}`);
  return v;
}

function optionalStrings(o: JsonObject, key: string, field: string): string[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!isStringArray(v)) throw invalidConfig(field, `expected an array of strings, got ${jsonType(v)}`);
  return v;
}

/** A plugin name from the config (ipam.type): a file name in CNI_PATH, so no "/" and not "." or "..". */
export function checkPluginName(name: string, field: string): string {
  if (name === "" || name === "." || name === ".." || name.includes("/") || name.includes("\0")) {
    throw invalidConfig(field, `"${name}" is not a plugin name`);
  }
  return name;
}

function parseDns(o: JsonObject): Dns {
  const dnsObj = optionalObject(o, "dns");
  if (dnsObj === undefined) return {};
  const dns: Dns = {};
  for (const key of ["nameservers", "search", "options"] as const) {
    const list = optionalStrings(dnsObj, key, `dns.${key}`);
    if (list !== undefined && list.length > 0) dns[key] = list;
  }
  const domain = optionalString(dnsObj, "domain", "dns.domain");
  if (domain !== undefined && domain !== "") dns.domain = domain;
  return dns;
}

function parseRuntimeConfig(o: JsonObject, checkPath: (path: string) => string | undefined): RuntimeConfig {
  const rc = optionalObject(o, "runtimeConfig") ?? {};
  const out: RuntimeConfig = {};
  const mac = optionalString(rc, "mac", "runtimeConfig.mac");
  if (mac !== undefined && mac !== "") out.mac = mac;
  const deviceID = optionalString(rc, "deviceID", "runtimeConfig.deviceID");
  if (deviceID !== undefined && deviceID !== "") out.deviceID = deviceID;
  const infoFile = optionalString(rc, "CNIDeviceInfoFile", "runtimeConfig.CNIDeviceInfoFile");
  const checkedInfo = infoFile === undefined || infoFile === "" ? undefined : checkPath(infoFile);
  if (checkedInfo !== undefined) out.CNIDeviceInfoFile = checkedInfo;
  const ips = optionalStrings(rc, "ips", "runtimeConfig.ips");
  if (ips !== undefined) out.ips = ips;
  return out;
}

function parseArgsCni(o: JsonObject): NetConf["argsCni"] {
  const args = optionalObject(o, "args");
  const cni = args === undefined ? undefined : optionalObject(args, "cni", "args.cni");
  if (cni === undefined) return {};
  const out: NetConf["argsCni"] = {};
  const mac = optionalString(cni, "mac", "args.cni.mac");
  if (mac !== undefined && mac !== "") out.mac = mac;
  const ips = optionalStrings(cni, "ips", "args.cni.ips");
  if (ips !== undefined) out.ips = ips;
  return out;
}

/** Parses the shared fields of an already decoded config object. */
export function parseNetConf(raw: JsonObject, opts: ParseOptions = {}): NetConf {
  const env = opts.env ?? {};
  const ignored: string[] = [];
  /** A refused field: thrown, or for DEL noted and dropped (DEL needs none of them to make progress). */
  const refuse = (err: unknown): undefined => {
    if (!(opts.forDel === true && err instanceof CniError && err.code === CniCode.InvalidConfig)) throw err;
    ignored.push(err.message);
    return undefined;
  };
  const lenient = <T>(parse: () => T, fallback: T): T => {
    try {
      return parse();
    } catch (err) {
      refuse(err);
      return fallback;
    }
  };
  if (raw["stateDir"] !== undefined && raw["stateDir"] !== null) refuse(stateDirFieldRefused());
  const name = optionalString(raw, "name") ?? "";
  const type = lenient(() => optionalString(raw, "type") ?? "", "");
  const conf: NetConf = {
    raw,
    name,
    type,
    dns: lenient(() => parseDns(raw), {}),
    runtimeConfig: lenient(
      () => parseRuntimeConfig(raw, (path) => lenient(() => checkDeviceInfoPath(path, env), undefined)),
      {},
    ),
    argsCni: lenient(() => parseArgsCni(raw), {}),
    logLevel: "info",
    ignored,
  };
  // DEL with an ipam.type ADD refused: ADD reserved nothing, so there is no IPAM to call.
  const ipamType = lenient(() => {
    const ipam = optionalObject(raw, "ipam");
    const t = ipam === undefined ? undefined : optionalString(ipam, "type", "ipam.type");
    return t === undefined || t === "" ? undefined : checkPluginName(t, "ipam.type");
  }, undefined);
  if (ipamType !== undefined) conf.ipamType = ipamType;
  if (raw["prevResult"] !== undefined && raw["prevResult"] !== null) conf.prevResult = raw["prevResult"];
  const level = lenient(() => optionalString(raw, "logLevel"), undefined);
  if (level !== undefined && level !== "") {
    if (LOG_LEVELS.includes(level as LogLevel)) conf.logLevel = level as LogLevel;
    else refuse(invalidConfig("logLevel", `"${level}" is not one of ${LOG_LEVELS.join(", ")}`));
  }
  const logFile = lenient(() => optionalString(raw, "logFile"), undefined);
  const checkedLog =
    logFile === undefined || logFile === "" ? undefined : lenient(() => checkLogFile(logFile, env), undefined);
  if (checkedLog !== undefined) conf.logFile = checkedLog;
  return conf;
}
