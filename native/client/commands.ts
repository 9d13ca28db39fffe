// Typed builders, one per helper command (PROTOCOL.md). They serialize values
// (booleans as 0/1, numbers as decimal, camelCase keys as the helper's keys)
// and leave every check to the helper, which validates before running anything.
import type {
  Address,
  Inventory,
  Link,
  MacvlanMode,
  PciDevice,
  Route,
  RouteArgs,
  VdpaDevice,
  VdpaDriver,
  VdpaMgmtdev,
  Vf,
  VfioInfo,
  VfSetting,
  VhostVdpaInfo,
} from "./types.js";

/** One helper command with its (phantom) result type. */
export interface Command<R> {
  readonly name: string;
  readonly args: readonly string[];
  readonly __result?: R;
}

type Value = string | number | boolean | undefined;

function build<R>(name: string, pairs: readonly (readonly [string, Value])[]): Command<R> {
  const args: string[] = [];
  for (const [key, value] of pairs) {
    if (value === undefined) continue;
    if (typeof value === "boolean") args.push(`${key}=${value ? "1" : "0"}`);
    else args.push(`${key}=${String(value)}`);
  }
  return { name, args };
}

type Empty = Record<string, never>;
type LinkResult = { link: Link };

function routeCommand(name: string, a: RouteArgs): Command<Empty> {
  return build(name, [
    ["netns", a.netns],
    ["dst", a.dst],
    ["gw", a.gw],
    ["name", a.name],
    ["metric", a.metric],
    ["table", a.table],
    ["scope", a.scope],
  ]);
}

/** CNI core commands (macvlan). */
const coreCommands = {
  netnsCheck(a: { path: string }): Command<NetnsResult> {
    return build("netns-check", [["path", a.path]]);
  },
  linkShow(a: {
    netns?: string;
    name: string;
    addrs?: boolean;
    routes?: boolean;
    vfs?: boolean;
  }): Command<{ link: Link; addrs?: Address[]; routes?: Route[] }> {
    return build("link-show", [
      ["netns", a.netns],
      ["name", a.name],
      ["addrs", a.addrs],
      ["routes", a.routes],
      ["vfs", a.vfs],
    ]);
  },
  linkList(a: { netns?: string }): Command<{ links: Link[] }> {
    return build("link-list", [["netns", a.netns]]);
  },
  addrList(a: { netns?: string; name?: string; family?: 4 | 6 }): Command<{ addrs: Address[] }> {
    return build("addr-list", [
      ["netns", a.netns],
      ["name", a.name],
      ["family", a.family],
    ]);
  },
  routeList(a: { netns?: string; name?: string; family?: 4 | 6; table?: number }): Command<{ routes: Route[] }> {
    return build("route-list", [
      ["netns", a.netns],
      ["name", a.name],
      ["family", a.family],
      ["table", a.table],
    ]);
  },
  macvlanAdd(a: {
    netns: string;
    master: string;
    name: string;
    mode: MacvlanMode;
    masterNetns?: string;
    mac?: string;
    mtu?: number;
    bcqueuelen?: number;
  }): Command<LinkResult> {
    return build("macvlan-add", [
      ["netns", a.netns],
      ["master", a.master],
      ["name", a.name],
      ["mode", a.mode],
      ["master-netns", a.masterNetns],
      ["mac", a.mac],
      ["mtu", a.mtu],
      ["bcqueuelen", a.bcqueuelen],
    ]);
  },
  linkRename(a: { netns?: string; name: string; newname: string }): Command<LinkResult> {
    return build("link-rename", [
      ["netns", a.netns],
      ["name", a.name],
      ["newname", a.newname],
    ]);
  },
  linkSetMac(a: { netns?: string; name: string; mac: string }): Command<LinkResult> {
    return build("link-set-mac", [
      ["netns", a.netns],
      ["name", a.name],
      ["mac", a.mac],
    ]);
  },
  linkSetMtu(a: { netns?: string; name: string; mtu: number }): Command<LinkResult> {
    return build("link-set-mtu", [
      ["netns", a.netns],
      ["name", a.name],
      ["mtu", a.mtu],
    ]);
  },
  linkUp(a: { netns?: string; name: string }): Command<LinkResult> {
    return build("link-up", [
      ["netns", a.netns],
      ["name", a.name],
    ]);
  },
  linkDown(a: { netns?: string; name: string }): Command<LinkResult> {
    return build("link-down", [
      ["netns", a.netns],
      ["name", a.name],
    ]);
  },
  linkDel(a: { netns?: string; name: string }): Command<Empty> {
    return build("link-del", [
      ["netns", a.netns],
      ["name", a.name],
    ]);
  },
  addrAdd(a: { netns?: string; name: string; addr: string }): Command<Empty> {
    return build("addr-add", [
      ["netns", a.netns],
      ["name", a.name],
      ["addr", a.addr],
    ]);
  },
  addrDel(a: { netns?: string; name: string; addr: string }): Command<Empty> {
    return build("addr-del", [
      ["netns", a.netns],
      ["name", a.name],
      ["addr", a.addr],
    ]);
  },
  routeAdd(a: RouteArgs): Command<Empty> {
    return routeCommand("route-add", a);
  },
  routeDel(a: RouteArgs): Command<Empty> {
    return routeCommand("route-del", a);
  },
  sysctlSet(a: {
    netns?: string;
    name: string;
    key: "arp_notify" | "ndisc_notify";
    value: 0 | 1;
  }): Command<{ previous: number }> {
    return build("sysctl-set", [
      ["netns", a.netns],
      ["name", a.name],
      ["key", a.key],
      ["value", a.value],
    ]);
  },
};

function onOff(v: boolean | undefined): string | undefined {
  return v === undefined ? undefined : v ? "on" : "off";
}

/** The helper keys of one VF setting (vf-set takes exactly one). */
function vfSettingPairs(s: VfSetting): (readonly [string, Value])[] {
  if ("mac" in s) return [["mac", s.mac]];
  if ("vlan" in s)
    return [
      ["vlan", s.vlan],
      ["qos", s.qos],
      ["proto", s.proto],
    ];
  if ("spoofchk" in s) return [["spoofchk", onOff(s.spoofchk)]];
  if ("trust" in s) return [["trust", onOff(s.trust)]];
  if ("state" in s) return [["state", s.state]];
  return [
    ["min_tx_rate", s.minTxRate],
    ["max_tx_rate", s.maxTxRate],
  ];
}

type PciResult = { pci: PciDevice };
type NetnsResult = { netns: { path: string; inode: number } };
type VdpaResult = { vdpa: VdpaDevice };

/** Phase 2 commands: SR-IOV, PCI, VFIO, vDPA, discovery (PROTOCOL.md). */
const phase2Commands = {
  linkMove(a: { netns?: string; name: string; to: string; newname?: string }): Command<LinkResult> {
    return build("link-move", [
      ["netns", a.netns],
      ["name", a.name],
      ["to", a.to],
      ["newname", a.newname],
    ]);
  },
  linkAltnameDel(a: { netns?: string; name: string; altname: string }): Command<LinkResult> {
    return build("link-altname-del", [
      ["netns", a.netns],
      ["name", a.name],
      ["altname", a.altname],
    ]);
  },
  vfShow(a: { pf: string; netns?: string }): Command<{ link: Link; vfs: Vf[] }> {
    return build("vf-show", [
      ["pf", a.pf],
      ["netns", a.netns],
    ]);
  },
  vfSet(a: { pf: string; vf: number; netns?: string; setting: VfSetting }): Command<{ vf: Vf }> {
    return build("vf-set", [["pf", a.pf], ["vf", a.vf], ["netns", a.netns], ...vfSettingPairs(a.setting)]);
  },
  pciShow(a: { addr: string }): Command<PciResult> {
    return build("pci-show", [["addr", a.addr]]);
  },
  pciBind(a: { addr: string; driver: string }): Command<PciResult> {
    return build("pci-bind", [
      ["addr", a.addr],
      ["driver", a.driver],
    ]);
  },
  sriovNumvfs(a: { addr: string; count: number }): Command<PciResult> {
    return build("sriov-numvfs", [
      ["addr", a.addr],
      ["count", a.count],
    ]);
  },
  /**
   * Gives a PCI function back to its default kernel driver (clear driver_override, unbind, drivers_probe);
   * EBUSY while a workload holds its VFIO group. `pci.driver` is null when no driver claims it.
   */
  pciReprobe(a: { addr: string }): Command<PciResult> {
    return build("pci-reprobe", [["addr", a.addr]]);
  },
  vfioInfo(a: { addr: string }): Command<VfioInfo> {
    return build("vfio-info", [["addr", a.addr]]);
  },
  vdpaList(): Command<{ vdpa: VdpaDevice[] }> {
    return build("vdpa-list", []);
  },
  vdpaShow(a: { dev: string }): Command<VdpaResult> {
    return build("vdpa-show", [["dev", a.dev]]);
  },
  vdpaBind(a: { dev: string; driver: VdpaDriver }): Command<VdpaResult> {
    return build("vdpa-bind", [
      ["dev", a.dev],
      ["driver", a.driver],
    ]);
  },
  vdpaConfigSet(a: { dev: string; mac: string }): Command<VdpaResult> {
    return build("vdpa-config-set", [
      ["dev", a.dev],
      ["mac", a.mac],
    ]);
  },
  vhostVdpaInfo(a: { dev: string }): Command<VhostVdpaInfo> {
    return build("vhost-vdpa-info", [["dev", a.dev]]);
  },
  /** The vdpa management devices; [] without a vdpa bus. */
  vdpaMgmtdevList(): Command<{ mgmtdevs: VdpaMgmtdev[] }> {
    return build("vdpa-mgmtdev-list", []);
  },
  /**
   * Creates vdpa device `name` on `mgmtdev` ("pci/0000:00:02.1" or "vduse"), with the virtio-net attributes
   * given (a management device that does not take one fails with EOPNOTSUPP and the kernel's words).
   */
  vdpaDevAdd(a: { name: string; mgmtdev: string; mac?: string; mtu?: number; maxVqp?: number }): Command<VdpaResult> {
    return build("vdpa-dev-add", [
      ["name", a.name],
      ["mgmtdev", a.mgmtdev],
      ["mac", a.mac],
      ["mtu", a.mtu],
      ["max_vqp", a.maxVqp],
    ]);
  },
  /** Deletes a vdpa device: ENODEV when there is none; EBUSY while a workload holds its vhost-vdpa device. */
  vdpaDevDel(a: { dev: string }): Command<Empty> {
    return build("vdpa-dev-del", [["dev", a.dev]]);
  },
  inventory(a: { vdpa?: boolean } = {}): Command<Inventory> {
    return build("inventory", [["vdpa", a.vdpa]]);
  },
  /** A new, empty netns mounted at `/run/netns/<name>`; EEXIST when the name is taken. */
  netnsCreate(a: { path: string }): Command<NetnsResult> {
    return build("netns-create", [["path", a.path]]);
  },
  /** Unmounts and removes a netns made by netnsCreate (or `ip netns add`); ENOENT when it does not exist. */
  netnsDelete(a: { path: string }): Command<Empty> {
    return build("netns-delete", [["path", a.path]]);
  },
};

/** One typed builder per helper command. */
export const cmd = { ...coreCommands, ...phase2Commands };

/** Maps a tuple of commands to the tuple of their results. */
export type ResultsOf<C extends readonly Command<unknown>[]> = {
  -readonly [K in keyof C]: C[K] extends Command<infer R> ? R : never;
};
