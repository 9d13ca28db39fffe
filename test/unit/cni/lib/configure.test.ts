import { describe, expect, it } from "vitest";
import { configureCommands, routesWithGateways } from "../../../../cni/lib/configure.js";
import { silentLogger } from "../../../../cni/lib/log.js";
import type { Result } from "../../../../cni/lib/result.js";
import { argsOf } from "../fake-native.js";

const result: Result = {
  interfaces: [{ name: "net1" }],
  ips: [
    { address: "10.9.0.2/24", gateway: "10.9.0.1", interface: 0 },
    { address: "fd00::2/64", gateway: "fd00::1", interface: 0 },
  ],
  routes: [{ dst: "0.0.0.0/0" }, { dst: "fd10::/64" }, { dst: "10.5.0.0/16", gw: "10.9.0.254", priority: 7 }],
  dns: {},
};

describe("configure", () => {
  it("routesWithGateways() fills each route without a gateway from the first IP of its family", () => {
    expect(routesWithGateways(result)).toEqual([
      { dst: "0.0.0.0/0", gw: "10.9.0.1" },
      { dst: "fd10::/64", gw: "fd00::1" },
      { dst: "10.5.0.0/16", gw: "10.9.0.254", priority: 7 },
    ]);
  });

  it("configureCommands() is one batch: notify sysctls, addresses, up, routes", () => {
    const cmds = configureCommands({ netns: "/run/netns/p", ifname: "net1" }, result, silentLogger);
    expect(cmds.map((c) => c.name)).toEqual([
      "sysctl-set",
      "sysctl-set",
      "addr-add",
      "addr-add",
      "link-up",
      "route-add",
      "route-add",
      "route-add",
    ]);
    expect(argsOf(cmds[1]!)).toMatchObject({ key: "ndisc_notify", value: "1" });
    expect(argsOf(cmds[7]!)).toMatchObject({ dst: "10.5.0.0/16", gw: "10.9.0.254", metric: "7", name: "net1" });
  });

  it("configureCommands() sets ndisc_notify only with an IPv6 address", () => {
    const v4 = { ...result, ips: [result.ips[0]!], routes: [] };
    const cmds = configureCommands({ netns: "/run/netns/p", ifname: "net1" }, v4, silentLogger);
    expect(cmds.map((c) => c.name)).toEqual(["sysctl-set", "addr-add", "link-up"]);
  });
});
