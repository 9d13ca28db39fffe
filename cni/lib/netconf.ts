// The fields every accelnet network config shares, whatever the mode: network name, IPAM, DNS,
// runtimeConfig, args.cni, prevResult, state dir and logging. Mode fields are parsed by each mode.
// Unknown top-level keys are accepted (Multus adds capabilities, deviceID, pciBusID, args...).
import { CniCode, CniError } from "./errors.js";
import { isObject, isString, isStringArray, jsonType, type JsonObject } from "./is.js";
import type { Dns } from "./result.js";

export const DEFAULT_STATE_DIR = "/var/lib/cni/accelnet";
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
  stateDir: string;
  logLevel: LogLevel;
  logFile?: string;
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

/** An absolute path without ".." components (stateDir, logFile). */
export function checkAbsolutePath(path: string, field: string): string {
  if (!path.startsWith("/") || path.split("/").includes("..") || path.includes("\0")) {
    throw invalidConfig(field, `"${path}" is not an absolute path without ".."`);
  }
  return path;
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

function parseRuntimeConfig(o: JsonObject): RuntimeConfig {
  const rc = optionalObject(o, "runtimeConfig") ?? {};
  const out: RuntimeConfig = {};
  const mac = optionalString(rc, "mac", "runtimeConfig.mac");
  if (mac !== undefined && mac !== "") out.mac = mac;
  const deviceID = optionalString(rc, "deviceID", "runtimeConfig.deviceID");
  if (deviceID !== undefined && deviceID !== "") out.deviceID = deviceID;
  const infoFile = optionalString(rc, "CNIDeviceInfoFile", "runtimeConfig.CNIDeviceInfoFile");
  if (infoFile !== undefined && infoFile !== "") out.CNIDeviceInfoFile = infoFile;
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
export function parseNetConf(raw: JsonObject): NetConf {
  const name = optionalString(raw, "name") ?? "";
  const type = optionalString(raw, "type") ?? "";
  const conf: NetConf = {
    raw,
    name,
    type,
    dns: parseDns(raw),
    runtimeConfig: parseRuntimeConfig(raw),
    argsCni: parseArgsCni(raw),
    stateDir: checkAbsolutePath(optionalString(raw, "stateDir") ?? DEFAULT_STATE_DIR, "stateDir"),
    logLevel: "info",
  };
  const ipam = optionalObject(raw, "ipam");
  const ipamType = ipam === undefined ? undefined : optionalString(ipam, "type", "ipam.type");
  if (ipamType !== undefined && ipamType !== "") conf.ipamType = checkPluginName(ipamType, "ipam.type");
  if (raw["prevResult"] !== undefined && raw["prevResult"] !== null) conf.prevResult = raw["prevResult"];
  const level = optionalString(raw, "logLevel");
  if (level !== undefined && level !== "") {
    if (!(LOG_LEVELS as readonly string[]).includes(level)) {
      throw invalidConfig("logLevel", `"${level}" is not one of ${LOG_LEVELS.join(", ")}`);
    }
    conf.logLevel = level as LogLevel;
  }
  const logFile = optionalString(raw, "logFile");
  if (logFile !== undefined && logFile !== "") conf.logFile = checkAbsolutePath(logFile, "logFile");
  return conf;
}
