// Config field readers shared by the device modes (sriov-cni's field names): the device ID with
// Multus's precedence, the MAC with CNI's, PCI addresses and closed choices, and the IPs a runtime asks
// IPAM for. Messages name the field.
import { parseIp } from "./addresses.js";
import { invalidConfig, optionalInteger, optionalString, type NetConf } from "./netconf.js";
import type { CniArgs } from "./cni-args.js";

export const pciAddressPattern = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;
const macPattern = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** A closed set of strings; `caseInsensitive` lowercases first (sriov-cni lowercases vlanProto only). */
export function optionalChoice<T extends string>(
  raw: Record<string, unknown>,
  key: string,
  allowed: readonly T[],
  caseInsensitive = false,
): T | undefined {
  const v = optionalString(raw, key);
  if (v === undefined) return undefined;
  const value = caseInsensitive ? v.toLowerCase() : v;
  if (!(allowed as readonly string[]).includes(value)) {
    throw invalidConfig(key, `"${v}" is not one of ${allowed.join(", ")}`);
  }
  return value as T;
}

export function checkMac(mac: string, field: string): string {
  const lower = mac.toLowerCase();
  if (!macPattern.test(lower)) throw invalidConfig(field, `"${mac}" is not a MAC address (xx:xx:xx:xx:xx:xx)`);
  if ((parseInt(lower.slice(0, 2), 16) & 1) === 1) throw invalidConfig(field, `"${mac}" is a multicast address`);
  if (lower === "00:00:00:00:00:00") throw invalidConfig(field, `"${mac}" is all zeros`);
  return lower;
}

/** The MAC: runtimeConfig.mac, then args.cni.mac, then CNI_ARGS MAC=, then `mac` (first set). */
export function macFrom(conf: NetConf, cniArgs: CniArgs): string | undefined {
  const sources: [string | undefined, string][] = [
    [conf.runtimeConfig.mac, "runtimeConfig.mac"],
    [conf.argsCni.mac, "args.cni.mac"],
    [cniArgs.mac, "CNI_ARGS MAC"],
    [optionalString(conf.raw, "mac"), "mac"],
  ];
  const found = sources.find(([v]) => v !== undefined && v !== "");
  return found === undefined ? undefined : checkMac(found[0] as string, found[1]);
}

/**
 * The IPs a runtime asks IPAM for (runtimeConfig.ips, args.cni.ips, CNI_ARGS IP=): each an address,
 * with or without a prefix length (static wants one, host-local takes either). They go to the IPAM
 * plugin unchanged; a value that is not an address is code 7 naming it, before anything changes.
 */
export function checkRequestedIps(conf: NetConf, cniArgs: CniArgs): void {
  const sources: [readonly string[] | undefined, string][] = [
    [conf.runtimeConfig.ips, "runtimeConfig.ips"],
    [conf.argsCni.ips, "args.cni.ips"],
    [cniArgs.ips, "CNI_ARGS IP"],
  ];
  for (const [ips, field] of sources) {
    for (const ip of ips ?? []) {
      if (parseIp(ip) === null) throw invalidConfig(field, `"${ip}" is not an IP address (with an optional /prefix)`);
    }
  }
}

/** A device netdev's `mtu`: absent or 0 keeps the device's; otherwise 68 to 65535. */
export function optionalMtu(raw: Record<string, unknown>): number | undefined {
  const mtu = optionalInteger(raw, "mtu", 0, 65535);
  if (mtu === undefined || mtu === 0) return undefined;
  if (mtu < 68) throw invalidConfig("mtu", `${mtu} is below the minimum 68`);
  return mtu;
}

/** The device ID of a device mode, required (code 7 naming the three places it may come from). */
export function requiredDeviceId(conf: NetConf): { value: string; field: string } {
  const id = deviceIdFrom(conf);
  if (id === undefined) throw invalidConfig("deviceID", "missing (runtimeConfig.deviceID, deviceID or pciBusID)");
  return id;
}

/** The device ID: runtimeConfig.deviceID, then deviceID, then pciBusID (first set), with its field name. */
export function deviceIdFrom(conf: NetConf): { value: string; field: string } | undefined {
  const sources: [string | undefined, string][] = [
    [conf.runtimeConfig.deviceID, "runtimeConfig.deviceID"],
    [optionalString(conf.raw, "deviceID"), "deviceID"],
    [optionalString(conf.raw, "pciBusID"), "pciBusID"],
  ];
  const found = sources.find(([v]) => v !== undefined && v !== "");
  return found === undefined ? undefined : { value: found[0] as string, field: found[1] };
}

/** A PCI address from the config, lowercased; code 7 naming the field otherwise. */
export function checkPciAddress(value: string, field: string): string {
  const lower = value.toLowerCase();
  if (!pciAddressPattern.test(lower)) throw invalidConfig(field, `"${value}" is not a PCI address (dddd:bb:dd.f)`);
  return lower;
}
