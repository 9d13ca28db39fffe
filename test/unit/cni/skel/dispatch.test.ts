import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CniError } from "../../../../cni/lib/errors.js";
import { dispatch, MAX_STDIN_BYTES } from "../../../../cni/skel/dispatch.js";
import type { CniFuncs, CniRequest, PluginDeps } from "../../../../cni/skel/types.js";
import { FakeNative } from "../fake-native.js";

// The state dir comes from the environment only: every call here names a temporary one.
const tmp = mkdtempSync(join(tmpdir(), "acn-dispatch-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const stateDir = join(tmp, "state");
const logDir = join(tmp, "log");
mkdirSync(logDir);

const env = {
  ACCELNET_STATE_DIR: stateDir,
  ACCELNET_LOG_DIR: logDir,
  CNI_COMMAND: "ADD",
  CNI_CONTAINERID: "c1",
  CNI_NETNS: "/run/netns/acn-none",
  CNI_IFNAME: "net1",
  CNI_PATH: "/usr/lib/cni",
  CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAME=p",
};
const conf = { cniVersion: "1.0.0", name: "net", type: "accelnet", master: "eth1" };
const deps: PluginDeps = { native: () => new FakeNative() };

function funcs(seen: CniRequest[], impl: Partial<CniFuncs> = {}): CniFuncs {
  const record = (req: CniRequest) => {
    seen.push(req);
    return Promise.resolve();
  };
  return {
    add: (req) => {
      seen.push(req);
      return Promise.resolve({
        interfaces: [{ name: req.ifname, mac: "02:00:00:00:00:01", sandbox: req.netns }],
        ips: [],
        routes: [],
        dns: {},
      });
    },
    del: record,
    check: record,
    gc: record,
    status: record,
    ...impl,
  };
}

async function run(envOver: Record<string, string | undefined>, stdin: string, f: CniFuncs = funcs([])) {
  let stdout = "";
  let stderr = "";
  const code = await dispatch(
    {
      env: { ...env, ...envOver },
      stdin,
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
    },
    f,
    deps,
    "CNI accelnet plugin",
  );
  return { code, stdout, stderr, json: stdout === "" ? undefined : (JSON.parse(stdout) as Record<string, unknown>) };
}

describe("dispatch()", () => {
  it("VERSION prints the supported versions and ignores stdin", async () => {
    const out = await run({ CNI_COMMAND: "VERSION" }, "not json");
    expect(out.code).toBe(0);
    expect(out.json).toEqual({
      cniVersion: "1.1.0",
      supportedVersions: ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
    });
  });

  it("without CNI_COMMAND prints the about text to stderr only, exit 0", async () => {
    const out = await run({ CNI_COMMAND: undefined }, "");
    expect(out).toMatchObject({ code: 0, stdout: "" });
    expect(out.stderr).toBe(
      "CNI accelnet plugin\nCNI protocol versions supported: 0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0\n",
    );
  });

  it("ADD hands the mode a parsed request and prints the result in the request's version", async () => {
    const seen: CniRequest[] = [];
    const out = await run({}, JSON.stringify({ ...conf, cniVersion: "0.4.0" }), funcs(seen));
    expect(out.code).toBe(0);
    expect(out.json).toEqual({
      cniVersion: "0.4.0",
      interfaces: [{ name: "net1", mac: "02:00:00:00:00:01", sandbox: "/run/netns/acn-none" }],
      dns: {},
    });
    expect(seen[0]).toMatchObject({
      command: "ADD",
      containerID: "c1",
      ifname: "net1",
      cniVersion: "0.4.0",
      stateDir,
    });
    expect(seen[0]?.cniArgs.k8sPodName).toBe("p");
    expect(seen[0]?.stdin).toBe(JSON.stringify({ ...conf, cniVersion: "0.4.0" }));
  });

  it("a missing cniVersion means 0.1.0 and the result comes out in 0.1.0 shape", async () => {
    const { cniVersion: _, ...noVersion } = conf;
    const out = await run({}, JSON.stringify(noVersion));
    expect(out.json).toEqual({ cniVersion: "0.1.0", dns: {} });
  });

  it("DEL, CHECK, GC and STATUS print nothing on success", async () => {
    for (const [command, version] of [
      ["DEL", "1.0.0"],
      ["CHECK", "1.0.0"],
      ["GC", "1.1.0"],
      ["STATUS", "1.1.0"],
    ] as const) {
      const seen: CniRequest[] = [];
      const out = await run({ CNI_COMMAND: command }, JSON.stringify({ ...conf, cniVersion: version }), funcs(seen));
      expect(out).toMatchObject({ code: 0, stdout: "" });
      expect(seen).toHaveLength(1);
    }
  });

  it.each([
    ["malformed JSON", {}, "{", 6, /^Cannot decode "stdin": /],
    ["a JSON array", {}, "[]", 6, /^Cannot decode "stdin": expected a JSON object, got array$/],
    [
      "cniVersion of the wrong type",
      {},
      JSON.stringify({ ...conf, cniVersion: 1 }),
      6,
      /^Cannot decode "cniVersion": expected a string, got number$/,
    ],
    [
      "an unknown cniVersion",
      {},
      JSON.stringify({ ...conf, cniVersion: "9.9.9" }),
      1,
      /^Cannot use cniVersion "9.9.9": incompatible CNI versions$/,
    ],
    [
      "a missing name",
      {},
      JSON.stringify({ ...conf, name: undefined }),
      7,
      /^Cannot use config field "name": missing$/,
    ],
    [
      "a name with bad characters",
      {},
      JSON.stringify({ ...conf, name: "a/b" }),
      7,
      /^Cannot use config field "name": "a\/b" has invalid characters/,
    ],
    [
      "a missing CNI_NETNS",
      { CNI_NETNS: "" },
      JSON.stringify(conf),
      4,
      /^Cannot run CNI_COMMAND "ADD": required env variables \[CNI_NETNS\] missing$/,
    ],
    ["a bad ifname", { CNI_IFNAME: "a/b" }, JSON.stringify(conf), 4, /^Cannot use CNI_IFNAME "a\/b"/],
    [
      "CHECK below 0.4.0",
      { CNI_COMMAND: "CHECK" },
      JSON.stringify({ ...conf, cniVersion: "0.3.1" }),
      1,
      /^Cannot run CHECK with cniVersion "0.3.1": needs 0.4.0 or later$/,
    ],
    [
      "GC below 1.1.0",
      { CNI_COMMAND: "GC" },
      JSON.stringify(conf),
      1,
      /^Cannot run GC with cniVersion "1.0.0": needs 1.1.0 or later$/,
    ],
    [
      "STATUS below 1.1.0",
      { CNI_COMMAND: "STATUS" },
      JSON.stringify(conf),
      1,
      /^Cannot run STATUS with cniVersion "1.0.0": needs 1.1.0 or later$/,
    ],
    [
      "the plugin's own netns",
      { CNI_NETNS: "/proc/self/ns/net" },
      JSON.stringify(conf),
      4,
      /^Cannot use CNI_NETNS "\/proc\/self\/ns\/net": it is the plugin's own netns$/,
    ],
  ])("rejects %s with the right code and never calls the mode", async (_name, envOver, stdin, code, msg) => {
    const seen: CniRequest[] = [];
    const out = await run(envOver, stdin, funcs(seen));
    expect(out.code).toBe(1);
    expect(out.json?.["code"]).toBe(code);
    expect(out.json?.["msg"]).toMatch(msg);
    expect(seen).toEqual([]);
    expect(out.stdout.trim().split("\n")).toHaveLength(1);
  });

  it("prints the error in the request's cniVersion", async () => {
    const out = await run({ CNI_IFNAME: "a:b" }, JSON.stringify({ ...conf, cniVersion: "0.3.1" }));
    expect(out.json?.["cniVersion"]).toBe("0.3.1");
  });

  it("passes a CniError through untouched", async () => {
    const f = funcs([], {
      add: () => Promise.reject(new CniError(11, 'Cannot lock attachment "c1/net1": busy', { details: "pid 7" })),
    });
    const out = await run({}, JSON.stringify(conf), f);
    expect(out.json).toEqual({
      cniVersion: "1.0.0",
      code: 11,
      msg: 'Cannot lock attachment "c1/net1": busy',
      details: "pid 7",
    });
  });

  it("turns any other error into code 999 keeping its message", async () => {
    const f = funcs([], { del: () => Promise.reject(new TypeError("x is undefined")) });
    const out = await run({ CNI_COMMAND: "DEL" }, JSON.stringify(conf), f);
    expect(out.code).toBe(1);
    expect(out.json).toMatchObject({ cniVersion: "1.0.0", code: 999, msg: "x is undefined" });
  });

  it("code 999 prints no stack frame or path on stdout: the stack goes to the debug log only", async () => {
    const f = funcs([], { del: () => Promise.reject(new TypeError("x is undefined")) });
    const quiet = await run({ CNI_COMMAND: "DEL" }, JSON.stringify(conf), f);
    expect(quiet.json).toEqual({ cniVersion: "1.0.0", code: 999, msg: "x is undefined" });
    expect(quiet.stdout).not.toMatch(/dispatch\.test\.ts|node_modules|\bat\b/);
    const debug = await run({ CNI_COMMAND: "DEL" }, JSON.stringify({ ...conf, logLevel: "debug" }), f);
    expect(debug.json).toEqual({ cniVersion: "1.0.0", code: 999, msg: "x is undefined" });
    expect(debug.stderr).toMatch(
      /debug c1\/net1: DEL internal error: TypeError: x is undefined\\n\s+at .*dispatch\.test\.ts/,
    );
  });

  it("refuses to run as another accelnet's IPAM plugin (code 7), and its DEL succeeds doing nothing", async () => {
    const seen: CniRequest[] = [];
    const add = await run({ ACCELNET_DELEGATED: "1" }, JSON.stringify(conf), funcs(seen));
    expect(add.json).toMatchObject({
      code: 7,
      msg: 'Cannot run ADD as another plugin\'s IPAM plugin (ACCELNET_DELEGATED is set): "ipam.type" must not name accelnet',
    });
    const del = await run({ ACCELNET_DELEGATED: "1", CNI_COMMAND: "DEL" }, JSON.stringify(conf), funcs(seen));
    expect(del).toMatchObject({ code: 0, stdout: "" });
    expect(seen).toEqual([]);
  });

  it("reads stdin from a stream", async () => {
    let stdout = "";
    async function* chunks() {
      await Promise.resolve();
      yield Buffer.from(JSON.stringify(conf).slice(0, 10));
      yield JSON.stringify(conf).slice(10);
    }
    const code = await dispatch(
      { env, stdin: chunks(), stdout: { write: (s: string) => (stdout += s) }, stderr: { write: () => true } },
      funcs([]),
      deps,
      "",
    );
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ cniVersion: "1.0.0" });
  });

  it("refuses stdin over 1 MiB with code 7 in the request's version, and stops reading a stream there", async () => {
    const seen: CniRequest[] = [];
    const padded = (size: number) => {
      const text = JSON.stringify({ ...conf, cniVersion: "0.4.0", pad: "" });
      return text.replace('"pad":""', `"pad":"${"x".repeat(size - text.length)}"`);
    };
    const exact = await run({}, padded(MAX_STDIN_BYTES), funcs(seen));
    expect(exact.code).toBe(0);
    const over = await run({}, padded(MAX_STDIN_BYTES + 1), funcs(seen));
    expect(over).toMatchObject({ code: 1 });
    expect(over.json).toEqual({ cniVersion: "0.4.0", code: 7, msg: "Cannot read stdin: larger than 1048576 bytes" });
    expect(seen).toHaveLength(1);
    let pulled = 0;
    async function* endless() {
      for (;;) {
        await Promise.resolve();
        pulled++;
        yield Buffer.alloc(64 * 1024, 0x20);
      }
    }
    let stdout = "";
    const code = await dispatch(
      { env, stdin: endless(), stdout: { write: (s: string) => (stdout += s) }, stderr: { write: () => true } },
      funcs(seen),
      deps,
      "",
    );
    expect(code).toBe(1);
    expect(JSON.parse(stdout)).toEqual({
      cniVersion: "1.1.0",
      code: 7,
      msg: "Cannot read stdin: larger than 1048576 bytes",
    });
    expect(pulled).toBe(17);
  });

  describe("paths a tenant's config must not choose", () => {
    it("refuses a config that names a stateDir (code 7), never calls the mode and creates nothing", async () => {
      const seen: CniRequest[] = [];
      const tenantDir = join(tmp, "tenant-state");
      const out = await run({}, JSON.stringify({ ...conf, stateDir: tenantDir }), funcs(seen));
      expect(out.json).toMatchObject({
        code: 7,
        msg:
          'Cannot use config field "stateDir": the state dir comes from the runtime\'s environment ' +
          "(ACCELNET_STATE_DIR, default /var/lib/cni/accelnet), never from the network config",
      });
      expect(seen).toEqual([]);
      expect(existsSync(tenantDir)).toBe(false);
    });

    it("DEL of a config cached with a stateDir still runs, on the env's state dir, with a warning", async () => {
      const seen: CniRequest[] = [];
      const tenantDir = join(tmp, "tenant-state-del");
      const stdin = JSON.stringify({ ...conf, stateDir: tenantDir, logLevel: "warning" });
      const out = await run({ CNI_COMMAND: "DEL" }, stdin, funcs(seen));
      expect(out).toMatchObject({ code: 0, stdout: "" });
      expect(seen[0]?.stateDir).toBe(stateDir);
      expect(out.stderr).toContain('DEL ignores a refused field: Cannot use config field "stateDir"');
      expect(existsSync(tenantDir)).toBe(false);
    });

    it("refuses ACCELNET_STATE_DIR that is not an absolute path (code 4)", async () => {
      const out = await run({ ACCELNET_STATE_DIR: "state" }, JSON.stringify(conf));
      expect(out.json).toMatchObject({
        code: 4,
        msg: 'Cannot use ACCELNET_STATE_DIR "state": not an absolute path without ".."',
      });
    });

    it("creates a missing state dir 0700 before the mode runs", async () => {
      const fresh = join(tmp, "fresh", "state");
      const out = await run({ ACCELNET_STATE_DIR: fresh }, JSON.stringify(conf));
      expect(out.code).toBe(0);
      expect(statSync(fresh).mode & 0o777).toBe(0o700);
    });

    it.each([
      [
        "writable by others",
        (d: string) => (mkdirSync(d), chmodSync(d, 0o777)),
        "it has mode 0777: group or others can write to it",
      ],
      [
        "writable by its group",
        (d: string) => (mkdirSync(d), chmodSync(d, 0o770)),
        "it has mode 0770: group or others can write to it",
      ],
      ["a symlink", (d: string) => symlinkSync(tmp, d), "it is a symbolic link"],
      ["a file", (d: string) => writeFileSync(d, ""), "it is not a directory"],
    ])("refuses a state dir that is %s (code 5) and never calls the mode", async (_name, make, why) => {
      const bad = join(tmp, `bad-${Math.random().toString(16).slice(2)}`);
      make(bad);
      const seen: CniRequest[] = [];
      const out = await run({ ACCELNET_STATE_DIR: bad }, JSON.stringify(conf), funcs(seen));
      expect(out.json).toMatchObject({ code: 5, msg: `Cannot use state dir "${bad}": ${why}` });
      expect(seen).toEqual([]);
    });

    it("appends log lines to a logFile named in the node's log dir, mode 0600", async () => {
      const file = join(logDir, "accelnet.log");
      const out = await run({}, JSON.stringify({ ...conf, logLevel: "debug", logFile: "accelnet.log" }));
      expect(out.code).toBe(0);
      expect(out.stderr).toBe("");
      expect(readFileSync(file, "utf8")).toMatch(/ accelnet debug c1\/net1: ADD /);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      // sriov-cni style: a full path whose directory is exactly the log dir
      expect((await run({}, JSON.stringify({ ...conf, logFile: file }))).code).toBe(0);
    });

    it("a newline in a config value cannot forge a log line: control characters are escaped", async () => {
      // DEL logs a refused logFile value as a warning, the value as the config has it
      const forged = "x\n2026-01-01T00:00:00.000Z accelnet error c1/net1: forged\r\u001b[2J\u2028";
      const out = await run({ CNI_COMMAND: "DEL" }, JSON.stringify({ ...conf, logFile: forged }));
      expect(out.code).toBe(0);
      const lines = out.stderr.trimEnd().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(
        'accelnet warning c1/net1: DEL ignores a refused field: Cannot use config field "logFile": ' +
          '"x\\n2026-01-01T00:00:00.000Z accelnet error c1/net1: forged\\r\\u001b[2J\\u2028"',
      );
    });

    it("a log dir others can write (sticky or not): logs go to stderr with the reason, no file is created", async () => {
      const open = join(tmp, "open-log");
      mkdirSync(open);
      chmodSync(open, 0o1777);
      const out = await run({ ACCELNET_LOG_DIR: open }, JSON.stringify({ ...conf, logFile: "a.log" }));
      expect(out.code).toBe(0);
      expect(out.stderr).toContain(
        `Cannot open log file "a.log" in the node's log dir "${open}": "${open}" has mode 1777: group or others can write to it (logging to stderr)`,
      );
      expect(existsSync(join(open, "a.log"))).toBe(false);
    });

    const notAName = `is not a file name in the node's log dir "${logDir}/" (a name only, no "/" or "..")`;
    it.each([
      ["elsewhere", () => join(tmp, "elsewhere.log"), notAName],
      ["in /var/log", () => "/var/log/auth.log", notAName],
      ["in a subdirectory", () => "sub/x.log", notAName],
      ["with ..", () => "/var/log/../../etc/passwd", notAName],
      [
        "a symlink",
        () => (linked(join(logDir, "link.log"), join(tmp, "target.log")), "link.log"),
        "is a symbolic link",
      ],
      ["a directory", () => (made(join(logDir, "dir.log")), "dir.log"), "is not a regular file"],
    ])("refuses a logFile %s (code 7), never calls the mode and writes nothing", async (_name, valueOf, why) => {
      const value = valueOf();
      const shown = value.includes("/") ? value : join(logDir, value);
      const seen: CniRequest[] = [];
      const out = await run({}, JSON.stringify({ ...conf, logFile: value }), funcs(seen));
      expect(out.json).toMatchObject({ code: 7, msg: `Cannot use config field "logFile": "${shown}" ${why}` });
      expect(seen).toEqual([]);
      expect(existsSync(join(tmp, "elsewhere.log"))).toBe(false);
      expect(existsSync(join(tmp, "target.log"))).toBe(false);
    });
  });
});

function linked(path: string, target: string): string {
  symlinkSync(target, path);
  return path;
}

function made(path: string): string {
  mkdirSync(path);
  return path;
}
