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

describe("phase 2 cmd builders (SR-IOV, PCI, vDPA, discovery)", () => {
  it("vfSet() turns one setting into the helper's keys (on/off, snake_case rates)", () => {
    const base = { pf: "ens1f0", vf: 2 };
    expect(cmd.vfSet({ ...base, setting: { mac: "02:00:00:00:00:01" } })).toEqual({
      name: "vf-set",
      args: ["pf=ens1f0", "vf=2", "mac=02:00:00:00:00:01"],
    });
    // The all-zero MAC (clear the admin MAC) goes through as given: the helper validates it.
    expect(cmd.vfSet({ ...base, setting: { mac: "00:00:00:00:00:00" } }).args).toContain("mac=00:00:00:00:00:00");
    expect(cmd.vfSet({ ...base, setting: { vlan: 100, qos: 3, proto: "802.1ad" } }).args).toEqual([
      "pf=ens1f0",
      "vf=2",
      "vlan=100",
      "qos=3",
      "proto=802.1ad",
    ]);
    expect(cmd.vfSet({ ...base, setting: { vlan: 0 } }).args).toEqual(["pf=ens1f0", "vf=2", "vlan=0"]);
    expect(cmd.vfSet({ ...base, setting: { spoofchk: false } }).args).toContain("spoofchk=off");
    expect(cmd.vfSet({ ...base, setting: { trust: true } }).args).toContain("trust=on");
    expect(cmd.vfSet({ ...base, setting: { state: "disable" } }).args).toContain("state=disable");
    expect(cmd.vfSet({ ...base, netns: "/run/netns/h", setting: { maxTxRate: 100 } }).args).toEqual([
      "pf=ens1f0",
      "vf=2",
      "netns=/run/netns/h",
      "max_tx_rate=100",
    ]);
    expect(cmd.vfSet({ ...base, setting: { minTxRate: 10, maxTxRate: 0 } }).args).toEqual([
      "pf=ens1f0",
      "vf=2",
      "min_tx_rate=10",
      "max_tx_rate=0",
    ]);
  });

  it("link, PCI, vDPA and inventory builders name the helper's commands and keys", () => {
    expect(cmd.linkMove({ netns: "/run/netns/a", name: "eth1", to: "/run/netns/b", newname: "net1" })).toEqual({
      name: "link-move",
      args: ["netns=/run/netns/a", "name=eth1", "to=/run/netns/b", "newname=net1"],
    });
    expect(cmd.linkAltnameDel({ name: "net1", altname: "enp0s3" })).toEqual({
      name: "link-altname-del",
      args: ["name=net1", "altname=enp0s3"],
    });
    expect(cmd.vfShow({ pf: "ens1f0" })).toEqual({ name: "vf-show", args: ["pf=ens1f0"] });
    expect(cmd.pciShow({ addr: "0000:00:12.0" })).toEqual({ name: "pci-show", args: ["addr=0000:00:12.0"] });
    expect(cmd.pciBind({ addr: "0000:00:12.0", driver: "vfio-pci" }).args).toEqual([
      "addr=0000:00:12.0",
      "driver=vfio-pci",
    ]);
    expect(cmd.sriovNumvfs({ addr: "0000:00:02.0", count: 0 })).toEqual({
      name: "sriov-numvfs",
      args: ["addr=0000:00:02.0", "count=0"],
    });
    expect(cmd.vfioInfo({ addr: "0000:00:12.0" }).name).toBe("vfio-info");
    expect(cmd.vdpaList()).toEqual({ name: "vdpa-list", args: [] });
    expect(cmd.vdpaShow({ dev: "vdpa0" }).args).toEqual(["dev=vdpa0"]);
    expect(cmd.vdpaBind({ dev: "vdpa0", driver: "virtio_vdpa" }).args).toEqual(["dev=vdpa0", "driver=virtio_vdpa"]);
    expect(cmd.vdpaConfigSet({ dev: "vdpa0", mac: "02:00:00:00:00:09" }).name).toBe("vdpa-config-set");
    expect(cmd.vhostVdpaInfo({ dev: "vdpa0" })).toEqual({ name: "vhost-vdpa-info", args: ["dev=vdpa0"] });
    expect(cmd.inventory()).toEqual({ name: "inventory", args: [] });
    expect(cmd.inventory({ vdpa: false }).args).toEqual(["vdpa=0"]);
  });

  it("node-setup builders: pciReprobe(), vdpaMgmtdevList(), vdpaDevAdd() (maxVqp as max_vqp, omitted keys left out), vdpaDevDel()", () => {
    expect(cmd.pciReprobe({ addr: "0000:00:12.0" })).toEqual({ name: "pci-reprobe", args: ["addr=0000:00:12.0"] });
    expect(cmd.vdpaMgmtdevList()).toEqual({ name: "vdpa-mgmtdev-list", args: [] });
    expect(cmd.vdpaDevAdd({ name: "vdpa0", mgmtdev: "vduse" })).toEqual({
      name: "vdpa-dev-add",
      args: ["name=vdpa0", "mgmtdev=vduse"],
    });
    expect(
      cmd.vdpaDevAdd({ name: "vdpa1", mgmtdev: "pci/0000:00:02.1", mac: "02:00:00:00:00:0a", mtu: 9000, maxVqp: 4 })
        .args,
    ).toEqual(["name=vdpa1", "mgmtdev=pci/0000:00:02.1", "mac=02:00:00:00:00:0a", "mtu=9000", "max_vqp=4"]);
    expect(cmd.vdpaDevDel({ dev: "vdpa1" })).toEqual({ name: "vdpa-dev-del", args: ["dev=vdpa1"] });
  });

  it("netnsCreate() and netnsDelete() pass the path as the helper's path key", () => {
    expect(cmd.netnsCreate({ path: "/run/netns/acn-tmp-1" })).toEqual({
      name: "netns-create",
      args: ["path=/run/netns/acn-tmp-1"],
    });
    expect(cmd.netnsDelete({ path: "/run/netns/acn-tmp-1" })).toEqual({
      name: "netns-delete",
      args: ["path=/run/netns/acn-tmp-1"],
    });
  });
});
