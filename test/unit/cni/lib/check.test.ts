import { describe, expect, it } from "vitest";
import type { Address, Route } from "../../../../native/client/index.js";
import { netdevDiffers, prevInterfaceOf } from "../../../../cni/lib/check.js";
import { parseNetConf } from "../../../../cni/lib/netconf.js";
import { fakeLink } from "../fake-native.js";

const req = { ifname: "net1", netns: "/run/netns/p", cniVersion: "1.1.0" as const };
const prevResult = {
  cniVersion: "1.1.0",
  interfaces: [
    { name: "eth0", sandbox: "/run/netns/p" },
    { name: "net1", mac: "02:00:00:00:00:aa", sandbox: "/run/netns/p" },
  ],
  ips: [
    { address: "fd00:0::2/64", gateway: "fd00::1", interface: 1 },
    { address: "10.1.0.2/24", interface: 0 },
  ],
  routes: [{ dst: "10.9.0.0/16", gw: "fd00:0:0::9" }],
};
const net = (extra: Record<string, unknown> = {}) =>
  parseNetConf({ cniVersion: "1.1.0", name: "n", type: "accelnet", prevResult, ...extra });

describe("check", () => {
  it("prevInterfaceOf() finds CNI_IFNAME in CNI_NETNS in prevResult", () => {
    const p = prevInterfaceOf(req, net());
    expect(p.index).toBe(1);
    expect(p.intf).toMatchObject({ name: "net1", mac: "02:00:00:00:00:aa" });
  });

  it("prevInterfaceOf() needs prevResult (7) naming the interface (103)", () => {
    expect(() => prevInterfaceOf(req, net({ prevResult: undefined }))).toThrow(
      expect.objectContaining({ code: 7, message: 'Cannot use config field "prevResult": missing (CHECK needs it)' }),
    );
    expect(() => prevInterfaceOf({ ...req, ifname: "net2" }, net())).toThrow(
      expect.objectContaining({
        code: 103,
        message: 'Cannot check interface "net2": prevResult has no interface "net2" in netns "/run/netns/p"',
      }),
    );
  });

  it("prevInterfaceOf() refuses a prevResult whose address is not one (code 6 naming the field)", () => {
    const bad = net({ prevResult: { ...prevResult, ips: [{ interface: 1, address: "fd00::g/64" }] } });
    expect(() => prevInterfaceOf(req, bad)).toThrow(
      expect.objectContaining({
        code: 6,
        message: 'Cannot decode result "ips[0].address": "fd00::g/64" is not an IP address with a prefix length',
      }),
    );
  });

  it("netdevDiffers() compares admin state, MAC, MTU when asked, then this interface's addresses and routes", () => {
    const p = prevInterfaceOf(req, net());
    const link = fakeLink("net1", { mac: "02:00:00:00:00:AA", mtu: 1400, up: true });
    const addrs: Address[] = [{ family: 6, address: "fd00::2", prefixlen: 64, ifindex: 1, scope: "global" }];
    const routes: Route[] = [
      {
        family: 4,
        dst: "10.9.0.0/16",
        gateway: "fd00::9",
        oif: 1,
        table: 254,
        scope: "universe",
        protocol: "boot",
        metric: 0,
      },
    ];
    const shown = { link, addrs, routes };
    expect(netdevDiffers(shown, p)).toBeNull();
    expect(netdevDiffers(shown, p, 1400)).toBeNull();
    expect(netdevDiffers(shown, p, 1500)).toBe("MTU is 1400, expected 1500");
    expect(netdevDiffers({ ...shown, link: { ...link, up: false } }, p)).toBe(
      "it is administratively down (ADD left it up)",
    );
    expect(netdevDiffers({ ...shown, link: { ...link, mac: "02:00:00:00:00:bb" } }, p)).toBe(
      "MAC is 02:00:00:00:00:bb, prevResult says 02:00:00:00:00:aa",
    );
    expect(netdevDiffers({ ...shown, addrs: [] }, p)).toBe("address fd00:0::2/64 is missing");
    expect(netdevDiffers({ ...shown, routes: [] }, p)).toBe("route 10.9.0.0/16 via fd00::9 is missing");
  });
});
