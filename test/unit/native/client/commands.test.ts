// native/client/commands.ts: builders serialize exactly the helper's argv.
import { describe, expect, it } from "vitest";

import { cmd } from "../../../../native/client/commands.js";

describe("cmd builders", () => {
  it("linkShow() serializes booleans as 1/0 and omits undefined keys", () => {
    expect(cmd.linkShow({ name: "net1", addrs: true, routes: false })).toEqual({
      name: "link-show",
      args: ["name=net1", "addrs=1", "routes=0"],
    });
    expect(cmd.linkShow({ netns: "/run/netns/a", name: "net1" }).args).toEqual(["netns=/run/netns/a", "name=net1"]);
  });

  it("macvlanAdd() maps masterNetns to master-netns and numbers to decimal", () => {
    expect(
      cmd.macvlanAdd({
        netns: "/run/netns/p",
        master: "eth0",
        name: "tmp1",
        mode: "vepa",
        masterNetns: "/run/netns/h",
        mac: "02:00:00:00:00:01",
        mtu: 1400,
        bcqueuelen: 0,
      }).args,
    ).toEqual([
      "netns=/run/netns/p",
      "master=eth0",
      "name=tmp1",
      "mode=vepa",
      "master-netns=/run/netns/h",
      "mac=02:00:00:00:00:01",
      "mtu=1400",
      "bcqueuelen=0",
    ]);
  });

  it("routeAdd() and routeDel() share the route keys", () => {
    const a = { dst: "0.0.0.0/0", gw: "10.0.0.1", name: "net1", metric: 100, table: 254, scope: "universe" } as const;
    expect(cmd.routeAdd(a)).toEqual({
      name: "route-add",
      args: ["dst=0.0.0.0/0", "gw=10.0.0.1", "name=net1", "metric=100", "table=254", "scope=universe"],
    });
    expect(cmd.routeDel({ dst: "10.0.0.0/8" })).toEqual({ name: "route-del", args: ["dst=10.0.0.0/8"] });
  });

  it("the remaining builders name their command and keys", () => {
    expect(cmd.netnsCheck({ path: "/proc/1/ns/net" })).toEqual({ name: "netns-check", args: ["path=/proc/1/ns/net"] });
    expect(cmd.linkList({})).toEqual({ name: "link-list", args: [] });
    expect(cmd.addrList({ name: "a", family: 6 }).args).toEqual(["name=a", "family=6"]);
    expect(cmd.routeList({ family: 4, table: 100 }).args).toEqual(["family=4", "table=100"]);
    expect(cmd.linkRename({ name: "a", newname: "b" })).toEqual({ name: "link-rename", args: ["name=a", "newname=b"] });
    expect(cmd.linkSetMac({ name: "a", mac: "02:00:00:00:00:02" }).name).toBe("link-set-mac");
    expect(cmd.linkSetMtu({ name: "a", mtu: 9000 }).args).toEqual(["name=a", "mtu=9000"]);
    expect(cmd.linkUp({ name: "a" }).name).toBe("link-up");
    expect(cmd.linkDown({ name: "a" }).name).toBe("link-down");
    expect(cmd.linkDel({ name: "a" }).name).toBe("link-del");
    expect(cmd.addrAdd({ name: "a", addr: "10.0.0.2/24" }).args).toEqual(["name=a", "addr=10.0.0.2/24"]);
    expect(cmd.addrDel({ name: "a", addr: "fd00::2/64" }).name).toBe("addr-del");
    expect(cmd.sysctlSet({ name: "a", key: "ndisc_notify", value: 0 })).toEqual({
      name: "sysctl-set",
      args: ["name=a", "key=ndisc_notify", "value=0"],
    });
  });

  it("passes values through unchanged so the helper can refuse them", () => {
    expect(cmd.linkSetMtu({ name: "a b", mtu: 1.5 }).args).toEqual(["name=a b", "mtu=1.5"]);
  });
});
