// IP addresses and prefixes, parsed by a library (ip-cidr, on ip-address) rather than by hand: the
// family, the one spelling of an address ("fd00:0::1" and "FD00::1" are "fd00::1"; IPv4 with leading
// zeros is refused, as Go's net.ParseIP refuses it) and the prefix length. Every address that comes
// from a config, CNI_ARGS, an IPAM result or the kernel goes through here.
import type IPCIDR from "ip-cidr";

export type Family = 4 | 6;

let ipCidr: typeof IPCIDR | undefined;

/**
 * ip-cidr, loaded at its first use: most calls (VERSION, STATUS, a DEL without IPAM) parse no address
 * and should not pay its start-up (README "Benchmarks"). A literal require() inside a function: esbuild
 * bundles it as a module initialised on that first call, and Node (require of an ES module) and vitest
 * load it the same way.
 */
function ipCidrLib(): typeof IPCIDR {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  ipCidr ??= (require("ip-cidr") as { default: typeof IPCIDR }).default;
  return ipCidr;
}

export interface ParsedIp {
  family: Family;
  /** The canonical spelling (RFC 5952 for IPv6), without a prefix. */
  address: string;
  /** The prefix length when the text had one ("/24"), else undefined. */
  prefixlen?: number;
}

/** An address with or without "/prefix", or null when it is not one (zones such as "%eth0" included). */
export function parseIp(text: string): ParsedIp | null {
  if (text.includes("%") || text.trim() !== text) return null;
  let ip;
  try {
    ip = ipCidrLib().createAddress(text);
  } catch {
    return null;
  }
  const family: Family = ip.v4 ? 4 : 6;
  if ((family === 6) !== text.includes(":")) return null; // "::ffff:1.2.3.4" would come back as IPv4
  const parsed: ParsedIp = { family, address: ip.correctForm() };
  if (text.includes("/")) parsed.prefixlen = ip.subnetMask;
  return parsed;
}

/** An address with a prefix length ("10.0.0.2/24"), or null. */
export function parseCidr(text: string): Required<ParsedIp> | null {
  const parsed = parseIp(text);
  return parsed?.prefixlen === undefined ? null : (parsed as Required<ParsedIp>);
}

/** An address without a prefix length, or null. */
export function parsePlainIp(text: string): ParsedIp | null {
  const parsed = parseIp(text);
  return parsed === null || parsed.prefixlen !== undefined ? null : parsed;
}

/** The family of an address or CIDR already checked to be one (IPv6 when it cannot be parsed and has ":"). */
export function familyOf(text: string): Family {
  return parseIp(text)?.family ?? (text.includes(":") ? 6 : 4);
}

/** One spelling per address, with its prefix when it has one; text that is not an address is kept as is. */
export function canonicalIp(text: string): string {
  const parsed = parseIp(text);
  if (parsed === null) return text;
  return parsed.prefixlen === undefined ? parsed.address : `${parsed.address}/${parsed.prefixlen}`;
}
