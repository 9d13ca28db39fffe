import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildSampleTree } from "../../../deviceplugin/fake-sysfs.js";
import { parseCniArgs } from "../../../../cni/lib/cni-args.js";
import { createRegistry, defaultRegistry, deviceIdOf, modeFuncs, selectMode } from "../../../../cni/modes/index.js";
import type { CniRequest } from "../../../../cni/skel/types.js";
import { parseNetConf } from "../../../../cni/lib/netconf.js";
import { macvlan } from "../../../../cni/modes/macvlan.js";
import { newAttachmentState } from "../../../../cni/lib/attachment.js";
import { StateStore } from "../../../../cni/lib/state.js";

const notVdpa = () => false;
const vdpaNamed = (name: string) => (id: string) => id === name;

describe("selectMode()", () => {
  it.each([
    [
      "the vpp-server NAD (master, mode, no IPAM)",
      { master: "eth1", mode: "bridge", linkInContainer: false },
      "macvlan",
    ],
    ["no master at all", {}, "macvlan"],
    ["explicit accelnetMode wins over a deviceID", { accelnetMode: "macvlan", deviceID: "0000:3b:02.1" }, "macvlan"],
    ["explicit sriov", { accelnetMode: "sriov" }, "sriov"],
    ["a sriov-cni config (top-level deviceID)", { deviceID: "0000:3b:02.1", vlan: 100 }, "sriov"],
    ["a runtimeConfig.deviceID from Multus", { runtimeConfig: { deviceID: "0000:3b:02.1" } }, "sriov"],
    ["a pciBusID", { pciBusID: "0000:3b:02.1" }, "sriov"],
    ["a vdpaDriver field", { vdpaDriver: "vhost_vdpa", deviceID: "0000:3b:02.1" }, "vdpa"],
  ])("%s -> %s", (_name, raw, want) => {
    expect(selectMode(raw, { isVdpaDevice: notVdpa })).toBe(want);
  });

  it("a deviceID naming a vDPA device selects vdpa", () => {
    expect(selectMode({ runtimeConfig: { deviceID: "vdpa0" } }, { isVdpaDevice: vdpaNamed("vdpa0") })).toBe("vdpa");
  });

  describe("on a fake sysfs (VF 0000:01:10.2 has vdpa0; 0000:01:10.0 has none)", () => {
    const dir = mkdtempSync(join(tmpdir(), "acn-select-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    buildSampleTree(join(dir, "sys"));
    const roots = { sysfs: join(dir, "sys"), dev: join(dir, "dev") };

    it.each([
      ["the PCI address of a VF with a vdpa device (a vdpa pool's device ID)", { deviceID: "0000:01:10.2" }, "vdpa"],
      [
        "the same address from Multus, upper case",
        { runtimeConfig: { deviceID: "0000:01:10.2".toUpperCase() } },
        "vdpa",
      ],
      ["the PCI address of a VF without one", { deviceID: "0000:01:10.0" }, "sriov"],
      ["the PF's address", { pciBusID: "0000:01:00.0" }, "sriov"],
      ["a vdpa device's name", { deviceID: "vdpa0" }, "vdpa"],
      ["a VDUSE device's name", { deviceID: "vduse1" }, "vdpa"],
      ["explicit sriov over a VF with a vdpa device", { accelnetMode: "sriov", deviceID: "0000:01:10.2" }, "sriov"],
    ])("%s -> %s", (_name, raw, want) => {
      expect(selectMode(raw, { roots })).toBe(want);
    });
  });

  it("macvlan's own `mode` field never selects the accelnet mode", () => {
    expect(selectMode({ mode: "sriov" }, { isVdpaDevice: notVdpa })).toBe("macvlan");
  });

  it.each([
    [
      { accelnetMode: "ipvlan" },
      'Cannot use config field "accelnetMode": "ipvlan" is not one of macvlan, sriov, vdpa, vhostuser',
    ],
    [{ accelnetMode: 1 }, 'Cannot use config field "accelnetMode": 1 is not one of macvlan, sriov, vdpa, vhostuser'],
  ])("rejects %j with code 7", (raw, msg) => {
    expect(() => selectMode(raw)).toThrow(expect.objectContaining({ code: 7, message: msg }));
  });

  it("deviceIdOf() prefers runtimeConfig.deviceID, then deviceID, then pciBusID", () => {
    expect(deviceIdOf({ runtimeConfig: { deviceID: "a" }, deviceID: "b", pciBusID: "c" })).toBe("a");
    expect(deviceIdOf({ deviceID: "b", pciBusID: "c" })).toBe("b");
    expect(deviceIdOf({ pciBusID: "c" })).toBe("c");
    expect(deviceIdOf({ deviceID: "" })).toBeUndefined();
  });
});

describe("modeFuncs()", () => {
  const stateDir = mkdtempSync(join(tmpdir(), "acn-modes-"));
  afterAll(() => rmSync(stateDir, { recursive: true, force: true }));
  const warnings: string[] = [];
  const log = { warning: (m: string) => warnings.push(m), info: () => undefined, debug: () => undefined };
  const req = (raw: Record<string, unknown>, containerID = "c0") =>
    ({
      conf: parseNetConf({ name: "n", type: "accelnet", ...raw }),
      stateDir,
      containerID,
      ifname: "net1",
      log,
      cniArgs: parseCniArgs(""),
    }) as unknown as CniRequest;
  const recording = (name: "macvlan" | "sriov" | "vdpa", calls: string[]) => ({
    name,
    add: () => (calls.push(`${name} add`), Promise.resolve({ interfaces: [], ips: [], routes: [], dns: {} })),
    del: () => (calls.push(`${name} del`), Promise.resolve()),
    check: () => (calls.push(`${name} check`), Promise.resolve()),
    status: () => (calls.push(`${name} status`), Promise.resolve()),
    release: () => (calls.push(`${name} release`), Promise.resolve()),
  });

  // A DEL whose config selects another mode than ADD's (a deviceID added, a vDPA device gone) once
  // crashed with 999 in the wrong mode's DEL: the stored attachment's mode decides.
  it.each([
    ["macvlan", { deviceID: "0000:00:01.0" }],
    ["sriov", { master: "eth0" }],
    ["vdpa", { deviceID: "0000:00:01.0" }],
  ] as const)("DEL and CHECK of a stored %s attachment go to that mode, whatever %j selects", async (mode, raw) => {
    const calls: string[] = [];
    const funcs = modeFuncs(
      createRegistry([recording("macvlan", calls), recording("sriov", calls), recording("vdpa", calls)]),
      { isVdpaDevice: notVdpa },
    );
    const stored = { containerID: `stored-${mode}`, ifname: "net1", netns: "", network: "n", mode };
    new StateStore(stateDir).write({ ...newAttachmentState(req({}, stored.containerID), mode, {}), ...stored });
    await funcs.del(req(raw, stored.containerID));
    await funcs.check(req(raw, stored.containerID));
    expect(calls).toEqual([`${mode} del`, `${mode} check`]);
  });

  it("DEL without state of a config that selects no mode (ADD refused it) goes to macvlan's DEL", async () => {
    const calls: string[] = [];
    const funcs = modeFuncs(createRegistry([recording("macvlan", calls), recording("sriov", calls)]));
    await funcs.del(req({ accelnetMode: "ipvlan" }, "refused"));
    expect(calls).toEqual(["macvlan del"]);
    expect(warnings.some((w) => w.includes('"accelnetMode"'))).toBe(true);
  });

  it("defaultRegistry() registers macvlan, sriov, vdpa and vhostuser", () => {
    expect([...defaultRegistry().keys()]).toEqual(["macvlan", "sriov", "vdpa", "vhostuser"]);
  });

  it.each(["sriov", "vdpa"])("selecting %s from a registry without it fails with code 7", async (mode) => {
    const funcs = modeFuncs(createRegistry([macvlan]), { isVdpaDevice: notVdpa });
    await expect(funcs.add(req({ accelnetMode: mode }))).rejects.toMatchObject({
      code: 7,
      message: `Cannot use mode "${mode}": the mode is not available yet`,
    });
  });

  it("routes each verb to the selected mode", async () => {
    const calls: string[] = [];
    const fake = {
      name: "sriov" as const,
      add: () => (calls.push("add"), Promise.resolve({ interfaces: [], ips: [], routes: [], dns: {} })),
      del: () => (calls.push("del"), Promise.resolve()),
      check: () => (calls.push("check"), Promise.resolve()),
      status: () => (calls.push("status"), Promise.resolve()),
      release: () => Promise.resolve(),
    };
    const funcs = modeFuncs(createRegistry([fake]), { isVdpaDevice: notVdpa });
    const r = req({ deviceID: "0000:00:01.0" });
    await funcs.add(r);
    await funcs.del(r);
    await funcs.check(r);
    await funcs.status(r);
    expect(calls).toEqual(["add", "del", "check", "status"]);
  });
});
