import { describe, expect, it } from "vitest";
import { resourceEnvName, resourceInfoEnvName } from "../../../../deviceplugin/core/env-names.js";

describe("resourceEnvName()", () => {
  it.each([
    ["intel.com", "intel_sriov_netdevice", "PCIDEVICE_INTEL_COM_INTEL_SRIOV_NETDEVICE"],
    ["accelnet.io", "vfio", "PCIDEVICE_ACCELNET_IO_VFIO"],
    ["my-corp.example.com", "fast-net.a", "PCIDEVICE_MY_CORP_EXAMPLE_COM_FAST_NET_A"],
  ])("resourceEnvName() names %s/%s %s", (prefix, name, env) => {
    expect(resourceEnvName(prefix, name)).toBe(env);
    expect(resourceInfoEnvName(prefix, name)).toBe(`${env}_INFO`);
  });
});
