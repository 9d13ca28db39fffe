import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  checkDeviceInfoPath,
  checkLogFile,
  ensureTrustedDir,
  isUnder,
  openLogFile,
  stateDirFrom,
} from "../../../../cni/lib/trusted-paths.js";

describe("trusted paths", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "acn-trusted-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("isUnder() wants a path strictly inside the root, component-wise", () => {
    expect(isUnder("/var/log/a.log", "/var/log")).toBe(true);
    expect(isUnder("/var/log/x/a.log", "/var/log/")).toBe(true);
    expect(isUnder("/var/log", "/var/log")).toBe(false);
    expect(isUnder("/var/log/", "/var/log")).toBe(false);
    expect(isUnder("/var/logs/a.log", "/var/log")).toBe(false);
  });

  describe("stateDirFrom()", () => {
    it("takes ACCELNET_STATE_DIR, else /var/lib/cni/accelnet", () => {
      expect(stateDirFrom({ ACCELNET_STATE_DIR: "/tmp/x/state/" })).toBe("/tmp/x/state");
      expect(stateDirFrom({})).toBe("/var/lib/cni/accelnet");
      expect(stateDirFrom({ ACCELNET_STATE_DIR: "" })).toBe("/var/lib/cni/accelnet");
    });

    it.each(["state", "/var/lib/../../tmp", "/a\0b"])("refuses ACCELNET_STATE_DIR %j with code 4", (value) => {
      expect(() => stateDirFrom({ ACCELNET_STATE_DIR: value })).toThrow(
        expect.objectContaining({
          code: 4,
          message: `Cannot use ACCELNET_STATE_DIR "${value}": not an absolute path without ".."`,
        }),
      );
    });
  });

  describe("ensureTrustedDir()", () => {
    it("creates a missing dir 0700 (parents 0755) and accepts it again", () => {
      const state = join(dir, "a", "state");
      ensureTrustedDir(state, "state dir");
      expect(statSync(state).mode & 0o777).toBe(0o700);
      expect(statSync(join(dir, "a")).mode & 0o777).toBe(0o755);
      expect(() => ensureTrustedDir(state, "state dir")).not.toThrow();
    });

    it("accepts an existing dir of this euid that only its owner writes (0755)", () => {
      const state = join(dir, "state");
      mkdirSync(state, { mode: 0o755 });
      expect(() => ensureTrustedDir(state, "state dir")).not.toThrow();
    });

    it.each([
      ["group-writable", 0o775, "its mode 0775 lets group or others write to it"],
      ["world-writable", 0o707, "its mode 0707 lets group or others write to it"],
      ["world-writable with the sticky bit", 0o1777, "its mode 1777 lets group or others write to it"],
    ])("refuses a %s dir with code 5", (_name, mode, why) => {
      const state = join(dir, "state");
      mkdirSync(state);
      chmodSync(state, mode);
      expect(() => ensureTrustedDir(state, "state dir")).toThrow(
        expect.objectContaining({ code: 5, message: `Cannot use state dir "${state}": ${why}` }),
      );
    });

    it("refuses a symlink (even to a good dir) and a file with code 5", () => {
      const good = join(dir, "good");
      mkdirSync(good, { mode: 0o700 });
      symlinkSync(good, join(dir, "link"));
      writeFileSync(join(dir, "file"), "");
      expect(() => ensureTrustedDir(join(dir, "link"), "helper dir")).toThrow(
        expect.objectContaining({
          code: 5,
          message: `Cannot use helper dir "${join(dir, "link")}": it is a symbolic link`,
        }),
      );
      expect(() => ensureTrustedDir(join(dir, "file"), "state dir")).toThrow(
        expect.objectContaining({
          code: 5,
          message: `Cannot use state dir "${join(dir, "file")}": it is not a directory`,
        }),
      );
    });

    it.skipIf(process.getuid?.() !== 0)("refuses a dir owned by another user with code 5 (needs root)", () => {
      const state = join(dir, "state");
      mkdirSync(state, { mode: 0o700 });
      chownSync(state, 65534, 65534);
      expect(() => ensureTrustedDir(state, "state dir")).toThrow(
        expect.objectContaining({
          code: 5,
          message: `Cannot use state dir "${state}": it is owned by uid 65534, not root`,
        }),
      );
    });
  });

  describe("logFile", () => {
    const env = () => ({ ACCELNET_LOG_DIR: join(dir, "log") });
    beforeEach(() => mkdirSync(join(dir, "log")));

    it("checkLogFile() accepts a file under /var/log/ or ACCELNET_LOG_DIR", () => {
      expect(checkLogFile("/var/log/accelnet.log", {})).toBe("/var/log/accelnet.log");
      expect(checkLogFile("/var/log/cni/accelnet.log", {})).toBe("/var/log/cni/accelnet.log");
      expect(checkLogFile(join(dir, "log", "a.log"), env())).toBe(join(dir, "log", "a.log"));
    });

    it.each([
      ["relative.log", 'is not an absolute path without ".."'],
      ["/var/log/../../etc/shadow", 'is not an absolute path without ".."'],
      ["/etc/cron.d/x", 'is not under "/var/log/"'],
      ["/var/log", 'is not under "/var/log/"'],
      ["/var/logx/a.log", 'is not under "/var/log/"'],
    ])("checkLogFile() refuses %j with code 7", (path, why) => {
      expect(() => checkLogFile(path, {})).toThrow(
        expect.objectContaining({ code: 7, message: `Cannot use config field "logFile": "${path}" ${why}` }),
      );
    });

    it("openLogFile() creates the file 0600 and appends", () => {
      const path = join(dir, "log", "a.log");
      writeFileSync(path, "old\n");
      const fd = openLogFile(path, env());
      writeSync(fd, "new\n");
      closeSync(fd);
      expect(readFileSync(path, "utf8")).toBe("old\nnew\n");
      const fresh = join(dir, "log", "b.log");
      closeSync(openLogFile(fresh, env()));
      expect(statSync(fresh).mode & 0o777).toBe(0o600);
    });

    it("openLogFile() refuses a symlink, a directory and a parent that leads out, with code 7", () => {
      const target = join(dir, "target");
      writeFileSync(target, "precious\n");
      const link = join(dir, "log", "link.log");
      symlinkSync(target, link);
      expect(() => openLogFile(link, env())).toThrow(
        expect.objectContaining({
          code: 7,
          message: `Cannot use config field "logFile": "${link}" is a symbolic link`,
        }),
      );
      expect(readFileSync(target, "utf8")).toBe("precious\n");
      mkdirSync(join(dir, "log", "d.log"));
      expect(() => openLogFile(join(dir, "log", "d.log"), env())).toThrow(
        expect.objectContaining({ code: 7, message: expect.stringMatching(/is not a regular file$/) as string }),
      );
      mkdirSync(join(dir, "outside"));
      symlinkSync(join(dir, "outside"), join(dir, "log", "sub"));
      const through = join(dir, "log", "sub", "x.log");
      expect(() => openLogFile(through, env())).toThrow(
        expect.objectContaining({
          code: 7,
          message: `Cannot use config field "logFile": "${through}" leads out of "/var/log/" or "${join(dir, "log")}/" (to "${join(dir, "outside")}")`,
        }),
      );
      expect(existsSync(join(dir, "outside", "x.log"))).toBe(false);
    });

    it("openLogFile() throws a plain error for a missing directory (the caller logs to stderr)", () => {
      let thrown: unknown;
      try {
        openLogFile(join(dir, "log", "missing", "a.log"), env());
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toMatchObject({ code: "ENOENT" });
    });
  });

  describe("checkDeviceInfoPath()", () => {
    const devinfo = () => join(dir, "devinfo");
    const env = () => ({ ACCELNET_DEVINFO_DIR: devinfo() });
    const field = 'Cannot use config field "runtimeConfig.CNIDeviceInfoFile"';

    it("accepts the spec's directory (both spellings, subdirectories) and ACCELNET_DEVINFO_DIR", () => {
      for (const p of [
        "/var/run/k8s.cni.cncf.io/devinfo/cni/net-ctr-net1-device.json",
        "/run/k8s.cni.cncf.io/devinfo/dp/x.json",
      ]) {
        expect(checkDeviceInfoPath(p, {})).toBe(p);
      }
      expect(checkDeviceInfoPath(join(devinfo(), "a.json"), env())).toBe(join(devinfo(), "a.json"));
    });

    it.each([
      ["relative/x.json", 'is not an absolute path without ".."'],
      ["/var/run/k8s.cni.cncf.io/devinfo/../../../etc/cron.d/x", 'is not an absolute path without ".."'],
      ["/etc/cron.d/x", 'is not under "/var/run/k8s.cni.cncf.io/devinfo/" or "/run/k8s.cni.cncf.io/devinfo/"'],
    ])("refuses %j with code 7", (path, why) => {
      expect(() => checkDeviceInfoPath(path, {})).toThrow(
        expect.objectContaining({ code: 7, message: `${field}: "${path}" ${why}` }),
      );
    });

    it("refuses a symlink at the last component and a non-regular file with code 7", () => {
      mkdirSync(devinfo());
      const link = join(devinfo(), "x.json");
      symlinkSync("/etc/shadow", link);
      expect(() => checkDeviceInfoPath(link, env())).toThrow(
        expect.objectContaining({ code: 7, message: `${field}: "${link}" is a symbolic link` }),
      );
      mkdirSync(join(devinfo(), "d.json"));
      expect(() => checkDeviceInfoPath(join(devinfo(), "d.json"), env())).toThrow(
        expect.objectContaining({ code: 7, message: `${field}: "${join(devinfo(), "d.json")}" is not a regular file` }),
      );
    });
  });
});
