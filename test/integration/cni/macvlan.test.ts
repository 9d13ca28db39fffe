// The CNI plugin end to end in real network namespaces: real helper (ASan build), real macvlan links,
// Debian's host-local and static IPAM. The plugin runs in-process through the dispatcher.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createNativeClient } from "../../../native/client/index.js";
import { StateStore } from "../../../cni/lib/state.js";
import { defaultRegistry, modeFuncs } from "../../../cni/modes/index.js";
import { SUPPORTED_VERSIONS } from "../../../cni/lib/versions.js";
import { cniCaller } from "../../unit/cni/dispatch-harness.js";
import { haveHelper, HELPER, havePlugins, isRoot, useMacvlanWorld } from "./netns-fixture.js";

const ready = isRoot && haveHelper && havePlugins;
const why = !isRoot
  ? "needs root"
  : !haveHelper
    ? "needs dist/native/accelnet-helper-asan (make -C native)"
    : "needs containernetworking-plugins";

/** Where a tenant's config would like root to write: never created. */
const tenantPaths = {
  stateDir: "/var/tmp/acn-tenant-state",
  logFile: "/etc/acn-tenant.log",
  deviceInfo: "/etc/acn-tenant-devinfo.json",
};

interface Run {
  code: number;
  out: Record<string, unknown> | undefined;
}

describe.skipIf(!ready)(`accelnet macvlan in real netns (${ready ? "root" : why})`, () => {
  const w = useMacvlanWorld();

  const hostLocal = (extra: Record<string, unknown> = {}) => ({
    type: "host-local",
    subnet: "10.77.0.0/24",
    gateway: "10.77.0.1",
    routes: [{ dst: "0.0.0.0/0" }, { dst: "192.168.50.0/24", gw: "10.77.0.254" }],
    dataDir: w.ipamDir,
    ...extra,
  });
  const confOf = (extra: Record<string, unknown> = {}) => ({
    cniVersion: "1.0.0",
    name: "macnet",
    type: "accelnet",
    master: w.master,
    ipam: hostLocal(),
    ...extra,
  });

  const call = cniCaller(() => ({
    funcs: modeFuncs(defaultRegistry()),
    deps: { native: () => createNativeClient({ helperPath: HELPER }), lockTimeoutMs: 5_000 },
    env: {
      PATH: process.env["PATH"],
      ACCELNET_STATE_DIR: w.stateDir,
      CNI_CONTAINERID: "c1",
      CNI_NETNS: w.pod,
      CNI_IFNAME: "net1",
      CNI_PATH: "/usr/lib/cni",
      ACCELNET_HELPER: HELPER,
    },
  }));
  async function cni(command: string, conf: unknown, env: Record<string, string> = {}, stdin?: string): Promise<Run> {
    const { code, out } = await call(command, conf, env, stdin);
    return { code, out };
  }

  const podLinks = () => w.fx.linksIn(w.pod);
  const reserved = () => w.fx.reservedIps(w.ipamDir, "macnet");

  it.each(SUPPORTED_VERSIONS)("ADD, CHECK, DEL, DEL at cniVersion %s", async (version) => {
    const conf = confOf({ cniVersion: version });
    const add = await cni("ADD", conf);
    expect(add.code, JSON.stringify(add.out)).toBe(0);
    expect(add.out?.["cniVersion"]).toBe(version);

    const [link, ...others] = podLinks();
    expect(others).toEqual([]);
    expect(link).toMatchObject({
      ifname: "net1",
      mtu: 1500,
      linkinfo: { info_kind: "macvlan", info_data: { mode: "bridge" } },
    });
    expect(link?.flags).toContain("UP");
    expect(link?.addr_info.filter((a) => a.family === "inet")).toMatchObject([{ local: "10.77.0.2", prefixlen: 24 }]);
    expect(w.fx.routesIn(w.pod)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ dst: "default", gateway: "10.77.0.1", dev: "net1" }),
        expect.objectContaining({ dst: "192.168.50.0/24", gateway: "10.77.0.254", dev: "net1" }),
      ]),
    );
    expect(reserved()).toEqual(["10.77.0.2"]);

    if (version >= "0.4.0") {
      const check = await cni("CHECK", { ...conf, prevResult: add.out });
      expect(check, JSON.stringify(check.out)).toEqual({ code: 0, out: undefined });
    }
    expect((await cni("DEL", conf)).code).toBe(0);
    expect(podLinks()).toEqual([]);
    expect(reserved()).toEqual([]);
    expect(new StateStore(w.stateDir).read("c1", "net1")).toBeNull();
    expect((await cni("DEL", conf)).code).toBe(0);
  });

  it("ADD of the vpp-server NAD (cniVersion 0.3.1, no IPAM) brings up a bare macvlan", async () => {
    const nad = {
      cniVersion: "0.3.1",
      type: "accelnet",
      name: "vpp-net",
      master: w.master,
      mode: "bridge",
      linkInContainer: false,
    };
    const add = await cni("ADD", nad);
    expect(add.code, JSON.stringify(add.out)).toBe(0);
    expect(add.out).toMatchObject({ cniVersion: "0.3.1", interfaces: [{ name: "net1", sandbox: w.pod }], dns: {} });
    expect(add.out?.["ips"]).toBeUndefined();
    const [link] = podLinks();
    expect(link?.flags).toContain("UP");
    expect(link?.addr_info.filter((a) => a.family === "inet")).toEqual([]);
    expect((await cni("DEL", nad)).code).toBe(0);
    expect(podLinks()).toEqual([]);
  });

  it("ADD with static IPAM, a MAC from CNI_ARGS, mode private and MTU below the master's", async () => {
    const conf = confOf({
      mode: "private",
      mtu: 1400,
      ipam: {
        type: "static",
        addresses: [{ address: "10.88.0.5/24", gateway: "10.88.0.1" }, { address: "fd00:88::5/64" }],
        routes: [{ dst: "10.99.0.0/16" }],
      },
    });
    const add = await cni("ADD", conf, { CNI_ARGS: "IgnoreUnknown=1;MAC=02:aa:bb:cc:dd:ee;K8S_POD_NAME=p" });
    expect(add.code, JSON.stringify(add.out)).toBe(0);
    const [link] = podLinks();
    expect(link).toMatchObject({
      address: "02:aa:bb:cc:dd:ee",
      mtu: 1400,
      linkinfo: { info_data: { mode: "private" } },
    });
    expect(link?.addr_info.map((a) => `${a.local}/${a.prefixlen}`)).toEqual(
      expect.arrayContaining(["10.88.0.5/24", "fd00:88::5/64"]),
    );
    expect(w.fx.routesIn(w.pod)).toEqual(
      expect.arrayContaining([expect.objectContaining({ dst: "10.99.0.0/16", gateway: "10.88.0.1" })]),
    );
    const check = await cni("CHECK", { ...conf, prevResult: add.out });
    expect(check.code, JSON.stringify(check.out)).toBe(0);
    expect((await cni("DEL", conf)).code).toBe(0);
    expect(podLinks()).toEqual([]);
  });

  it("ADD with linkInContainer uses a master inside the pod netns", async () => {
    w.fx.deleteNetns(w.pod);
    w.pod = w.fx.netns("pod2");
    const inner = `${w.fx.prefix}in`;
    const { ip } = await import("./netns-fixture.js");
    ip("-n", w.pod.split("/").pop() ?? "", "link", "add", inner, "type", "veth", "peer", "name", `${inner}p`);
    ip("-n", w.pod.split("/").pop() ?? "", "link", "set", inner, "up");
    const conf = confOf({ master: inner, linkInContainer: true });
    const add = await cni("ADD", conf);
    expect(add.code, JSON.stringify(add.out)).toBe(0);
    expect(podLinks().find((l) => l.ifname === "net1")?.linkinfo?.info_kind).toBe("macvlan");
    expect((await cni("CHECK", { ...conf, prevResult: add.out })).code).toBe(0);
    expect((await cni("DEL", conf)).code).toBe(0);
    expect(podLinks().find((l) => l.ifname === "net1")).toBeUndefined();
  });

  describe("CHECK after a change in the netns fails with 103", () => {
    it.each([
      [
        "an address is removed",
        (ns: string) => ["-n", ns, "addr", "del", "10.77.0.2/24", "dev", "net1"],
        "address 10.77.0.2/24 is missing",
      ],
      [
        "a route is removed",
        (ns: string) => ["-n", ns, "route", "del", "192.168.50.0/24"],
        "route 192.168.50.0/24 via 10.77.0.254 is missing",
      ],
      ["the link is removed", (ns: string) => ["-n", ns, "link", "del", "net1"], `no such interface in netns "POD"`],
      [
        "the link is set down",
        (ns: string) => ["-n", ns, "link", "set", "net1", "down"],
        "it is administratively down (ADD left it up)",
      ],
    ])("when %s", async (_name, change, why) => {
      const conf = confOf();
      const add = await cni("ADD", conf);
      expect(add.code).toBe(0);
      expect((await cni("CHECK", { ...conf, prevResult: add.out })).code).toBe(0);
      const { ip } = await import("./netns-fixture.js");
      ip(...change(w.pod.split("/").pop() ?? ""));
      const check = await cni("CHECK", { ...conf, prevResult: add.out });
      expect(check.out).toMatchObject({
        code: 103,
        msg: `Cannot check interface "net1": ${why.replace("POD", w.pod)}`,
      });
      expect((await cni("DEL", conf)).code).toBe(0);
      expect(reserved()).toEqual([]);
    });
  });

  it("CHECK at cniVersion 1.1.0 runs Debian's host-local once, at the version it accepted at ADD", async () => {
    // A wrapper IPAM plugin that logs each exec and runs the real host-local (which stops at 1.0.0).
    const bin = join(w.fx.dir, "bin");
    const log = join(w.fx.dir, "ipam-execs.log");
    mkdirSync(bin);
    writeFileSync(join(bin, "counted"), `#!/bin/sh\necho "$CNI_COMMAND" >> ${log}\nexec /usr/lib/cni/host-local\n`, {
      mode: 0o755,
    });
    const conf = confOf({ cniVersion: "1.1.0", ipam: hostLocal({ type: "counted" }) });
    const env = { CNI_PATH: `${bin}:/usr/lib/cni` };
    const add = await cni("ADD", conf, env);
    expect(add.code, JSON.stringify(add.out)).toBe(0);
    expect(readFileSync(log, "utf8")).toBe("ADD\nVERSION\nADD\n"); // the fallback, once
    writeFileSync(log, "");
    const check = await cni("CHECK", { ...conf, prevResult: add.out }, env);
    expect(check, JSON.stringify(check.out)).toEqual({ code: 0, out: undefined });
    expect(readFileSync(log, "utf8")).toBe("CHECK\n");
    expect((await cni("DEL", conf, env)).code).toBe(0);
    expect(reserved()).toEqual([]);
  });

  it("DEL after the netns is deleted succeeds and releases the address", async () => {
    const conf = confOf();
    expect((await cni("ADD", conf)).code).toBe(0);
    w.fx.deleteNetns(w.pod);
    expect((await cni("DEL", conf)).code).toBe(0);
    expect(reserved()).toEqual([]);
    expect((await cni("DEL", conf)).code).toBe(0);
  });

  it("GC releases attachments missing from cni.dev/valid-attachments", async () => {
    const conf = confOf({ cniVersion: "1.1.0" });
    const stalePod = w.fx.netns("pod2");
    expect((await cni("ADD", conf, { CNI_CONTAINERID: "keep" })).code).toBe(0);
    expect((await cni("ADD", conf, { CNI_CONTAINERID: "stale", CNI_NETNS: stalePod })).code).toBe(0);
    expect(reserved().sort()).toEqual(["10.77.0.2", "10.77.0.3"]);
    const gc = await cni(
      "GC",
      { ...conf, "cni.dev/valid-attachments": [{ containerID: "keep", ifname: "net1" }] },
      {
        CNI_CONTAINERID: "",
        CNI_IFNAME: "",
        CNI_NETNS: "",
      },
    );
    expect(gc.code, JSON.stringify(gc.out)).toBe(0);
    expect(podLinks().map((l) => l.ifname)).toEqual(["net1"]);
    expect(w.fx.linksIn(stalePod)).toEqual([]);
    expect(reserved()).toEqual(["10.77.0.2"]);
    expect(new StateStore(w.stateDir).list().states.map((s) => s.containerID)).toEqual(["keep"]);
  });

  it("STATUS is ready with a writable state dir, the helper and the master", async () => {
    const env = { CNI_CONTAINERID: "", CNI_IFNAME: "", CNI_NETNS: "" };
    expect(await cni("STATUS", confOf({ cniVersion: "1.1.0" }), env)).toEqual({ code: 0, out: undefined });
    expect((await cni("STATUS", confOf({ cniVersion: "1.1.0", master: `${w.fx.prefix}zz` }), env)).out).toMatchObject({
      code: 50,
    });
  });

  it("two concurrent ADDs on the same master both succeed with different addresses", async () => {
    const pod2 = w.fx.netns("pod2");
    const conf = confOf();
    const [a, b] = await Promise.all([
      cni("ADD", conf, { CNI_CONTAINERID: "ca" }),
      cni("ADD", conf, { CNI_CONTAINERID: "cb", CNI_NETNS: pod2 }),
    ]);
    expect(a?.code, JSON.stringify(a?.out)).toBe(0);
    expect(b?.code, JSON.stringify(b?.out)).toBe(0);
    expect(reserved().sort()).toEqual(["10.77.0.2", "10.77.0.3"]);
    expect(w.fx.linksIn(w.pod).map((l) => l.ifname)).toEqual(["net1"]);
    expect(w.fx.linksIn(pod2).map((l) => l.ifname)).toEqual(["net1"]);
    await Promise.all([
      cni("DEL", conf, { CNI_CONTAINERID: "ca" }),
      cni("DEL", conf, { CNI_CONTAINERID: "cb", CNI_NETNS: pod2 }),
    ]);
    expect(reserved()).toEqual([]);
  });

  it("a failed ADD rolls back: link deleted, address released in host-local's dir, no state", async () => {
    // The route's gateway is off-link, so the configure batch fails after IPAM ADD.
    const conf = confOf({ ipam: hostLocal({ routes: [{ dst: "10.5.0.0/16", gw: "172.31.0.1" }] }) });
    const add = await cni("ADD", conf);
    expect(add.code).toBe(1);
    expect(add.out).toMatchObject({ code: 100 });
    expect(String(add.out?.["msg"])).toMatch(new RegExp(`^Cannot configure interface "net1" in netns "${w.pod}": `));
    expect(podLinks()).toEqual([]);
    expect(reserved()).toEqual([]);
    expect(new StateStore(w.stateDir).list().states).toEqual([]);
  });

  describe("bad input: the right code and nothing left behind", () => {
    const table: [string, Record<string, string>, (c: Record<string, unknown>) => string, number][] = [
      ["malformed JSON", {}, (c) => JSON.stringify(c).slice(0, -3), 6],
      ["a wrong type (mtu as string)", {}, (c) => JSON.stringify({ ...c, mtu: "1500" }), 7],
      ["a wrong type (ipam as string)", {}, (c) => JSON.stringify({ ...c, ipam: "host-local" }), 7],
      ["missing CNI_IFNAME", { CNI_IFNAME: "" }, (c) => JSON.stringify(c), 4],
      ["missing CNI_CONTAINERID", { CNI_CONTAINERID: "" }, (c) => JSON.stringify(c), 4],
      ["a bad ifname", { CNI_IFNAME: "net1:0" }, (c) => JSON.stringify(c), 4],
      ["../ in the ifname", { CNI_IFNAME: "../net1" }, (c) => JSON.stringify(c), 4],
      ["../ in the container ID", { CNI_CONTAINERID: "../c1" }, (c) => JSON.stringify(c), 4],
      ["../ in the IPAM type", {}, (c) => JSON.stringify({ ...c, ipam: { type: "../host-local" } }), 7],
      ["../ in CNI_NETNS", { CNI_NETNS: "/run/netns/../netns/x" }, (c) => JSON.stringify(c), 4],
      ["CNI_NETNS that does not exist", { CNI_NETNS: "/run/netns/acn-does-not-exist" }, (c) => JSON.stringify(c), 3],
      ["CNI_NETNS that is not a netns", { CNI_NETNS: "FILE" }, (c) => JSON.stringify(c), 4],
      ["an unknown macvlan mode", {}, (c) => JSON.stringify({ ...c, mode: "vlan" }), 7],
      ["an unknown accelnet mode", {}, (c) => JSON.stringify({ ...c, accelnetMode: "ipvlan" }), 7],
      ["the sriov mode (not available yet)", {}, (c) => JSON.stringify({ ...c, deviceID: "0000:3b:02.1" }), 7],
      ["an MTU above the master's", {}, (c) => JSON.stringify({ ...c, mtu: 9000 }), 7],
      ["a missing master", {}, (c) => JSON.stringify({ ...c, master: "acnnomaster0" }), 7],
      ["an unsupported cniVersion", {}, (c) => JSON.stringify({ ...c, cniVersion: "2.0.0" }), 1],
      ["a missing IPAM plugin", {}, (c) => JSON.stringify({ ...c, ipam: { type: "acn-no-such-ipam" } }), 7],
      // A namespace user's NetworkAttachmentDefinition must not steer where root keeps state or writes.
      ["a stateDir in the config", {}, (c) => JSON.stringify({ ...c, stateDir: tenantPaths.stateDir }), 7],
      ["a logFile outside /var/log", {}, (c) => JSON.stringify({ ...c, logFile: tenantPaths.logFile }), 7],
      [
        "a device info file outside its directory",
        {},
        (c) => JSON.stringify({ ...c, runtimeConfig: { CNIDeviceInfoFile: tenantPaths.deviceInfo } }),
        7,
      ],
    ];

    it.each(table)("%s", async (_name, env, stdinOf, code) => {
      const notNetns = join(w.fx.dir, "not-a-netns");
      writeFileSync(notNetns, "");
      const resolvedEnv = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === "FILE" ? notNetns : v]));
      const run = await cni("ADD", undefined, resolvedEnv, stdinOf(confOf()));
      expect(run.code).toBe(1);
      expect(run.out?.["code"], JSON.stringify(run.out)).toBe(code);
      expect(String(run.out?.["msg"])).toMatch(/^Cannot /);
      expect(podLinks()).toEqual([]);
      expect(reserved()).toEqual([]);
      expect(new StateStore(w.stateDir).list().states).toEqual([]);
      for (const path of Object.values(tenantPaths)) expect(existsSync(path)).toBe(false);
    });
  });
});
