// Counterexamples the fuzzer found in accelnet (shrunk by hand to the one input that matters), kept as
// fixed cases: fuzz.test.ts runs each one through the same property as the generated cases, so each is
// a test of its own that passes once its class is fixed. The bullet is issue 9's.
import type { FuzzCase } from "./generators.js";

const hostLocal = { type: "host-local", subnet: "10.77.0.0/24", dataDir: "$IPAMDIR" };

function valid(
  conf: Partial<FuzzCase["conf"]> = {},
  env: Partial<FuzzCase["env"]> = {},
  del: Partial<FuzzCase["del"]> = {},
): FuzzCase {
  return {
    conf: { shape: "macvlan", cniVersion: "1.0.0", fields: { master: "$MASTER" }, ipam: hostLocal, extra: {}, ...conf },
    env: { containerId: "fuzzc1", ifname: "net1", netns: "pod", cniPath: "shims", ...env },
    del: { netns: "same", change: "none", twice: false, ...del },
  };
}

const withFields = (fields: Record<string, unknown>) => valid({ fields: { master: "$MASTER", ...fields } });

export const corpus: [string, FuzzCase][] = [
  ["a valid config (the baseline: must always pass)", valid()],
  [
    "linkInContainer with a master in the pod netns (baseline)",
    valid({ shape: "macvlan-in-container", fields: { master: "$INNER", linkInContainer: true } }),
  ],
  // §2 "DEL must not validate what it does not need": ADD refuses (7), DEL refuses the same (7) for ever.
  ['§2.1 mode "Bridge"', withFields({ mode: "Bridge" })],
  ["§2.1 mtu 67", withFields({ mtu: 67 })],
  ['§2.1 mtu "1500" (wrong type)', withFields({ mtu: "1500" })],
  ['§2.1 mac "zz:zz:zz:zz:zz:zz"', withFields({ mac: "zz:zz:zz:zz:zz:zz" })],
  ["§2.1 runtimeConfig.mac multicast", withFields({ runtimeConfig: { mac: "01:00:5e:00:00:01" } })],
  ["§2.1 CNI_ARGS MAC=zz:zz", valid({}, { cniArgs: "IgnoreUnknown=1;MAC=zz:zz" })],
  ['§2.1 linkInContainer "x" (wrong type)', withFields({ linkInContainer: "x" })],
  ["§2.1 dns.nameservers [1]", withFields({ dns: { nameservers: [1] } })],
  ["§2.1 dns 5 (wrong type)", withFields({ dns: 5 })],
  ['§2.1 logLevel "INFO"', withFields({ logLevel: "INFO" })],
  ['§2.1 args.cni ["a"] (wrong type)', withFields({ args: { cni: ["a"] } })],
  ['§2.1 accelnetMode "dpdk"', withFields({ accelnetMode: "dpdk" })],
  ['§2.1 deviceID "0000:ff:1f.7/../.." (not a PCI address)', withFields({ deviceID: "0000:ff:1f.7/../.." })],
  ['§2.1 vdpaDriver "vfio"', valid({ shape: "device", fields: { deviceID: "vdpa9", vdpaDriver: "vfio" } })],
  ['§2.1 ipam.type "nope" (not in CNI_PATH): DEL 7 for ever', valid({ ipam: { type: "nope" } })],
  ['§2.1 CNI_IFNAME "ñet": ADD 7 (should be 4), DEL 7 for ever', valid({}, { ifname: "ñet" })],
  // §2 "DEL uses what ADD stored, not what the config says now".
  ["§2.2 DEL config gains runtimeConfig.deviceID: DEL 999, link and state left", valid({}, {}, { change: "deviceID" })],
  ['§2.2 DEL config gains accelnetMode "sriov"', valid({}, {}, { change: "accelnetMode-sriov" })],
  ["§2.2 DEL config without its ipam: the reservation is left", valid({}, {}, { change: "no-ipam" })],
  ["§2.2 DEL without CNI_NETNS: the link is left in the pod", valid({}, {}, { netns: "unset" })],
  // §2 "Anything created is undone by identity, not by name".
  ['§2.4 CNI_IFNAME "net%d": the kernel makes net0, ADD 100 leaves it, DEL too', valid({}, { ifname: "net%d" })],
  // §2 "Input the JavaScript runtime chokes on is still input".
  [
    "§2.6 6000-deep array in ipam at 1.1.0: ADD 999, DEL 102",
    valid({ cniVersion: "1.1.0", ipam: { ...hostLocal, x: "$DEEP:6000" } }),
  ],
  ['§2.6 master "\\ud800" (lone surrogate): ADD 999 "URI malformed"', withFields({ master: "\ud800" })],
  // §3 "Addresses by a library": unchecked addresses reach IPAM; its DEL then fails for ever.
  ["§3.7 CNI_ARGS IP=a:b: ADD and DEL fail in host-local (999) for ever", valid({}, { cniArgs: "IP=a:b" })],
  [
    '§3.7 runtimeConfig.ips ["10.77.0.300"]: DEL fails in host-local for ever',
    withFields({ runtimeConfig: { ips: ["10.77.0.300"] } }),
  ],
  // §3 "Wrong codes" (300-character CNI_CONTAINERID: ADD 5, and DEL 5 for ever).
  ["§3.8 CNI_CONTAINERID of 300 characters", valid({}, { containerId: "x".repeat(300) })],
  // SR-IOV and vDPA configs whose device is not there: must fail cleanly and DEL must succeed.
  ["SR-IOV deviceID 0000:ff:1f.7 (no such device)", valid({ shape: "device", fields: { deviceID: "0000:ff:1f.7" } })],
  [
    "vDPA deviceID vdpa9 with vdpaDriver vhost (no such device)",
    valid({ shape: "device", fields: { deviceID: "vdpa9", vdpaDriver: "vhost" } }),
  ],
];
