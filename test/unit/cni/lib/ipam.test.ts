import { existsSync, linkSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { callIpam, findPlugin, rewriteForVersion, type IpamCommand } from "../../../../cni/lib/ipam.js";
import { silentLogger } from "../../../../cni/lib/log.js";
import { installFakeIpam } from "../fake-ipam.js";

describe("IPAM delegation", () => {
  let dir: string;
  let log: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "acn-ipam-"));
    log = join(dir, "calls.log");
    installFakeIpam(dir);
    writeFileSync(join(dir, "not-exec"), "");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const call = (command: IpamCommand, version: string, extraEnv: Record<string, string> = {}) =>
    callIpam(
      {
        type: "fake",
        command,
        stdin: JSON.stringify({ cniVersion: version, name: "n", type: "accelnet", ipam: { type: "fake" } }),
        env: { PATH: process.env["PATH"], CNI_PATH: `/nonexistent:${dir}`, FAKE_LOG: log, ...extraEnv },
        log: silentLogger,
      },
      version,
    );
  const calls = () => readFileSync(log, "utf8").trim().split("\n");

  it("findPlugin() searches CNI_PATH in order and skips non-executables", () => {
    expect(findPlugin("fake", `/nonexistent:${dir}`)).toBe(join(dir, "fake"));
    expect(() => findPlugin("not-exec", dir)).toThrow(
      expect.objectContaining({ code: 7, message: `Cannot find IPAM plugin "not-exec": not in CNI_PATH "${dir}"` }),
    );
  });

  describe("accelnet is never its own IPAM plugin", () => {
    const self = (type: string, command: IpamCommand, selfPaths: string[], warnings: string[] = []) =>
      callIpam(
        {
          type,
          command,
          stdin: JSON.stringify({ cniVersion: "1.1.0", name: "n", type: "accelnet", ipam: { type } }),
          env: { PATH: process.env["PATH"], CNI_PATH: dir, FAKE_LOG: log },
          log: { ...silentLogger, warning: (m) => warnings.push(m) },
          selfPaths,
        },
        "1.1.0",
      );

    it.each(["ADD", "CHECK", "STATUS", "GC"] as const)(
      '%s refuses the type "accelnet" (code 7), running nothing',
      async (command) => {
        await expect(self("accelnet", command, [])).rejects.toMatchObject({
          code: 7,
          message:
            'Cannot use config field "ipam.type": "accelnet" is accelnet itself, which cannot be its own IPAM plugin',
        });
        expect(existsSync(log)).toBe(false);
      },
    );

    it("refuses a type that is the running executable under another name (same inode: a hard link)", async () => {
      linkSync(join(dir, "fake"), join(dir, "alias"));
      await expect(self("alias", "CHECK", [join(dir, "fake")])).rejects.toMatchObject({
        code: 7,
        message: `Cannot use config field "ipam.type": "alias" ("${join(dir, "alias")}") is accelnet itself, which cannot be its own IPAM plugin`,
      });
      expect(existsSync(log)).toBe(false);
    });

    it("DEL skips it with a warning and succeeds (ADD refused it: it holds nothing)", async () => {
      const warnings: string[] = [];
      await expect(self("accelnet", "DEL", [], warnings)).resolves.toEqual({ result: null, version: null });
      expect(warnings).toEqual([expect.stringMatching(/^DEL skips IPAM: Cannot use config field "ipam.type"/)]);
    });

    it("every IPAM plugin runs with ACCELNET_DELEGATED=1, so a copy of accelnet refuses to recurse", async () => {
      writeFileSync(join(dir, "envdump"), '#!/bin/sh\ncat >/dev/null\nenv > "$FAKE_LOG"\n', { mode: 0o755 });
      await self("envdump", "CHECK", []);
      expect(readFileSync(log, "utf8").split("\n")).toContain("ACCELNET_DELEGATED=1");
    });
  });

  it("ADD at 1.0.0 passes the same stdin and env, and parses the result", async () => {
    const out = await call("ADD", "1.0.0");
    expect(out.version).toBe("1.0.0");
    expect(out.result).toEqual({
      interfaces: [],
      ips: [{ address: "10.9.0.2/24", gateway: "10.9.0.1" }],
      routes: [{ dst: "0.0.0.0/0" }],
      dns: {},
    });
    expect(calls()).toEqual(["ADD 1.0.0"]);
  });

  it("ADD at 0.2.0 converts the legacy result up", async () => {
    const out = await call("ADD", "0.2.0");
    expect(out.result?.ips).toEqual([{ address: "10.9.0.2/24", gateway: "10.9.0.1" }]);
  });

  it("ADD at 1.1.0 to a 1.0.0 plugin asks VERSION and retries with 1.0.0", async () => {
    const out = await call("ADD", "1.1.0");
    expect(out.version).toBe("1.0.0");
    expect(out.result?.ips).toEqual([{ address: "10.9.0.2/24", gateway: "10.9.0.1" }]);
    expect(calls()).toEqual(["ADD 1.1.0", "VERSION 1.1.0", "ADD 1.0.0"]);
  });

  it("STATUS and GC skip a plugin that does not support 1.1.0, without calling the verb", async () => {
    expect(await call("STATUS", "1.1.0")).toEqual({ result: null, version: null });
    expect(await call("GC", "1.1.0")).toEqual({ result: null, version: null });
    expect(calls()).toEqual(["VERSION 1.1.0", "VERSION 1.1.0"]);
  });

  it("passes the plugin's CNI error code through, prefixed with what we ran", async () => {
    await expect(call("DEL", "1.0.0", { FAKE_FAIL: '{"code":11,"msg":"busy","details":"d"}' })).rejects.toMatchObject({
      code: 11,
      message: 'Cannot run IPAM plugin "fake" DEL: busy',
      details: "d",
    });
  });

  it("refuses an IPAM result whose address is not one (102, naming the field)", async () => {
    const script = join(dir, "badaddr");
    writeFileSync(script, `#!/bin/sh\necho '{"cniVersion":"1.0.0","ips":[{"address":"10.9.0.300/24"}]}'\n`, {
      mode: 0o755,
    });
    const req = {
      type: "badaddr",
      command: "ADD" as const,
      stdin: JSON.stringify({ cniVersion: "1.0.0", name: "n", type: "accelnet", ipam: { type: "badaddr" } }),
      env: { PATH: process.env["PATH"], CNI_PATH: dir },
      log: silentLogger,
    };
    await expect(callIpam(req, "1.0.0")).rejects.toMatchObject({
      code: 102,
      message:
        'Cannot use IPAM plugin "badaddr" result: Cannot decode result "ips[0].address": "10.9.0.300/24" is not an IP address with a prefix length',
    });
  });

  it("maps a failure without CNI error JSON to code 102", async () => {
    await expect(call("ADD", "1.0.0", { FAKE_FAIL: "segfault" })).rejects.toMatchObject({
      code: 102,
      message: 'Cannot run IPAM plugin "fake" ADD: exit 1: segfault',
    });
  });

  it("rewriteForVersion() changes cniVersion and converts prevResult", () => {
    const stdin = JSON.stringify({
      cniVersion: "1.1.0",
      name: "n",
      prevResult: { cniVersion: "1.1.0", interfaces: [{ name: "net1", mtu: 1500 }], ips: [{ address: "10.0.0.2/24" }] },
    });
    expect(JSON.parse(rewriteForVersion(stdin, "1.1.0", "0.4.0"))).toEqual({
      cniVersion: "0.4.0",
      name: "n",
      prevResult: {
        cniVersion: "0.4.0",
        interfaces: [{ name: "net1" }],
        ips: [{ version: "4", address: "10.0.0.2/24" }],
        dns: {},
      },
    });
  });
});
