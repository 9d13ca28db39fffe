import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../../deviceplugin/core/config.js";
import { buildPools } from "../../../../deviceplugin/core/pools.js";
import { deviceInfoContent, deviceInfoFileName } from "../../../../deviceplugin/core/device-info.js";
import { sampleConfig, sampleInventory } from "../../../deviceplugin/inventory-fixtures.js";

const pools = buildPools(parseConfig(JSON.stringify(sampleConfig())), sampleInventory(), null, 0);
const dev = (pool: string, id: string) => pools.get(pool)!.devices.find((d) => d.id === id)!;

describe("deviceInfoContent()", () => {
  it.each([
    [
      "example.com/netdev",
      "0000:01:10.0",
      "example.com-netdev-0000:01:10.0-device.json",
      '{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:01:10.0","pf-pci-address":"0000:01:00.0"}}',
    ],
    [
      "accelnet.io/vdpa_vhost",
      "0000:01:10.2",
      "accelnet.io-vdpa_vhost-0000:01:10.2-device.json",
      '{"type":"vdpa","version":"1.1.0","vdpa":{"parent-device":"vdpa0","driver":"vhost","path":"/dev/vhost-vdpa-0","pci-address":"0000:01:10.2","pf-pci-address":"0000:01:00.0"}}',
    ],
    [
      "accelnet.io/vdpa_vhost",
      "vduse1",
      "accelnet.io-vdpa_vhost-vduse1-device.json",
      '{"type":"vdpa","version":"1.1.0","vdpa":{"parent-device":"vduse1","driver":"vhost","path":"/dev/vhost-vdpa-1"}}',
    ],
  ])("deviceInfoContent() writes the spec 1.1.0 file of %s %s", (pool, id, file, content) => {
    expect(deviceInfoFileName(pools.get(pool)!, id)).toBe(file);
    expect(deviceInfoContent(dev(pool, id))).toBe(content);
  });
});
