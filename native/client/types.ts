// Types mirroring the JSON objects of native/PROTOCOL.md exactly. Absent kernel
// attributes are null; arrays are empty rather than null.

export type MacvlanMode = "bridge" | "private" | "vepa" | "passthru" | "source";
export type RouteScope = "link" | "universe" | "host";
export type LinkOperstate = "unknown" | "notpresent" | "down" | "lowerlayerdown" | "testing" | "dormant" | "up";

export interface Vf {
  vf: number;
  mac: string;
  vlan: number;
  qos: number;
  vlanProto: "802.1q" | "802.1ad";
  spoofchk: boolean | null;
  trust: boolean | null;
  linkState: "auto" | "enable" | "disable" | null;
  minTxRate: number;
  maxTxRate: number;
}

export interface Link {
  index: number;
  name: string;
  kind: string | null;
  mac: string | null;
  permMac: string | null;
  /** Always sent by the kernel (as are index and name). */
  mtu: number;
  minMtu: number | null;
  maxMtu: number | null;
  up: boolean;
  operstate: LinkOperstate | null;
  carrier: boolean | null;
  master: number | null;
  link: number | null;
  linkNetnsid: number | null;
  macvlanMode: MacvlanMode | null;
  altnames: string[];
  parentBus: string | null;
  parentDev: string | null;
  txqlen: number | null;
  /** Reported only when VF information was requested (`vfs: true`). */
  numVfs: number | null;
  vfs: Vf[];
}

export interface Address {
  family: 4 | 6;
  address: string;
  prefixlen: number;
  ifindex: number;
  /** "global", "site", "link", "host", "nowhere", or the number for other scopes. */
  scope: string;
}

export interface Route {
  family: 4 | 6;
  /** Always a CIDR; the default route is "0.0.0.0/0" or "::/0". */
  dst: string;
  gateway: string | null;
  oif: number | null;
  table: number;
  /** "universe", "site", "link", "host", "nowhere", or the number. */
  scope: string;
  /** "kernel", "boot", "static", "ra", "dhcp", ..., or the number. */
  protocol: string;
  metric: number;
}

export interface RouteArgs {
  netns?: string;
  dst: string;
  gw?: string;
  name?: string;
  metric?: number;
  table?: number;
  scope?: RouteScope;
}

// Phase 2 objects (SR-IOV, vDPA, inventory), declared now so consumers can share them.

export interface PciDevice {
  addr: string;
  vendor: string;
  device: string;
  class: string;
  driver: string | null;
  netdevs: string[];
  numaNode: number;
  iommuGroup: number | null;
  isPf: boolean;
  isVf: boolean;
  pf: string | null;
  vfIndex: number | null;
  numVfs: number | null;
  totalVfs: number | null;
  linkState: string | null;
  vdpa: string[];
}

export interface VdpaDevice {
  name: string;
  mgmtdev: string;
  parentPci: string | null;
  driver: string | null;
  deviceId: number;
  vendorId: number;
  chardev: string | null;
  netdev: string | null;
  mac: string | null;
  mtu: number | null;
}
