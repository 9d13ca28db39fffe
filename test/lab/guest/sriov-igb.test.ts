// The SR-IOV mode on the lab's emulated 82576 (igb PF, igbvf VFs), end to end through the CNI
// dispatcher with the real helper: kernel mode with every setting igb takes, DPDK mode on vfio-pci,
// DEL after the pod netns is gone, two pods asking for one VF, a fault after every ADD step followed
// by DEL or GC, and the settings igb refuses on netdevsim VFs through the same mode code.
// Host state is read with iproute2 and sysfs, independently of the helper. IPAM is Debian's host-local
// (containernetworking-plugins, packed into the guest at /usr/lib/cni).
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Vf } from "../../../native/client/index.js";
import { StateStore } from "../../../cni/lib/state.js";
import { helperVfPlatform, type VfPlatform } from "../../../cni/lib/vf.js";
import { createRegistry, modeFuncs } from "../../../cni/modes/index.js";
import { macvlan } from "../../../cni/modes/macvlan.js";
import { createSriovMode } from "../../../cni/modes/sriov.js";
import { helperRoundTrips, ipJson, leftovers, netdevState, runCni } from "./cni.js";
import { requireCommands } from "./helper.js";
import {
  cleanupAll,
  createNetdevsim,
  createNetns,
  createVfs,
  inLab,
  onCleanup,
  pciDriver,
  pciNetdevs,
  pfNetdev,
  rebindPci,
  sh,
  waitFor,
  type Netdevsim,
  type Vf as LabVf,
} from "./prelude.js";

interface VfInfo {
  vf: number;
  address: string;
  vlan_list?: { vlan?: number; qos?: number; protocol?: string }[];
  rate?: { max_tx: number; min_tx: number };
  spoofchk?: boolean;
  trust?: boolean;
  link_state?: string;
}

/** What DEL must restore, read with iproute2: the VF netdev (by PCI address) and the PF's view of the VF. */
async function hostState(pf: string, vf: LabVf) {
  const [pfLink] = await ipJson<{ vfinfo_list?: VfInfo[] }[]>("-d", "link", "show", "dev", pf);
  const info = pfLink?.vfinfo_list?.find((v) => v.vf === vf.index);
  return {
    driver: pciDriver(vf.addr),
    netdev: await netdevState(pciNetdevs(vf.addr)[0]),
    vf: info,
  };
}

describe.skipIf(!inLab)("lab: SR-IOV mode on igb VFs", () => {
  let pf = "";
  let vfs: LabVf[] = [];
  let dir = "";
  let stateDir = "";
  let podA = "";
  let podB = "";
  let nsim: Netdevsim;

  beforeAll(async () => {
    await requireCommands("pci-show", "vf-show", "vf-set", "link-move", "link-altname-del");
    pf = pfNetdev();
    await sh(["ip", "link", "set", "dev", pf, "up"]); // igb takes max_tx_rate only with the PF up
    vfs = await createVfs(2);
    podA = await createNetns("sriov-a");
    podB = await createNetns("sriov-b");
    nsim = await createNetdevsim(31, 2);
    dir = mkdtempSync("/run/acn-sriov-"); // /run: root 0755 (accelnet refuses a state dir under /tmp, 1777);
    stateDir = path.join(dir, "state");
  });
  afterAll(cleanupAll);

  const vf0 = () => vfs[0] as LabVf;
  const vf1 = () => vfs[1] as LabVf;
  const confOf = (extra: Record<string, unknown> = {}) => ({
    cniVersion: "1.1.0",
    name: "labsriov",
    type: "accelnet",
    deviceID: vf0().addr,
    // A pool of one address: every ADD gets 10.56.0.2, and one that is not released fails the next ADD.
    ipam: {
      type: "host-local",
      ranges: [[{ subnet: "10.56.0.0/24", rangeStart: "10.56.0.2", rangeEnd: "10.56.0.2", gateway: "10.56.0.1" }]],
      routes: [{ dst: "0.0.0.0/0" }],
      dataDir: path.join(dir, "ipam"),
    },
    ...extra,
  });

  const cni = (command: string, conf: unknown, env: Record<string, string> = {}, platform = helperVfPlatform) =>
    runCni(
      modeFuncs(createRegistry([macvlan, createSriovMode({ platform })]), { isVdpaDevice: () => false }),
      { netns: podA, stateDir, devinfoDir: dir },
      command,
      conf,
      env,
    );

  const allIgb = {
    mac: "02:00:00:5a:00:01",
    vlan: 100,
    vlanQoS: 3,
    spoofchk: "off",
    trust: "on",
    max_tx_rate: 100,
    mtu: 1400,
  };

  test("kernel mode round trips: an ADD with every igb setting takes at most 9 helper execs, its DEL at most 8 (counts and wall time printed)", async () => {
    const conf = confOf(allIgb);
    const rows: string[] = [];
    for (let i = 0; i < 3; i++) {
      const before = helperRoundTrips.count;
      const t0 = performance.now();
      const add = await cni("ADD", conf);
      const t1 = performance.now();
      expect(add.code, JSON.stringify(add.out) + add.stderr).toBe(0);
      const addTrips = helperRoundTrips.count - before;
      const del = await cni("DEL", conf);
      const t2 = performance.now();
      expect(del.code, JSON.stringify(del.out) + del.stderr).toBe(0);
      const delTrips = helperRoundTrips.count - before - addTrips;
      expect(addTrips).toBeLessThanOrEqual(9);
      expect(delTrips).toBeLessThanOrEqual(8);
      rows.push(
        `run ${i}: ADD ${addTrips} round trips ${(t1 - t0).toFixed(0)} ms, DEL ${delTrips} round trips ${(t2 - t1).toFixed(0)} ms`,
      );
    }
    process.stdout.write(`lab sriov kernel mode (every igb setting, host-local):\n${rows.join("\n")}\n`);
    expect(leftovers(stateDir)).toEqual({ states: [], markers: [] });
  });

  test("kernel mode: ADD applies every igb setting (PF and netns views), CHECK passes, DEL restores the host field by field", async () => {
    const before = await hostState(pf, vf0());
    const infoFile = path.join(dir, "devinfo", "a.json");
    const conf = confOf({ ...allIgb, runtimeConfig: { CNIDeviceInfoFile: infoFile } });
    const add = await cni("ADD", conf);
    expect(add.code, JSON.stringify(add.out) + add.stderr).toBe(0);
    expect(add.out?.["interfaces"]).toEqual([
      { name: "net1", mac: "02:00:00:5a:00:01", mtu: 1400, sandbox: podA, pciID: vf0().addr },
    ]);
    // PF's view
    const [pfLink] = await ipJson<{ vfinfo_list: VfInfo[] }[]>("-d", "link", "show", "dev", pf);
    const info = pfLink?.vfinfo_list.find((v) => v.vf === vf0().index);
    expect(info).toMatchObject({ address: "02:00:00:5a:00:01", spoofchk: false, trust: true });
    expect(info?.vlan_list?.[0]).toMatchObject({ vlan: 100, qos: 3 });
    expect(info?.rate?.max_tx).toBe(100);
    // netns view
    const [inPod] = await ipJson<{ ifname: string; address: string; mtu: number; flags: string[] }[]>(
      "-n",
      "sriov-a",
      "addr",
      "show",
      "dev",
      "net1",
    );
    expect(inPod).toMatchObject({ ifname: "net1", address: "02:00:00:5a:00:01", mtu: 1400 });
    expect(inPod?.flags).toContain("UP");
    expect(pciNetdevs(vf0().addr)).toEqual([]);
    expect(JSON.parse(readFileSync(infoFile, "utf8"))).toEqual({
      type: "pci",
      version: "1.1.0",
      pci: { "pci-address": vf0().addr, "pf-pci-address": "0000:00:02.0" },
    });
    const check = await cni("CHECK", { ...conf, prevResult: add.out });
    expect(check.code, JSON.stringify(check.out)).toBe(0);

    const del = await cni("DEL", conf);
    expect(del.code, JSON.stringify(del.out) + del.stderr).toBe(0);
    const after = await waitFor("VF netdev back in the host", () =>
      pciNetdevs(vf0().addr).length > 0 ? true : undefined,
    );
    expect(after).toBe(true);
    const restored = await hostState(pf, vf0());
    // Field by field; the admin MAC on its own: igb starts VFs with 00:00:00:00:00:00, which only a
    // helper whose vf-set accepts the all-zero MAC can write back.
    expect(restored.netdev).toEqual(before.netdev);
    expect(restored.driver).toEqual(before.driver);
    expect({ ...restored.vf, address: "" }).toEqual({ ...before.vf, address: "" });
    expect(restored.vf?.address, "admin MAC of the VF after DEL").toBe(before.vf?.address);
    expect(existsSync(infoFile)).toBe(false);
    expect((await cni("DEL", conf)).code).toBe(0);
  });

  test("a setting igb refuses names the setting and the driver, and ADD rolls back", async () => {
    const before = await hostState(pf, vf0());
    const { code, out } = await cni("ADD", confOf({ vlan: 200, link_state: "enable" }));
    expect(code).toBe(1);
    expect(out).toMatchObject({
      code: 2,
      msg: `Cannot set "link_state" on VF ${vf0().index} of "${pf}" (driver igb): operation not supported`,
    });
    expect(await hostState(pf, vf0())).toEqual(before);
    expect(new StateStore(stateDir).read("ctr-a", "net1")).toBeNull();
  });

  test("igb refuses min_tx_rate with EINVAL: code 2 naming the setting and the driver, and ADD rolls back", async () => {
    const before = await hostState(pf, vf0());
    const { out } = await cni("ADD", confOf({ vlan: 200, min_tx_rate: 10, max_tx_rate: 100 }));
    expect(out).toMatchObject({
      code: 2,
      msg: `Cannot set "min_tx_rate" on VF ${vf0().index} of "${pf}" (driver igb): invalid argument`,
    });
    expect(await hostState(pf, vf0())).toEqual(before);
    expect(new StateStore(stateDir).read("ctr-a", "net1")).toBeNull();
  });

  test("DEL puts back the addresses the VF netdev had in the host (the move to the pod flushed them)", async () => {
    const netdev = () => pciNetdevs(vf0().addr)[0] as string;
    const addrs = async () =>
      (
        await ipJson<{ addr_info: { local: string; prefixlen: number }[] }[]>("addr", "show", "dev", netdev())
      )[0]?.addr_info
        .map((a) => `${a.local}/${a.prefixlen}`)
        .sort();
    const name = netdev();
    await sh(["ip", "link", "set", "dev", name, "up"]);
    await sh(["ip", "addr", "add", "192.0.2.9/24", "dev", name]);
    await sh(["ip", "addr", "add", "2001:db8::9/64", "dev", name, "nodad"]);
    try {
      const before = await addrs();
      const state = await hostState(pf, vf0());
      expect(before).toEqual(expect.arrayContaining(["192.0.2.9/24", "2001:db8::9/64"]));
      const add = await cni("ADD", confOf(allIgb));
      expect(add.code, JSON.stringify(add.out)).toBe(0);
      expect(pciNetdevs(vf0().addr)).toEqual([]);
      const del = await cni("DEL", confOf(allIgb));
      expect(del.code, JSON.stringify(del.out) + del.stderr).toBe(0);
      await waitFor("VF netdev back in the host", () => (pciNetdevs(vf0().addr).length > 0 ? true : undefined));
      expect(await addrs()).toEqual(before);
      expect(await hostState(pf, vf0())).toEqual(state);
    } finally {
      await sh(["ip", "addr", "flush", "dev", netdev()], { allowFailure: true });
      await sh(["ip", "link", "set", "dev", netdev(), "down"], { allowFailure: true });
    }
  });

  test("DPDK mode: a vfio-pci VF gets its VF settings and IPAM addresses, no netdev; DEL restores", async () => {
    const vf = vf1();
    rebindPci(vf.addr, "vfio-pci");
    onCleanup(`rebind ${vf.addr} to igbvf`, () => rebindPci(vf.addr, "igbvf"));
    await waitFor("vfio-pci binding", () => (pciDriver(vf.addr) === "vfio-pci" ? true : undefined));
    const before = await hostState(pf, vf);
    const conf = confOf({ deviceID: vf.addr, vlan: 300, spoofchk: "off" });
    const add = await cni("ADD", conf, { CNI_CONTAINERID: "ctr-dpdk" });
    expect(add.code, JSON.stringify(add.out)).toBe(0);
    const [pfLink] = await ipJson<{ mtu: number }[]>("link", "show", "dev", pf);
    expect(add.out?.["interfaces"]).toEqual([{ name: "net1", mtu: pfLink?.mtu, sandbox: podA, pciID: vf.addr }]);
    expect(add.out?.["ips"]).toEqual([{ interface: 0, address: "10.56.0.2/24", gateway: "10.56.0.1" }]);
    expect((await ipJson<unknown[]>("-n", "sriov-a", "link", "show")).length).toBe(1); // lo only
    const mid = await hostState(pf, vf);
    expect(mid.vf?.vlan_list?.[0]?.vlan).toBe(300);
    expect((await cni("DEL", conf, { CNI_CONTAINERID: "ctr-dpdk" })).code).toBe(0);
    expect(await hostState(pf, vf)).toEqual(before);
  });

  test("DEL after the pod netns was deleted finds the VF netdev in the host and restores it", async () => {
    const before = await hostState(pf, vf0());
    await sh(["ip", "netns", "add", "sriov-gone"]);
    onCleanup("delete netns sriov-gone", () =>
      sh(["ip", "netns", "del", "sriov-gone"], { allowFailure: true }).then(() => undefined),
    );
    const gone = "/run/netns/sriov-gone";
    const env = { CNI_CONTAINERID: "ctr-gone", CNI_NETNS: gone };
    expect((await cni("ADD", confOf(allIgb), env)).code).toBe(0);
    await sh(["ip", "netns", "del", "sriov-gone"]);
    const del = await cni("DEL", confOf(allIgb), env);
    expect(del.code, JSON.stringify(del.out) + del.stderr).toBe(0);
    expect(await hostState(pf, vf0())).toEqual(before);
  });

  test("two pods asking for the same VF: the second is refused while the first holds it", async () => {
    const first = await cni("ADD", confOf({ vlan: 11 }));
    expect(first.code).toBe(0);
    const second = await cni("ADD", confOf({ vlan: 22 }), { CNI_CONTAINERID: "ctr-b", CNI_NETNS: podB });
    expect(second.out).toMatchObject({ code: 7 });
    expect(String(second.out?.["msg"])).toContain(`in use by container "ctr-a"`);
    expect((await hostState(pf, vf0())).vf?.vlan_list?.[0]?.vlan).toBe(11);
    expect((await cni("DEL", confOf())).code).toBe(0);
    const retry = await cni("ADD", confOf({ vlan: 22 }), { CNI_CONTAINERID: "ctr-b", CNI_NETNS: podB });
    expect(retry.code, JSON.stringify(retry.out)).toBe(0);
    expect((await cni("DEL", confOf(), { CNI_CONTAINERID: "ctr-b", CNI_NETNS: podB })).code).toBe(0);
  });

  const steps = ["resolve", "lock", "snapshot", "vf-mac", "vf-vlan", "vf-spoofchk", "vf-trust", "vf-rate"];
  const netdevSteps = [
    "tmp-netns",
    "move-tmp",
    "altname",
    "move-pod",
    "mac",
    "mtu",
    "ipam",
    "configure",
    "device-info",
    "done",
  ];
  test.each([...steps, ...netdevSteps].map((s, i) => [s, i % 2 === 0 ? "DEL" : "GC"] as const))(
    "a fault after %s, then %s, leaves the host identical",
    async (step, cleanup) => {
      const before = await hostState(pf, vf0());
      const conf = confOf({ ...allIgb, runtimeConfig: { CNIDeviceInfoFile: path.join(dir, "f.json") } });
      const add = await cni("ADD", conf, { ACCELNET_TEST_FAULT: step });
      expect(add.out?.["msg"]).toBe(`Cannot continue ADD: test fault injected after step "${step}"`);
      expect(await hostState(pf, vf0())).toEqual(before);
      const after =
        cleanup === "DEL" ? await cni("DEL", conf) : await cni("GC", { ...confOf(), "cni.dev/valid-attachments": [] });
      expect(after.code, JSON.stringify(after.out)).toBe(0);
      expect(await hostState(pf, vf0())).toEqual(before);
      expect(leftovers(stateDir)).toEqual({ states: [], markers: [] });
      expect(existsSync(path.join(dir, "f.json"))).toBe(false);
    },
  );

  test("settings igb refuses (link_state, min_tx_rate, 802.1ad) work on netdevsim VFs through the same code", async () => {
    // netdevsim VFs have VF settings but no PCI function and no netdev: resolve them by hand, like a
    // VF bound to a DPDK driver, and use the helper's real vf-show/vf-set on the netdevsim PF.
    const platform: VfPlatform = {
      lookup: (_native, addr) =>
        Promise.resolve({
          addr,
          pfAddr: "netdevsim31",
          pfNetdev: nsim.netdev,
          pfDriver: "netdevsim",
          index: 1,
          driver: "vfio-pci",
          netdevs: [],
        }),
      showVf: helperVfPlatform.showVf,
      setVfs: helperVfPlatform.setVfs,
    };
    const shown = async (): Promise<Vf | undefined> => {
      const [link] = await ipJson<{ vfinfo_list: VfInfo[] }[]>("-d", "link", "show", "dev", nsim.netdev);
      const v = link?.vfinfo_list.find((x) => x.vf === 1);
      return v as unknown as Vf;
    };
    const before = await shown();
    const conf = confOf({
      deviceID: "0000:00:1f.1",
      vlan: 30,
      vlanProto: "802.1ad",
      link_state: "disable",
      min_tx_rate: 10,
      max_tx_rate: 50,
    });
    const env = { CNI_CONTAINERID: "ctr-nsim" };
    const add = await cni("ADD", conf, env, platform);
    expect(add.code, JSON.stringify(add.out) + add.stderr).toBe(0);
    const mid = (await shown()) as unknown as VfInfo;
    expect(mid.link_state).toBe("disable");
    expect(mid.rate).toMatchObject({ min_tx: 10, max_tx: 50 });
    expect(mid.vlan_list?.[0]).toMatchObject({ vlan: 30, protocol: "802.1ad" });
    expect((await cni("DEL", conf, env, platform)).code).toBe(0);
    expect(await shown()).toEqual(before);
  });
});
