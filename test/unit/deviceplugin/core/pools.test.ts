import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../../deviceplugin/core/config.js";
import { buildPools, kubeletView } from "../../../../deviceplugin/core/pools.js";
import { pf, sampleConfig, sampleInventory, vdpa, vf } from "../../../deviceplugin/inventory-fixtures.js";

const cfg = (list: unknown[]) => parseConfig(JSON.stringify({ resourceList: list }));
const ids = (pools: ReturnType<typeof buildPools>, name: string) => pools.get(name)?.devices.map((d) => d.id);

describe("buildPools()", () => {
  it("buildPools() gives each device to the first matching pool (config order)", () => {
    const pools = buildPools(parseConfig(JSON.stringify(sampleConfig())), sampleInventory(), null, 0);
    expect(ids(pools, "accelnet.io/vdpa_vhost")).toEqual(["0000:01:10.2", "vduse1"]);
    expect(ids(pools, "accelnet.io/vfio")).toEqual(["0000:01:10.1"]);
    expect(ids(pools, "example.com/netdev")).toEqual(["0000:01:10.0", "0000:01:10.3"]);
    const vd = pools.get("accelnet.io/vdpa_vhost")?.devices[0];
    expect([vd?.kind, vd?.vdpa?.name, vd?.pfAddr]).toEqual(["vdpa", "vdpa0", "0000:01:00.0"]);
  });

  it.each([
    ["vendors", { vendors: ["8086"] }, ["0000:01:10.0", "0000:01:10.1", "0000:01:10.2", "0000:01:10.3"]],
    ["devices", { devices: ["10c9"] }, []],
    ["drivers", { drivers: ["vfio-pci"] }, ["0000:01:10.1"]],
    ["pciAddresses", { pciAddresses: ["0000:01:10.3"] }, ["0000:01:10.3"]],
    ["pfNames with VF ranges", { pfNames: ["ens1f0#1-2"] }, ["0000:01:10.1", "0000:01:10.2"]],
    ["rootDevices", { rootDevices: ["0000:01:00.0#3"] }, ["0000:01:10.3"]],
    ["linkTypes ether", { linkTypes: ["ether"] }, ["0000:01:10.0", "0000:01:10.1", "0000:01:10.2", "0000:01:10.3"]],
    ["linkTypes infiniband", { linkTypes: ["infiniband"] }, []],
    ["vdpaType virtio", { vdpaType: "virtio" }, []],
  ])("buildPools() selects by %s", (_name, selectors, expected) => {
    const pools = buildPools(cfg([{ resourceName: "p", selectors }]), sampleInventory(), null, 0);
    expect(ids(pools, "accelnet.io/p")).toEqual(expected);
  });

  it("buildPools() never hands out a PF that has VFs, but does a PF without VFs", () => {
    const inv = {
      pfs: [pf("0000:01:00.0", "ens1f0", 1), pf("0000:02:00.0", "ens2f0", 0)],
      vfs: [vf("0000:01:10.0", "0000:01:00.0", 0)],
      vdpa: [],
    };
    const pools = buildPools(cfg([{ resourceName: "p", selectors: { vendors: ["8086"] } }]), inv, null, 0);
    expect(ids(pools, "accelnet.io/p")).toEqual(["0000:01:10.0", "0000:02:00.0"]);
  });

  it("buildPools() marks netdev VFs Unhealthy when the PF has no carrier, unless health.pfCarrier is off", () => {
    const inv = sampleInventory();
    inv.pfs[0]!.linkState = "down";
    const on = buildPools(cfg([{ resourceName: "p", selectors: { drivers: ["igbvf"] } }]), inv, null, 0);
    expect(on.get("accelnet.io/p")?.devices.every((d) => !d.healthy && d.reason === 'PF "ens1f0" has no carrier')).toBe(
      true,
    );
    const off = buildPools(
      cfg([{ resourceName: "p", selectors: { drivers: ["igbvf"] }, health: { pfCarrier: false } }]),
      inv,
      null,
      0,
    );
    expect(off.get("accelnet.io/p")?.devices.every((d) => d.healthy)).toBe(true);
  });

  it("buildPools() keeps a device that disappeared as Unhealthy until forgetMissingAfterSeconds", () => {
    const config = cfg([
      { resourceName: "p", selectors: { drivers: ["igbvf"] }, health: { forgetMissingAfterSeconds: 10 } },
    ]);
    const first = buildPools(config, sampleInventory(), null, 0);
    const inv = sampleInventory();
    inv.vfs = inv.vfs.filter((v) => v.addr !== "0000:01:10.0");
    const second = buildPools(config, inv, first, 1000);
    const gone = second.get("accelnet.io/p")?.devices.find((d) => d.id === "0000:01:10.0");
    expect([gone?.healthy, gone?.reason, gone?.goneSince]).toEqual([false, "disappeared", 1000]);
    const third = buildPools(config, inv, second, 11_001);
    expect(ids(third, "accelnet.io/p")).toEqual(["0000:01:10.2", "0000:01:10.3"]);
  });

  it("buildPools() marks a device whose driver no longer matches as Unhealthy in its old pool", () => {
    const config = cfg([{ resourceName: "p", selectors: { drivers: ["igbvf"] } }]);
    const first = buildPools(config, sampleInventory(), null, 0);
    const inv = sampleInventory();
    inv.vfs[0]!.driver = "vfio-pci";
    const d = buildPools(config, inv, first, 5)
      .get("accelnet.io/p")
      ?.devices.find((x) => x.id === "0000:01:10.0");
    expect([d?.healthy, d?.reason]).toEqual([false, 'driver is now "vfio-pci", which the pool does not select']);
  });

  it("buildPools() reports no NUMA node with excludeTopology or an unknown node", () => {
    const inv = sampleInventory();
    inv.vfs[0]!.numaNode = -1;
    const a = buildPools(cfg([{ resourceName: "p", selectors: { drivers: ["igbvf"] } }]), inv, null, 0);
    expect(a.get("accelnet.io/p")?.devices.map((d) => d.numaNode)).toEqual([null, 0, 1]);
    const b = buildPools(
      cfg([{ resourceName: "p", selectors: { drivers: ["igbvf"] }, excludeTopology: true }]),
      inv,
      null,
      0,
    );
    expect(b.get("accelnet.io/p")?.devices.map((d) => d.numaNode)).toEqual([null, null, null]);
  });

  it("buildPools() marks a vhost vDPA device without char device Unhealthy", () => {
    const inv = { pfs: [], vfs: [], vdpa: [vdpa("vduse3", null, "vhost_vdpa", { chardev: null })] };
    const d = buildPools(cfg([{ resourceName: "p", selectors: { vdpaType: "vhost" } }]), inv, null, 0).get(
      "accelnet.io/p",
    )?.devices[0];
    expect([d?.id, d?.healthy, d?.reason]).toEqual([
      "vduse3",
      false,
      'vDPA device "vduse3" has no vhost-vdpa char device',
    ]);
  });

  it("kubeletView() changes only with IDs, health or NUMA", () => {
    const config = cfg([{ resourceName: "p", selectors: { drivers: ["igbvf"] } }]);
    const a = buildPools(config, sampleInventory(), null, 0).get("accelnet.io/p")!;
    const inv = sampleInventory();
    inv.vfs[0]!.netdevs = ["eth9"];
    expect(kubeletView(buildPools(config, inv, null, 0).get("accelnet.io/p")!)).toBe(kubeletView(a));
    inv.pfs[0]!.linkState = "down";
    expect(kubeletView(buildPools(config, inv, null, 0).get("accelnet.io/p")!)).not.toBe(kubeletView(a));
  });
});
