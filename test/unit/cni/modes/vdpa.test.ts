import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseCniArgs } from "../../../../cni/lib/cni-args.js";
import { parseNetConf } from "../../../../cni/lib/netconf.js";
import { OwnerMarkers } from "../../../../cni/lib/owner.js";
import { StateStore } from "../../../../cni/lib/state.js";
import { silentLogger } from "../../../../cni/lib/log.js";
import { readVdpaDevice } from "../../../../cni/lib/vdpa.js";
import { createRegistry, modeFuncs } from "../../../../cni/modes/index.js";
import { macvlan } from "../../../../cni/modes/macvlan.js";
import { createVdpaMode, parseConf, reconcileOrphanedVdpa, type VdpaData } from "../../../../cni/modes/vdpa.js";
import { cniCaller } from "../dispatch-harness.js";
import { installFakeIpam } from "../fake-ipam.js";
import { itRefusesTenantPaths } from "../tenant-refusals.js";
import { HOST, fakeCniBase, tempPods } from "./sriov-fake-kernel.js";
import { VdpaFakeKernel } from "./vdpa-fake-kernel.js";

describe("vdpa parseConf()", () => {
  const parse = (raw: Record<string, unknown>, cniArgs = "") =>
    parseConf({ conf: parseNetConf({ name: "n", type: "accelnet", ...raw }), cniArgs: parseCniArgs(cniArgs) });

  it("reads deviceID with Multus's precedence, vdpaDriver, rebind, mac, mtu and the device info file", () => {
    const conf = parse({
      runtimeConfig: { deviceID: "vdpa1", CNIDeviceInfoFile: "/run/k8s.cni.cncf.io/devinfo/x.json" },
      deviceID: "vdpa2",
      pciBusID: "0000:3b:00.2",
      vdpaDriver: "virtio",
      rebind: true,
      mac: "02:00:00:00:00:AA",
      mtu: 9000,
    });
    expect(conf).toMatchObject({
      deviceID: "vdpa1",
      driver: "virtio",
      rebind: true,
      mac: "02:00:00:00:00:aa",
      mtu: 9000,
      deviceInfoFile: "/run/k8s.cni.cncf.io/devinfo/x.json",
    });
    expect(parse({ deviceID: "vdpa2", pciBusID: "0000:3b:00.2" }).deviceID).toBe("vdpa2");
    expect(parse({ pciBusID: "0000:3b:00.2" })).toMatchObject({ deviceID: "0000:3b:00.2", rebind: false });
    expect(parse({ deviceID: "vdpa2" }).driver).toBeUndefined();
  });

  it.each([
    [{}, 'Cannot use config field "deviceID": missing (runtimeConfig.deviceID, deviceID or pciBusID)'],
    [{ deviceID: "v", vdpaDriver: "dpdk" }, 'Cannot use config field "vdpaDriver": "dpdk" is not one of vhost, virtio'],
    [
      { deviceID: "v", vdpaDriver: "vhost_vdpa" },
      'Cannot use config field "vdpaDriver": "vhost_vdpa" is not one of vhost, virtio',
    ],
    [{ deviceID: "v", rebind: "yes" }, 'Cannot use config field "rebind": expected a boolean, got string'],
    [{ deviceID: "v", mtu: 60 }, 'Cannot use config field "mtu": 60 is below the minimum 68'],
    [
      { deviceID: "v", mac: "03:00:00:00:00:01" },
      'Cannot use config field "mac": "03:00:00:00:00:01" is a multicast address',
    ],
  ])("rejects %j with code 7", (raw, msg) => {
    expect(() => parse(raw)).toThrow(expect.objectContaining({ code: 7, message: msg }));
  });
});

describe("vdpa mode through the dispatcher (fake kernel, fake sysfs)", () => {
  let dir: string;
  let pod: string;
  let pod2: string;
  let kernel: VdpaFakeKernel;
  let ipamLog: string;
  let alive: Set<string>;

  beforeEach(() => {
    ({ dir, pod, pod2 } = tempPods("acn-vdpa-"));
    kernel = new VdpaFakeKernel(join(dir, "sys"), join(dir, "dev"));
    kernel.links.addNetns(pod);
    kernel.links.addNetns(pod2);
    kernel.addVduse("vhost0", "vhost_vdpa", { mac: "02:00:00:00:0d:00", mtu: 1450 });
    kernel.addVduse("virt0", "virtio_vdpa", { mac: "02:00:00:00:0d:01", mtu: 1500 });
    installFakeIpam(dir);
    ipamLog = join(dir, "ipam.log");
    alive = new Set([pod, pod2]);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const mode = () =>
    createVdpaMode({
      roots: kernel.roots,
      appearMs: 200,
      ownerAlive: (o) => alive.has(o.netns) && kernel.links.netnses.has(o.netns),
    });
  const stateDir = () => join(dir, "state");
  const confOf = (extra: Record<string, unknown> = {}) => ({
    cniVersion: "1.1.0",
    name: "vdpanet",
    type: "accelnet",
    deviceID: "vhost0",
    ipam: { type: "fake" },
    ...extra,
  });

  const cni = cniCaller(() => ({
    funcs: modeFuncs(createRegistry([macvlan, mode()]), {
      isVdpaDevice: (id) => readVdpaDevice(kernel.roots, id) !== null,
    }),
    ...fakeCniBase(kernel, dir, pod, ipamLog),
  }));

  const store = () => new StateStore(stateDir());
  const markers = () => new OwnerMarkers(stateDir());
  const leftovers = () => ({ states: store().list().states, markers: markers().list() });
  const ips = [{ interface: 0, address: "10.9.0.2/24", gateway: "10.9.0.1" }];

  it("vhost add() returns the char device, MAC and MTU with IPAM addresses in the result only", async () => {
    const info = join(dir, "devinfo", "net1.json");
    const { code, out } = await cni("ADD", confOf({ runtimeConfig: { CNIDeviceInfoFile: info } }));
    expect(code, JSON.stringify(out)).toBe(0);
    const chardev = join(dir, "dev", "vhost-vdpa-0");
    expect(out).toEqual({
      cniVersion: "1.1.0",
      interfaces: [{ name: "net1", mac: "02:00:00:00:0d:00", mtu: 1450, sandbox: pod, socketPath: chardev }],
      ips,
      routes: [{ dst: "0.0.0.0/0" }],
      dns: {},
    });
    expect([...kernel.links.linksIn(pod).keys()]).toEqual([]); // nothing in the pod netns
    expect(kernel.calls.map((c) => c.name)).toEqual(["vdpa-show", "vhost-vdpa-info"]);
    expect(JSON.parse(readFileSync(info, "utf8"))).toEqual({
      type: "vdpa",
      version: "1.1.0",
      vdpa: { "parent-device": "vhost0", driver: "vhost", path: chardev },
    });
    const state = store().read("ctr1", "net1");
    expect(state?.mode).toBe("vdpa");
    expect(state?.data as unknown as VdpaData).toMatchObject({
      originalDriver: "vhost",
      driver: "vhost",
      chardev,
      complete: true,
    });
    expect(markers().read("vdpa/vhost0")).toMatchObject({ containerID: "ctr1", ifname: "net1" });
  });

  it("vhost check() passes, then fails when the char device is gone or the driver changed", async () => {
    const conf = confOf();
    const add = await cni("ADD", conf);
    expect((await cni("CHECK", { ...conf, prevResult: add.out })).code).toBe(0);
    rmSync(join(dir, "dev", "vhost-vdpa-0"));
    const gone = await cni("CHECK", { ...conf, prevResult: add.out });
    expect(gone.out).toMatchObject({ code: 103 });
    expect(String(gone.out?.["msg"])).toMatch(
      /^Cannot check interface "net1": char device ".*vhost-vdpa-0" is missing/,
    );
    await kernel.run([{ name: "vdpa-bind", args: ["dev=vhost0", "driver=virtio_vdpa"] }]);
    expect((await cni("CHECK", { ...conf, prevResult: add.out })).out).toMatchObject({
      code: 103,
      msg: 'Cannot check interface "net1": vDPA device "vhost0" is bound to "virtio_vdpa", not vhost_vdpa',
    });
  });

  it("vhost del() releases IPAM, the owner marker, the device info file and the state, and succeeds twice", async () => {
    const before = kernel.snapshot();
    const info = join(dir, "net1.json");
    const conf = confOf({ runtimeConfig: { CNIDeviceInfoFile: info } });
    expect((await cni("ADD", conf)).code).toBe(0);
    expect((await cni("DEL", conf)).code).toBe(0);
    expect(kernel.snapshot()).toEqual(before);
    expect(existsSync(info)).toBe(false);
    expect(leftovers()).toEqual({ states: [], markers: [] });
    expect((await cni("DEL", conf)).code).toBe(0);
    expect(readFileSync(ipamLog, "utf8")).toMatch(/ADD.*\n(.*\n)*DEL.*\n(.*\n)*DEL/);
  });

  it("vhost add() with the MAC the device already has sends no dev config set", async () => {
    const { code } = await cni("ADD", confOf({ mac: "02:00:00:00:0D:00" }));
    expect(code).toBe(0);
    expect(kernel.calls.some((c) => c.name === "vdpa-config-set")).toBe(false);
  });

  it("vhost add() with another MAC fails with code 2 and the kernel's words when the device refuses, and rolls back", async () => {
    const before = kernel.snapshot();
    const { code, out } = await cni("ADD", confOf({ mac: "02:00:00:00:aa:01" }));
    expect(code).toBe(1);
    expect(out).toMatchObject({
      code: 2,
      msg:
        'Cannot set "mac" 02:00:00:00:aa:01 on vDPA device "vhost0" (mgmtdev vduse): ' +
        "Operation not supported: vdpa: Operation not supported by the device.",
    });
    expect(kernel.snapshot()).toEqual(before);
    expect(leftovers()).toEqual({ states: [], markers: [] });
  });

  it("vhost add() sets the MAC through dev config set where the device takes it; del() puts the old one back", async () => {
    const model = kernel.devices.get("vhost0");
    if (model === undefined) throw new Error("no model");
    model.configSetRefused = false;
    const conf = confOf({ mac: "02:00:00:00:aa:01" });
    const add = await cni("ADD", conf);
    expect(add.code, JSON.stringify(add.out)).toBe(0);
    expect(add.out?.["interfaces"]).toMatchObject([{ mac: "02:00:00:00:aa:01" }]);
    expect(model.mac).toBe("02:00:00:00:aa:01");
    expect((await cni("DEL", conf)).code).toBe(0);
    expect(model.mac).toBe("02:00:00:00:0d:00");
  });

  it("vhost add() refuses an mtu other than the device's (fixed at creation) with code 2", async () => {
    const { out } = await cni("ADD", confOf({ mtu: 9000 }));
    expect(out).toMatchObject({
      code: 2,
      msg: 'Cannot set "mtu" 9000 on vDPA device "vhost0" (driver vhost): its MTU 1450 is fixed when the device is created',
    });
    expect((await cni("ADD", confOf({ mtu: 1450 }))).code).toBe(0);
  });

  it("virtio add() moves the netdev into the pod as CNI_IFNAME with MAC, MTU, addresses and routes", async () => {
    const info = join(dir, "d.json");
    const conf = confOf({
      deviceID: "virt0",
      mac: "02:00:00:00:bb:01",
      mtu: 1400,
      runtimeConfig: { CNIDeviceInfoFile: info },
    });
    const { code, out } = await cni("ADD", conf);
    expect(code, JSON.stringify(out)).toBe(0);
    expect(out?.["interfaces"]).toEqual([{ name: "net1", mac: "02:00:00:00:bb:01", mtu: 1400, sandbox: pod }]);
    const inPod = kernel.links.linksIn(pod).get("net1");
    expect(inPod).toMatchObject({ mac: "02:00:00:00:bb:01", mtu: 1400, up: true, parentDev: "virtio1", altnames: [] });
    expect(kernel.links.linksIn(HOST).has("eth0")).toBe(false);
    expect([...kernel.links.netnses].filter((n) => n.startsWith("/run/netns/acn-"))).toEqual([]);
    expect(JSON.parse(readFileSync(info, "utf8"))).toEqual({
      type: "vdpa",
      version: "1.1.0",
      vdpa: { "parent-device": "virt0", driver: "virtio" },
    });
    expect((await cni("CHECK", { ...conf, prevResult: out })).code).toBe(0);
  });

  it("virtio check() fails when the netdev in the pod has another MAC", async () => {
    const conf = confOf({ deviceID: "virt0" });
    const add = await cni("ADD", conf);
    await kernel.run([{ name: "link-set-mac", args: [`netns=${pod}`, "name=net1", "mac=02:00:00:00:cc:cc"] }]);
    expect((await cni("CHECK", { ...conf, prevResult: add.out })).out).toMatchObject({
      code: 103,
      msg: 'Cannot check interface "net1": MAC is 02:00:00:00:cc:cc, prevResult says 02:00:00:00:0d:01',
    });
  });

  it("virtio check() fails with 103 when the netdev in the pod is administratively down", async () => {
    const conf = confOf({ deviceID: "virt0" });
    const add = await cni("ADD", conf);
    await kernel.run([{ name: "link-down", args: [`netns=${pod}`, "name=net1"] }]);
    expect((await cni("CHECK", { ...conf, prevResult: add.out })).out).toMatchObject({
      code: 103,
      msg: 'Cannot check interface "net1": it is administratively down (ADD left it up)',
    });
  });

  it.each(["vhost0", "virt0"])(
    "check() of %s runs IPAM CHECK once, at the version IPAM accepted at ADD",
    async (id) => {
      const conf = confOf({ deviceID: id });
      const add = await cni("ADD", conf);
      writeFileSync(ipamLog, "");
      expect((await cni("CHECK", { ...conf, prevResult: add.out })).code).toBe(0);
      expect(readFileSync(ipamLog, "utf8")).toBe("CHECK 1.0.0\n");
    },
  );

  it("virtio del() puts the netdev back in the host as it was, and succeeds twice", async () => {
    const before = kernel.snapshot();
    const conf = confOf({ deviceID: "virt0", mac: "02:00:00:00:bb:01", mtu: 1400 });
    expect((await cni("ADD", conf)).code).toBe(0);
    expect((await cni("DEL", conf)).code).toBe(0);
    expect(kernel.snapshot()).toEqual(before);
    expect(leftovers()).toEqual({ states: [], markers: [] });
    expect((await cni("DEL", conf)).code).toBe(0);
  });

  // A vDPA device that vanished from sysfs makes the same config select sriov (a PCI-address device ID)
  // or a name no mode knows; a field ADD would refuse: the stored vdpa attachment's DEL still restores it.
  it.each([
    ["the config selects macvlan now", { deviceID: undefined, master: "eth0" }],
    ["the config selects sriov now", { deviceID: "0000:00:13.0" }],
    ["a field ADD would refuse", { vdpaDriver: "vfio", mtu: 5 }],
  ])("virtio del() restores the stored device when %s", async (_why, extra) => {
    const before = kernel.snapshot();
    expect((await cni("ADD", confOf({ deviceID: "virt0", mac: "02:00:00:00:bb:02" }))).code).toBe(0);
    const del = await cni("DEL", confOf(extra));
    expect(del.code, JSON.stringify(del.out)).toBe(0);
    expect(kernel.snapshot()).toEqual(before);
    expect(leftovers()).toEqual({ states: [], markers: [] });
  });

  it("an owner marker an interrupted ADD left before its record: DEL releases it, the retried ADD is not refused", async () => {
    const before = kernel.snapshot();
    const orphan = () =>
      markers().write("vdpa/virt0", {
        containerID: "ctr1",
        ifname: "net1",
        netns: pod,
        netnsInode: null,
        network: "vdpanet",
        since: new Date().toISOString(),
      });
    orphan();
    expect((await cni("DEL", confOf({ deviceID: "virt0" }))).code).toBe(0);
    expect(leftovers()).toEqual({ states: [], markers: [] });
    orphan();
    const add = await cni("ADD", confOf({ deviceID: "virt0" }));
    expect(add.code, JSON.stringify(add.out)).toBe(0);
    expect((await cni("DEL", confOf({ deviceID: "virt0" }))).code).toBe(0);
    expect(kernel.snapshot()).toEqual(before);
    expect(leftovers()).toEqual({ states: [], markers: [] });
  });

  it("virtio del() puts back the addresses the netdev had in the host", async () => {
    const name = kernel.netdevOf("virt0")?.[1] ?? "";
    await kernel.run([{ name: "addr-add", args: [`name=${name}`, "addr=198.51.100.7/24"] }]);
    const conf = confOf({ deviceID: "virt0" });
    expect((await cni("ADD", conf)).code).toBe(0);
    expect((await cni("DEL", conf)).code).toBe(0);
    const [{ addrs }] = (await kernel.run([{ name: "addr-list", args: [`name=${name}`] }])) as [
      { addrs: { address: string; prefixlen: number }[] },
    ];
    expect(addrs.map((a) => `${a.address}/${a.prefixlen}`)).toEqual(["198.51.100.7/24"]);
  });

  it("virtio del() after the pod netns was deleted finds the netdev in the host and restores it", async () => {
    const before = kernel.snapshot();
    const conf = confOf({ deviceID: "virt0", mtu: 1400 });
    expect((await cni("ADD", conf)).code).toBe(0);
    kernel.links.deleteNetns(pod);
    rmSync(pod);
    const del = await cni("DEL", conf);
    expect(del.code, JSON.stringify(del.out) + del.stderr).toBe(0);
    kernel.links.addNetns(pod); // the snapshot includes the (empty) pod netns
    expect(kernel.snapshot()).toEqual(before);
  });

  it("a driver mismatch without rebind is code 7 and changes nothing", async () => {
    const before = kernel.snapshot();
    const { out } = await cni("ADD", confOf({ vdpaDriver: "virtio" }));
    expect(out).toMatchObject({
      code: 7,
      msg: 'Cannot use vDPA device "vhost0" with "vdpaDriver" "virtio": it is bound to "vhost_vdpa" (set "rebind": true to switch it)',
    });
    expect(kernel.snapshot()).toEqual(before);
    expect(kernel.calls.map((c) => c.name)).toEqual(["vdpa-show"]);
    expect(leftovers()).toEqual({ states: [], markers: [] });
  });

  it("rebind: vhost -> virtio for the pod, and back to vhost on DEL", async () => {
    const before = kernel.snapshot();
    const conf = confOf({ vdpaDriver: "virtio", rebind: true });
    const add = await cni("ADD", conf);
    expect(add.code, JSON.stringify(add.out)).toBe(0);
    expect(kernel.driverOf("vhost0")).toBe("virtio_vdpa");
    expect(kernel.netdevOf("vhost0")).toEqual([pod, "net1"]);
    expect((await cni("CHECK", { ...conf, prevResult: add.out })).code).toBe(0);
    expect((await cni("DEL", conf)).code).toBe(0);
    expect(kernel.driverOf("vhost0")).toBe("vhost_vdpa");
    expect(kernel.snapshot()).toEqual(before);
  });

  it("rebind: virtio -> vhost for the pod; DEL rebinds virtio and gives the new netdev the old name, MAC and MTU", async () => {
    await kernel.run([{ name: "link-set-mtu", args: ["name=eth0", "mtu=1400"] }]);
    const before = kernel.snapshot();
    const conf = confOf({ deviceID: "virt0", vdpaDriver: "vhost", rebind: true });
    const add = await cni("ADD", conf);
    expect(add.code, JSON.stringify(add.out)).toBe(0);
    expect(add.out?.["interfaces"]).toMatchObject([{ socketPath: join(dir, "dev", "vhost-vdpa-1") }]);
    expect(kernel.netdevOf("virt0")).toBeUndefined();
    expect((await cni("DEL", conf)).code).toBe(0);
    expect(kernel.driverOf("virt0")).toBe("virtio_vdpa");
    expect(kernel.snapshot()).toEqual(before); // "eth0" again, although the kernel named the new netdev "eth1"
  });

  it("refuses a device that is not a network device, and an unknown device, with code 7", async () => {
    kernel.addVduse("blk0", "vhost_vdpa", { deviceId: 2 });
    expect((await cni("ADD", confOf({ deviceID: "blk0" }))).out).toMatchObject({
      code: 7,
      msg: 'Cannot use vDPA device "blk0": it is virtio device type 2, not a network device (1)',
    });
    expect((await cni("ADD", confOf({ deviceID: "nope", vdpaDriver: "vhost" }))).out).toMatchObject({
      code: 7,
      msg: `Cannot use vDPA device "nope": no such device on the vdpa bus (${join(dir, "sys")}/bus/vdpa/devices)`,
    });
    expect(leftovers()).toEqual({ states: [], markers: [] });
  });

  it("a second pod asking for the same device is refused while the first holds it", async () => {
    expect((await cni("ADD", confOf())).code).toBe(0);
    const second = await cni("ADD", confOf(), { CNI_CONTAINERID: "ctr2", CNI_NETNS: pod2 });
    expect(second.out).toMatchObject({ code: 7 });
    expect(String(second.out?.["msg"])).toContain('in use by container "ctr1"');
    expect((await cni("DEL", confOf())).code).toBe(0);
    expect((await cni("ADD", confOf(), { CNI_CONTAINERID: "ctr2", CNI_NETNS: pod2 })).code).toBe(0);
  });

  it("a stale owner (netns gone) is reclaimed: its device is restored before the new pod takes it", async () => {
    const conf = confOf({ deviceID: "virt0", vdpaDriver: "vhost", rebind: true });
    expect((await cni("ADD", conf)).code).toBe(0);
    alive.delete(pod);
    const add2 = await cni("ADD", confOf({ deviceID: "virt0" }), { CNI_CONTAINERID: "ctr2", CNI_NETNS: pod2 });
    expect(add2.code, JSON.stringify(add2.out)).toBe(0);
    expect(kernel.netdevOf("virt0")).toEqual([pod2, "net1"]);
    expect((await cni("DEL", conf)).code).toBe(0); // the stale attachment's DEL leaves the new owner alone
    expect(kernel.netdevOf("virt0")).toEqual([pod2, "net1"]);
  });

  const steps = ["resolve", "lock", "snapshot", "rebind", "ipam", "configure", "device-info", "done"];
  const vhostSteps = ["config-mac", "vhost-info"];
  const virtioSteps = ["tmp-netns", "move-tmp", "altname", "move-pod", "mac", "mtu"];
  const cases = [
    ...[...steps, ...vhostSteps].map((s) => ["virt0 -> vhost", s] as const),
    ...[...steps, ...virtioSteps].map((s) => ["vhost0 -> virtio", s] as const),
    ...[...steps, ...virtioSteps].map((s) => ["virt0 (virtio)", s] as const),
  ];
  it.each(cases.map(([what, s], i) => [what, s, i % 2 === 0 ? "DEL" : "GC"] as const))(
    "%s: a fault after %s, then %s, leaves the host as before",
    async (what, step, cleanup) => {
      const model = kernel.devices.get("virt0");
      if (model === undefined) throw new Error("no model");
      model.configSetRefused = false;
      const info = join(dir, "f.json");
      const extra =
        what === "virt0 -> vhost"
          ? { deviceID: "virt0", vdpaDriver: "vhost", rebind: true, mac: "02:00:00:00:aa:02" }
          : what === "vhost0 -> virtio"
            ? { vdpaDriver: "virtio", rebind: true, mac: "02:00:00:00:aa:03", mtu: 1400 }
            : { deviceID: "virt0", mac: "02:00:00:00:aa:04", mtu: 1400 };
      const conf = confOf({ ...extra, runtimeConfig: { CNIDeviceInfoFile: info } });
      const before = kernel.snapshot();
      const add = await cni("ADD", conf, { ACCELNET_TEST_FAULT: step });
      expect(add.out?.["msg"]).toBe(`Cannot continue ADD: test fault injected after step "${step}"`);
      expect(kernel.snapshot()).toEqual(before);
      const after =
        cleanup === "DEL" ? await cni("DEL", conf) : await cni("GC", { ...confOf(), "cni.dev/valid-attachments": [] });
      expect(after.code, JSON.stringify(after.out)).toBe(0);
      expect(kernel.snapshot()).toEqual(before);
      expect(model.mac).toBe("02:00:00:00:0d:01");
      expect(leftovers()).toEqual({ states: [], markers: [] });
      expect(existsSync(info)).toBe(false);
    },
  );

  it("GC restores an attachment that is not in valid-attachments and keeps a valid one", async () => {
    const before = kernel.snapshot();
    expect((await cni("ADD", confOf({ deviceID: "virt0" }))).code).toBe(0);
    expect((await cni("ADD", confOf(), { CNI_CONTAINERID: "ctr2", CNI_NETNS: pod2 })).code).toBe(0);
    const gc = await cni("GC", { ...confOf(), "cni.dev/valid-attachments": [{ containerID: "ctr2", ifname: "net1" }] });
    expect(gc.code, JSON.stringify(gc.out)).toBe(0);
    expect(kernel.netdevOf("virt0")).toEqual([HOST, "eth0"]);
    expect(
      store()
        .list()
        .states.map((s) => s.containerID),
    ).toEqual(["ctr2"]);
    expect((await cni("DEL", confOf(), { CNI_CONTAINERID: "ctr2", CNI_NETNS: pod2 })).code).toBe(0);
    expect(kernel.snapshot()).toEqual(before);
  });

  it("reconcileOrphanedVdpa() restores devices whose owner's netns is gone", async () => {
    const before = kernel.snapshot();
    expect((await cni("ADD", confOf({ deviceID: "virt0", vdpaDriver: "vhost", rebind: true }))).code).toBe(0);
    const report = await reconcileOrphanedVdpa(stateDir(), kernel, silentLogger, {
      mode: mode(),
      isAlive: () => false,
      env: { CNI_PATH: dir, FAKE_LOG: ipamLog },
    });
    expect(report).toEqual({ restored: ["vdpa/virt0"], failed: [] });
    expect(kernel.snapshot()).toEqual(before);
    expect(leftovers()).toEqual({ states: [], markers: [] });
  });

  itRefusesTenantPaths(() => ({ dir, kernel, add: (extra) => cni("ADD", confOf(extra)) }));

  it("status() is ready when the state dir is writable and the helper answers", async () => {
    const { code, out } = await cni("STATUS", confOf({ ipam: undefined }));
    expect(code, JSON.stringify(out)).toBe(0);
  });
});
