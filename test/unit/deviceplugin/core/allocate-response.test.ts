import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../../deviceplugin/core/config.js";
import { buildPools } from "../../../../deviceplugin/core/pools.js";
import { allocateContainer } from "../../../../deviceplugin/core/allocate-response.js";
import { UnhealthyDeviceError, UnknownDeviceError } from "../../../../deviceplugin/core/errors.js";
import { sampleInventory } from "../../../deviceplugin/inventory-fixtures.js";

function poolOf(resource: object) {
  const config = parseConfig(JSON.stringify({ resourceList: [{ resourceName: "p", ...resource }] }));
  return buildPools(config, sampleInventory(), null, 0).get("accelnet.io/p")!;
}

describe("allocateContainer()", () => {
  it.each([
    [
      "a kernel netdev VF",
      { selectors: { drivers: ["igbvf"], pfNames: ["ens1f0#0"] } },
      ["0000:01:10.0"],
      '{"0000:01:10.0":{"generic":{"deviceID":"0000:01:10.0"}}}',
      [],
    ],
    [
      "a vfio-pci VF with additionalInfo (global and per device)",
      {
        selectors: { drivers: ["vfio-pci"] },
        additionalInfo: { "*": { a: "1", b: "<2>" }, "0000:01:10.1": { b: "3" } },
      },
      ["0000:01:10.1"],
      '{"0000:01:10.1":{"extra":{"a":"1","b":"3"},"generic":{"deviceID":"0000:01:10.1"},"vfio":{"dev-mount":"/dev/vfio/21","mount":"/dev/vfio/vfio"}}}',
      ["/dev/vfio/vfio", "/dev/vfio/21"],
    ],
    [
      "a netdev VF with needVhostNet",
      { selectors: { pfNames: ["ens1f0#3"], needVhostNet: true } },
      ["0000:01:10.3"],
      '{"0000:01:10.3":{"generic":{"deviceID":"0000:01:10.3"},"vhost":{"net-mount":"/dev/vhost-net","tun-mount":"/dev/net/tun"}}}',
      ["/dev/vhost-net", "/dev/net/tun"],
    ],
    [
      "vhost vDPA devices with and without PCI parent",
      { selectors: { vdpaType: "vhost" } },
      ["vduse1", "0000:01:10.2"],
      '{"0000:01:10.2":{"generic":{"deviceID":"0000:01:10.2"},"vdpa":{"mount":"/dev/vhost-vdpa-0"}},"vduse1":{"generic":{"deviceID":"vduse1"},"vdpa":{"mount":"/dev/vhost-vdpa-1"}}}',
      ["/dev/vhost-vdpa-1", "/dev/vhost-vdpa-0"],
    ],
  ])("allocateContainer() answers for %s", (_name, resource, ids, info, nodes) => {
    const r = allocateContainer(poolOf(resource), ids, { cdi: false });
    expect(r.envs).toEqual({ PCIDEVICE_ACCELNET_IO_P: ids.join(","), PCIDEVICE_ACCELNET_IO_P_INFO: info });
    expect(r.devices.map((d) => d.hostPath)).toEqual(nodes);
    expect(r.devices.every((d) => d.permissions === "rw" && d.containerPath === d.hostPath)).toBe(true);
  });

  it("allocateContainer() lists /dev/vfio/vfio once for several vfio-pci devices", () => {
    const inv = sampleInventory();
    const config = parseConfig(
      JSON.stringify({ resourceList: [{ resourceName: "p", selectors: { pfNames: ["ens1f0#0-1"] } }] }),
    );
    inv.vfs[0]!.driver = "vfio-pci";
    const pool = buildPools(config, inv, null, 0).get("accelnet.io/p")!;
    expect(
      allocateContainer(pool, ["0000:01:10.0", "0000:01:10.1"], { cdi: false }).devices.map((d) => d.hostPath),
    ).toEqual(["/dev/vfio/vfio", "/dev/vfio/10", "/dev/vfio/21"]);
  });

  it("allocateContainer() names CDI devices instead of device nodes with cdi on", () => {
    const r = allocateContainer(poolOf({ selectors: { drivers: ["vfio-pci"] } }), ["0000:01:10.1"], { cdi: true });
    expect([r.cdiDevices, r.devices]).toEqual([["accelnet.io/p=0000:01:10.1"], []]);
  });

  it("allocateContainer() refuses unknown and unhealthy devices", () => {
    const pool = poolOf({ selectors: { drivers: ["igbvf"] } });
    expect(() => allocateContainer(pool, ["0000:99:00.0"], { cdi: false })).toThrow(UnknownDeviceError);
    const sick = { ...pool, devices: pool.devices.map((d) => ({ ...d, healthy: false, reason: "PF down" })) };
    expect(() => allocateContainer(sick, ["0000:01:10.0"], { cdi: false })).toThrow(
      new UnhealthyDeviceError("accelnet.io/p", "0000:01:10.0", "PF down"),
    );
  });
});
