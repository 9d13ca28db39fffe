import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseCniArgs } from "../../../../cni/lib/cni-args.js";
import { attachmentLockPath, processStartTime } from "../../../../cni/lib/lock.js";
import { parseNetConf } from "../../../../cni/lib/netconf.js";
import { StateStore } from "../../../../cni/lib/state.js";
import { defaultRegistry, modeFuncs } from "../../../../cni/modes/index.js";
import { parseConf } from "../../../../cni/modes/macvlan.js";
import { cniCaller } from "../dispatch-harness.js";
import { installFakeIpam } from "../fake-ipam.js";
import { FakeNative } from "../fake-native.js";

const notVdpa = () => false;

describe("macvlan parseConf()", () => {
  const parse = (raw: Record<string, unknown>, cniArgs = "") =>
    parseConf({ conf: parseNetConf({ name: "n", type: "accelnet", ...raw }), cniArgs: parseCniArgs(cniArgs) });

  it("applies the reference defaults: bridge, inherit MTU, master from the default route", () => {
    expect(parse({})).toMatchObject({ mode: "bridge", mtu: 0, linkInContainer: false });
    expect(parse({}).master).toBeUndefined();
    expect(parse({}).mac).toBeUndefined();
  });

  it("reads the vpp-server NAD unchanged", () => {
    expect(parse({ cniVersion: "0.3.1", master: "eth1", mode: "bridge", linkInContainer: false })).toMatchObject({
      master: "eth1",
      mode: "bridge",
      linkInContainer: false,
    });
  });

  it("takes the MAC from runtimeConfig, then args.cni, then CNI_ARGS, then `mac`", () => {
    const all = {
      runtimeConfig: { mac: "02:00:00:00:00:01" },
      args: { cni: { mac: "02:00:00:00:00:02" } },
      mac: "02:00:00:00:00:04",
    };
    expect(parse(all, "MAC=02:00:00:00:00:03").mac).toBe("02:00:00:00:00:01");
    expect(parse({ ...all, runtimeConfig: {} }, "MAC=02:00:00:00:00:03").mac).toBe("02:00:00:00:00:02");
    expect(parse({ mac: "02:00:00:00:00:04" }, "MAC=02:00:00:00:00:03").mac).toBe("02:00:00:00:00:03");
    expect(parse({ mac: "02:00:00:00:00:0A" }).mac).toBe("02:00:00:00:00:0a");
  });

  it.each([
    [{ master: 5 }, "", 'Cannot use config field "master": expected a string, got number'],
    [
      { master: "../eth0" },
      "",
      'Cannot use config field "master": "../eth0" is not an interface name: has characters the kernel or helper refuse (allowed: printable ASCII without space, "/" and ":")',
    ],
    [
      { master: "a-very-long-ifname0" },
      "",
      'Cannot use config field "master": "a-very-long-ifname0" is not an interface name: longer than 15 bytes',
    ],
    // A lone UTF-16 surrogate once reached encodeURIComponent ("URI malformed", code 999).
    [
      { master: "eth\ud800" },
      "",
      'Cannot use config field "master": "eth\\ud800" is not an interface name: has characters the kernel or helper refuse (allowed: printable ASCII without space, "/" and ":")',
    ],
    [
      { master: "eth%d" },
      "",
      'Cannot use config field "master": "eth%d" is not an interface name: contains "%" (the kernel would take it as a name template)',
    ],
    [{ mode: "vlan" }, "", 'Cannot use config field "mode": "vlan" is not one of bridge, private, vepa, passthru'],
    [{ mtu: "1500" }, "", 'Cannot use config field "mtu": expected an integer, got string'],
    [{ mtu: -1 }, "", 'Cannot use config field "mtu": -1 is out of range [0, 65535]'],
    [{ mtu: 40 }, "", 'Cannot use config field "mtu": 40 is below the minimum 68 (0 inherits the master\'s)'],
    [
      { mac: "zz:00:00:00:00:01" },
      "",
      'Cannot use config field "mac": "zz:00:00:00:00:01" is not a MAC address (xx:xx:xx:xx:xx:xx)',
    ],
    [{ mac: "01:00:5e:00:00:01" }, "", 'Cannot use config field "mac": "01:00:5e:00:00:01" is a multicast address'],
    [{}, "MAC=00:00:00:00:00:00", 'Cannot use config field "CNI_ARGS MAC": "00:00:00:00:00:00" is all zeros'],
    [{ linkInContainer: "false" }, "", 'Cannot use config field "linkInContainer": expected a boolean, got string'],
    [{ bcqueuelen: -5 }, "", 'Cannot use config field "bcqueuelen": -5 is out of range [0, 2147483647]'],
  ])("rejects %j %s with code 7", (raw, args, msg) => {
    expect(() => parse(raw, args)).toThrow(expect.objectContaining({ code: 7, message: msg }));
  });
});

describe("macvlan mode through the dispatcher (fake helper)", () => {
  let dir: string;
  let netns: string;
  let native: FakeNative;
  let ipamLog: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "acn-macvlan-"));
    netns = join(dir, "netns-pod");
    writeFileSync(netns, "");
    ipamLog = join(dir, "ipam.log");
    installFakeIpam(dir);
    native = new FakeNative();
    native.addNetns(netns);
    native.addLink("", "eth1", { mtu: 1500, kind: "veth" });
    native.addLink("", "eth0", { mtu: 1500, kind: "veth", index: 2 });
    native.hostRoutes = [{ dst: "0.0.0.0/0", gateway: "192.168.1.1", oif: 2 }];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const confOf = (extra: Record<string, unknown> = {}) => ({
    cniVersion: "1.0.0",
    name: "macnet",
    type: "accelnet",
    master: "eth1",
    ...extra,
  });

  const call = cniCaller(() => ({
    funcs: modeFuncs(defaultRegistry(), { isVdpaDevice: notVdpa }),
    deps: { native: () => native, lockTimeoutMs: 200 },
    env: {
      PATH: process.env["PATH"],
      ACCELNET_STATE_DIR: join(dir, "state"),
      CNI_CONTAINERID: "c1",
      CNI_NETNS: netns,
      CNI_IFNAME: "net1",
      CNI_PATH: dir,
      FAKE_LOG: ipamLog,
    },
  }));
  async function cni(command: string, conf: Record<string, unknown>, envOver: Record<string, string> = {}) {
    const { code, out } = await call(command, conf, envOver);
    return { code, out };
  }
  const ipamCalls = () => (existsSync(ipamLog) ? readFileSync(ipamLog, "utf8").trim().split("\n") : []);
  const names = (batch: number) => native.batches[batch]?.map((c) => c.name);
  const state = () => new StateStore(join(dir, "state")).read("c1", "net1");

  it("add() of the vpp-server NAD (no IPAM) is one helper exec and brings the link up", async () => {
    const { code, out } = await cni("ADD", confOf({ cniVersion: "0.3.1", mode: "bridge", linkInContainer: false }));
    expect(code).toBe(0);
    expect(out).toEqual({
      cniVersion: "0.3.1",
      interfaces: [{ name: "net1", mac: "02:00:00:00:00:10", sandbox: netns }],
      dns: {},
    });
    expect(native.batches).toHaveLength(1);
    expect(names(0)).toEqual(["netnscheck", "linkshow", "macvlanadd", "linkrename", "linkup"]);
    expect(native.batches[0]?.[2]?.args).toMatchObject({ netns, master: "eth1", mode: "bridge" });
    expect(native.linkIn(netns, "net1")?.link).toMatchObject({ kind: "macvlan", up: true, macvlanMode: "bridge" });
    expect(state()).toMatchObject({ containerID: "c1", ifname: "net1", netns, network: "macnet", mode: "macvlan" });
  });

  it("add() with IPAM: create batch, IPAM ADD, one configure batch with the gateway filled into routes", async () => {
    const { code, out } = await cni("ADD", confOf({ ipam: { type: "fake" }, mode: "vepa", mtu: 1400 }));
    expect(code).toBe(0);
    expect(out).toEqual({
      cniVersion: "1.0.0",
      interfaces: [{ name: "net1", mac: "02:00:00:00:00:10", sandbox: netns }],
      ips: [{ interface: 0, address: "10.9.0.2/24", gateway: "10.9.0.1" }],
      routes: [{ dst: "0.0.0.0/0" }],
      dns: {},
    });
    expect(native.batches).toHaveLength(2);
    expect(names(0)).toEqual(["netnscheck", "linkshow", "macvlanadd", "linkrename"]);
    expect(native.batches[0]?.[2]?.args).toMatchObject({ mode: "vepa", mtu: "1400" });
    expect(names(1)).toEqual(["sysctlset", "addradd", "linkup", "routeadd"]);
    expect(native.batches[1]?.[3]?.args).toMatchObject({ dst: "0.0.0.0/0", gw: "10.9.0.1", name: "net1" });
    expect(ipamCalls()).toEqual(["ADD 1.0.0"]);
  });

  it("add() at 1.1.0 reports the interface MTU and retries IPAM at 1.0.0", async () => {
    const { out } = await cni("ADD", confOf({ cniVersion: "1.1.0", ipam: { type: "fake" } }));
    expect(out?.["interfaces"]).toEqual([{ name: "net1", mac: "02:00:00:00:00:10", mtu: 1500, sandbox: netns }]);
    expect(ipamCalls()).toEqual(["ADD 1.1.0", "VERSION 1.1.0", "ADD 1.0.0"]);
    // DEL re-uses the version IPAM accepted at ADD: no second fallback round trip.
    await cni("DEL", confOf({ cniVersion: "1.1.0", ipam: { type: "fake" } }));
    expect(ipamCalls().slice(3)).toEqual(["DEL 1.0.0"]);
  });

  it("add() without master uses the interface of the host's default route", async () => {
    const { code } = await cni("ADD", confOf({ master: undefined }));
    expect(code).toBe(0);
    expect(names(0)).toEqual(["routelist", "linklist"]);
    expect(native.batches[1]?.[2]?.args["master"]).toBe("eth0");
  });

  it.each([
    ["a missing master", { master: "eth9" }, 7, 'Cannot find master "eth9": no such interface'],
    [
      "an MTU above the master's",
      { mtu: 9000 },
      7,
      'Cannot use config field "mtu": 9000 is above master "eth1" MTU 1500',
    ],
  ])("add() with %s fails with code %i and creates nothing", async (_n, extra, code, msg) => {
    const before = native.linkCount();
    const { out } = await cni("ADD", confOf({ ipam: { type: "fake" }, ...extra }));
    expect(out).toMatchObject({ code, msg });
    expect(native.linkCount()).toBe(before);
    expect(ipamCalls()).toEqual([]);
    expect(state()).toBeNull();
  });

  it("add() when CNI_IFNAME exists fails with 104 and deletes the temporary link", async () => {
    native.addLink(netns, "net1", { kind: "veth" });
    const before = native.linkCount();
    const { out } = await cni("ADD", confOf());
    expect(out).toMatchObject({
      code: 104,
      msg: `Cannot create interface "net1" in netns "${netns}": an interface with that name already exists`,
    });
    expect(native.linkCount()).toBe(before);
    expect(native.linkIn(netns, "net1")?.link.kind).toBe("veth");
  });

  it("add() whose helper times out after creating the link deletes the macvlan under its temporary name", async () => {
    native.timeOutAfter("macvlan-add");
    const before = native.linkCount();
    const { out } = await cni("ADD", confOf());
    expect(out).toMatchObject({ code: 101 });
    expect(native.linkCount()).toBe(before);
    expect(new StateStore(join(dir, "state")).list().states).toEqual([]);
  });

  it("add() into a netns that does not exist fails with code 3", async () => {
    const { out } = await cni("ADD", confOf(), { CNI_NETNS: join(dir, "gone") });
    expect(out).toMatchObject({ code: 3, msg: `Cannot open netns "${join(dir, "gone")}": no such file or directory` });
    expect(native.batches).toEqual([]);
  });

  it("add() that fails while configuring rolls back: IPAM DEL, link deleted, no state", async () => {
    native.failOn("route-add", { errname: "ENETUNREACH", message: "Network is unreachable" });
    const before = native.linkCount();
    const { out } = await cni("ADD", confOf({ ipam: { type: "fake" } }));
    expect(out).toMatchObject({
      code: 100,
      msg: `Cannot configure interface "net1" in netns "${netns}": Network is unreachable`,
    });
    expect(ipamCalls()).toEqual(["ADD 1.0.0", "DEL 1.0.0"]);
    expect(native.linkCount()).toBe(before);
    expect(state()).toBeNull();
  });

  it("add() that fails in the kernel with EBUSY asks the runtime to try again (11)", async () => {
    native.failOn("macvlan-add", { errname: "EBUSY", message: "Device or resource busy" });
    const { out } = await cni("ADD", confOf());
    expect(out).toMatchObject({
      code: 11,
      msg: 'Cannot create macvlan "net1" on master "eth1": Device or resource busy',
    });
  });

  it("add() waits for the attachment lock, then fails with 11", async () => {
    const lock = attachmentLockPath(join(dir, "state"), "c1", "net1");
    mkdirSync(join(lock, ".."), { recursive: true });
    writeFileSync(lock, JSON.stringify({ pid: process.pid, start: processStartTime(process.pid), token: "held" }));
    const { out } = await cni("ADD", confOf());
    expect(out).toMatchObject({ code: 11 });
    expect(native.batches).toEqual([]);
  });

  it("del() calls IPAM DEL first, deletes the link in one exec and removes the state; twice is fine", async () => {
    await cni("ADD", confOf({ ipam: { type: "fake" } }));
    const batchesBefore = native.batches.length;
    expect((await cni("DEL", confOf({ ipam: { type: "fake" } }))).code).toBe(0);
    expect(native.batches.length - batchesBefore).toBe(1);
    expect(native.linkIn(netns, "net1")).toBeUndefined();
    expect(state()).toBeNull();
    expect((await cni("DEL", confOf({ ipam: { type: "fake" } }))).code).toBe(0);
    expect(ipamCalls()).toEqual(["ADD 1.0.0", "DEL 1.0.0", "DEL 1.0.0"]);
  });

  it("del() succeeds when the netns is gone, still releasing the IP", async () => {
    await cni("ADD", confOf({ ipam: { type: "fake" } }));
    rmSync(netns);
    expect((await cni("DEL", confOf({ ipam: { type: "fake" } }))).code).toBe(0);
    expect(ipamCalls()).toEqual(["ADD 1.0.0", "DEL 1.0.0"]);
    expect(state()).toBeNull();
  });

  it("del() without CNI_NETNS only releases the IP", async () => {
    const { code } = await cni("DEL", confOf({ ipam: { type: "fake" } }), { CNI_NETNS: "" });
    expect(code).toBe(0);
    expect(native.batches).toEqual([]);
    expect(ipamCalls()).toEqual(["DEL 1.0.0"]);
  });

  it("del() without state leaves a non-macvlan interface of that name alone", async () => {
    native.addLink(netns, "net1", { kind: "veth" });
    expect((await cni("DEL", confOf())).code).toBe(0);
    expect(native.linkIn(netns, "net1")?.link.kind).toBe("veth");
  });

  it("del() reports an IPAM failure but still deletes the link and keeps the state for a retry", async () => {
    await cni("ADD", confOf({ ipam: { type: "fake" } }));
    const { out } = await cni("DEL", confOf({ ipam: { type: "fake" } }), { FAKE_FAIL: '{"code":5,"msg":"disk"}' });
    expect(out).toMatchObject({ code: 5, msg: 'Cannot run IPAM plugin "fake" DEL: disk' });
    expect(native.linkIn(netns, "net1")).toBeUndefined();
    expect(state()).not.toBeNull();
  });

  describe("check()", () => {
    async function added(extra: Record<string, unknown> = {}) {
      const conf = confOf({ ipam: { type: "fake" }, ...extra });
      const { out } = await cni("ADD", conf);
      return { ...conf, prevResult: out };
    }

    it("passes right after ADD", async () => {
      const conf = await added();
      expect(await cni("CHECK", conf)).toEqual({ code: 0, out: undefined });
      expect(ipamCalls()).toEqual(["ADD 1.0.0", "CHECK 1.0.0"]);
    });

    it("fails with 103 when the link is gone", async () => {
      const conf = await added();
      native.removeLink(netns, "net1");
      const { out } = await cni("CHECK", conf);
      expect(out).toMatchObject({
        code: 103,
        msg: `Cannot check interface "net1": no such interface in netns "${netns}"`,
      });
    });

    it("fails with 103 when an address is missing", async () => {
      const conf = await added();
      const link = native.linkIn(netns, "net1");
      link?.addrs.splice(0);
      expect((await cni("CHECK", conf)).out).toMatchObject({
        code: 103,
        msg: 'Cannot check interface "net1": address 10.9.0.2/24 is missing',
      });
    });

    it("fails with 103 when a route is missing", async () => {
      const conf = await added();
      native.linkIn(netns, "net1")?.routes.splice(0);
      expect((await cni("CHECK", conf)).out).toMatchObject({
        code: 103,
        msg: 'Cannot check interface "net1": route 0.0.0.0/0 via 10.9.0.1 is missing',
      });
    });

    it("fails with 103 when the macvlan mode differs from the config", async () => {
      const conf = await added();
      expect((await cni("CHECK", { ...conf, mode: "private" })).out).toMatchObject({
        code: 103,
        msg: 'Cannot check interface "net1": macvlan mode is bridge, config says private',
      });
    });

    it("fails with 103 when the MAC differs from prevResult", async () => {
      const conf = await added();
      const prev = structuredClone(conf.prevResult) as { interfaces: { mac: string }[] };
      prev.interfaces[0]!.mac = "02:00:00:00:00:99";
      expect((await cni("CHECK", { ...conf, prevResult: prev })).out).toMatchObject({
        code: 103,
        msg: 'Cannot check interface "net1": MAC is 02:00:00:00:00:10, prevResult says 02:00:00:00:00:99',
      });
    });

    it("requires prevResult (code 7)", async () => {
      expect((await cni("CHECK", confOf())).out).toMatchObject({
        code: 7,
        msg: 'Cannot use config field "prevResult": missing (CHECK needs it)',
      });
    });
  });

  it("gc() releases attachments not in cni.dev/valid-attachments and keeps the others", async () => {
    const conf = confOf({ cniVersion: "1.1.0", ipam: { type: "fake" } });
    await cni("ADD", conf, { CNI_CONTAINERID: "keep" });
    await cni("ADD", conf, { CNI_CONTAINERID: "stale", CNI_IFNAME: "net2" });
    await cni("ADD", { ...conf, name: "othernet" }, { CNI_CONTAINERID: "other", CNI_IFNAME: "net3" });
    const { code } = await cni(
      "GC",
      { ...conf, "cni.dev/valid-attachments": [{ containerID: "keep", ifname: "net1" }] },
      {
        CNI_CONTAINERID: "",
        CNI_IFNAME: "",
        CNI_NETNS: "",
      },
    );
    expect(code).toBe(0);
    const store = new StateStore(join(dir, "state"));
    expect(store.read("keep", "net1")).not.toBeNull();
    expect(store.read("stale", "net2")).toBeNull();
    expect(store.read("other", "net3")).not.toBeNull(); // another network's attachment
    expect(native.linkIn(netns, "net1")).toBeDefined();
    expect(native.linkIn(netns, "net2")).toBeUndefined();
    expect(native.linkIn(netns, "net3")).toBeDefined();
    expect(ipamCalls().filter((c) => c.startsWith("DEL"))).toEqual(["DEL 1.0.0"]);
  });

  it("status() succeeds when the state dir is writable and the master exists", async () => {
    expect(
      await cni("STATUS", confOf({ cniVersion: "1.1.0" }), { CNI_CONTAINERID: "", CNI_IFNAME: "", CNI_NETNS: "" }),
    ).toEqual({
      code: 0,
      out: undefined,
    });
  });

  it("status() reports 50 when the master is missing", async () => {
    const { out } = await cni("STATUS", confOf({ cniVersion: "1.1.0", master: "eth9" }), {
      CNI_CONTAINERID: "",
      CNI_IFNAME: "",
      CNI_NETNS: "",
    });
    expect(out).toMatchObject({ code: 50 });
    expect(out?.["msg"]).toBe('Cannot serve ADD on network "macnet": Cannot find master "eth9": No such device');
  });

  it("status() reports 50 when the state dir cannot be written", async () => {
    writeFileSync(join(dir, "file"), "");
    const { out } = await cni("STATUS", confOf({ cniVersion: "1.1.0" }), {
      ACCELNET_STATE_DIR: join(dir, "file"),
      CNI_CONTAINERID: "",
      CNI_IFNAME: "",
      CNI_NETNS: "",
    });
    expect(out).toMatchObject({ code: 50 });
    expect(out?.["msg"]).toBe(
      `Cannot serve ADD on network "macnet": Cannot use state dir "${join(dir, "file")}": it is not a directory`,
    );
  });
});
