import { describe, expect, it } from "vitest";
import { canonicalIp, familyOf, parseCidr, parseIp, parsePlainIp } from "../../../../cni/lib/addresses.js";

describe("addresses (ip-cidr)", () => {
  it.each([
    ["10.0.0.2/24", { family: 4, address: "10.0.0.2", prefixlen: 24 }],
    ["10.0.0.2", { family: 4, address: "10.0.0.2" }],
    ["0.0.0.0/0", { family: 4, address: "0.0.0.0", prefixlen: 0 }],
    ["FD00:0:0::2/64", { family: 6, address: "fd00::2", prefixlen: 64 }],
    ["fd00:0000::0002", { family: 6, address: "fd00::2" }],
    ["::/0", { family: 6, address: "::", prefixlen: 0 }],
  ])("parseIp(%j) is %j", (text, parsed) => {
    expect(parseIp(text)).toEqual(parsed);
  });

  it.each([
    "10.0.0.300/24",
    "010.0.0.2/24", // leading zeros: Go's net.ParseIP refuses them, so must we
    "10.0.0.2/33",
    "10.0.0.2/",
    "10.0.0.2/24/1",
    " 10.0.0.2/24",
    "10.0.0.2/24 ",
    "1.2.3/24",
    "fd00::g/64",
    "fd00::1/129",
    "fe80::1%eth0/64", // a zone is no address a netdev takes
    "::ffff:10.0.0.2", // the library would hand it back as IPv4
    "",
    "ten",
  ])("parseIp(%j) is null", (text) => {
    expect(parseIp(text)).toBeNull();
  });

  it("parseCidr() wants a prefix length, parsePlainIp() refuses one", () => {
    expect(parseCidr("10.0.0.2")).toBeNull();
    expect(parseCidr("fd00::2/64")).toEqual({ family: 6, address: "fd00::2", prefixlen: 64 });
    expect(parsePlainIp("10.0.0.1/24")).toBeNull();
    expect(parsePlainIp("10.0.0.1")).toEqual({ family: 4, address: "10.0.0.1" });
  });

  it("canonicalIp() gives one spelling, with the prefix kept; familyOf() the family", () => {
    expect(canonicalIp("FD00:0::2/64")).toBe("fd00::2/64");
    expect(canonicalIp("fd00:0:0:0:0:0:0:2")).toBe("fd00::2");
    expect(canonicalIp("10.0.0.2/24")).toBe("10.0.0.2/24");
    expect(familyOf("fd00::2/64")).toBe(6);
    expect(familyOf("10.0.0.2")).toBe(4);
  });
});
