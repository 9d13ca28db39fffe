// CNI results: one internal shape (spec 1.1.0) and conversion up from / down to every supported version.
//
// Internal = the 1.1.0 result. Down-conversion (what we print) follows libcni:
// - 1.1.0: interfaces[].mtu/pciID/socketPath, routes[].mtu/advmss/priority/table/scope kept
// - 1.0.0: those 1.1.0-only fields dropped
// - 0.4.0, 0.3.1, 0.3.0: as 1.0.0 plus ips[].version ("4" | "6")
// - 0.2.0, 0.1.0: {ip4: {ip, gateway, routes}, ip6: {...}, dns}; the first address of each family wins,
//   routes go to the family of their dst; interfaces are dropped
// `dns` is always printed (as `{}` when empty), as the Go reference does.
import { familyOf, parseCidr, parsePlainIp } from "./addresses.js";
import { CniCode, CniError } from "./errors.js";
import { isInteger, isObject, isString, isStringArray, jsonType, type JsonObject } from "./is.js";
import { compareVersions } from "./versions.js";

export interface Interface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
  socketPath?: string;
  pciID?: string;
}

export interface IpConfig {
  interface?: number;
  address: string;
  gateway?: string;
}

export interface Route {
  dst: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}

export interface Dns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface Result {
  interfaces: Interface[];
  ips: IpConfig[];
  routes: Route[];
  dns: Dns;
}

export function emptyResult(): Result {
  return { interfaces: [], ips: [], routes: [], dns: {} };
}

// ---------------------------------------------------------------- up-conversion (parse any version)

function fail(what: string, why: string): never {
  throw new CniError(CniCode.DecodingFailure, `Cannot decode result "${what}": ${why}`);
}

function optString(o: JsonObject, key: string, what: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === "") return undefined;
  if (!isString(v)) fail(`${what}.${key}`, `expected a string, got ${jsonType(v)}`);
  return v;
}

function optInt(o: JsonObject, key: string, what: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!isInteger(v)) fail(`${what}.${key}`, `expected an integer, got ${jsonType(v)}`);
  return v;
}

function reqString(o: JsonObject, key: string, what: string): string {
  const v = optString(o, key, what);
  if (v === undefined) fail(`${what}.${key}`, "missing");
  return v;
}

/** A required address with its prefix length ("10.0.0.2/24", "fd00::2/64"). */
function reqCidr(o: JsonObject, key: string, what: string): string {
  const v = reqString(o, key, what);
  if (parseCidr(v) === null) fail(`${what}.${key}`, `"${v}" is not an IP address with a prefix length`);
  return v;
}

/** An optional address without a prefix length (a gateway). */
function optIp(o: JsonObject, key: string, what: string): string | undefined {
  const v = optString(o, key, what);
  if (v !== undefined && parsePlainIp(v) === null) fail(`${what}.${key}`, `"${v}" is not an IP address`);
  return v;
}

function parseDns(v: unknown): Dns {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) fail("dns", `expected an object, got ${jsonType(v)}`);
  const dns: Dns = {};
  for (const key of ["nameservers", "search", "options"] as const) {
    const x = v[key];
    if (x === undefined || x === null) continue;
    if (!isStringArray(x)) fail(`dns.${key}`, "expected an array of strings");
    if (x.length > 0) dns[key] = x;
  }
  const domain = optString(v, "domain", "dns");
  if (domain !== undefined) dns.domain = domain;
  return dns;
}

function parseRoute(v: unknown, what: string): Route {
  if (!isObject(v)) fail(what, `expected an object, got ${jsonType(v)}`);
  const route: Route = { dst: reqCidr(v, "dst", what) };
  const gw = optIp(v, "gw", what);
  if (gw !== undefined) route.gw = gw;
  for (const key of ["mtu", "advmss", "priority", "table", "scope"] as const) {
    const n = optInt(v, key, what);
    if (n !== undefined) route[key] = n;
  }
  return route;
}

function parseArray(v: unknown, what: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fail(what, `expected an array, got ${jsonType(v)}`);
  return v;
}

function parseCurrent(o: JsonObject): Result {
  const result = emptyResult();
  parseArray(o["interfaces"], "interfaces").forEach((x, i) => {
    const what = `interfaces[${i}]`;
    if (!isObject(x)) fail(what, `expected an object, got ${jsonType(x)}`);
    const intf: Interface = { name: reqString(x, "name", what) };
    for (const key of ["mac", "sandbox", "socketPath", "pciID"] as const) {
      const s = optString(x, key, what);
      if (s !== undefined) intf[key] = s;
    }
    const mtu = optInt(x, "mtu", what);
    if (mtu !== undefined) intf.mtu = mtu;
    result.interfaces.push(intf);
  });
  parseArray(o["ips"], "ips").forEach((x, i) => {
    const what = `ips[${i}]`;
    if (!isObject(x)) fail(what, `expected an object, got ${jsonType(x)}`);
    const ip: IpConfig = { address: reqCidr(x, "address", what) };
    const gw = optIp(x, "gateway", what);
    if (gw !== undefined) ip.gateway = gw;
    const index = optInt(x, "interface", what);
    if (index !== undefined) ip.interface = index;
    result.ips.push(ip);
  });
  result.routes = parseArray(o["routes"], "routes").map((x, i) => parseRoute(x, `routes[${i}]`));
  result.dns = parseDns(o["dns"]);
  return result;
}

function parseLegacy(o: JsonObject): Result {
  const result = emptyResult();
  for (const key of ["ip4", "ip6"] as const) {
    const block = o[key];
    if (block === undefined || block === null) continue;
    if (!isObject(block)) fail(key, `expected an object, got ${jsonType(block)}`);
    const ip: IpConfig = { address: reqCidr(block, "ip", key) };
    const gw = optIp(block, "gateway", key);
    if (gw !== undefined) ip.gateway = gw;
    result.ips.push(ip);
    result.routes.push(
      ...parseArray(block["routes"], `${key}.routes`).map((x, i) => parseRoute(x, `${key}.routes[${i}]`)),
    );
  }
  result.dns = parseDns(o["dns"]);
  return result;
}

/** Parses a result printed in `version` (an IPAM result or a prevResult) into the internal shape. */
export function parseResult(json: unknown, version: string): Result {
  if (!isObject(json)) fail("result", `expected an object, got ${jsonType(json)}`);
  return compareVersions(version, "0.3.0") < 0 ? parseLegacy(json) : parseCurrent(json);
}

// ---------------------------------------------------------------- down-conversion (print)

function routeFor(route: Route, version: string): JsonObject {
  const out: JsonObject = { dst: route.dst };
  if (route.gw !== undefined) out["gw"] = route.gw;
  if (compareVersions(version, "1.1.0") >= 0) {
    for (const key of ["mtu", "advmss", "priority", "table", "scope"] as const) {
      if (route[key] !== undefined) out[key] = route[key];
    }
  }
  return out;
}

function interfaceFor(intf: Interface, version: string): JsonObject {
  const out: JsonObject = { name: intf.name };
  if (intf.mac !== undefined) out["mac"] = intf.mac;
  if (compareVersions(version, "1.1.0") >= 0 && intf.mtu !== undefined) out["mtu"] = intf.mtu;
  if (intf.sandbox !== undefined) out["sandbox"] = intf.sandbox;
  if (compareVersions(version, "1.1.0") >= 0) {
    if (intf.socketPath !== undefined) out["socketPath"] = intf.socketPath;
    if (intf.pciID !== undefined) out["pciID"] = intf.pciID;
  }
  return out;
}

function legacyFor(result: Result, version: string): JsonObject {
  const out: JsonObject = { cniVersion: version };
  const blocks: Partial<Record<4 | 6, JsonObject>> = {};
  for (const ip of result.ips) {
    const family = familyOf(ip.address);
    if (blocks[family] !== undefined) continue;
    const block: JsonObject = { ip: ip.address };
    if (ip.gateway !== undefined) block["gateway"] = ip.gateway;
    blocks[family] = block;
  }
  for (const route of result.routes) {
    const block = blocks[familyOf(route.dst)];
    if (block === undefined) continue;
    const routes = (block["routes"] ??= []) as JsonObject[];
    routes.push(routeFor(route, version));
  }
  if (blocks[4] !== undefined) out["ip4"] = blocks[4];
  if (blocks[6] !== undefined) out["ip6"] = blocks[6];
  out["dns"] = result.dns;
  return out;
}

/** The result as printed for `version` (see the table at the top of this file). */
export function formatResult(result: Result, version: string): JsonObject {
  if (compareVersions(version, "0.3.0") < 0) return legacyFor(result, version);
  const withIpVersion = compareVersions(version, "1.0.0") < 0;
  const out: JsonObject = { cniVersion: version };
  if (result.interfaces.length > 0) out["interfaces"] = result.interfaces.map((i) => interfaceFor(i, version));
  if (result.ips.length > 0) {
    out["ips"] = result.ips.map((ip) => {
      const o: JsonObject = {};
      if (withIpVersion) o["version"] = String(familyOf(ip.address));
      if (ip.interface !== undefined) o["interface"] = ip.interface;
      o["address"] = ip.address;
      if (ip.gateway !== undefined) o["gateway"] = ip.gateway;
      return o;
    });
  }
  if (result.routes.length > 0) out["routes"] = result.routes.map((r) => routeFor(r, version));
  out["dns"] = result.dns;
  return out;
}
