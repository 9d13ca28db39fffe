import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseCniArgs } from "../../../../cni/lib/cni-args.js";
import { parseNetConf } from "../../../../cni/lib/netconf.js";
import { processStartTime } from "../../../../cni/lib/lock.js";
import { OwnerMarkers } from "../../../../cni/lib/owner.js";
import { StateStore } from "../../../../cni/lib/state.js";
import { silentLogger } from "../../../../cni/lib/log.js";
import { createRegistry, modeFuncs } from "../../../../cni/modes/index.js";
import { macvlan } from "../../../../cni/modes/macvlan.js";
import { createSriovMode, parseConf, reconcileOrphanedVfs, type SriovData } from "../../../../cni/modes/sriov.js";
import { cniCaller } from "../dispatch-harness.js";
import { installFakeIpam } from "../fake-ipam.js";
import { itRefusesTenantPaths } from "../tenant-refusals.js";
import { HOST, SriovFakeKernel, fakeCniBase, tempPods } from "./sriov-fake-kernel.js";

const VF0 = "0000:00:12.0";
const VF1 = "0000:00:12.2";
const VFIO = "0000:00:12.4";

describe("sriov parseConf()", () => {
  const parse = (raw: Record<string, unknown>, cniArgs = "") =>
    parseConf({ conf: parseNetConf({ name: "n", type: "accelnet", ...raw }), cniArgs: parseCniArgs(cniArgs) });

  it("reads a sriov-cni config unchanged, with every VF setting", () => {
    const conf = parse({
      deviceID: "0000:3B:02.1",
      vlan: 100,
      vlanQoS: 3,
      vlanProto: "802.1Q",
      spoofchk: "off",
      trust: "on",
      link_state: "enable",
      min_tx_rate: 10,
      max_tx_rate: 100,
      mac: "02:00:00:00:00:AA",
      mtu: 9000,
      runtimeConfig: { CNIDeviceInfoFile: "/var/run/k8s.cni.cncf.io/devinfo/x.json" },
    });
    expect(conf.deviceID).toBe("0000:3b:02.1");
    expect(conf.settings).toEqual({
      mac: "02:00:00:00:00:aa",
      vlan: 100,
      vlanQoS: 3,
      vlanProto: "802.1q",
      spoofchk: false,
      trust: true,
      linkState: "enable",
      minTxRate: 10,
      maxTxRate: 100,
    });
    expect(conf.mtu).toBe(9000);
    expect(conf.deviceInfoFile).toBe("/var/run/k8s.cni.cncf.io/devinfo/x.json");
  });

  it("takes the device ID from runtimeConfig.deviceID, then deviceID, then pciBusID", () => {
    const all = { runtimeConfig: { deviceID: "0000:00:12.0" }, deviceID: "0000:00:12.2", pciBusID: "0000:00:12.4" };
    expect(parse(all).deviceID).toBe("0000:00:12.0");
    expect(parse({ ...all, runtimeConfig: {} }).deviceID).toBe("0000:00:12.2");
    expect(parse({ pciBusID: "0000:00:12.4" }).deviceID).toBe("0000:00:12.4");
  });

  it("takes the MAC from runtimeConfig.mac, then CNI_ARGS MAC=, then mac", () => {
    const base = { deviceID: VF0, mac: "02:00:00:00:00:03" };
    expect(parse({ ...base, runtimeConfig: { mac: "02:00:00:00:00:01" } }, "MAC=02:00:00:00:00:02").settings.mac).toBe(
      "02:00:00:00:00:01",
    );
    expect(parse(base, "MAC=02:00:00:00:00:02").settings.mac).toBe("02:00:00:00:00:02");
    expect(parse(base).settings.mac).toBe("02:00:00:00:00:03");
    expect(parse({ deviceID: VF0 }).settings.mac).toBeUndefined();
  });

  it("sets only what the config names (no implicit vlan 0, spoofchk or trust)", () => {
    expect(parse({ deviceID: VF0 }).settings).toEqual({});
    expect(parse({ deviceID: VF0, vlan: 0 }).settings).toEqual({ vlan: 0 });
  });

  const dev = { deviceID: VF0 };
  it.each([
    [{}, 'Cannot use config field "deviceID": missing (runtimeConfig.deviceID, deviceID or pciBusID)'],
    [{ deviceID: "eth1" }, 'Cannot use config field "deviceID": "eth1" is not a PCI address (dddd:bb:dd.f)'],
    [{ pciBusID: "3b:02.1" }, 'Cannot use config field "pciBusID": "3b:02.1" is not a PCI address (dddd:bb:dd.f)'],
    [{ deviceID: 5 }, 'Cannot use config field "deviceID": expected a string, got number'],
    [{ ...dev, vlan: 4095 }, 'Cannot use config field "vlan": 4095 is out of range [0, 4094]'],
    [{ ...dev, vlan: "100" }, 'Cannot use config field "vlan": expected an integer, got string'],
    [{ ...dev, vlan: 1, vlanQoS: 8 }, 'Cannot use config field "vlanQoS": 8 is out of range [0, 7]'],
    [{ ...dev, vlanQoS: 3 }, 'Cannot use config field "vlanQoS": 3 needs a non-zero "vlan"'],
    [
      { ...dev, vlan: 5, vlanProto: "qinq" },
      'Cannot use config field "vlanProto": "qinq" is not one of 802.1q, 802.1ad',
    ],
    [{ ...dev, vlanProto: "802.1ad" }, 'Cannot use config field "vlanProto": "802.1ad" needs a non-zero "vlan"'],
    // sriov-cni silently treats these as "off"; we refuse them.
    [{ ...dev, spoofchk: "yes" }, 'Cannot use config field "spoofchk": "yes" is not one of on, off'],
    [{ ...dev, spoofchk: "ON" }, 'Cannot use config field "spoofchk": "ON" is not one of on, off'],
    [{ ...dev, spoofchk: true }, 'Cannot use config field "spoofchk": expected a string, got boolean'],
    [{ ...dev, trust: "true" }, 'Cannot use config field "trust": "true" is not one of on, off'],
    [{ ...dev, link_state: "up" }, 'Cannot use config field "link_state": "up" is not one of auto, enable, disable'],
    [{ ...dev, min_tx_rate: -1 }, 'Cannot use config field "min_tx_rate": -1 is out of range [0, 4294967295]'],
    [
      { ...dev, min_tx_rate: 200, max_tx_rate: 100 },
      'Cannot use config field "min_tx_rate": 200 is above max_tx_rate 100',
    ],
    [{ ...dev, mtu: 60 }, 'Cannot use config field "mtu": 60 is below the minimum 68'],
    [{ ...dev, mtu: 70000 }, 'Cannot use config field "mtu": 70000 is out of range [0, 65535]'],
    [
      { ...dev, mac: "02:00:00:00:00" },
      'Cannot use config field "mac": "02:00:00:00:00" is not a MAC address (xx:xx:xx:xx:xx:xx)',
    ],
    [{ ...dev, mac: "03:00:00:00:00:01" }, 'Cannot use config field "mac": "03:00:00:00:00:01" is a multicast address'],
    [
      { ...dev, runtimeConfig: { CNIDeviceInfoFile: "relative/x.json" } },
      'Cannot use config field "runtimeConfig.CNIDeviceInfoFile": "relative/x.json" is not an absolute path without ".."',
    ],
  ])("rejects %j with code 7", (raw, msg) => {
    expect(() => parse(raw)).toThrow(expect.objectContaining({ code: 7, message: msg }));
  });

  it("allows min_tx_rate above a max_tx_rate of 0 (no limit)", () => {
    expect(parse({ ...dev, min_tx_rate: 200, max_tx_rate: 0 }).settings).toMatchObject({
      minTxRate: 200,
      maxTxRate: 0,
    });
  });
});

describe("sriov mode through the dispatcher (fake kernel)", () => {
  let dir: string;
  let pod: string;
  let pod2: string;
  let kernel: SriovFakeKernel;
  let ipamLog: string;
  let alive: Set<string>;

  beforeEach(() => {
    ({ dir, pod, pod2 } = tempPods("acn-sriov-"));
    kernel = new SriovFakeKernel();
    kernel.addNetns(pod);
    kernel.addNetns(pod2);
    kernel.addVf({ addr: VF0, index: 0, netdev: "enp0s18", driver: "igbvf" });
    kernel.addVf({ addr: VF1, index: 1, netdev: "enp0s18f2", driver: "igbvf" });
    kernel.addVf({ addr: VFIO, index: 2, netdev: null, driver: "vfio-pci" });
    installFakeIpam(dir);
    ipamLog = join(dir, "ipam.log");
    alive = new Set([pod, pod2]);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const sriov = () => createSriovMode({ ownerAlive: (o) => alive.has(o.netns) && kernel.netnses.has(o.netns) });
  const confOf = (extra: Record<string, unknown> = {}) => ({
    cniVersion: "1.1.0",
    name: "sriovnet",
    type: "accelnet",
    deviceID: VF0,
    ...extra,
  });

  const cni = cniCaller(() => ({
    funcs: modeFuncs(createRegistry([macvlan, sriov()]), { isVdpaDevice: () => false }),
    ...fakeCniBase(kernel, dir, pod, ipamLog),
  }));

  const store = () => new StateStore(join(dir, "state"));
  const markers = () => new OwnerMarkers(join(dir, "state"));

  it("add() moves the VF netdev into the pod as CNI_IFNAME with the MAC, MTU and VF settings", async () => {
    const info = join(dir, "devinfo", "net1.json");
    const conf = confOf({
      mac: "02:00:00:00:00:aa",
      vlan: 100,
      vlanQoS: 2,
      spoofchk: "off",
      trust: "on",
      max_tx_rate: 50,
      mtu: 1400,
      ipam: { type: "fake" },
      runtimeConfig: { CNIDeviceInfoFile: info },
    });
    const { code, out } = await cni("ADD", conf);
    expect(code, JSON.stringify(out)).toBe(0);
    expect(out).toEqual({
      cniVersion: "1.1.0",
      interfaces: [{ name: "net1", mac: "02:00:00:00:00:aa", mtu: 1400, sandbox: pod, pciID: VF0 }],
      ips: [{ interface: 0, address: "10.9.0.2/24", gateway: "10.9.0.1" }],
      routes: [{ dst: "0.0.0.0/0" }],
      dns: {},
    });
    const inPod = kernel.linksIn(pod).get("net1");
    expect(inPod).toMatchObject({ mac: "02:00:00:00:00:aa", mtu: 1400, up: true, parentDev: VF0 });
    expect(inPod?.altnames).toEqual([]); // the old name "enp0s18" left by the rename is dropped
    expect(kernel.linksIn(HOST).has("enp0s18")).toBe(false);
    expect(kernel.vf(0)).toMatchObject({ mac: "02:00:00:00:00:aa", vlan: 100, qos: 2, spoofchk: false, trust: true });
    expect(kernel.vf(0).maxTxRate).toBe(50);
    // through a temporary netns, which is gone afterwards
    expect(kernel.calls.some((c) => c.name === "netns-create")).toBe(true);
    expect([...kernel.netnses].filter((n) => n.startsWith("/run/netns/acn-"))).toEqual([]);
    const state = store().read("ctr1", "net1");
    expect(state?.mode).toBe("sriov");
    expect((state?.data as unknown as SriovData).attach).toBe("kernel");
    expect(markers().read(`pci/${VF0}`)).toMatchObject({ containerID: "ctr1", ifname: "net1", netns: pod });
    expect(JSON.parse(readFileSync(info, "utf8"))).toEqual({
      type: "pci",
      version: "1.1.0",
      pci: { "pci-address": VF0, "pf-pci-address": "0000:00:02.0" },
    });
  });

  it("del() puts back everything ADD changed, field by field, and succeeds twice", async () => {
    const before = kernel.snapshot();
    const info = join(dir, "net1.json");
    const conf = confOf({ mac: "02:00:00:00:00:aa", vlan: 7, trust: "on", mtu: 1400, ipam: { type: "fake" } });
    const withInfo = { ...conf, runtimeConfig: { CNIDeviceInfoFile: info } };
    expect((await cni("ADD", withInfo)).code).toBe(0);
    expect((await cni("DEL", withInfo)).code).toBe(0);
    expect(kernel.snapshot()).toEqual(before);
    expect(existsSync(info)).toBe(false);
    expect(store().read("ctr1", "net1")).toBeNull();
    expect(markers().read(`pci/${VF0}`)).toBeNull();
    expect((await cni("DEL", withInfo)).code).toBe(0);
    expect(readFileSync(ipamLog, "utf8")).toMatch(/DEL.*\n.*DEL/);
  });

  it("del() and a rolled-back add() put back the addresses the VF netdev had in the host", async () => {
    const hostAddrs = ["192.0.2.5/24", "2001:db8::5/64"];
    await kernel.run(hostAddrs.map((addr) => ({ name: "addr-add", args: ["name=enp0s18", `addr=${addr}`] })));
    const addrsOfVf = async () =>
      (await kernel.run([{ name: "addr-list", args: ["name=enp0s18"] }]))[0] as { addrs: { address: string }[] };
    const conf = confOf({ ipam: { type: "fake" } });
    expect((await cni("ADD", conf)).code).toBe(0);
    expect(kernel.linksIn(HOST).has("enp0s18")).toBe(false);
    expect((await cni("DEL", conf)).code).toBe(0);
    expect((await addrsOfVf()).addrs.map((a) => a.address)).toEqual(["192.0.2.5", "2001:db8::5"]);
    const failed = await cni("ADD", conf, { ACCELNET_TEST_FAULT: "configure" });
    expect(failed.out).toMatchObject({ code: 999 });
    expect((await addrsOfVf()).addrs.map((a) => a.address)).toEqual(["192.0.2.5", "2001:db8::5"]);
    expect((await cni("DEL", conf)).code).toBe(0);
    expect((await addrsOfVf()).addrs.map((a) => a.address)).toEqual(["192.0.2.5", "2001:db8::5"]);
  });

  it("del() still succeeds when the helper refuses to write back an all-zero admin MAC (logged)", async () => {
    kernel.refuseZeroMac = true;
    const conf = confOf({ mac: "02:00:00:00:00:aa", vlan: 7, logLevel: "warning" });
    expect((await cni("ADD", conf)).code).toBe(0);
    const del = await cni("DEL", conf);
    expect(del.code).toBe(0);
    expect(del.stderr).toContain('Cannot clear the admin MAC of VF 0 of "enp0s2"');
    expect(kernel.vf(0)).toMatchObject({ mac: "02:00:00:00:00:aa", vlan: 0 });
    expect(kernel.linksIn(HOST).get("enp0s18")?.mac).toBe("02:00:00:00:01:00");
  });

  it("del() restores a device-info file the device plugin wrote to its earlier content", async () => {
    const info = join(dir, "dp.json");
    const dp = '{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:00:12.0","rdma-device":"mlx5_0"}}';
    writeFileSync(info, dp);
    const conf = confOf({ runtimeConfig: { CNIDeviceInfoFile: info } });
    expect((await cni("ADD", conf)).code).toBe(0);
    expect(JSON.parse(readFileSync(info, "utf8"))).toEqual({
      type: "pci",
      version: "1.1.0",
      pci: { "pci-address": VF0, "rdma-device": "mlx5_0", "pf-pci-address": "0000:00:02.0" },
    });
    expect((await cni("DEL", conf)).code).toBe(0);
    expect(readFileSync(info, "utf8")).toBe(dp);
  });

  it("add() in DPDK mode (VF on vfio-pci) touches no netdev and returns IPAM addresses only", async () => {
    const pf = kernel.linksIn(HOST).get("enp0s2");
    if (pf !== undefined) pf.mtu = 9000;
    const before = kernel.snapshot();
    const conf = confOf({ deviceID: VFIO, vlan: 20, ipam: { type: "fake" } });
    const { code, out } = await cni("ADD", conf);
    expect(code, JSON.stringify(out)).toBe(0);
    // The MTU the README promises at 1.1.0: the PF's, which bounds the VF's frames.
    expect(out?.["interfaces"]).toEqual([{ name: "net1", mtu: 9000, sandbox: pod, pciID: VFIO }]);
    expect(out?.["ips"]).toEqual([{ interface: 0, address: "10.9.0.2/24", gateway: "10.9.0.1" }]);
    const netdevCommands = ["link-move", "link-rename", "link-set-mac", "link-up", "addr-add", "route-add"];
    expect(kernel.calls.filter((c) => netdevCommands.includes(c.name))).toEqual([]);
    expect(kernel.vf(2).vlan).toBe(20);
    // The mode is in the state, so DEL restores a DPDK attachment (sriov-cni forgets it and breaks DEL).
    expect((store().read("ctr1", "net1")?.data as unknown as SriovData).attach).toBe("dpdk");
    expect((await cni("DEL", conf)).code).toBe(0);
    expect(kernel.snapshot()).toEqual(before);
  });

  it("add() rejects an MTU for a VF without a netdev (DPDK mode) before changing anything", async () => {
    const before = kernel.snapshot();
    const { out } = await cni("ADD", confOf({ deviceID: VFIO, vlan: 4, mtu: 9000 }));
    expect(out).toMatchObject({
      code: 7,
      msg: `Cannot use config field "mtu": applies to a VF netdev; VF "${VFIO}" is bound to "vfio-pci"`,
    });
    expect(kernel.calls.filter((c) => c.name === "vf-set")).toEqual([]);
    expect(kernel.snapshot()).toEqual(before);
  });

  it("add() rejects a device that is not a VF, or does not exist, with code 7", async () => {
    const pf = await cni("ADD", confOf({ deviceID: "0000:00:02.0" }));
    expect(pf.out).toMatchObject({
      code: 7,
      msg: 'Cannot use deviceID "0000:00:02.0": not an SR-IOV virtual function',
    });
    const none = await cni("ADD", confOf({ deviceID: "0000:00:1f.0" }));
    expect(none.out).toMatchObject({ code: 7, msg: 'Cannot use deviceID "0000:00:1f.0": no such PCI device' });
  });

  it("add() names the setting and driver when the PF refuses one, and leaves the VLAN it already set undone", async () => {
    const before = kernel.snapshot();
    kernel.refuse.set("state", "EOPNOTSUPP");
    const { code, out } = await cni("ADD", confOf({ vlan: 100, spoofchk: "off", link_state: "enable" }));
    expect(code).toBe(1);
    expect(out).toMatchObject({
      code: 2,
      msg: 'Cannot set "link_state" on VF 0 of "enp0s2" (driver igb): operation not supported',
    });
    expect(kernel.snapshot()).toEqual(before); // sriov-cni leaves vlan 100 on the VF here
    expect(store().read("ctr1", "net1")).toBeNull();
    expect(markers().read(`pci/${VF0}`)).toBeNull();
  });

  it.each([
    ["EINVAL", "invalid argument"], // igb refuses min_tx_rate this way
    ["EPERM", "operation not permitted"],
    ["ERANGE", "numerical result out of range"],
  ])("add() reports a setting the driver refuses with %s as code 2 and rolls back", async (errname, words) => {
    const before = kernel.snapshot();
    kernel.refuse.set("min_tx_rate", errname);
    const { out } = await cni("ADD", confOf({ vlan: 100, min_tx_rate: 10, max_tx_rate: 50 }));
    expect(out).toMatchObject({
      code: 2,
      msg: `Cannot set "min_tx_rate" on VF 0 of "enp0s2" (driver igb): ${words}`,
    });
    expect(kernel.snapshot()).toEqual(before);
    expect(store().read("ctr1", "net1")).toBeNull();
  });

  it.each([
    ["ENODEV", 100],
    ["ENOMEM", 100],
    ["EBUSY", 11],
  ])("add() reports vf-set failing with %s (not a refusal) as code %i", async (errname, code) => {
    kernel.failNext.set("vf-set", errname);
    const { out } = await cni("ADD", confOf({ vlan: 100 }));
    expect(out).toMatchObject({ code });
    expect(String(out?.["msg"])).toMatch(/^Cannot set "vlan" on VF 0 of "enp0s2" \(driver igb\): /);
  });

  it.each([
    [{ runtimeConfig: { ips: ["10.9.0.7/24", "10.9.0.300/24"] } }, {}, "runtimeConfig.ips", "10.9.0.300/24"],
    [{ args: { cni: { ips: ["fd00::g"] } } }, {}, "args.cni.ips", "fd00::g"],
    [{}, { CNI_ARGS: "IgnoreUnknown=1;IP=10.9.0.7,010.9.0.8" }, "CNI_ARGS IP", "010.9.0.8"],
  ])(
    "add() refuses requested IPs that are not addresses (%j %j): code 7, IPAM never runs",
    async (extra, env, field, bad) => {
      const before = kernel.snapshot();
      const { out } = await cni("ADD", confOf({ ipam: { type: "fake" }, ...extra }), env);
      expect(out).toMatchObject({
        code: 7,
        msg: `Cannot use config field "${field}": "${bad}" is not an IP address (with an optional /prefix)`,
      });
      expect(existsSync(ipamLog)).toBe(false);
      expect(kernel.snapshot()).toEqual(before);
      expect(store().read("ctr1", "net1")).toBeNull();
    },
  );

  it("add() passes requested IPs that are addresses, with or without a prefix, to IPAM", async () => {
    const conf = confOf({ ipam: { type: "fake" }, runtimeConfig: { ips: ["10.9.0.2/24", "fd00::2"] } });
    const { code, out } = await cni("ADD", conf, { CNI_ARGS: "IP=10.9.0.2" });
    expect(code, JSON.stringify(out)).toBe(0);
    expect((await cni("DEL", conf)).code).toBe(0);
  });

  const kernelSteps = ["resolve", "lock", "snapshot", "vf-mac", "vf-vlan", "vf-spoofchk", "vf-trust", "vf-rate"];
  const moveSteps = ["tmp-netns", "move-tmp", "altname", "move-pod", "mac", "mtu", "ipam", "configure"];
  it.each([...kernelSteps, ...moveSteps, "device-info", "done"])(
    "add() with a fault after %s rolls everything back (kernel mode)",
    async (step) => {
      const before = kernel.snapshot();
      const conf = confOf({
        mac: "02:00:00:00:00:aa",
        vlan: 100,
        spoofchk: "off",
        trust: "on",
        max_tx_rate: 30,
        mtu: 1400,
        ipam: { type: "fake" },
        runtimeConfig: { CNIDeviceInfoFile: join(dir, "info.json") },
      });
      const { code, out } = await cni("ADD", conf, { ACCELNET_TEST_FAULT: step });
      expect(code).toBe(1);
      expect(out?.["msg"]).toBe(`Cannot continue ADD: test fault injected after step "${step}"`);
      expect(kernel.snapshot()).toEqual(before);
      expect(store().read("ctr1", "net1")).toBeNull();
      expect(markers().read(`pci/${VF0}`)).toBeNull();
      expect(existsSync(join(dir, "info.json"))).toBe(false);
      const ipamCalls = existsSync(ipamLog) ? readFileSync(ipamLog, "utf8") : "";
      // Every IPAM ADD that succeeded (at 1.0.0, after the 1.1.0 refusal) was released.
      expect((ipamCalls.match(/^ADD 1\.0\.0$/gm) ?? []).length).toBe((ipamCalls.match(/^DEL /gm) ?? []).length);
      expect((await cni("DEL", conf)).code).toBe(0);
      expect(kernel.snapshot()).toEqual(before);
    },
  );

  it.each(["resolve", "lock", "snapshot", "vf-vlan", "ipam", "device-info", "done"])(
    "add() with a fault after %s rolls everything back (DPDK mode)",
    async (step) => {
      const before = kernel.snapshot();
      const conf = confOf({ deviceID: VFIO, vlan: 9, ipam: { type: "fake" } });
      const { code } = await cni("ADD", conf, { ACCELNET_TEST_FAULT: step });
      expect(code).toBe(1);
      expect(kernel.snapshot()).toEqual(before);
      expect(store().read("ctr1", "net1")).toBeNull();
    },
  );

  it("del() never moves another device that took CNI_IFNAME in the pod; the state stays for a retry", async () => {
    const conf = confOf({ vlan: 3 });
    expect((await cni("ADD", conf)).code).toBe(0);
    const ours = kernel.linksIn(pod).get("net1");
    kernel.linksIn(pod).delete("net1");
    if (ours !== undefined) kernel.linksIn(pod).set("vfx", { ...ours, name: "vfx" });
    kernel.addLink(pod, "net1", { kind: "veth" });
    const del = await cni("DEL", conf);
    expect(del.out).toMatchObject({ code: 11 });
    expect(kernel.linksIn(pod).get("net1")?.kind).toBe("veth");
    expect(store().read("ctr1", "net1")).not.toBeNull();
  });

  it("add() fails with code 104 and rolls back when CNI_IFNAME exists in the pod", async () => {
    kernel.addLink(pod, "net1");
    const before = kernel.snapshot();
    const { out } = await cni("ADD", confOf({ vlan: 5 }));
    expect(out).toMatchObject({ code: 104 });
    expect(String(out?.["msg"])).toContain('as "net1": an interface with that name already exists');
    expect(kernel.snapshot()).toEqual(before);
  });

  it("add() sets an MTU (sriov-cni refuses to) and rejects one above the device's maximum with code 7", async () => {
    const vf = kernel.linksIn(HOST).get("enp0s18");
    if (vf !== undefined) vf.maxMtu = 9216;
    const before = kernel.snapshot();
    const { out } = await cni("ADD", confOf({ mtu: 9500 }));
    expect(out).toMatchObject({ code: 7, msg: 'Cannot set "mtu" 9500 on "net1": the device allows 68-9216' });
    expect(kernel.snapshot()).toEqual(before);
    expect((await cni("ADD", confOf({ mtu: 9000 }))).code).toBe(0);
    expect(kernel.linksIn(pod).get("net1")?.mtu).toBe(9000);
  });

  it("del() after the pod netns was deleted finds the netdev in the host by PCI address and restores it", async () => {
    const before = kernel.snapshot();
    const conf = confOf({ mac: "02:00:00:00:00:aa", mtu: 1400, vlan: 3 });
    expect((await cni("ADD", conf)).code).toBe(0);
    kernel.deleteNetns(pod);
    rmSync(pod);
    expect(kernel.linksIn(HOST).get("net1")?.parentDev).toBe(VF0);
    const { code, out } = await cni("DEL", conf);
    expect(code, JSON.stringify(out)).toBe(0);
    kernel.addNetns(pod); // the fixture's netns again, to compare like with like
    expect(kernel.snapshot()).toEqual(before);
  });

  it("del() keeps the state until the restore succeeded (sriov-cni deletes it first and leaks the VF)", async () => {
    const before = kernel.snapshot();
    const conf = confOf({ vlan: 3 });
    expect((await cni("ADD", conf)).code).toBe(0);
    kernel.failNext.set("link-move", "EBUSY");
    const failed = await cni("DEL", conf);
    expect(failed.out).toMatchObject({ code: 11 });
    expect(store().read("ctr1", "net1")).not.toBeNull();
    expect(markers().read(`pci/${VF0}`)).not.toBeNull();
    expect((await cni("DEL", conf)).code).toBe(0);
    expect(kernel.snapshot()).toEqual(before);
    expect(store().read("ctr1", "net1")).toBeNull();
  });

  it("del() keeps the state when IPAM DEL fails, but the VF is restored and not touched again", async () => {
    const before = kernel.snapshot();
    const conf = confOf({ vlan: 3, ipam: { type: "fake" } });
    expect((await cni("ADD", conf)).code).toBe(0);
    const failed = await cni("DEL", conf, { FAKE_FAIL: '{"code":11,"msg":"ipam busy"}' });
    expect(failed.out).toMatchObject({ code: 11 });
    expect(kernel.snapshot()).toEqual(before);
    expect(store().read("ctr1", "net1")).not.toBeNull();
    expect((await cni("DEL", conf)).code).toBe(0);
    expect(store().read("ctr1", "net1")).toBeNull();
  });

  it("add() refuses a VF owned by a live pod and reclaims one whose pod netns is gone", async () => {
    const conf = confOf({ vlan: 11 });
    expect((await cni("ADD", conf)).code).toBe(0);
    const second = await cni("ADD", confOf({ vlan: 22 }), { CNI_CONTAINERID: "ctr2", CNI_NETNS: pod2 });
    expect(second.out).toMatchObject({
      code: 7,
      msg: `Cannot use device "pci/${VF0}": in use by container "ctr1" (ifname "net1", netns "${pod}")`,
    });
    expect(kernel.vf(0).vlan).toBe(11);
    expect(kernel.linksIn(pod).has("net1")).toBe(true);

    alive.delete(pod); // the first pod's netns is gone (its DEL never came)
    kernel.deleteNetns(pod);
    const third = await cni("ADD", confOf({ vlan: 22 }), { CNI_CONTAINERID: "ctr2", CNI_NETNS: pod2 });
    expect(third.code, JSON.stringify(third.out)).toBe(0);
    expect(kernel.vf(0).vlan).toBe(22);
    expect(kernel.linksIn(pod2).get("net1")?.parentDev).toBe(VF0);
    // ctr1's late DEL must not take the VF from ctr2
    kernel.addNetns(pod);
    expect((await cni("DEL", conf)).code).toBe(0);
    expect(kernel.vf(0).vlan).toBe(22);
    expect(kernel.linksIn(pod2).has("net1")).toBe(true);
    expect(store().read("ctr1", "net1")).toBeNull();
  });

  it("gc() restores the VFs of attachments not in cni.dev/valid-attachments", async () => {
    const before = kernel.snapshot();
    expect((await cni("ADD", confOf({ vlan: 5 }))).code).toBe(0);
    const keep = await cni("ADD", confOf({ deviceID: VF1, vlan: 6 }), { CNI_CONTAINERID: "ctr2", CNI_NETNS: pod2 });
    expect(keep.code).toBe(0);
    const gc = await cni("GC", { ...confOf(), "cni.dev/valid-attachments": [{ containerID: "ctr2", ifname: "net1" }] });
    expect(gc.code, JSON.stringify(gc.out)).toBe(0);
    expect(kernel.vf(0).vlan).toBe(0);
    expect(kernel.linksIn(HOST).has("enp0s18")).toBe(true);
    expect(kernel.vf(1).vlan).toBe(6);
    expect(store().read("ctr1", "net1")).toBeNull();
    expect(store().read("ctr2", "net1")).not.toBeNull();
    expect((await cni("DEL", confOf({ deviceID: VF1 }), { CNI_CONTAINERID: "ctr2", CNI_NETNS: pod2 })).code).toBe(0);
    expect(kernel.snapshot()).toEqual(before);
  });

  // What a kill -9 leaves: the owner marker is written (device lock held) before the attachment record.
  const interruptedMarker = (containerID = "ctr1", netns = pod) =>
    markers().write(`pci/${VF0}`, {
      containerID,
      ifname: "net1",
      netns,
      netnsInode: null,
      network: "sriovnet",
      since: new Date().toISOString(),
    });

  it("an owner marker an interrupted ADD left before its record: DEL releases it, the retried ADD is not refused", async () => {
    const before = kernel.snapshot();
    interruptedMarker();
    expect((await cni("DEL", confOf())).code).toBe(0);
    expect(markers().read(`pci/${VF0}`)).toBeNull();
    interruptedMarker();
    const add = await cni("ADD", confOf({ vlan: 7 }));
    expect(add.code, JSON.stringify(add.out)).toBe(0);
    expect((await cni("DEL", confOf())).code).toBe(0);
    expect(kernel.snapshot()).toEqual(before);
    expect(markers().list()).toEqual([]);
  });

  it("gc() releases an unrecorded owner marker of its network unless its attachment is valid", async () => {
    interruptedMarker("ctr9");
    const valid = { ...confOf(), "cni.dev/valid-attachments": [{ containerID: "ctr9", ifname: "net1" }] };
    expect((await cni("GC", valid)).code).toBe(0);
    expect(markers().read(`pci/${VF0}`)).not.toBeNull();
    expect((await cni("GC", { ...confOf(), "cni.dev/valid-attachments": [] })).code).toBe(0);
    expect(markers().read(`pci/${VF0}`)).toBeNull();
  });

  it("an incomplete record (ADD killed after changing the VF): the retried ADD restores it first, DEL leaves it as before", async () => {
    const before = kernel.snapshot();
    expect((await cni("ADD", confOf({ vlan: 7, ipam: { type: "fake" } }))).code).toBe(0);
    const state = store().read("ctr1", "net1");
    store().write({ ...state!, data: { ...state!.data, complete: false } });
    const retried = await cni("ADD", confOf({ vlan: 9, ipam: { type: "fake" } }));
    expect(retried.code, JSON.stringify(retried.out)).toBe(0);
    expect(kernel.vf(0).vlan).toBe(9);
    expect((await cni("DEL", confOf())).code).toBe(0);
    expect(kernel.snapshot()).toEqual(before);
  });

  it("a complete attachment's repeated ADD is still refused (DEL it first)", async () => {
    expect((await cni("ADD", confOf())).code).toBe(0);
    expect((await cni("ADD", confOf())).out).toMatchObject({
      code: 7,
      msg: expect.stringMatching(/DEL it first/) as unknown,
    });
    expect((await cni("DEL", confOf())).code).toBe(0);
  });

  it.each([
    ["the deviceID is gone (the config selects macvlan now)", { deviceID: undefined, master: "eth0" }],
    ["a field ADD would refuse", { vlan: 4095, spoofchk: "yes" }],
  ])("del() restores the stored VF when %s", async (_why, extra) => {
    const before = kernel.snapshot();
    expect((await cni("ADD", confOf({ vlan: 7 }))).code).toBe(0);
    const del = await cni("DEL", confOf(extra));
    expect(del.code, JSON.stringify(del.out)).toBe(0);
    expect(kernel.snapshot()).toEqual(before);
    expect(store().read("ctr1", "net1")).toBeNull();
    expect(markers().list()).toEqual([]);
  });

  it("gc() removes dead processes' locks and abandoned temporary files; DEL its own record's", async () => {
    const stateDir = join(dir, "state");
    mkdirSync(join(stateDir, "locks"), { recursive: true });
    mkdirSync(join(stateDir, "attachments"), { recursive: true });
    const dead = JSON.stringify({ pid: 2 ** 22 + 1, start: "1", token: "dead" });
    writeFileSync(join(stateDir, "locks", "master@eth0.lock"), dead);
    writeFileSync(join(stateDir, "locks", "attachment@ctr7@net1.lock"), dead);
    writeFileSync(join(stateDir, "locks", "device@pci%2F0000.lock.dead.tmp"), dead);
    // Killed between creating a lock's companion and writing it: empty, only the name tells its writer.
    writeFileSync(join(stateDir, "locks", "device@pci%2F0001.lock.0123abcd.4194305.tmp"), "");
    writeFileSync(join(stateDir, "locks", "device@pci%2F0001.lock.4567cdef.4194305.stale"), "");
    const liveTmp = `device@pci%2F0002.lock.89abcdef.${process.pid}.tmp`;
    writeFileSync(join(stateDir, "locks", liveTmp), "");
    writeFileSync(join(stateDir, "attachments", "ctr7@net1.json.tmp-4194305-ab12"), "{");
    writeFileSync(join(stateDir, "attachments", "ctr1@net1.json.tmp-4194305-cd34"), "{");
    const live = JSON.stringify({ pid: process.pid, start: processStartTime(process.pid), token: "live" });
    writeFileSync(join(stateDir, "locks", "attachment@ctr8@net1.lock"), live);
    expect((await cni("DEL", confOf())).code).toBe(0);
    expect(existsSync(join(stateDir, "attachments", "ctr1@net1.json.tmp-4194305-cd34"))).toBe(false);
    expect((await cni("GC", { ...confOf(), "cni.dev/valid-attachments": [] })).code).toBe(0);
    expect(readdirSync(join(stateDir, "locks")).sort()).toEqual(["attachment@ctr8@net1.lock", liveTmp]);
    expect(readdirSync(join(stateDir, "attachments"))).toEqual([]);
  });

  it("reconcileOrphanedVfs() restores every VF whose owner netns is gone and keeps live ones", async () => {
    const before = kernel.snapshot();
    expect((await cni("ADD", confOf({ vlan: 5, ipam: { type: "fake" } }))).code).toBe(0);
    expect((await cni("ADD", confOf({ deviceID: VF1 }), { CNI_CONTAINERID: "ctr2", CNI_NETNS: pod2 })).code).toBe(0);
    kernel.deleteNetns(pod);
    alive.delete(pod);
    const report = await reconcileOrphanedVfs(join(dir, "state"), kernel, silentLogger, {
      env: { CNI_PATH: dir, FAKE_LOG: ipamLog },
      mode: sriov(),
      isAlive: (o) => alive.has(o.netns),
    });
    expect(report).toEqual({ restored: [`pci/${VF0}`], failed: [] });
    expect(kernel.vf(0).vlan).toBe(0);
    expect(kernel.linksIn(HOST).get("enp0s18")?.parentDev).toBe(VF0);
    expect(store().read("ctr1", "net1")).toBeNull(); // IPAM DEL succeeded
    expect(readFileSync(ipamLog, "utf8")).toContain("DEL");
    expect(markers().read(`pci/${VF1}`)).toMatchObject({ containerID: "ctr2" });
    expect((await cni("DEL", confOf({ deviceID: VF1 }), { CNI_CONTAINERID: "ctr2", CNI_NETNS: pod2 })).code).toBe(0);
    kernel.addNetns(pod);
    expect(kernel.snapshot()).toEqual(before);
  });

  it("check() passes after ADD and reports VF settings or MTU changed behind its back", async () => {
    const conf = confOf({ vlan: 100, mtu: 1400, ipam: { type: "fake" } });
    const { out } = await cni("ADD", conf);
    const checkConf = { ...conf, prevResult: out };
    const ok = await cni("CHECK", checkConf);
    expect(ok.code, JSON.stringify(ok.out)).toBe(0);
    kernel.vf(0).vlan = 5;
    const vlan = await cni("CHECK", checkConf);
    expect(vlan.out).toMatchObject({ code: 103 });
    expect(String(vlan.out?.["msg"])).toMatch(/^Cannot check interface "net1": VF 0 of "enp0s2" has .*"vlan":5/);
    kernel.vf(0).vlan = 100;
    const link = kernel.linksIn(pod).get("net1");
    if (link !== undefined) link.mtu = 1500;
    expect((await cni("CHECK", checkConf)).out).toMatchObject({
      code: 103,
      msg: 'Cannot check interface "net1": MTU is 1500, expected 1400',
    });
  });

  it("check() runs IPAM CHECK once, at the version IPAM accepted at ADD (no refusal, no VERSION)", async () => {
    const conf = confOf({ ipam: { type: "fake" } });
    const { out } = await cni("ADD", conf);
    writeFileSync(ipamLog, "");
    expect((await cni("CHECK", { ...conf, prevResult: out })).code).toBe(0);
    expect(readFileSync(ipamLog, "utf8")).toBe("CHECK 1.0.0\n");
  });

  it("check() fails with 103 when the netdev in the pod is administratively down", async () => {
    const conf = confOf({ ipam: { type: "fake" } });
    const { out } = await cni("ADD", conf);
    await kernel.run([{ name: "link-down", args: [`netns=${pod}`, "name=net1"] }]);
    expect((await cni("CHECK", { ...conf, prevResult: out })).out).toMatchObject({
      code: 103,
      msg: 'Cannot check interface "net1": it is administratively down (ADD left it up)',
    });
  });

  itRefusesTenantPaths(() => ({ dir, kernel, add: (extra) => cni("ADD", confOf(extra)) }));

  it("status() is ready with a writable state dir and a working helper", async () => {
    expect((await cni("STATUS", confOf())).code).toBe(0);
  });
});
