import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../../deviceplugin/core/config.js";
import { ConfigError } from "../../../../deviceplugin/core/config-error.js";

const ok = (resourceList: unknown[], extra: object = {}) => JSON.stringify({ resourceList, ...extra });

describe("parseConfig()", () => {
  it("parseConfig() accepts a sriov-network-device-plugin file and applies accelnet defaults", () => {
    const cfg = parseConfig(
      ok([
        {
          resourceName: "intel_sriov_netdevice",
          selectors: { vendors: ["8086"], devices: ["154C", "10ed"], drivers: ["i40evf", "iavf"] },
        },
        {
          resourceName: "intel_sriov_dpdk",
          resourcePrefix: "intel.com",
          selectors: [{ drivers: ["vfio-pci"], pfNames: ["ens1f0#0,2-7"] }],
        },
      ]),
    );
    const [a, b] = cfg.resources;
    expect(a?.fullName).toBe("accelnet.io/intel_sriov_netdevice");
    expect(a?.deviceType).toBe("netDevice");
    expect(a?.selectors[0]?.devices).toEqual(["154c", "10ed"]);
    expect(a?.health).toEqual({ pfCarrier: true, forgetMissingAfterSeconds: 600 });
    expect(a?.allocation).toEqual({ policy: "pack", preferSingleNuma: true });
    expect(b?.fullName).toBe("intel.com/intel_sriov_dpdk");
    expect(b?.selectors[0]?.pfNames).toEqual([
      {
        parent: "ens1f0",
        ranges: [
          [0, 0],
          [2, 7],
        ],
      },
    ]);
  });

  it("parseConfig() uses the --resource-prefix default and per-resource health/allocation overrides", () => {
    const cfg = parseConfig(
      ok([{ resourceName: "x", selectors: {}, health: { pfCarrier: false }, allocation: { policy: "spread" } }], {
        health: { forgetMissingAfterSeconds: 5 },
      }),
      "example.org",
    );
    expect(cfg.resources[0]?.fullName).toBe("example.org/x");
    expect(cfg.resources[0]?.health).toEqual({ pfCarrier: false, forgetMissingAfterSeconds: 5 });
    expect(cfg.resources[0]?.allocation).toEqual({ policy: "spread", preferSingleNuma: true });
  });

  it("parseConfig() accepts unsupported selector keys only when empty or false", () => {
    expect(() => parseConfig(ok([{ resourceName: "x", selectors: { isRdma: false, ddpProfiles: [] } }]))).not.toThrow();
  });

  it.each([
    ["not JSON", "{", "", "Invalid config: cannot parse JSON: "],
    ["no resourceList", "{}", "", 'Invalid config: "resourceList" is missing'],
    [
      "unknown top-level key",
      '{"resourceList":[],"x":1}',
      "x",
      'Invalid config at "x": unknown key "x" (valid keys: resourceList, health, allocation, nodeSetup)',
    ],
    [
      "missing selectors",
      ok([{ resourceName: "a" }]),
      "resourceList[0].selectors",
      'Invalid config at "resourceList[0].selectors": "selectors" is missing',
    ],
    [
      "missing resourceName",
      ok([{ selectors: {} }]),
      "resourceList[0]",
      'Invalid config at "resourceList[0]": "resourceName" is missing',
    ],
    [
      "invalid resourceName",
      ok([{ resourceName: "bad/name", selectors: {} }]),
      "resourceList[0].resourceName",
      'Invalid config at "resourceList[0].resourceName": expected up to 63 letters, digits, "_", "-" or "." starting and ending with a letter or digit, got "bad/name"',
    ],
    [
      "duplicate",
      ok([
        { resourceName: "a", selectors: {} },
        { resourceName: "a", selectors: {} },
      ]),
      "resourceList[1].resourceName",
      'Invalid config at "resourceList[1].resourceName": resource "accelnet.io/a" is already defined at "resourceList[0]"',
    ],
    [
      "unknown resource key",
      ok([{ resourceName: "a", selectors: {}, resourcename: "b" }]),
      "resourceList[0].resourcename",
      'Invalid config at "resourceList[0].resourcename": unknown key "resourcename" (valid keys: resourceName, resourcePrefix, deviceType, excludeTopology, additionalInfo, selectors, health, allocation)',
    ],
    [
      "unknown selector key",
      ok([{ resourceName: "a", selectors: [{}, { vendor: ["8086"] }] }]),
      "resourceList[0].selectors[1].vendor",
      'Invalid config at "resourceList[0].selectors[1].vendor": unknown key "vendor"',
    ],
    [
      "isRdma true",
      ok([{ resourceName: "a", selectors: { isRdma: true } }]),
      "resourceList[0].selectors.isRdma",
      '"isRdma" is not supported by accelnet',
    ],
    [
      "bad vendor",
      ok([{ resourceName: "a", selectors: { vendors: ["8086", "80866"] } }]),
      "resourceList[0].selectors.vendors[1]",
      'expected a 4-digit hex vendor ID, got "80866"',
    ],
    [
      "bad vdpaType",
      ok([{ resourceName: "a", selectors: { vdpaType: "vduse" } }]),
      "resourceList[0].selectors.vdpaType",
      'expected "vhost" or "virtio", got "vduse"',
    ],
    [
      "vdpaType on accelerator",
      ok([{ resourceName: "a", deviceType: "accelerator", selectors: { vdpaType: "vhost" } }]),
      "resourceList[0].selectors.vdpaType",
      '"vdpaType" applies to netDevice pools, not to deviceType "accelerator"',
    ],
    [
      "bad deviceType",
      ok([{ resourceName: "a", deviceType: "gpu", selectors: {} }]),
      "resourceList[0].deviceType",
      'got "gpu"',
    ],
    [
      "bad VF range",
      ok([{ resourceName: "a", selectors: { pfNames: ["ens1f0#7-2"] } }]),
      "resourceList[0].selectors.pfNames[0]",
      'range "7-2" ends before it starts',
    ],
    [
      "bad root device",
      ok([{ resourceName: "a", selectors: { rootDevices: ["ens1f0"] } }]),
      "resourceList[0].selectors.rootDevices",
      'expected PF PCI addresses, got "ens1f0"',
    ],
    [
      "bad prefix",
      ok([{ resourceName: "a", resourcePrefix: "Intel.com", selectors: {} }]),
      "resourceList[0].resourcePrefix",
      'resource prefix "Intel.com" is not a DNS subdomain',
    ],
    [
      "reserved prefix",
      ok([{ resourceName: "a", resourcePrefix: "kubernetes.io", selectors: {} }]),
      "resourceList[0].resourcePrefix",
      "is reserved for Kubernetes",
    ],
    [
      "bad additionalInfo",
      ok([{ resourceName: "a", selectors: {}, additionalInfo: { "*": { k: 1 } } }]),
      "resourceList[0].additionalInfo.*.k",
      "expected a string, got 1",
    ],
    [
      "bad policy",
      ok([{ resourceName: "a", selectors: {}, allocation: { policy: "random" } }]),
      "resourceList[0].allocation.policy",
      'expected "pack" or "spread", got "random"',
    ],
  ])("parseConfig() rejects %s with the JSON path", (_name, text, path, message) => {
    let caught: unknown;
    try {
      parseConfig(text);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).path).toBe(path);
    expect((caught as ConfigError).message).toContain(message);
  });
});
