import { describe, expect, it } from "vitest";
import { parseNetConf } from "../../../../cni/lib/netconf.js";

const base = { cniVersion: "1.0.0", name: "net", type: "accelnet" };

describe("parseNetConf()", () => {
  it("applies defaults: log level, no IPAM", () => {
    const conf = parseNetConf(base);
    expect(conf).toMatchObject({
      name: "net",
      type: "accelnet",
      logLevel: "info",
      dns: {},
      ignored: [],
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
      logFile: "/var/log/accelnet/net1.log",
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
      logFile: "net1.log",
    });
    expect(conf.dns).toEqual({ nameservers: ["1.1.1.1"], domain: "x" });
  });

  it.each([
    [{ ipam: "host-local" }, 'Cannot use config field "ipam": expected an object, got string'],
    [{ ipam: { type: 5 } }, 'Cannot use config field "ipam.type": expected a string, got number'],
    [{ ipam: { type: "../bin/sh" } }, 'Cannot use config field "ipam.type": "../bin/sh" is not a plugin name'],
    [{ ipam: { type: ".." } }, 'Cannot use config field "ipam.type": ".." is not a plugin name'],
    ...["/var/lib/cni/accelnet", "/tmp/acn", "relative/dir"].map(
      (stateDir) =>
        [
          { stateDir },
          'Cannot use config field "stateDir": the state dir comes from the runtime\'s environment ' +
            "(ACCELNET_STATE_DIR, default /var/lib/cni/accelnet), never from the network config",
        ] as [Record<string, unknown>, string],
    ),
    [
      { logFile: "/tmp/../etc/passwd" },
      'Cannot use config field "logFile": "/tmp/../etc/passwd" is not a file name in the node\'s log dir "/var/log/accelnet/" (a name only, no "/" or "..")',
    ],
    [
      { logFile: "/etc/cron.d/accelnet" },
      'Cannot use config field "logFile": "/etc/cron.d/accelnet" is not a file name in the node\'s log dir "/var/log/accelnet/" (a name only, no "/" or "..")',
    ],
    [
      { runtimeConfig: { CNIDeviceInfoFile: "/etc/cron.d/x" } },
      'Cannot use config field "runtimeConfig.CNIDeviceInfoFile": "/etc/cron.d/x" is not under ' +
        '"/var/run/k8s.cni.cncf.io/devinfo/" or "/run/k8s.cni.cncf.io/devinfo/"',
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

  it("forDel drops a refused stateDir, logFile and CNIDeviceInfoFile, noting each", () => {
    const conf = parseNetConf(
      {
        ...base,
        stateDir: "/tmp/acn",
        logFile: "/tmp/x.log",
        runtimeConfig: { CNIDeviceInfoFile: "/tmp/x.json", deviceID: "d" },
      },
      { forDel: true },
    );
    expect(conf.logFile).toBeUndefined();
    expect(conf.runtimeConfig).toEqual({ deviceID: "d" });
    expect(conf.ignored).toEqual([
      expect.stringMatching(/^Cannot use config field "stateDir": /),
      expect.stringMatching(
        /^Cannot use config field "runtimeConfig.CNIDeviceInfoFile": "\/tmp\/x.json" is not under /,
      ),
      'Cannot use config field "logFile": "/tmp/x.log" is not a file name in the node\'s log dir "/var/log/accelnet/" (a name only, no "/" or "..")',
    ]);
  });

  // DEL must succeed for any config ADD refused: every refused field is dropped and noted, never thrown.
  it.each([
    [{ logFile: 5 }, "logFile"],
    [{ logLevel: "x" }, "logLevel"],
    [{ dns: { nameservers: "1.1.1.1" } }, "dns.nameservers"],
    [{ runtimeConfig: { mac: 5 } }, "runtimeConfig.mac"],
    [{ args: { cni: "x" } }, "args.cni"],
    [{ ipam: { type: "../host-local" } }, "ipam.type"],
    [{ ipam: "host-local" }, "ipam"],
    [{ type: 7 }, "type"],
  ])("forDel drops and notes a refused field: %j", (extra, field) => {
    expect(() => parseNetConf({ ...base, ...extra })).toThrow(expect.objectContaining({ code: 7 }));
    const conf = parseNetConf({ ...base, ...extra }, { forDel: true });
    expect(conf.ignored).toEqual([expect.stringContaining(`"${field}"`)]);
    expect(conf.ipamType === undefined || field !== "ipam.type").toBe(true);
  });

  it("env dirs move the log dir and widen where CNIDeviceInfoFile may be", () => {
    const conf = parseNetConf(
      { ...base, logFile: "/srv/t/log/a.log", runtimeConfig: { CNIDeviceInfoFile: "/srv/t/devinfo/a.json" } },
      { env: { ACCELNET_LOG_DIR: "/srv/t/log", ACCELNET_DEVINFO_DIR: "/srv/t/devinfo" } },
    );
    expect(conf.logFile).toBe("a.log");
    expect(conf.runtimeConfig.CNIDeviceInfoFile).toBe("/srv/t/devinfo/a.json");
  });
});
