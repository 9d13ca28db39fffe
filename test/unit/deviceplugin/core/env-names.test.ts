import { describe, expect, it } from "vitest";
import { resourceEnvName, resourceInfoEnvName } from "../../../../deviceplugin/core/env-names.js";

// Expected names as sriov-network-device-plugin's GetEnvs builds them:
// ToUpper(Replace("PCIDEVICE_<prefix>_<name>", ".", "_")); nothing but "." changes.
describe("resourceEnvName()", () => {
  it.each([
    ["intel.com", "intel_sriov_netdevice", "PCIDEVICE_INTEL_COM_INTEL_SRIOV_NETDEVICE"],
    ["accelnet.io", "vfio", "PCIDEVICE_ACCELNET_IO_VFIO"],
    ["my-corp.example.com", "fast-net.a", "PCIDEVICE_MY-CORP_EXAMPLE_COM_FAST-NET_A"],
    ["a-b.c-d", "x-y-z", "PCIDEVICE_A-B_C-D_X-Y-Z"],
    ["example.com", "Mixed_Case.9", "PCIDEVICE_EXAMPLE_COM_MIXED_CASE_9"],
    ["openshift.io", "sriov..nic", "PCIDEVICE_OPENSHIFT_IO_SRIOV__NIC"],
    ["k8s.example.org", "9net", "PCIDEVICE_K8S_EXAMPLE_ORG_9NET"],
  ])("resourceEnvName() names %s/%s %s", (prefix, name, env) => {
    expect(resourceEnvName(prefix, name)).toBe(env);
    expect(resourceInfoEnvName(prefix, name)).toBe(`${env}_INFO`);
  });
});
