import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { deviceInfoContent, restoreDeviceInfo, writeDeviceInfo } from "../../../../cni/lib/device-info.js";
import { silentLogger } from "../../../../cni/lib/log.js";

const pci = { type: "pci" as const, pci: { "pci-address": "0000:00:12.0", "pf-pci-address": "0000:00:02.0" } };

describe("device info files", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "acn-devinfo-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("deviceInfoContent() writes the spec 1.1.0 shape", () => {
    expect(JSON.parse(deviceInfoContent(pci, null))).toEqual({
      type: "pci",
      version: "1.1.0",
      pci: { "pci-address": "0000:00:12.0", "pf-pci-address": "0000:00:02.0" },
    });
  });

  it("deviceInfoContent() keeps the device plugin's other fields of the same type and replaces another type", () => {
    const dp = JSON.stringify({
      type: "pci",
      version: "1.0.0",
      pci: { "pci-address": "x", "vhost-net": "/dev/vhost-net" },
    });
    expect(JSON.parse(deviceInfoContent(pci, dp))).toEqual({
      type: "pci",
      version: "1.1.0",
      pci: { "pci-address": "0000:00:12.0", "vhost-net": "/dev/vhost-net", "pf-pci-address": "0000:00:02.0" },
    });
    const vdpa = JSON.stringify({ type: "vdpa", vdpa: { "parent-device": "vdpa0" } });
    expect(JSON.parse(deviceInfoContent(pci, vdpa))).toEqual(JSON.parse(deviceInfoContent(pci, null)));
  });

  const env = () => ({ ACCELNET_DEVINFO_DIR: dir });

  it("writeDeviceInfo() then restoreDeviceInfo() removes a file it created and puts back one it updated", () => {
    const created = join(dir, "sub", "a.json");
    restoreDeviceInfo(writeDeviceInfo(created, pci, env()), silentLogger);
    expect(existsSync(created)).toBe(false);
    const updated = join(dir, "b.json");
    writeFileSync(updated, "from the device plugin");
    const record = writeDeviceInfo(updated, pci, env());
    expect(record).toEqual({ path: updated, previous: "from the device plugin", root: dir });
    expect(JSON.parse(readFileSync(updated, "utf8"))).toMatchObject({ type: "pci" });
    restoreDeviceInfo(record, silentLogger);
    expect(readFileSync(updated, "utf8")).toBe("from the device plugin");
  });

  it("writeDeviceInfo() hands over its record before it touches the file: a kill there leaves DEL what to restore", () => {
    const path = join(dir, "c.json");
    writeFileSync(path, "from the device plugin");
    let planned: unknown;
    const record = writeDeviceInfo(path, pci, env(), (r) => {
      planned = structuredClone(r);
      // Nothing written yet when the record is handed over.
      expect(readFileSync(path, "utf8")).toBe("from the device plugin");
    });
    expect(planned).toEqual(record);
    // An ADD killed after the record and before (or after) the rename: DEL restores from the record.
    restoreDeviceInfo(record, silentLogger);
    expect(readFileSync(path, "utf8")).toBe("from the device plugin");
  });

  it("restoreDeviceInfo() removes the file's temporary files whose writer is dead, and no one else's", () => {
    const path = join(dir, "d.json");
    const record = writeDeviceInfo(path, pci, env());
    // A writer killed between creating its temporary file and the rename (state.ts writeFileAtomic's names).
    const dead = `d.json.tmp-${2 ** 22 + 1}-ab12`;
    const live = `d.json.tmp-${process.pid}-cd34`;
    for (const name of [dead, live, "other.json.tmp-4194305-ef56"]) writeFileSync(join(dir, name), "{");
    restoreDeviceInfo(record, silentLogger);
    expect(existsSync(path)).toBe(false);
    expect(existsSync(join(dir, dead))).toBe(false);
    expect(existsSync(join(dir, live))).toBe(true);
    expect(existsSync(join(dir, "other.json.tmp-4194305-ef56"))).toBe(true);
  });

  it("writeDeviceInfo() refuses an untrusted directory before creating anything in it (code 7)", () => {
    mkdirSync(join(dir, "open"), { mode: 0o777 });
    chmodSync(join(dir, "open"), 0o777);
    const path = join(dir, "open", "sub", "x.json");
    expect(() => writeDeviceInfo(path, pci, env())).toThrow(
      expect.objectContaining({
        code: 7,
        message: `Cannot use config field "runtimeConfig.CNIDeviceInfoFile": "${path}" is not in a trusted place: "${join(dir, "open")}" has mode 0777: group or others can write to it`,
      }),
    );
    expect(existsSync(join(dir, "open", "sub"))).toBe(false);
  });

  it("restoreDeviceInfo() walks again: a directory replaced by a symlink after ADD is left alone, with a warning", () => {
    const victim = mkdtempSync(join(tmpdir(), "acn-devinfo-victim-"));
    try {
      writeFileSync(join(victim, "x.json"), "root's own file");
      mkdirSync(join(dir, "pod"));
      const path = join(dir, "pod", "x.json");
      writeFileSync(path, "from the device plugin");
      const record = writeDeviceInfo(path, pci, env());
      rmSync(join(dir, "pod"), { recursive: true });
      symlinkSync(victim, join(dir, "pod"));
      const warnings: string[] = [];
      restoreDeviceInfo(record, { ...silentLogger, warning: (m) => warnings.push(m) });
      expect(readFileSync(join(victim, "x.json"), "utf8")).toBe("root's own file");
      expect(warnings).toEqual([expect.stringContaining(`"${join(dir, "pod")}" is a symbolic link`)]);
      // a file ADD created is not removed through the symlink either
      const created = writeDeviceInfo(join(dir, "new", "y.json"), pci, env());
      writeFileSync(join(victim, "y.json"), "root's other file");
      rmSync(join(dir, "new"), { recursive: true });
      symlinkSync(victim, join(dir, "new"));
      restoreDeviceInfo(created, silentLogger);
      expect(readFileSync(join(victim, "y.json"), "utf8")).toBe("root's other file");
    } finally {
      rmSync(victim, { recursive: true, force: true });
    }
  });

  it("writeDeviceInfo() never reads or replaces through a symlink: code 7, the target untouched", () => {
    const target = join(dir, "secret");
    writeFileSync(target, "secret");
    const link = join(dir, "c.json");
    symlinkSync(target, link);
    expect(() => writeDeviceInfo(link, pci, env())).toThrow(
      expect.objectContaining({
        code: 7,
        message: `Cannot use config field "runtimeConfig.CNIDeviceInfoFile": "${link}" is a symbolic link`,
      }),
    );
    expect(readFileSync(target, "utf8")).toBe("secret");
  });

  it("writeDeviceInfo() refuses a directory that leads out of the allowed roots (code 7) and writes nothing", () => {
    const outside = mkdtempSync(join(tmpdir(), "acn-devinfo-out-"));
    try {
      mkdirSync(join(dir, "root"));
      symlinkSync(outside, join(dir, "root", "sub"));
      const path = join(dir, "root", "sub", "x.json");
      expect(() => writeDeviceInfo(path, pci, { ACCELNET_DEVINFO_DIR: join(dir, "root") })).toThrow(
        expect.objectContaining({ code: 7 }),
      );
      expect(existsSync(join(outside, "x.json"))).toBe(false);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});
