import { describe, expect, it } from "vitest";
import { parseConfig, type AllocationOptions } from "../../../../deviceplugin/core/config.js";
import { buildPools, type Pool } from "../../../../deviceplugin/core/pools.js";
import { preferredAllocation } from "../../../../deviceplugin/core/preferred-allocation.js";
import { pf, vf } from "../../../deviceplugin/inventory-fixtures.js";

// Two PFs per NUMA node: A (node 0) has 4 VFs, B (node 0) has 2, C (node 1) has 3.
function pool(): Pool {
  const A = "0000:01:00.0";
  const B = "0000:02:00.0";
  const C = "0000:81:00.0";
  const inv = {
    pfs: [pf(A, "pa", 4), pf(B, "pb", 2), pf(C, "pc", 3, { numaNode: 1 })],
    vfs: [
      ...[0, 1, 2, 3].map((i) => vf(`0000:01:10.${i}`, A, i)),
      ...[0, 1].map((i) => vf(`0000:02:10.${i}`, B, i)),
      ...[0, 1, 2].map((i) => vf(`0000:81:10.${i}`, C, i, { numaNode: 1 })),
    ],
    vdpa: [],
  };
  const config = parseConfig(
    JSON.stringify({ resourceList: [{ resourceName: "p", selectors: { drivers: ["igbvf"] } }] }),
  );
  return buildPools(config, inv, null, 0).get("accelnet.io/p")!;
}

const all = pool().devices.map((d) => d.id);
const pack: AllocationOptions = { policy: "pack", preferSingleNuma: true };
const spread: AllocationOptions = { policy: "spread", preferSingleNuma: true };

describe("preferredAllocation()", () => {
  it.each([
    ["pack fills the fullest PF first", all, [], 2, pack, ["0000:01:10.0", "0000:01:10.1"]],
    ["spread takes one VF per PF", all, [], 2, spread, ["0000:01:10.0", "0000:02:10.0"]],
    [
      "must_include is kept and its NUMA node and PF preferred",
      all,
      ["0000:81:10.2"],
      2,
      pack,
      ["0000:81:10.2", "0000:81:10.0"],
    ],
    [
      "must_include larger than the size is returned whole",
      all,
      ["0000:01:10.0", "0000:02:10.1"],
      1,
      pack,
      ["0000:01:10.0", "0000:02:10.1"],
    ],
    [
      "a node that cannot fit alone yields to one that can",
      all.filter((id) => !id.startsWith("0000:01")),
      [],
      3,
      pack,
      ["0000:81:10.0", "0000:81:10.1", "0000:81:10.2"],
    ],
    ["no single node fits: fill across nodes", all, [], 8, pack, [...all.slice(0, 6), "0000:81:10.0", "0000:81:10.1"]],
    [
      "NUMA preference off: pack by PF size only",
      ["0000:02:10.0", "0000:81:10.0", "0000:81:10.1"],
      [],
      2,
      { policy: "pack", preferSingleNuma: false },
      ["0000:81:10.0", "0000:81:10.1"],
    ],
    ["unknown IDs come last", ["0000:99:00.0", "0000:02:10.0"], [], 2, pack, ["0000:02:10.0", "0000:99:00.0"]],
  ] as const)("preferredAllocation(): %s", (_name, available, mustInclude, size, opts, expected) => {
    expect(preferredAllocation(pool(), { available, mustInclude, size }, opts)).toEqual(expected);
  });

  it("preferredAllocation() never prefers an Unhealthy device", () => {
    const p = pool();
    const sick: Pool = {
      ...p,
      devices: p.devices.map((d) => (d.id === "0000:01:10.0" ? { ...d, healthy: false, reason: "x" } : d)),
    };
    expect(preferredAllocation(sick, { available: all, mustInclude: [], size: 1 }, pack)).toEqual(["0000:01:10.1"]);
  });
});
