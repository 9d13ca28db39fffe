import { describe, expect, it } from "vitest";
import { formatResult, parseResult, type Result } from "../../../../cni/lib/result.js";

const full: Result = {
  interfaces: [{ name: "net1", mac: "02:00:00:00:00:01", mtu: 1400, sandbox: "/run/netns/p", pciID: "0000:00:01.0" }],
  ips: [
    { interface: 0, address: "10.1.0.2/24", gateway: "10.1.0.1" },
    { interface: 0, address: "10.1.0.3/24" },
    { interface: 0, address: "fd00::2/64", gateway: "fd00::1" },
  ],
  routes: [
    { dst: "0.0.0.0/0", gw: "10.1.0.1", priority: 100, table: 10 },
    { dst: "192.168.0.0/16" },
    { dst: "::/0", gw: "fd00::1" },
  ],
  dns: { nameservers: ["10.1.0.53"] },
};

describe("formatResult()", () => {
  it("keeps 1.1.0 interface mtu/pciID and route table/priority", () => {
    expect(formatResult(full, "1.1.0")).toEqual({
      cniVersion: "1.1.0",
      interfaces: [
        { name: "net1", mac: "02:00:00:00:00:01", mtu: 1400, sandbox: "/run/netns/p", pciID: "0000:00:01.0" },
      ],
      ips: [
        { interface: 0, address: "10.1.0.2/24", gateway: "10.1.0.1" },
        { interface: 0, address: "10.1.0.3/24" },
        { interface: 0, address: "fd00::2/64", gateway: "fd00::1" },
      ],
      routes: [
        { dst: "0.0.0.0/0", gw: "10.1.0.1", priority: 100, table: 10 },
        { dst: "192.168.0.0/16" },
        { dst: "::/0", gw: "fd00::1" },
      ],
      dns: { nameservers: ["10.1.0.53"] },
    });
  });

  it("drops the 1.1.0-only fields for 1.0.0", () => {
    const out = formatResult(full, "1.0.0");
    expect(out["interfaces"]).toEqual([{ name: "net1", mac: "02:00:00:00:00:01", sandbox: "/run/netns/p" }]);
    expect(out["routes"]).toEqual([
      { dst: "0.0.0.0/0", gw: "10.1.0.1" },
      { dst: "192.168.0.0/16" },
      { dst: "::/0", gw: "fd00::1" },
    ]);
    expect((out["ips"] as object[])[0]).toEqual({ interface: 0, address: "10.1.0.2/24", gateway: "10.1.0.1" });
  });

  it.each(["0.3.0", "0.3.1", "0.4.0"])("adds ips[].version for %s", (v) => {
    const out = formatResult(full, v);
    expect(out["cniVersion"]).toBe(v);
    expect(out["ips"]).toEqual([
      { version: "4", interface: 0, address: "10.1.0.2/24", gateway: "10.1.0.1" },
      { version: "4", interface: 0, address: "10.1.0.3/24" },
      { version: "6", interface: 0, address: "fd00::2/64", gateway: "fd00::1" },
    ]);
    expect(out["interfaces"]).toEqual([{ name: "net1", mac: "02:00:00:00:00:01", sandbox: "/run/netns/p" }]);
  });

  it.each(["0.1.0", "0.2.0"])("converts to ip4/ip6 for %s (first address per family, routes by family)", (v) => {
    expect(formatResult(full, v)).toEqual({
      cniVersion: v,
      ip4: {
        ip: "10.1.0.2/24",
        gateway: "10.1.0.1",
        routes: [{ dst: "0.0.0.0/0", gw: "10.1.0.1" }, { dst: "192.168.0.0/16" }],
      },
      ip6: { ip: "fd00::2/64", gateway: "fd00::1", routes: [{ dst: "::/0", gw: "fd00::1" }] },
      dns: { nameservers: ["10.1.0.53"] },
    });
  });

  it("prints dns as {} and omits empty lists, like the Go reference", () => {
    expect(formatResult({ interfaces: [{ name: "net1" }], ips: [], routes: [], dns: {} }, "1.0.0")).toEqual({
      cniVersion: "1.0.0",
      interfaces: [{ name: "net1" }],
      dns: {},
    });
    expect(formatResult({ interfaces: [{ name: "net1" }], ips: [], routes: [], dns: {} }, "0.2.0")).toEqual({
      cniVersion: "0.2.0",
      dns: {},
    });
  });
});

describe("parseResult()", () => {
  it("reads a 0.2.0 result up into ips and routes", () => {
    expect(
      parseResult(
        {
          cniVersion: "0.2.0",
          ip4: { ip: "10.1.0.2/24", gateway: "10.1.0.1", routes: [{ dst: "0.0.0.0/0" }] },
          dns: {},
        },
        "0.2.0",
      ),
    ).toEqual({
      interfaces: [],
      ips: [{ address: "10.1.0.2/24", gateway: "10.1.0.1" }],
      routes: [{ dst: "0.0.0.0/0" }],
      dns: {},
    });
  });

  it("reads a 0.4.0 result and drops ips[].version", () => {
    expect(
      parseResult(
        { cniVersion: "0.4.0", ips: [{ version: "4", address: "10.1.0.2/24", gateway: "10.1.0.1" }], dns: {} },
        "0.4.0",
      ).ips,
    ).toEqual([{ address: "10.1.0.2/24", gateway: "10.1.0.1" }]);
  });

  it.each(["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"])(
    "round-trips through %s (formatResult then parseResult keeps addresses and routes)",
    (v) => {
      const back = parseResult(formatResult(full, v), v);
      expect(back.ips.map((i) => i.address)).toEqual(
        v < "0.3.0" ? ["10.1.0.2/24", "fd00::2/64"] : ["10.1.0.2/24", "10.1.0.3/24", "fd00::2/64"],
      );
      expect(back.routes.map((r) => r.dst)).toEqual(["0.0.0.0/0", "192.168.0.0/16", "::/0"]);
    },
  );

  it("reads the 0.2.0 blocks' addresses with the same checks", () => {
    expect(() => parseResult({ ip4: { ip: "10.1.0.256/24" } }, "0.2.0")).toThrow(
      expect.objectContaining({
        code: 6,
        message: 'Cannot decode result "ip4.ip": "10.1.0.256/24" is not an IP address with a prefix length',
      }),
    );
  });

  it.each([
    ["not an object", [], 'Cannot decode result "result": expected an object, got array'],
    ["ips not an array", { ips: {} }, 'Cannot decode result "ips": expected an array, got object'],
    ["address missing", { ips: [{}] }, 'Cannot decode result "ips[0].address": missing'],
    [
      "an address that is not one",
      { ips: [{ address: "10.0.0.300/24" }] },
      'Cannot decode result "ips[0].address": "10.0.0.300/24" is not an IP address with a prefix length',
    ],
    [
      "an address without a prefix length",
      { ips: [{ address: "10.0.0.3" }] },
      'Cannot decode result "ips[0].address": "10.0.0.3" is not an IP address with a prefix length',
    ],
    [
      "a gateway that is not an address",
      { ips: [{ address: "fd00::2/64", gateway: "fd00::g" }] },
      'Cannot decode result "ips[0].gateway": "fd00::g" is not an IP address',
    ],
    [
      "a route dst that is not a prefix",
      { routes: [{ dst: "default" }] },
      'Cannot decode result "routes[0].dst": "default" is not an IP address with a prefix length',
    ],
    [
      "a route gw that is not an address",
      { routes: [{ dst: "0.0.0.0/0", gw: "10.0.0.1/24" }] },
      'Cannot decode result "routes[0].gw": "10.0.0.1/24" is not an IP address',
    ],
    ["interface name missing", { interfaces: [{ mac: "x" }] }, 'Cannot decode result "interfaces[0].name": missing'],
    [
      "route mtu not a number",
      { routes: [{ dst: "0.0.0.0/0", mtu: "x" }] },
      'Cannot decode result "routes[0].mtu": expected an integer, got string',
    ],
  ])("rejects a result with %s (code 6)", (_name, json, msg) => {
    expect(() => parseResult(json, "1.0.0")).toThrow(expect.objectContaining({ code: 6, message: msg }));
  });
});
