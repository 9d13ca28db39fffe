import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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

  it("writeDeviceInfo() then restoreDeviceInfo() removes a file it created and puts back one it updated", () => {
    const created = join(dir, "sub", "a.json");
    restoreDeviceInfo(writeDeviceInfo(created, pci));
    expect(existsSync(created)).toBe(false);
    const updated = join(dir, "b.json");
    writeFileSync(updated, "from the device plugin");
    const record = writeDeviceInfo(updated, pci);
    expect(record).toEqual({ path: updated, previous: "from the device plugin" });
    expect(JSON.parse(readFileSync(updated, "utf8"))).toMatchObject({ type: "pci" });
    restoreDeviceInfo(record);
    expect(readFileSync(updated, "utf8")).toBe("from the device plugin");
  });
});
