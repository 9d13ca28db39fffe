// CHECK mechanisms shared by the modes that put an interface into the pod: the addresses and routes
// of prevResult must be on the interface (libcni ValidateExpectedInterfaceIPs / ValidateExpectedRoute).
import type { Address, Route as KernelRoute } from "../../native/client/index.js";
import type { Result } from "./result.js";

/** One spelling per address ("fd00:0::1" and "fd00::1" compare equal); IPv4 unchanged. */
export function canonicalIp(ip: string): string {
  if (!ip.includes(":")) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip.toLowerCase();
  }
}

function canonicalCidr(cidr: string): string {
  const slash = cidr.indexOf("/");
  return slash < 0 ? canonicalIp(cidr) : `${canonicalIp(cidr.slice(0, slash))}${cidr.slice(slash)}`;
}

/** Routes without a gateway take the first gateway of their family from the IPs (libcni ConfigureIface). */
function withGateways(result: Result): Result["routes"] {
  const gw = (family: 4 | 6) =>
    result.ips.find((ip) => ip.gateway !== undefined && ip.gateway.includes(":") === (family === 6))?.gateway;
  return result.routes.map((r) => {
    const fill = r.gw === undefined ? gw(r.dst.includes(":") ? 6 : 4) : undefined;
    return fill === undefined ? r : { ...r, gw: fill };
  });
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
    if (!have.has(canonicalCidr(ip.address))) return `address ${ip.address} is missing`;
  }
  const haveRoutes = routes.map((r) => ({
    dst: canonicalCidr(r.dst),
    gw: r.gateway === null ? undefined : canonicalIp(r.gateway),
  }));
  for (const want of withGateways(prev)) {
    const gw = want.gw === undefined ? undefined : canonicalIp(want.gw);
    if (!haveRoutes.some((r) => r.dst === canonicalCidr(want.dst) && (gw === undefined || r.gw === gw))) {
      return `route ${want.dst}${gw === undefined ? "" : ` via ${gw}`} is missing`;
    }
  }
  return null;
}
