// Typed builders, one per helper command (PROTOCOL.md). They serialize values
// (booleans as 0/1, numbers as decimal, camelCase keys as the helper's keys)
// and leave every check to the helper, which validates before running anything.
import type { Address, Link, MacvlanMode, Route, RouteArgs } from "./types.js";

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

export const cmd = {
  netnsCheck(a: { path: string }): Command<{ netns: { path: string; inode: number } }> {
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

/** Maps a tuple of commands to the tuple of their results. */
export type ResultsOf<C extends readonly Command<unknown>[]> = {
  -readonly [K in keyof C]: C[K] extends Command<infer R> ? R : never;
};
