// The SR-IOV mode's netdev path in real network namespaces: a veth end stands in for a VF netdev
// (this machine has no SR-IOV). Real helper (ASan build), real netns moves, renames, MAC, MTU,
// addresses and routes, Debian's host-local IPAM; only the PF side is an in-memory stand-in (the
// VfPlatform seam), since a veth has no PF. The plugin runs in-process through the dispatcher.
// Also: a differential against the reference /usr/lib/cni/host-device for the result shape.
import { spawnSync } from "node:child_process";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createNativeClient, NativeError, type NativeClient, type Vf } from "../../../native/client/index.js";
import { cmd } from "../../../native/client/index.js";
import { OwnerMarkers } from "../../../cni/lib/owner.js";
import { StateStore } from "../../../cni/lib/state.js";
import type { VfPlatform } from "../../../cni/lib/vf.js";
import { SUPPORTED_VERSIONS } from "../../../cni/lib/versions.js";
import { createRegistry, modeFuncs } from "../../../cni/modes/index.js";
import { macvlan } from "../../../cni/modes/macvlan.js";
import { createSriovMode } from "../../../cni/modes/sriov.js";
import { cniCaller } from "../../unit/cni/dispatch-harness.js";
import { vfDefaults } from "../../unit/cni/fake-native.js";
import { Fixture, haveHelper, HELPER, havePlugins, ip, ipJson, isRoot } from "./netns-fixture.js";

const ready = isRoot && haveHelper && havePlugins;
const why = !isRoot ? "needs root" : !haveHelper ? "needs the ASan helper (make -C native)" : "needs CNI plugins";
const STANDIN = "0000:00:1f.7"; // the "VF" PCI address the stand-in answers to

/** A PF stand-in: VF settings in memory; the "VF netdev" is the host link carrying `marker` as altname. */
function vethPlatform(marker: string): VfPlatform & { vf: Vf } {
  const vf: Vf = vfDefaults(0, "02:00:00:00:00:01");
  return {
    vf,
    async lookup(native, addr) {
      const [{ links }] = await native.run([cmd.linkList({})]);
      const link = links.find((l) => l.altnames.includes(marker));
      return {
        addr,
        pfAddr: "0000:00:1f.0",
        pfNetdev: "standin-pf",
        pfDriver: "standin",
        index: 0,
        driver: "veth",
        netdevs: link === undefined ? [] : [link.name],
      };
    },
    showVf: () => Promise.resolve({ ...vf }),
    owns: (link) => link.altnames.includes(marker),
    setVfs(_native, _vf, settings) {
      return Promise.resolve(
        settings.map((s) => {
          if ("mac" in s) vf.mac = s.mac;
          if ("vlan" in s) Object.assign(vf, { vlan: s.vlan, qos: s.qos ?? 0, vlanProto: s.proto ?? "802.1q" });
          if ("spoofchk" in s) vf.spoofchk = s.spoofchk;
          if ("trust" in s) vf.trust = s.trust;
          if ("state" in s) vf.linkState = s.state;
          if ("minTxRate" in s && s.minTxRate !== undefined) vf.minTxRate = s.minTxRate;
          if ("maxTxRate" in s && s.maxTxRate !== undefined) vf.maxTxRate = s.maxTxRate;
          return { ...vf };
        }),
      );
    },
  };
}

interface HostLink {
  ifname: string;
  address: string;
  mtu: number;
  operstate: string;
  flags: string[];
  altnames?: string[];
}

describe.skipIf(!ready)(`accelnet sriov with a veth standing in for a VF (${ready ? "root" : why})`, () => {
  let fx: Fixture;
  let pod: string;
  let standin: string;
  let marker: string;
  let platform: ReturnType<typeof vethPlatform>;
  let stateDir: string;
  let ipamDir: string;

  beforeEach(() => {
    fx = new Fixture();
    pod = fx.netns("pod");
    standin = fx.master("vf", 1500); // both ends up, like a VF netdev a user left up
    marker = `${fx.prefix}mark`;
    ip("link", "property", "add", "dev", standin, "altname", marker);
    platform = vethPlatform(marker);
    stateDir = join(fx.dir, "state");
    ipamDir = join(fx.dir, "ipam");
  });
  afterEach(() => {
    // If a test failed with the stand-in in the pod, it dies with the netns (veths are not returned).
    fx.cleanup();
  });

  const hostLink = (): HostLink | undefined =>
    ipJson<HostLink[]>("link", "show").find((l) => (l.altnames ?? []).includes(marker));
  const hostState = () => {
    const l = hostLink();
    return l && { ifname: l.ifname, address: l.address, mtu: l.mtu, up: l.flags.includes("UP"), altnames: l.altnames };
  };
  const confOf = (extra: Record<string, unknown> = {}) => ({
    cniVersion: "1.1.0",
    name: "sriovnet",
    type: "accelnet",
    deviceID: STANDIN,
    ipam: {
      type: "host-local",
      subnet: "10.78.0.0/24",
      gateway: "10.78.0.1",
      routes: [{ dst: "0.0.0.0/0" }, { dst: "192.168.60.0/24", gw: "10.78.0.254" }],
      dataDir: ipamDir,
    },
    ...extra,
  });

  /** The plugin in-process with the stand-in platform, its helper client made by `native`. */
  const callerWith = (native: () => NativeClient, cniPath = "/usr/lib/cni") =>
    cniCaller(() => ({
      funcs: modeFuncs(createRegistry([macvlan, createSriovMode({ platform })]), { isVdpaDevice: () => false }),
      deps: { native },
      env: {
        ACCELNET_STATE_DIR: stateDir,
        CNI_CONTAINERID: `${fx.prefix}ctr`,
        CNI_NETNS: pod,
        CNI_IFNAME: "net1",
        CNI_PATH: cniPath,
      },
    }));
  const cni = callerWith(() => createNativeClient({ helperPath: HELPER }));

  it("add() moves the stand-in into the pod as net1 with MAC, MTU, addresses and routes; del() restores it exactly", async () => {
    const before = hostState();
    const origMac = before?.address;
    const { code, out } = await cni("ADD", confOf({ mac: "02:00:00:00:00:aa", mtu: 1400, vlan: 42 }));
    expect(code, JSON.stringify(out)).toBe(0);
    expect(out).toEqual({
      cniVersion: "1.1.0",
      interfaces: [{ name: "net1", mac: "02:00:00:00:00:aa", mtu: 1400, sandbox: pod, pciID: STANDIN }],
      ips: [{ interface: 0, address: "10.78.0.2/24", gateway: "10.78.0.1" }],
      routes: [{ dst: "0.0.0.0/0" }, { dst: "192.168.60.0/24", gw: "10.78.0.254" }],
      dns: {},
    });
    expect(hostLink()).toBeUndefined();
    const [inPod] = fx.linksIn(pod);
    expect(inPod).toMatchObject({ ifname: "net1", address: "02:00:00:00:00:aa", mtu: 1400 });
    expect(inPod?.flags).toContain("UP");
    expect(inPod?.addr_info.map((a) => `${a.local}/${a.prefixlen}`)).toContain("10.78.0.2/24");
    expect(fx.routesIn(pod)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ dst: "default", gateway: "10.78.0.1", dev: "net1" }),
        expect.objectContaining({ dst: "192.168.60.0/24", gateway: "10.78.0.254", dev: "net1" }),
      ]),
    );
    expect(platform.vf.vlan).toBe(42);
    const check = await cni("CHECK", { ...confOf({ mac: "02:00:00:00:00:aa", mtu: 1400, vlan: 42 }), prevResult: out });
    expect(check.code, JSON.stringify(check.out)).toBe(0);

    expect((await cni("DEL", confOf({ mac: "02:00:00:00:00:aa", mtu: 1400, vlan: 42 }))).code).toBe(0);
    expect(hostState()).toEqual(before);
    expect(hostLink()?.address).toBe(origMac);
    expect(platform.vf.vlan).toBe(0);
    expect(fx.linksIn(pod)).toEqual([]);
    expect(fx.reservedIps(ipamDir, "sriovnet")).toEqual([]);
    expect(new StateStore(stateDir).list().states).toEqual([]);
    expect(new OwnerMarkers(stateDir).list()).toEqual([]);
    expect((await cni("DEL", confOf())).code).toBe(0);
  });

  it.each(SUPPORTED_VERSIONS)("ADD, CHECK and DEL at cniVersion %s", async (version) => {
    const before = hostState();
    const conf = confOf({ cniVersion: version });
    const add = await cni("ADD", conf);
    expect(add.code, JSON.stringify(add.out)).toBe(0);
    if (version >= "0.4.0") {
      const check = await cni("CHECK", { ...conf, prevResult: add.out });
      expect(check.code, JSON.stringify(check.out)).toBe(0);
    }
    expect((await cni("DEL", conf)).code).toBe(0);
    expect((await cni("DEL", conf)).code).toBe(0);
    expect(hostState()).toEqual(before);
  });

  it.each([
    "resolve",
    "lock",
    "snapshot",
    "vf-vlan",
    "tmp-netns",
    "move-tmp",
    "altname",
    "move-pod",
    "mac",
    "mtu",
    "ipam",
    "configure",
    "done",
  ])("add() with a fault after %s leaves host, pod and IPAM as they were", async (step) => {
    const before = hostState();
    const conf = confOf({ mac: "02:00:00:00:00:aa", mtu: 1400, vlan: 42 });
    const { code, out } = await cni("ADD", conf, { ACCELNET_TEST_FAULT: step });
    expect(code).toBe(1);
    expect(out?.["msg"]).toBe(`Cannot continue ADD: test fault injected after step "${step}"`);
    expect(hostState()).toEqual(before);
    expect(platform.vf.vlan).toBe(0);
    expect(fx.linksIn(pod)).toEqual([]);
    expect(fx.reservedIps(ipamDir, "sriovnet")).toEqual([]);
    expect(new StateStore(stateDir).list().states).toEqual([]);
    expect((await cni("DEL", conf)).code).toBe(0);
    expect(hostState()).toEqual(before);
  });

  // A helper that dies inside netns-create (killed, OOM) leaves either the netns or the empty file it
  // binds the netns onto; the client sees only the death. Each is made here the way netns-create makes
  // it, then the batch "dies".
  const leftovers = {
    "the empty file": (path: string) => closeSync(openSync(path, "wx", 0o000)),
    "the mounted netns": (path: string) => ip("netns", "add", path.slice("/run/netns/".length)),
  };
  it.each(Object.keys(leftovers) as (keyof typeof leftovers)[])(
    "a helper that dies inside netns-create leaves nothing after rollback: %s",
    async (kind) => {
      const before = hostState();
      let tmpPath: string | undefined;
      const dying = callerWith(() => {
        const real = createNativeClient({ helperPath: HELPER });
        return {
          run: (cmds) => {
            const create = cmds.find((c) => c.name === "netns-create");
            if (create === undefined) return real.run(cmds);
            tmpPath = (create.args[0] ?? "").slice("path=".length);
            leftovers[kind](tmpPath);
            const init = { argv: [], exitCode: null, signal: "SIGKILL", timedOut: false, stderr: "" };
            return Promise.reject(new NativeError("helper killed by SIGKILL", init));
          },
        };
      });
      const { code, out } = await dying("ADD", confOf({ vlan: 42 }));
      expect(code).toBe(1);
      expect(out?.["msg"]).toContain("create temporary netns");
      expect(tmpPath).toMatch(/^\/run\/netns\/acn-[0-9a-f]+$/);
      expect(existsSync(tmpPath as string)).toBe(false);
      expect(hostState()).toEqual(before);
      expect(platform.vf.vlan).toBe(0);
      expect(new StateStore(stateDir).list().states).toEqual([]);
      expect((await cni("DEL", confOf())).code).toBe(0);
    },
  );

  it("del() removes the empty file of an interrupted netns-create at the recorded temporary netns path", async () => {
    const before = hostState();
    expect((await cni("ADD", confOf({ vlan: 42 }))).code).toBe(0);
    const [state] = new StateStore(stateDir).list().states;
    const tmpPath = state?.data["tmpNetns"];
    expect(tmpPath).toMatch(/^\/run\/netns\/acn-[0-9a-f]+$/);
    // An ADD killed inside netns-create, before its bind mount, leaves this file (ADD recorded the path first).
    closeSync(openSync(tmpPath as string, "wx", 0o000));
    expect((await cni("DEL", confOf())).code).toBe(0);
    expect(existsSync(tmpPath as string)).toBe(false);
    expect(hostState()).toEqual(before);
    expect(new StateStore(stateDir).list().states).toEqual([]);
  });

  it("add() fails with code 104 when net1 exists in the pod and leaves everything as it was", async () => {
    ip("-n", pod.split("/").pop() ?? "", "link", "add", "net1", "type", "veth", "peer", "name", "other");
    const before = hostState();
    const { out } = await cni("ADD", confOf({ vlan: 42 }));
    expect(out).toMatchObject({ code: 104 });
    expect(hostState()).toEqual(before);
    expect(platform.vf.vlan).toBe(0);
    expect(fx.reservedIps(ipamDir, "sriovnet")).toEqual([]);
  });

  it("host-local runs beside the move: when the move fails (net1 taken), its reservation is released too", async () => {
    // A host-local in front of the real one that notes each call; the sequential order never called it.
    const bin = join(fx.dir, "bin");
    const seen = join(fx.dir, "seen");
    mkdirSync(bin);
    writeFileSync(join(bin, "host-local"), `#!/bin/sh\necho "$CNI_COMMAND" >> ${seen}\nexec /usr/lib/cni/host-local\n`);
    chmodSync(join(bin, "host-local"), 0o755);
    ip("-n", pod.split("/").pop() ?? "", "link", "add", "net1", "type", "veth", "peer", "name", "other");
    const before = hostState();
    const { out } = await callerWith(() => createNativeClient({ helperPath: HELPER }), `${bin}:/usr/lib/cni`)(
      "ADD",
      confOf({ vlan: 42 }),
    );
    expect(out).toMatchObject({ code: 104 });
    // ADD ran (with a VERSION and a retry in between when the plugin is older than 1.1.0), DEL undid it.
    const calls = readFileSync(seen, "utf8").trim().split("\n");
    expect(calls).toContain("ADD");
    expect(calls.at(-1)).toBe("DEL");
    expect(fx.reservedIps(ipamDir, "sriovnet")).toEqual([]);
    expect(hostState()).toEqual(before);
    expect(platform.vf.vlan).toBe(0);
  });

  it("gc() restores the stand-in of an attachment that is not valid any more", async () => {
    const before = hostState();
    expect((await cni("ADD", confOf({ vlan: 42 }))).code).toBe(0);
    const gc = await cni("GC", { ...confOf(), "cni.dev/valid-attachments": [] });
    expect(gc.code, JSON.stringify(gc.out)).toBe(0);
    expect(hostState()).toEqual(before);
    expect(platform.vf.vlan).toBe(0);
    expect(fx.reservedIps(ipamDir, "sriovnet")).toEqual([]);
  });

  const hostDevice = "/usr/lib/cni/host-device";
  it.skipIf(!existsSync(hostDevice))(
    "the result has the reference host-device plugin's shape (cniVersion 1.0.0)",
    async () => {
      const ref = fx.netns("ref");
      const refDev = fx.master("rd");
      const refIpam = { ...confOf().ipam, dataDir: join(fx.dir, "ipam-ref") };
      const refConf = { cniVersion: "1.0.0", name: "sriovnet", type: "host-device", device: refDev, ipam: refIpam };
      const r = spawnSync(hostDevice, [], {
        input: JSON.stringify(refConf),
        encoding: "utf8",
        env: {
          CNI_COMMAND: "ADD",
          CNI_CONTAINERID: `${fx.prefix}ref`,
          CNI_NETNS: ref,
          CNI_IFNAME: "net1",
          CNI_PATH: "/usr/lib/cni",
        },
      });
      expect(r.status, r.stdout).toBe(0);
      const theirs = JSON.parse(r.stdout) as Record<string, unknown>;
      const ours = (await cni("ADD", confOf({ cniVersion: "1.0.0" }))).out;
      const shape = (v: unknown): unknown =>
        Array.isArray(v)
          ? v.map(shape)
          : typeof v === "object" && v !== null
            ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)]))
            : typeof v;
      expect(shape(ours)).toEqual(shape(theirs));
      expect(ours?.["interfaces"]).toEqual([{ name: "net1", mac: expect.any(String) as string, sandbox: pod }]);
      expect((theirs["interfaces"] as unknown[])[0]).toMatchObject({ name: "net1", sandbox: ref });
      spawnSync(hostDevice, [], {
        input: JSON.stringify(refConf),
        env: {
          CNI_COMMAND: "DEL",
          CNI_CONTAINERID: `${fx.prefix}ref`,
          CNI_NETNS: ref,
          CNI_IFNAME: "net1",
          CNI_PATH: "/usr/lib/cni",
        },
      });
      expect((await cni("DEL", confOf({ cniVersion: "1.0.0" }))).code).toBe(0);
    },
  );
});
