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
  vlanProto: VlanProto;
  spoofchk: boolean | null;
  trust: boolean | null;
  linkState: VfLinkState | null;
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

// Phase 2 objects (SR-IOV, vDPA, inventory).

export type VlanProto = "802.1q" | "802.1ad";
export type VfLinkState = "auto" | "enable" | "disable";
export type VdpaDriver = "vhost_vdpa" | "virtio_vdpa";

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
  /** operstate of the first netdev (sorted by name); null without a netdev. */
  linkState: string | null;
  /** carrier of the first netdev; null without a netdev or while it is administratively down. */
  carrier: boolean | null;
  vdpa: string[];
}

export interface VdpaDevice {
  name: string;
  mgmtdev: string;
  parentPci: string | null;
  driver: string | null;
  /** From vdpa netlink; null in `inventory`, which reads sysfs only. */
  deviceId: number | null;
  vendorId: number | null;
  chardev: string | null;
  netdev: string | null;
  /** From VDPA_CMD_DEV_CONFIG_GET; null without the feature (and in `inventory`). */
  mac: string | null;
  mtu: number | null;
}

/** A vdpa management device (vdpa-mgmtdev-list), named as iproute2's `vdpa mgmtdev show` names it. */
export interface VdpaMgmtdev {
  /** "pci/0000:00:02.1" (bus/dev), or the device name alone when it has no bus ("vduse"). */
  name: string;
  bus: string | null;
  dev: string;
  /** Virtio classes it creates, from VDPA_ATTR_MGMTDEV_SUPPORTED_CLASSES: "net", "block", else "virtio-id-N". */
  classes: string[];
  /** VDPA_ATTR_DEV_MGMTDEV_MAX_VQS; null when the kernel does not report it. */
  maxVqs: number | null;
  /** VDPA_ATTR_DEV_SUPPORTED_FEATURES as "0x..." hex (exact u64; use BigInt); null when not reported. */
  supportedFeatures: string | null;
  /**
   * Which of "mac", "mtu", "max_vqp" it accepts at vdpa-dev-add, when the kernel reports it. No Linux release
   * reports a management device's config attribute mask (6.12 has no netlink attribute for it), so this is []:
   * "not reported", not "none"; the kernel's refusal of vdpa-dev-add (EOPNOTSUPP) is the authority.
   */
  configAttrs: string[];
}

export interface Inventory {
  pfs: PciDevice[];
  vfs: PciDevice[];
  vdpa: VdpaDevice[];
}

export interface VfioInfo {
  group: number;
  path: string;
  viable: boolean;
}

export interface VhostVdpaInfo {
  path: string;
  deviceId: number;
  /** u64 feature bits as a decimal string (exact; use BigInt). */
  features: string;
  /** virtio device status byte (VHOST_VDPA_GET_STATUS). */
  status: number;
  mac: string | null;
  mtu: number | null;
  /** virtio_net_config.status (VIRTIO_NET_S_LINK_UP = 1); null without VIRTIO_NET_F_STATUS. */
  netStatus: number | null;
  maxVirtqueuePairs: number | null;
}

/** Exactly one VF setting per vf-set (the helper refuses anything else). */
export type VfSetting =
  /** A unicast MAC, or 00:00:00:00:00:00 to clear the administratively set MAC (how igb starts every VF). */
  | { mac: string }
  | { vlan: number; qos?: number; proto?: VlanProto }
  | { spoofchk: boolean }
  | { trust: boolean }
  | { state: VfLinkState }
  | { minTxRate: number; maxTxRate?: number }
  | { minTxRate?: number; maxTxRate: number };
