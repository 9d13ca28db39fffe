// The vDPA mode on the lab's VDUSE virtio-net devices, end to end through the CNI dispatcher with the
// real helper and the real vdpa bus: vhost (char device, ioctl-read MAC/MTU, device-info file), virtio
// (netdev in the pod, restored after), a driver mismatch with and without rebind, DEL after the pod
// netns is gone, the MAC refusal of VDUSE (dev config set: EOPNOTSUPP), and a fault after every ADD
// step followed by DEL or GC. Host state is read with sysfs, iproute2 and the vdpa tool, independently
// of the helper. IPAM is Debian's host-local (containernetworking-plugins, in the guest at /usr/lib/cni).
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createRegistry, modeFuncs } from "../../../cni/modes/index.js";
import { macvlan } from "../../../cni/modes/macvlan.js";
import { createVdpaMode } from "../../../cni/modes/vdpa.js";
import { ipJson, leftovers, netdevState, runCni, type IpLink } from "./cni.js";
import { helper, requireCommands } from "./helper.js";
import {
  cleanupAll,
  createNetns,
  createVdpa,
  inLab,
  onCleanup,
  rebindVdpa,
  sh,
  vdpaDriver,
  vhostVdpaChardev,
  virtioNetdev,
  waitFor,
  type VdpaDevice,
} from "./prelude.js";

/** Everything DEL must restore, read without the helper: driver, char device, netdev, config-space MAC/MTU. */
async function hostState(dev: VdpaDevice) {
  const config = JSON.parse((await sh(["vdpa", "-j", "dev", "config", "show", dev.name])).stdout) as {
    config: Record<string, { mac?: string; mtu?: number }>;
  };
  return {
    driver: vdpaDriver(dev.name),
    chardev: vhostVdpaChardev(dev.name) ?? null,
    netdev: await netdevState(virtioNetdev(dev.name)),
    config: { mac: config.config[dev.name]?.mac, mtu: config.config[dev.name]?.mtu },
  };
}

describe.skipIf(!inLab)("lab: vDPA mode on VDUSE virtio-net devices", () => {
  let dir = "";
  let stateDir = "";
  let podA = "";
  let podB = "";
  let vhost: VdpaDevice; // stays on vhost_vdpa between tests
  let virtio: VdpaDevice; // stays on virtio_vdpa between tests

  beforeAll(async () => {
    await requireCommands("vdpa-show", "vdpa-bind", "vdpa-config-set", "vhost-vdpa-info", "link-move", "netns-create");
    podA = await createNetns("vdpa-a");
    podB = await createNetns("vdpa-b");
    vhost = await createVdpa("lab-vdpa-vh", "02:00:00:00:57:01", 1450);
    virtio = await createVdpa("lab-vdpa-vi", "02:00:00:00:57:02", 1500);
    rebindVdpa(virtio.name, "virtio_vdpa");
    onCleanup(`rebind ${virtio.name} to vhost_vdpa`, () => rebindVdpa(virtio.name, "vhost_vdpa"));
    await waitFor(`netdev of ${virtio.name}`, () => virtioNetdev(virtio.name));
    dir = mkdtempSync("/run/acn-vdpa-"); // /run: root 0755 (accelnet refuses a state dir under /tmp, 1777);
    stateDir = path.join(dir, "state");
  });
  afterAll(cleanupAll);

  const confOf = (extra: Record<string, unknown> = {}) => ({
    cniVersion: "1.1.0",
    name: "labvdpa",
    type: "accelnet",
    deviceID: vhost.name,
    // A pool of one address: every ADD gets 10.57.0.2, and one that is not released fails the next ADD.
    ipam: {
      type: "host-local",
      ranges: [[{ subnet: "10.57.0.0/24", rangeStart: "10.57.0.2", rangeEnd: "10.57.0.2", gateway: "10.57.0.1" }]],
      routes: [{ dst: "0.0.0.0/0" }],
      dataDir: path.join(dir, "ipam"),
    },
    ...extra,
  });

  // Mode selection as shipped: a deviceID under /sys/bus/vdpa/devices selects vdpa.
  const cni = (command: string, conf: unknown, env: Record<string, string> = {}) =>
    runCni(
      modeFuncs(createRegistry([macvlan, createVdpaMode()])),
      { netns: podA, stateDir, devinfoDir: dir },
      command,
      conf,
      env,
    );

  test("vhost: ADD returns the char device and the ioctl-read MAC/MTU, writes the device-info file; CHECK; DEL", async () => {
    const before = await hostState(vhost);
    const chardev = vhostVdpaChardev(vhost.name);
    const infoFile = path.join(dir, "devinfo", "vh.json");
    const conf = confOf({ vdpaDriver: "vhost", runtimeConfig: { CNIDeviceInfoFile: infoFile } });
    const add = await cni("ADD", conf);
    expect(add.code, JSON.stringify(add.out) + add.stderr).toBe(0);
    expect(add.out?.["interfaces"]).toEqual([
      { name: "net1", mac: vhost.mac, mtu: vhost.mtu, sandbox: podA, socketPath: chardev },
    ]);
    expect(add.out?.["ips"]).toEqual([{ interface: 0, address: "10.57.0.2/24", gateway: "10.57.0.1" }]);
    expect((await ipJson<unknown[]>("-n", "vdpa-a", "link", "show")).length).toBe(1); // lo only
    expect(JSON.parse(readFileSync(infoFile, "utf8"))).toEqual({
      type: "vdpa",
      version: "1.1.0",
      vdpa: { "parent-device": vhost.name, driver: "vhost", path: chardev },
    });
    // the same through the helper's ioctls, independently of the result
    expect(await helper("vhost-vdpa-info", { dev: vhost.name })).toMatchObject({
      deviceId: 1,
      mac: vhost.mac,
      mtu: vhost.mtu,
      path: chardev,
    });
    expect((await cni("CHECK", { ...conf, prevResult: add.out })).code).toBe(0);
    expect((await cni("DEL", conf)).code).toBe(0);
    expect(await hostState(vhost)).toEqual(before);
    expect(existsSync(infoFile)).toBe(false);
    expect(leftovers(stateDir)).toEqual({ states: [], markers: [] });
    expect((await cni("DEL", conf)).code).toBe(0);
  });

  test("vhost: a MAC VDUSE cannot take fails with code 2 and the kernel's words, and rolls back", async () => {
    const before = await hostState(vhost);
    const { code, out } = await cni("ADD", confOf({ mac: "02:00:00:00:57:99" }));
    expect(code).toBe(1);
    expect(out).toMatchObject({ code: 2 });
    expect(String(out?.["msg"])).toBe(
      `Cannot set "mac" 02:00:00:00:57:99 on vDPA device "${vhost.name}" (mgmtdev vduse): ` +
        "Operation not supported: vdpa: Operation not supported by the device.",
    );
    expect(await hostState(vhost)).toEqual(before);
    expect(leftovers(stateDir)).toEqual({ states: [], markers: [] });
    // the MAC it already has is no change at all
    expect((await cni("ADD", confOf({ mac: vhost.mac }))).code).toBe(0);
    expect((await cni("DEL", confOf({ mac: vhost.mac }))).code).toBe(0);
  });

  test("virtio: ADD moves the netdev into the pod (MAC, MTU, up, address); CHECK; DEL restores it field by field", async () => {
    const before = await hostState(virtio);
    const conf = confOf({ deviceID: virtio.name, vdpaDriver: "virtio", mac: "02:00:00:00:57:aa", mtu: 1400 });
    const add = await cni("ADD", conf);
    expect(add.code, JSON.stringify(add.out) + add.stderr).toBe(0);
    expect(add.out?.["interfaces"]).toEqual([{ name: "net1", mac: "02:00:00:00:57:aa", mtu: 1400, sandbox: podA }]);
    const [inPod] = await ipJson<(IpLink & { addr_info: { local: string }[] })[]>(
      "-n",
      "vdpa-a",
      "addr",
      "show",
      "dev",
      "net1",
    );
    expect(inPod).toMatchObject({ ifname: "net1", address: "02:00:00:00:57:aa", mtu: 1400 });
    expect(inPod?.flags).toContain("UP");
    expect(inPod?.addr_info.map((a) => a.local)).toContain("10.57.0.2");
    expect(inPod?.altnames ?? []).toEqual([]);
    expect(virtioNetdev(virtio.name)).toBeUndefined(); // not in the host any more
    expect((await cni("CHECK", { ...conf, prevResult: add.out })).code).toBe(0);
    expect((await cni("DEL", conf)).code).toBe(0);
    expect(await hostState(virtio)).toEqual(before);
    expect(leftovers(stateDir)).toEqual({ states: [], markers: [] });
  });

  test("driver mismatch without rebind is code 7 and changes nothing; with rebind the pod gets it and DEL rebinds back", async () => {
    const before = await hostState(vhost);
    const refused = await cni("ADD", confOf({ vdpaDriver: "virtio" }));
    expect(refused.out).toMatchObject({
      code: 7,
      msg: `Cannot use vDPA device "${vhost.name}" with "vdpaDriver" "virtio": it is bound to "vhost_vdpa" (set "rebind": true to switch it)`,
    });
    expect(await hostState(vhost)).toEqual(before);

    const conf = confOf({ vdpaDriver: "virtio", rebind: true });
    const add = await cni("ADD", conf);
    expect(add.code, JSON.stringify(add.out) + add.stderr).toBe(0);
    expect(vdpaDriver(vhost.name)).toBe("virtio_vdpa");
    const [inPod] = await ipJson<IpLink[]>("-n", "vdpa-a", "link", "show", "dev", "net1");
    expect(inPod).toMatchObject({ address: vhost.mac, mtu: vhost.mtu });
    expect((await cni("CHECK", { ...conf, prevResult: add.out })).code).toBe(0);
    expect((await cni("DEL", conf)).code).toBe(0);
    expect(await hostState(vhost)).toEqual(before);
  });

  test("rebind virtio -> vhost for a DPDK pod; DEL rebinds virtio_vdpa and the new netdev gets the old name, MAC, MTU", async () => {
    const before = await hostState(virtio);
    const conf = confOf({ deviceID: virtio.name, vdpaDriver: "vhost", rebind: true });
    const add = await cni("ADD", conf);
    expect(add.code, JSON.stringify(add.out) + add.stderr).toBe(0);
    expect(add.out?.["interfaces"]).toEqual([
      { name: "net1", mac: virtio.mac, mtu: virtio.mtu, sandbox: podA, socketPath: vhostVdpaChardev(virtio.name) },
    ]);
    expect(vdpaDriver(virtio.name)).toBe("vhost_vdpa");
    expect((await cni("DEL", conf)).code).toBe(0);
    expect(await hostState(virtio)).toEqual(before);
  });

  test("virtio: DEL after the pod netns was deleted finds the netdev in the host and restores it", async () => {
    const before = await hostState(virtio);
    // Not createNetns: this test deletes the netns itself; cleanup only covers a failure before that.
    await sh(["ip", "netns", "add", "vdpa-gone"]);
    onCleanup("delete netns vdpa-gone", async () => {
      if (existsSync("/run/netns/vdpa-gone")) await sh(["ip", "netns", "del", "vdpa-gone"]);
    });
    const gone = "/run/netns/vdpa-gone";
    const env = { CNI_CONTAINERID: "ctr-gone", CNI_NETNS: gone };
    const conf = confOf({ deviceID: virtio.name, mtu: 1400 });
    expect((await cni("ADD", conf, env)).code).toBe(0);
    await sh(["ip", "netns", "del", "vdpa-gone"]);
    const del = await cni("DEL", conf, env);
    expect(del.code, JSON.stringify(del.out) + del.stderr).toBe(0);
    expect(await hostState(virtio)).toEqual(before);
    expect(leftovers(stateDir)).toEqual({ states: [], markers: [] });
  });

  test("two pods asking for the same device: the second is refused while the first holds it", async () => {
    expect((await cni("ADD", confOf())).code).toBe(0);
    const second = await cni("ADD", confOf(), { CNI_CONTAINERID: "ctr-b", CNI_NETNS: podB });
    expect(second.out).toMatchObject({ code: 7 });
    expect(String(second.out?.["msg"])).toContain(`in use by container "ctr-a"`);
    expect((await cni("DEL", confOf())).code).toBe(0);
  });

  const common = ["resolve", "lock", "snapshot", "rebind", "ipam", "configure", "device-info", "done"];
  const netdevSteps = ["tmp-netns", "move-tmp", "altname", "move-pod", "mac", "mtu"];
  const cases = [
    ...[...common, ...netdevSteps].map((s) => ["virtio", s] as const),
    ...[...common, ...netdevSteps].map((s) => ["vhost -> virtio", s] as const),
    ...[...common, "config-mac", "vhost-info"].map((s) => ["virtio -> vhost", s] as const),
  ];
  test.each(cases.map(([what, s], i) => [what, s, i % 2 === 0 ? "DEL" : "GC"] as const))(
    "%s: a fault after %s, then %s, leaves the device as before",
    async (what, step, cleanup) => {
      const dev = what === "vhost -> virtio" ? vhost : virtio;
      const extra =
        what === "virtio"
          ? { deviceID: virtio.name, mac: "02:00:00:00:57:bb", mtu: 1400 }
          : what === "vhost -> virtio"
            ? { vdpaDriver: "virtio", rebind: true, mtu: 1400 }
            : { deviceID: virtio.name, vdpaDriver: "vhost", rebind: true };
      const infoFile = path.join(dir, "f.json");
      const conf = confOf({ ...extra, runtimeConfig: { CNIDeviceInfoFile: infoFile } });
      const before = await hostState(dev);
      const add = await cni("ADD", conf, { ACCELNET_TEST_FAULT: step });
      expect(add.out?.["msg"]).toBe(`Cannot continue ADD: test fault injected after step "${step}"`);
      expect(await hostState(dev)).toEqual(before);
      const after =
        cleanup === "DEL" ? await cni("DEL", conf) : await cni("GC", { ...confOf(), "cni.dev/valid-attachments": [] });
      expect(after.code, JSON.stringify(after.out)).toBe(0);
      expect(await hostState(dev)).toEqual(before);
      expect(leftovers(stateDir)).toEqual({ states: [], markers: [] });
      expect(existsSync(infoFile)).toBe(false);
    },
  );
});
