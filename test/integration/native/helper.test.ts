// accelnet-helper (ASan/UBSan build) through the TypeScript client, against real
// network namespaces: every CNI-core command, batch semantics and error shape.
import { statSync } from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { cmd, type Link } from "../../../native/client/index.js";
import { addNetns, delNetns, failure, ip, isRoot, linkNames, readSysctl, tag, useSanitizedClient } from "./_netns.js";

const t = tag();
const HOST = `nhl-h-${t}`;
const POD = `nhl-p-${t}`;
const MASTER = `nhl${t}m`; // veth in HOST, master of the macvlans
const PEER = `nhl${t}n`;

describe.skipIf(!isRoot)("accelnet-helper in network namespaces (needs root)", () => {
  const client = useSanitizedClient();
  let hostNs = "";
  let podNs = "";

  beforeAll(() => {
    hostNs = addNetns(HOST);
    podNs = addNetns(POD);
    ip("-n", HOST, "link", "add", MASTER, "type", "veth", "peer", "name", PEER);
    ip("-n", HOST, "link", "set", MASTER, "up");
  });

  afterEach(() => {
    // Each test leaves the pod netns with only lo.
    for (const name of linkNames(POD)) if (name !== "lo") ip("-n", POD, "link", "del", name);
  });

  afterAll(() => {
    delNetns(POD);
    delNetns(HOST);
  });

  const add = (name: string, extra: Partial<Parameters<typeof cmd.macvlanAdd>[0]> = {}) =>
    cmd.macvlanAdd({ netns: podNs, master: MASTER, masterNetns: hostNs, name, mode: "bridge", ...extra });

  it("netns-check returns the path and the namespace inode", async () => {
    const [r] = await client.run([cmd.netnsCheck({ path: podNs })]);
    expect(r.netns).toEqual({ path: podNs, inode: statSync(podNs).ino });
  });

  it("macvlan-add creates the link in the target netns from a master in master-netns", async () => {
    const [masterShow] = await client.run([cmd.linkShow({ netns: hostNs, name: MASTER })]);
    const [r] = await client.run([add("tmp0", { mac: "02:aa:bb:cc:dd:01", mtu: 1400, bcqueuelen: 100 })]);
    expect(r.link).toMatchObject({
      name: "tmp0",
      kind: "macvlan",
      macvlanMode: "bridge",
      mac: "02:aa:bb:cc:dd:01",
      mtu: 1400,
      link: masterShow.link.index,
      up: false,
      vfs: [],
    });
    expect(r.link.linkNetnsid).toEqual(expect.any(Number));
    expect(linkNames(POD)).toEqual(["lo", "tmp0"]);
    expect(linkNames(HOST)).not.toContain("tmp0");
  });

  it.each(["bridge", "private", "vepa", "passthru", "source"] as const)(
    "macvlan-add creates mode %s and link-show reports it",
    async (mode) => {
      const [, shown] = await client.run([add("m0", { mode }), cmd.linkShow({ netns: podNs, name: "m0" })]);
      expect(shown.link.kind).toBe("macvlan");
      expect(shown.link.macvlanMode).toBe(mode);
    },
  );

  it("runs a whole ADD in one exec and link-show reports links, addresses and routes", async () => {
    const results = await client.run([
      add("tmp1"),
      cmd.linkRename({ netns: podNs, name: "tmp1", newname: "net1" }),
      cmd.linkSetMac({ netns: podNs, name: "net1", mac: "02:aa:bb:cc:dd:02" }),
      cmd.linkSetMtu({ netns: podNs, name: "net1", mtu: 1450 }),
      cmd.linkUp({ netns: podNs, name: "net1" }),
      cmd.addrAdd({ netns: podNs, name: "net1", addr: "10.77.0.2/24" }),
      cmd.addrAdd({ netns: podNs, name: "net1", addr: "fd77::2/64" }),
      cmd.routeAdd({ netns: podNs, dst: "10.78.0.0/16", gw: "10.77.0.1", name: "net1", metric: 50 }),
      cmd.routeAdd({ netns: podNs, dst: "0.0.0.0/0", gw: "10.77.0.1" }),
      cmd.sysctlSet({ netns: podNs, name: "net1", key: "arp_notify", value: 1 }),
      cmd.sysctlSet({ netns: podNs, name: "net1", key: "ndisc_notify", value: 1 }),
      cmd.linkShow({ netns: podNs, name: "net1", addrs: true, routes: true }),
    ]);
    const [, renamed, macSet, mtuSet, upped, a4, a6, r1, r2, arp, ndisc, shown] = results;
    expect(renamed.link.name).toBe("net1");
    expect(macSet.link.mac).toBe("02:aa:bb:cc:dd:02");
    expect(mtuSet.link.mtu).toBe(1450);
    expect(upped.link.up).toBe(true);
    expect([a4, a6, r1, r2]).toEqual([{}, {}, {}, {}]);
    expect(arp).toEqual({ previous: 0 });
    expect(ndisc).toEqual({ previous: 0 });
    expect(readSysctl(POD, "net/ipv4/conf/net1/arp_notify")).toBe("1");
    expect(readSysctl(POD, "net/ipv6/conf/net1/ndisc_notify")).toBe("1");

    const link: Link = shown.link;
    expect(link).toMatchObject({ name: "net1", kind: "macvlan", mtu: 1450, up: true, mac: "02:aa:bb:cc:dd:02" });
    expect(shown.addrs).toEqual(
      expect.arrayContaining([
        { family: 4, address: "10.77.0.2", prefixlen: 24, ifindex: link.index, scope: "global" },
        { family: 6, address: "fd77::2", prefixlen: 64, ifindex: link.index, scope: "global" },
      ]),
    );
    expect(shown.routes).toEqual(
      expect.arrayContaining([
        {
          family: 4,
          dst: "10.78.0.0/16",
          gateway: "10.77.0.1",
          oif: link.index,
          table: 254,
          scope: "universe",
          protocol: "boot",
          metric: 50,
        },
        {
          family: 4,
          dst: "0.0.0.0/0",
          gateway: "10.77.0.1",
          oif: link.index,
          table: 254,
          scope: "universe",
          protocol: "boot",
          metric: 0,
        },
        {
          family: 4,
          dst: "10.77.0.0/24",
          gateway: null,
          oif: link.index,
          table: 254,
          scope: "link",
          protocol: "kernel",
          metric: 0,
        },
      ]),
    );
    const [again] = await client.run([cmd.sysctlSet({ netns: podNs, name: "net1", key: "arp_notify", value: 0 })]);
    expect(again).toEqual({ previous: 1 });
  });

  it("link-down, addr-del and route-del undo what was set", async () => {
    await client.run([
      add("net2"),
      cmd.linkUp({ netns: podNs, name: "net2" }),
      cmd.addrAdd({ netns: podNs, name: "net2", addr: "10.79.0.2/24" }),
      cmd.routeAdd({ netns: podNs, dst: "10.80.0.0/16", gw: "10.79.0.1" }),
    ]);
    // Route first: taking the link down would make the kernel flush it.
    const [, , down, addrs, routes] = await client.run([
      cmd.routeDel({ netns: podNs, dst: "10.80.0.0/16", gw: "10.79.0.1" }),
      cmd.addrDel({ netns: podNs, name: "net2", addr: "10.79.0.2/24" }),
      cmd.linkDown({ netns: podNs, name: "net2" }),
      cmd.addrList({ netns: podNs, name: "net2", family: 4 }),
      cmd.routeList({ netns: podNs, family: 4 }),
    ]);
    expect(down.link.up).toBe(false);
    expect(addrs.addrs).toEqual([]);
    expect(routes.routes.map((r) => r.dst)).not.toContain("10.80.0.0/16");
  });

  it("addr-list and route-list filter by name, family and table", async () => {
    await client.run([
      add("net3"),
      add("net4"),
      cmd.linkUp({ netns: podNs, name: "net3" }),
      cmd.linkUp({ netns: podNs, name: "net4" }),
      cmd.addrAdd({ netns: podNs, name: "net3", addr: "10.81.0.2/24" }),
      cmd.addrAdd({ netns: podNs, name: "net3", addr: "fd81::2/64" }),
      cmd.addrAdd({ netns: podNs, name: "net4", addr: "10.82.0.2/24" }),
      cmd.routeAdd({ netns: podNs, dst: "10.83.0.0/16", name: "net3", table: 100 }),
    ]);
    const [net3v4, all4, t100, main6] = await client.run([
      cmd.addrList({ netns: podNs, name: "net3", family: 4 }),
      cmd.addrList({ netns: podNs, family: 4 }),
      cmd.routeList({ netns: podNs, table: 100 }),
      cmd.routeList({ netns: podNs, name: "net3", family: 6 }),
    ]);
    expect(net3v4.addrs.map((a) => a.address)).toEqual(["10.81.0.2"]);
    expect(all4.addrs.map((a) => a.address).sort()).toEqual(["10.81.0.2", "10.82.0.2", "127.0.0.1"]);
    expect(t100.routes).toEqual([
      expect.objectContaining({ dst: "10.83.0.0/16", table: 100, scope: "link", gateway: null }),
    ]);
    expect(main6.routes.every((r) => r.family === 6)).toBe(true);
    expect(main6.routes.map((r) => r.dst)).toContain("fd81::/64");
  });

  it("link-list lists every link of the netns", async () => {
    const [, list] = await client.run([add("net5"), cmd.linkList({ netns: podNs })]);
    expect(list.links.map((l) => l.name).sort()).toEqual(["lo", "net5"]);
  });

  it("link-del removes the link and link-show then fails with ENODEV", async () => {
    await client.run([add("net6"), cmd.linkDel({ netns: podNs, name: "net6" })]);
    expect(linkNames(POD)).toEqual(["lo"]);
    const e = await failure(client.run([cmd.linkShow({ netns: podNs, name: "net6" })]));
    expect(e).toMatchObject({ errname: "ENODEV", errno: 19, op: "RTM_GETLINK", object: "net6", index: 0, exitCode: 1 });
    expect(e.message).toBe('Cannot link-show "net6": No such device');
  });

  it("link-del by index removes the link whatever its name; a missing index is ENODEV", async () => {
    const [created] = await client.run([add("tmp9")]);
    await client.run([cmd.linkRename({ netns: podNs, name: "tmp9", newname: "net9" })]);
    await client.run([cmd.linkDelByIndex({ netns: podNs, index: created.link.index })]);
    expect(linkNames(POD)).toEqual(["lo"]);
    const e = await failure(client.run([cmd.linkDelByIndex({ netns: podNs, index: created.link.index })]));
    expect(e).toMatchObject({ errname: "ENODEV", op: "RTM_DELLINK", object: String(created.link.index), exitCode: 1 });
  });

  it.each([
    ["neither name nor index", [`netns=${"POD"}`]],
    ["both name and index", [`netns=${"POD"}`, "name=net1", "index=3"]],
    ["index 0", [`netns=${"POD"}`, "index=0"]],
  ])("link-del with %s is refused before anything runs (exit 2)", async (_why, args) => {
    const e = await failure(client.run([{ name: "link-del", args: args.map((a) => a.replace("POD", podNs)) }]));
    expect(e).toMatchObject({ exitCode: 2, op: "parse" });
  });

  it('a name with "%" is refused (exit 2): the kernel would take it as a template', async () => {
    const e = await failure(client.run([add("net%d")]));
    expect(e).toMatchObject({ exitCode: 2, op: "parse", object: "name" });
    expect(linkNames(POD)).toEqual(["lo"]);
  });

  it("link-rename onto an existing name fails with EEXIST and stops the batch", async () => {
    await client.run([add("net7"), add("tmp7")]);
    const e = await failure(
      client.run([
        cmd.linkUp({ netns: podNs, name: "tmp7" }),
        cmd.linkRename({ netns: podNs, name: "tmp7", newname: "net7" }),
        cmd.linkDown({ netns: podNs, name: "tmp7" }),
      ]),
    );
    expect(e).toMatchObject({
      index: 1,
      cmd: "link-rename",
      op: "RTM_NEWLINK",
      object: "tmp7",
      errno: 17,
      errname: "EEXIST",
      exitCode: 1,
      timedOut: false,
    });
    expect(e.message).toBe('Cannot link-rename "tmp7": File exists');
    expect(e.completed).toHaveLength(1);
    expect((e.completed[0] as { link: Link }).link.up).toBe(true);
    // link-down did not run: the link is still up.
    const [shown] = await client.run([cmd.linkShow({ netns: podNs, name: "tmp7" })]);
    expect(shown.link.up).toBe(true);
  });

  it("addr-add of an existing address fails with EEXIST naming the address", async () => {
    await client.run([add("net8"), cmd.addrAdd({ netns: podNs, name: "net8", addr: "10.84.0.2/24" })]);
    const e = await failure(client.run([cmd.addrAdd({ netns: podNs, name: "net8", addr: "10.84.0.2/24" })]));
    expect(e).toMatchObject({ op: "RTM_NEWADDR", object: "10.84.0.2/24", errname: "EEXIST" });
  });

  it("route-add through an unreachable gateway reports the kernel's extack text", async () => {
    await client.run([add("net9"), cmd.linkUp({ netns: podNs, name: "net9" })]);
    const e = await failure(client.run([cmd.routeAdd({ netns: podNs, dst: "10.85.0.0/16", gw: "10.86.0.1" })]));
    expect(e).toMatchObject({ op: "RTM_NEWROUTE", object: "10.85.0.0/16", errname: "ENETUNREACH" });
    expect(e.extack).toEqual(expect.stringMatching(/gateway/i));
    expect(e.message).toBe(`Cannot route-add "10.85.0.0/16": Network is unreachable: ${e.extack ?? ""}`);
  });

  it("macvlan-add on a missing master fails with ENODEV naming the master", async () => {
    const e = await failure(
      client.run([
        cmd.macvlanAdd({ netns: podNs, master: "nhl-nomaster", masterNetns: hostNs, name: "x0", mode: "bridge" }),
      ]),
    );
    expect(e).toMatchObject({ op: "RTM_GETLINK", object: "nhl-nomaster", errname: "ENODEV" });
    expect(linkNames(POD)).toEqual(["lo"]);
  });

  it("link-set-mtu above the master's MTU is refused by the kernel", async () => {
    await client.run([add("net10")]);
    const e = await failure(client.run([cmd.linkSetMtu({ netns: podNs, name: "net10", mtu: 9000 })]));
    expect(e).toMatchObject({ op: "RTM_NEWLINK", object: "net10", errname: "EINVAL", exitCode: 1 });
  });

  it("link-show of the helper's own netns works without netns", async () => {
    const [r] = await client.run([cmd.linkShow({ name: "lo" })]);
    expect(r.link).toMatchObject({ index: 1, name: "lo", up: true });
  });
});
