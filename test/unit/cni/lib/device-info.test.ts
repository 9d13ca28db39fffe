import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { deviceInfoContent, restoreDeviceInfo, writeDeviceInfo } from "../../../../cni/lib/device-info.js";

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
    restoreDeviceInfo(writeDeviceInfo(created, pci, env()));
    expect(existsSync(created)).toBe(false);
    const updated = join(dir, "b.json");
    writeFileSync(updated, "from the device plugin");
    const record = writeDeviceInfo(updated, pci, env());
    expect(record).toEqual({ path: updated, previous: "from the device plugin" });
    expect(JSON.parse(readFileSync(updated, "utf8"))).toMatchObject({ type: "pci" });
    restoreDeviceInfo(record);
    expect(readFileSync(updated, "utf8")).toBe("from the device plugin");
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
