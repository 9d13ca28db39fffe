// VF resolution through the real helper's pci-show on fake sysfs trees (no root: --sysfs-root), and
// the pure VF-setting rules.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNativeClient, type Vf } from "../../../../native/client/index.js";
import { fieldOf, helperVfPlatform, originalSetting, settingInEffect, wantedSetting } from "../../../../cni/lib/vf.js";
import { FakeSysfs } from "../../../deviceplugin/fake-sysfs.js";
import { vfDefaults } from "../fake-native.js";

const HELPER = resolve("dist/native/accelnet-helper");

describe.skipIf(!existsSync(HELPER))(
  "helperVfPlatform.lookup() on fake sysfs trees (needs dist/native/accelnet-helper)",
  () => {
    let root: string;
    beforeAll(() => {
      root = mkdtempSync(join(tmpdir(), "acn-vf-sysfs-"));
      const fs = new FakeSysfs(root);
      const pf = { vendor: "8086", pfDevice: "10c9", vfDevice: "10ca", numaNode: 0, carrier: true, totalVfs: 8 };
      fs.addPf({
        ...pf,
        addr: "0000:3b:00.0",
        netdev: "ens1f0",
        driver: "igb",
        iommuGroup: 1,
        vfs: [
          { addr: "0000:3b:10.0", driver: "igbvf", iommuGroup: 10, netdev: "ens1f0v0" },
          { addr: "0000:3b:10.2", driver: "vfio-pci", iommuGroup: 11, netdev: null },
          { addr: "0000:3b:10.4", driver: null, iommuGroup: 12, netdev: null },
        ],
      });
      fs.addPf({
        ...pf,
        addr: "0000:5e:00.1",
        netdev: "ens2f1",
        driver: "ixgbe",
        iommuGroup: 2,
        vfs: [
          { addr: "0000:5e:10.1", driver: "ixgbevf", iommuGroup: 20, netdev: "ens2f1v0" },
          { addr: "0000:5e:10.3", driver: "ixgbevf", iommuGroup: 21, netdev: "ens2f1v1" },
        ],
      });
    });
    afterAll(() => rmSync(root, { recursive: true, force: true }));
    const native = () => createNativeClient({ helperPath: HELPER, sysfsRoot: root });

    it.each([
      [
        "0000:3b:10.0",
        {
          pfAddr: "0000:3b:00.0",
          pfNetdev: "ens1f0",
          pfDriver: "igb",
          index: 0,
          driver: "igbvf",
          netdevs: ["ens1f0v0"],
        },
      ],
      ["0000:3b:10.2", { pfAddr: "0000:3b:00.0", pfNetdev: "ens1f0", index: 1, driver: "vfio-pci", netdevs: [] }],
      ["0000:3b:10.4", { index: 2, driver: null, netdevs: [] }],
      [
        "0000:5e:10.3",
        { pfAddr: "0000:5e:00.1", pfNetdev: "ens2f1", pfDriver: "ixgbe", index: 1, netdevs: ["ens2f1v1"] },
      ],
    ])("resolves VF %s to its PF netdev and VF index (virtfnN)", async (addr, want) => {
      expect(await helperVfPlatform.lookup(native(), addr)).toMatchObject({ addr, ...want });
    });

    it("rejects a PF and a missing device with code 7", async () => {
      await expect(helperVfPlatform.lookup(native(), "0000:3b:00.0")).rejects.toMatchObject({
        code: 7,
        message: 'Cannot use deviceID "0000:3b:00.0": not an SR-IOV virtual function',
      });
      await expect(helperVfPlatform.lookup(native(), "0000:3b:11.0")).rejects.toMatchObject({
        code: 7,
        message: 'Cannot use deviceID "0000:3b:11.0": no such PCI device',
      });
    });
  },
);

const snap: Vf = vfDefaults(0, "00:00:00:00:00:00");

describe("VF settings", () => {
  it("wantedSetting() builds one vf-set setting per config field group", () => {
    const s = { vlan: 10, vlanQoS: 3, vlanProto: "802.1ad" as const, minTxRate: 5, maxTxRate: 50, spoofchk: false };
    expect(wantedSetting(s, "vlan")).toEqual({ vlan: 10, qos: 3, proto: "802.1ad" });
    expect(wantedSetting({ vlan: 10, vlanProto: "802.1q" }, "vlan")).toEqual({ vlan: 10 });
    expect(wantedSetting(s, "rate")).toEqual({ minTxRate: 5, maxTxRate: 50 });
    expect(wantedSetting(s, "spoofchk")).toEqual({ spoofchk: false });
    expect(wantedSetting(s, "trust")).toBeUndefined();
    expect(wantedSetting({}, "mac")).toBeUndefined();
  });

  it("originalSetting() restores what the PF reported, skipping what the driver does not report", () => {
    expect(originalSetting(snap, "vlan")).toEqual({ vlan: 0, qos: 0 });
    expect(originalSetting(snap, "rate")).toEqual({ minTxRate: 0, maxTxRate: 0 });
    expect(originalSetting({ ...snap, linkState: null }, "link_state")).toBeUndefined();
    expect(originalSetting({ ...snap, trust: null }, "trust")).toBeUndefined();
  });

  it("settingInEffect() compares the read-back", () => {
    expect(settingInEffect({ ...snap, vlan: 10, qos: 3 }, { vlan: 10, qos: 3 })).toBe(true);
    expect(settingInEffect({ ...snap, vlan: 10 }, { vlan: 10, proto: "802.1ad" })).toBe(false);
    expect(settingInEffect({ ...snap, mac: "02:00:00:00:00:AA" }, { mac: "02:00:00:00:00:aa" })).toBe(true);
    expect(settingInEffect({ ...snap, maxTxRate: 40 }, { maxTxRate: 50 })).toBe(false);
  });

  it("fieldOf() names the config field for messages", () => {
    expect(fieldOf({ vlan: 5, proto: "802.1ad" })).toBe("vlanProto");
    expect(fieldOf({ vlan: 5 })).toBe("vlan");
    expect(fieldOf({ minTxRate: 5, maxTxRate: 10 })).toBe("min_tx_rate");
    expect(fieldOf({ maxTxRate: 10 })).toBe("max_tx_rate");
    expect(fieldOf({ state: "enable" })).toBe("link_state");
  });
});
