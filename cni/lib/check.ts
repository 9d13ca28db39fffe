// CHECK mechanisms shared by the modes: prevResult and the interface it names for this request, and
// what the pod's netdev must still have: the MAC, the MTU, and the addresses and routes of prevResult
// (libcni ValidateExpectedInterfaceIPs / ValidateExpectedRoute), compared in one spelling per address
// (addresses.ts). What to compare is each mode's choice.
import {
  cmd,
  type Address,
  type Link,
  type NativeClient,
  type Route as KernelRoute,
} from "../../native/client/index.js";
import { canonicalIp } from "./addresses.js";
import { routesWithGateways } from "./configure.js";
import { cniErrorFromNative, isNotFound } from "./errno.js";
import { CniCode, CniError } from "./errors.js";
import { invalidConfig, type NetConf } from "./netconf.js";
import { parseResult, type Interface, type Result } from "./result.js";
import type { CniRequest } from "../skel/types.js";

/** prevResult, the index and entry of this request's interface in it, and how CHECK says "differs" (103). */
export interface PrevInterface {
  prev: Result;
  index: number;
  intf: Interface;
  mismatch: (why: string) => CniError;
}

/** CHECK's start in every mode: prevResult is required (7) and must name CNI_IFNAME in CNI_NETNS (103). */
export function prevInterfaceOf(req: Pick<CniRequest, "ifname" | "netns" | "cniVersion">, net: NetConf): PrevInterface {
  const mismatch = (why: string) =>
    new CniError(CniCode.CheckMismatch, `Cannot check interface "${req.ifname}": ${why}`);
  if (net.prevResult === undefined) throw invalidConfig("prevResult", "missing (CHECK needs it)");
  const prev = parseResult(net.prevResult, req.cniVersion);
  const index = prev.interfaces.findIndex((i) => i.name === req.ifname && i.sandbox === req.netns);
  const intf = prev.interfaces[index];
  if (intf === undefined) throw mismatch(`prevResult has no interface "${req.ifname}" in netns "${req.netns}"`);
  return { prev, index, intf, mismatch };
}

export interface ShownNetdev {
  link: Link;
  addrs?: readonly Address[];
  routes?: readonly KernelRoute[];
}

/** The pod's netdev with its addresses and routes; a missing one is a mismatch (103). */
export async function showPodNetdev(
  native: NativeClient,
  req: Pick<CniRequest, "ifname" | "netns">,
  p: PrevInterface,
): Promise<ShownNetdev> {
  try {
    const [shown] = await native.run([cmd.linkShow({ netns: req.netns, name: req.ifname, addrs: true, routes: true })]);
    return shown;
  } catch (err) {
    if (isNotFound(err)) throw p.mismatch(`no such interface in netns "${req.netns}"`);
    throw cniErrorFromNative(err, `show interface "${req.ifname}" in netns`, req.netns);
  }
}

/**
 * Why the netdev differs from prevResult, or null: admin-down (ADD left it up, and a down interface
 * makes the container unreachable, which the spec says CHECK reports), its MAC, its MTU (when `mtu` is
 * given: the config's, else prevResult's), then the addresses and routes of prevResult.
 */
export function netdevDiffers(shown: ShownNetdev, p: PrevInterface, mtu?: number): string | null {
  const { link } = shown;
  if (!link.up) return "it is administratively down (ADD left it up)";
  if (p.intf.mac !== undefined && p.intf.mac.toLowerCase() !== link.mac?.toLowerCase()) {
    return `MAC is ${link.mac ?? "none"}, prevResult says ${p.intf.mac}`;
  }
  if (mtu !== undefined && link.mtu !== mtu) return `MTU is ${link.mtu}, expected ${mtu}`;
  return missingAddressOrRoute(p.prev, p.index, shown.addrs ?? [], shown.routes ?? []);
}

/** Returns why the interface (index `index` of prev) lacks an address or route of prev, or null. */
export function missingAddressOrRoute(
  prev: Result,
  index: number,
  addrs: readonly Address[],
  routes: readonly KernelRoute[],
): string | null {
  const have = new Set(addrs.map((a) => `${canonicalIp(a.address)}/${a.prefixlen}`));
  for (const ip of prev.ips) {
    if (ip.interface !== undefined && ip.interface !== index) continue;
    if (!have.has(canonicalIp(ip.address))) return `address ${ip.address} is missing`;
  }
  const haveRoutes = routes.map((r) => ({
    dst: canonicalIp(r.dst),
    gw: r.gateway === null ? undefined : canonicalIp(r.gateway),
  }));
  for (const want of routesWithGateways(prev)) {
    const gw = want.gw === undefined ? undefined : canonicalIp(want.gw);
    if (!haveRoutes.some((r) => r.dst === canonicalIp(want.dst) && (gw === undefined || r.gw === gw))) {
      return `route ${want.dst}${gw === undefined ? "" : ` via ${gw}`} is missing`;
    }
  }
  return null;
}
