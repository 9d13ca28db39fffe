import { describe, expect, it } from "vitest";
import { parseNetConf } from "../../../../cni/lib/netconf.js";

const base = { cniVersion: "1.0.0", name: "net", type: "accelnet" };

describe("parseNetConf()", () => {
  it("applies defaults: state dir, log level, no IPAM", () => {
    const conf = parseNetConf(base);
    expect(conf).toMatchObject({
      name: "net",
      type: "accelnet",
      stateDir: "/var/lib/cni/accelnet",
      logLevel: "info",
      dns: {},
    });
    expect(conf.ipamType).toBeUndefined();
    expect(conf.logFile).toBeUndefined();
  });

  it("accepts Multus's extra keys and reads runtimeConfig, args.cni, prevResult", () => {
    const conf = parseNetConf({
      ...base,
      capabilities: { mac: true },
      deviceID: "0000:00:01.0",
      pciBusID: "0000:00:01.0",
      runtimeConfig: {
        mac: "02:00:00:00:00:05",
        ips: ["10.0.0.5/24"],
        deviceID: "x",
        CNIDeviceInfoFile: "/var/run/k8s.cni.cncf.io/devinfo/x.json",
      },
      args: { cni: { mac: "02:00:00:00:00:06", ips: ["10.0.0.6/24"] } },
      prevResult: { cniVersion: "1.0.0" },
      ipam: { type: "host-local", subnet: "10.0.0.0/24" },
      dns: { nameservers: ["1.1.1.1"], domain: "x" },
      logLevel: "debug",
      logFile: "/var/log/accelnet.log",
      stateDir: "/tmp/acn",
    });
    expect(conf.runtimeConfig).toEqual({
      mac: "02:00:00:00:00:05",
      ips: ["10.0.0.5/24"],
      deviceID: "x",
      CNIDeviceInfoFile: "/var/run/k8s.cni.cncf.io/devinfo/x.json",
    });
    expect(conf.argsCni).toEqual({ mac: "02:00:00:00:00:06", ips: ["10.0.0.6/24"] });
    expect(conf.prevResult).toEqual({ cniVersion: "1.0.0" });
    expect(conf).toMatchObject({
      ipamType: "host-local",
      logLevel: "debug",
      logFile: "/var/log/accelnet.log",
      stateDir: "/tmp/acn",
    });
    expect(conf.dns).toEqual({ nameservers: ["1.1.1.1"], domain: "x" });
  });

  it.each([
    [{ ipam: "host-local" }, 'Cannot use config field "ipam": expected an object, got string'],
    [{ ipam: { type: 5 } }, 'Cannot use config field "ipam.type": expected a string, got number'],
    [{ ipam: { type: "../bin/sh" } }, 'Cannot use config field "ipam.type": "../bin/sh" is not a plugin name'],
    [{ ipam: { type: ".." } }, 'Cannot use config field "ipam.type": ".." is not a plugin name'],
    [
      { stateDir: "relative/dir" },
      'Cannot use config field "stateDir": "relative/dir" is not an absolute path without ".."',
    ],
    [
      { stateDir: "/var/lib/../../etc" },
      'Cannot use config field "stateDir": "/var/lib/../../etc" is not an absolute path without ".."',
    ],
    [
      { logFile: "/tmp/../etc/passwd" },
      'Cannot use config field "logFile": "/tmp/../etc/passwd" is not an absolute path without ".."',
    ],
    [
      { logLevel: "verbose" },
      'Cannot use config field "logLevel": "verbose" is not one of error, warning, info, debug',
    ],
    [{ runtimeConfig: [] }, 'Cannot use config field "runtimeConfig": expected an object, got array'],
    [{ runtimeConfig: { mac: 1 } }, 'Cannot use config field "runtimeConfig.mac": expected a string, got number'],
    [
      { runtimeConfig: { ips: "10.0.0.1" } },
      'Cannot use config field "runtimeConfig.ips": expected an array of strings, got string',
    ],
    [{ args: { cni: "x" } }, 'Cannot use config field "args.cni": expected an object, got string'],
    [
      { dns: { nameservers: "1.1.1.1" } },
      'Cannot use config field "dns.nameservers": expected an array of strings, got string',
    ],
  ])("rejects %j with code 7", (extra, msg) => {
    expect(() => parseNetConf({ ...base, ...extra })).toThrow(expect.objectContaining({ code: 7, message: msg }));
  });
});
