// Incremental rescans: which functions a hint makes the daemon read, and the
// inventory merged from them, against what a full read would say.
import { describe, expect, it } from "vitest";
import {
  FULL,
  applyReads,
  functionsToRead,
  iommuGroupScope,
  mergeScopes,
  missingPfs,
  netdevScope,
  pciScope,
} from "../../../../deviceplugin/core/inventory-update.js";
import { scopeOfLink, scopeOfUevent } from "../../../../deviceplugin/core/hint-scope.js";
import type { PciDevice } from "../../../../deviceplugin/core/inventory.js";
import { asInventory, pf, sampleInventory, vf } from "../../../deviceplugin/inventory-fixtures.js";

const inv = asInventory(sampleInventory());
const PF = "0000:01:00.0";

describe("functionsToRead", () => {
  it("reads a named VF with its PF, a PF alone, a netdev's owner and an IOMMU group's members", () => {
    expect(functionsToRead(inv, pciScope("0000:01:10.1"))).toEqual([PF, "0000:01:10.1"]);
    expect(functionsToRead(inv, pciScope(PF))).toEqual([PF]);
    expect(functionsToRead(inv, netdevScope("ens1f0"))).toEqual([PF]);
    expect(functionsToRead(inv, iommuGroupScope(21))).toEqual([PF, "0000:01:10.1"]);
  });

  it("reads everything for a full scope, an unknown netdev or group, and too many functions", () => {
    expect(functionsToRead(inv, FULL)).toBeNull();
    expect(functionsToRead(inv, netdevScope("eth9"))).toBeNull();
    expect(functionsToRead(inv, iommuGroupScope(999))).toBeNull();
    const many = Array.from({ length: 40 }, (_, i) => `0000:02:${i.toString(16).padStart(2, "0")}.0`);
    expect(functionsToRead(inv, pciScope(...many))).toBeNull();
  });

  it("merges a burst's scopes; one full hint makes the burst full", () => {
    expect(mergeScopes(pciScope("a"), netdevScope("x"))).toEqual({ pci: ["a"], netdevs: ["x"], iommuGroups: [] });
    expect(mergeScopes(pciScope("a"), FULL)).toBe(FULL);
    expect(mergeScopes(null, pciScope("a"))).toEqual(pciScope("a"));
  });
});

describe("applyReads", () => {
  const read = (...e: [string, PciDevice | null][]) => new Map(e);

  it("replaces what was read, removes a VF that is gone, adds a new VF of a known PF", () => {
    const down = pf(PF, "ens1f0", 5, { linkState: "down" });
    const added = vf("0000:01:10.4", PF, 4);
    const next = applyReads(inv, read([PF, down], ["0000:01:10.1", null], ["0000:01:10.4", added]));
    expect(next?.pfs).toEqual([down]);
    expect(next?.vfs.map((v) => v.addr).sort()).toEqual([
      "0000:01:10.0",
      "0000:01:10.2",
      "0000:01:10.3",
      "0000:01:10.4",
    ]);
    expect(next?.vdpa).toBe(inv.vdpa);
  });

  it("asks for a full read when a PF or an unknown function is gone, vDPA devices changed, or a VF's PF is unknown", () => {
    expect(applyReads(inv, read([PF, null]))).toBeNull();
    expect(applyReads(inv, read(["0000:09:00.0", null]))).toBeNull();
    const withVdpa = inv.vfs.find((v) => v.addr === "0000:01:10.2")!;
    expect(applyReads(inv, read(["0000:01:10.2", { ...withVdpa, vdpa: [] }]))).toBeNull();
    expect(applyReads(inv, read(["0000:05:10.0", vf("0000:05:10.0", "0000:05:00.0", 0)]))).toBeNull();
    expect(missingPfs(read(["0000:05:10.0", vf("0000:05:10.0", "0000:05:00.0", 0)]))).toEqual(["0000:05:00.0"]);
  });

  it("a new VF of a known PF has that PF read too (its VF count changed)", () => {
    const added = vf("0000:01:10.4", PF, 4);
    expect(missingPfs(read(["0000:01:10.4", added]))).toEqual([PF]);
    expect(missingPfs(read([PF, pf(PF, "ens1f0", 5)], ["0000:01:10.4", added]))).toEqual([]);
  });

  it("ignores a PCI function that is neither PF nor VF", () => {
    const other = { ...pf("0000:00:1f.0", "eno1", 0), isPf: false, numVfs: null, totalVfs: null };
    expect(applyReads(inv, read(["0000:00:1f.0", other]))).toEqual(inv);
  });
});

describe("scopeOfUevent / scopeOfLink", () => {
  const ev = (subsystem: string, devpath: string, pciSlot: string | null = null) => ({ subsystem, devpath, pciSlot });

  it("names a pci event's slot, a PCI netdev's function, a vfio node's group, a link's netdev", () => {
    expect(scopeOfUevent(ev("pci", "/devices/pci0000:00/0000:01:10.0", "0000:01:10.0"))).toEqual(
      pciScope("0000:01:10.0"),
    );
    expect(scopeOfUevent(ev("net", "/devices/pci0000:00/0000:01:10.0/net/eth1"))).toEqual(pciScope("0000:01:10.0"));
    expect(scopeOfUevent(ev("vfio", "/devices/virtual/vfio/21"))).toEqual(iommuGroupScope(21));
    expect(scopeOfLink({ interface: "ens1f0" })).toEqual(netdevScope("ens1f0"));
  });

  it("names nothing (full) for vDPA, a netdev below a vDPA device, a virtual netdev, a nameless link", () => {
    expect(scopeOfUevent(ev("vdpa", "/devices/pci0000:00/0000:01:10.2/vdpa0"))).toBe(FULL);
    expect(scopeOfUevent(ev("net", "/devices/pci0000:00/0000:01:10.2/vdpa0/virtio0/net/eth0"))).toBe(FULL);
    expect(scopeOfUevent(ev("net", "/devices/virtual/net/veth0"))).toBe(FULL);
    expect(scopeOfUevent(ev("vfio", "/devices/virtual/vfio/vfio"))).toBe(FULL);
    expect(scopeOfLink({ interface: null })).toBe(FULL);
  });
});
