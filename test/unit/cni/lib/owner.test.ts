import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  claimDevice,
  deviceKey,
  netnsInode,
  OwnerMarkers,
  ownerNetnsAlive,
  type DeviceOwner,
} from "../../../../cni/lib/owner.js";

const owner = (containerID: string, netns = "/run/netns/x"): DeviceOwner => ({
  containerID,
  ifname: "net1",
  netns,
  netnsInode: null,
  network: "n",
  since: "2026-01-01T00:00:00Z",
});

describe("owner markers", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "acn-owner-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("deviceKey() names the bus and the device", () => {
    expect(deviceKey("pci", "0000:00:12.0")).toBe("pci/0000:00:12.0");
    expect(deviceKey("vdpa", "vdpa0")).toBe("vdpa/vdpa0");
  });

  it("claimDevice() writes the marker, and reports a repeated claim by the same attachment", async () => {
    const m = new OwnerMarkers(dir);
    const reclaim = () => Promise.reject(new Error("no reclaim expected"));
    expect(await claimDevice(m, "pci/a", owner("c1"), { reclaim, isAlive: () => true })).toBe(true);
    expect(m.read("pci/a")).toMatchObject({ containerID: "c1", ifname: "net1" });
    expect(await claimDevice(m, "pci/a", owner("c1"), { reclaim, isAlive: () => true })).toBe(false);
    expect(m.list().map(([k]) => k)).toEqual(["pci/a"]);
  });

  it("claimDevice() refuses a live owner with code 7 and reclaims a dead one", async () => {
    const m = new OwnerMarkers(dir);
    await claimDevice(m, "pci/a", owner("c1"), { reclaim: () => Promise.resolve(), isAlive: () => true });
    await expect(
      claimDevice(m, "pci/a", owner("c2"), { reclaim: () => Promise.resolve(), isAlive: () => true }),
    ).rejects.toMatchObject({
      code: 7,
      message: 'Cannot use device "pci/a": in use by container "c1" (ifname "net1", netns "/run/netns/x")',
    });
    const reclaimed: string[] = [];
    const reclaim = (stale: DeviceOwner) => Promise.resolve(void reclaimed.push(stale.containerID));
    expect(await claimDevice(m, "pci/a", owner("c2"), { reclaim, isAlive: () => false })).toBe(true);
    expect(reclaimed).toEqual(["c1"]);
    expect(m.read("pci/a")?.containerID).toBe("c2");
  });

  it("release() removes the marker only for its owner", async () => {
    const m = new OwnerMarkers(dir);
    await claimDevice(m, "pci/a", owner("c1"), { reclaim: () => Promise.resolve() });
    m.release("pci/a", { containerID: "c9", ifname: "net1" });
    expect(m.read("pci/a")).not.toBeNull();
    m.release("pci/a", { containerID: "c1", ifname: "net1" });
    expect(m.read("pci/a")).toBeNull();
  });

  it("ownerNetnsAlive() is false for a missing path and for a plain file (not a netns mount)", () => {
    const file = join(dir, "not-a-netns");
    writeFileSync(file, "");
    expect(netnsInode(file)).toBeNull();
    expect(ownerNetnsAlive(owner("c1", file))).toBe(false);
    expect(ownerNetnsAlive(owner("c1", join(dir, "missing")))).toBe(false);
    expect(netnsInode("/proc/self/ns/net")).not.toBeNull();
  });
});
