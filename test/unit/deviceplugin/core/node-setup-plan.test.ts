import { describe, expect, it } from "vitest";
import type { Inventory, PciDevice, VdpaDevice } from "../../../../deviceplugin/core/inventory.js";
import { parseNodeSetup, type NodeSetup } from "../../../../deviceplugin/core/node-setup-config.js";
import {
  planNodeSetup,
  type MgmtdevInfo,
  type NodeSetupPlan,
  type ObservedNode,
  type Step,
} from "../../../../deviceplugin/core/node-setup-plan.js";
import {
  applyRecordOps,
  EMPTY_RECORD,
  parseRecord,
  type NodeSetupRecord,
} from "../../../../deviceplugin/core/node-setup-record.js";

const PF = "0000:3b:00.0";

function pci(addr: string, extra: Partial<PciDevice>): PciDevice {
  return {
    addr,
    vendor: "8086",
    device: "10ca",
    class: "0x020000",
    driver: "igbvf",
    netdevs: [],
    numaNode: 0,
    iommuGroup: 1,
    isPf: false,
    isVf: false,
    pf: null,
    vfIndex: null,
    numVfs: null,
    totalVfs: null,
    linkState: null,
    vdpa: [],
    ...extra,
  };
}

const vfAddr = (i: number): string => `0000:3b:10.${i}`;

/** A node with PF ens1f0 (8 VFs max) and `numVfs` VFs, VF i on drivers[i] (default igbvf). */
function node(numVfs: number, drivers: Record<number, string | null> = {}, vdpa: VdpaDevice[] = []): Inventory {
  const vfs = Array.from({ length: numVfs }, (_, i) =>
    pci(vfAddr(i), {
      isVf: true,
      pf: PF,
      vfIndex: i,
      driver: i in drivers ? (drivers[i] ?? null) : "igbvf",
      vdpa: vdpa.filter((d) => d.parentPci === vfAddr(i)).map((d) => d.name),
    }),
  );
  return {
    pfs: [pci(PF, { isPf: true, driver: "igb", netdevs: ["ens1f0"], numVfs, totalVfs: 8 })],
    vfs,
    vdpa,
  };
}

function vdpaDev(name: string, mgmtdev: string, driver: string | null, parentPci: string | null = null): VdpaDevice {
  return { name, mgmtdev, parentPci, driver, chardev: null, netdev: null };
}

const VDUSE: MgmtdevInfo = { name: "vduse", configAttrs: [] };

function observed(inventory: Inventory, extra: Partial<ObservedNode> = {}): ObservedNode {
  return { inventory, pfMtus: new Map([["ens1f0", 1500]]), mgmtdevs: [VDUSE], held: new Map(), ...extra };
}

function setup(raw: unknown): NodeSetup {
  const s = parseNodeSetup(raw, "nodeSetup");
  if (s === null) throw new Error("no setup");
  return s;
}

/** The steps as short strings, in order. */
function summary(p: NodeSetupPlan): string[] {
  return p.steps.map((s: Step) => {
    switch (s.kind) {
      case "set-num-vfs":
        return `numVfs ${s.pf} ${s.count}`;
      case "set-pf-mtu":
        return `mtu ${s.netdev} ${s.mtu}`;
      case "bind-vfio":
        return `vfio ${s.vfIndex}`;
      case "reprobe":
        return `reprobe ${s.vfIndex}`;
      case "vdpa-add":
        return `vdpa-add ${s.name} on ${s.mgmtdev}`;
      case "vdpa-bind":
        return `vdpa-bind ${s.name} ${s.driver}`;
      case "vdpa-del":
        return `vdpa-del ${s.name}`;
      case "rescan":
        return "rescan";
    }
  });
}

/** The record after running every step of a plan (what io/node-setup.ts stores). */
function recordAfter(p: NodeSetupPlan): NodeSetupRecord {
  return p.steps.reduce((r, s) => applyRecordOps(applyRecordOps(r, s.before), s.after), p.record);
}

const HALF_DPDK = {
  pfs: [
    {
      pfName: "ens1f0",
      numVfs: 4,
      vfs: [
        { range: "0-1", driver: "vfio-pci" },
        { range: "2-3", driver: "kernel" },
      ],
    },
  ],
};

describe("planNodeSetup()", () => {
  it("from no VFs: creates them first and plans their drivers in the next round", () => {
    const first = planNodeSetup(setup(HALF_DPDK), observed(node(0)), EMPTY_RECORD);
    expect(summary(first)).toEqual([`numVfs ${PF} 4`, "rescan"]);
    expect(first.refusals).toEqual([]);
    const record = recordAfter(first);
    expect(record.pfs[PF]).toEqual({ numVfs: 0 });
    const second = planNodeSetup(setup(HALF_DPDK), observed(node(4)), record);
    expect(summary(second)).toEqual(["vfio 0", "vfio 1", "rescan"]);
    expect(recordAfter(second).pfs[PF]).toEqual({ numVfs: 0, vfDrivers: { "0": "igbvf", "1": "igbvf" } });
  });

  it("changes a non-zero VF count through 0, as the kernel demands", () => {
    const plan = planNodeSetup(setup(HALF_DPDK), observed(node(2)), EMPTY_RECORD);
    expect(summary(plan)).toEqual([`numVfs ${PF} 0`, `numVfs ${PF} 4`, "rescan"]);
    expect(recordAfter(plan).pfs[PF]).toEqual({ numVfs: 2 });
  });

  it("orders every kind of step: VF count, PF MTU, vDPA deletes, drivers, vDPA creates, vDPA binds, rescan", () => {
    const cfg = setup({
      pfs: [
        {
          pfName: "ens1f0",
          numVfs: 3,
          mtu: 9000,
          vfs: [
            { range: "0", driver: "vfio-pci" },
            { range: "2", driver: "kernel" },
          ],
        },
      ],
      vdpaDevices: [
        { mgmtdev: "vduse", name: "vd-new", driver: "vhost" },
        { mgmtdev: "vduse", name: "vd-rebind", driver: "virtio" },
      ],
    });
    const inv = node(3, { 2: "vfio-pci" }, [
      vdpaDev("vd-rebind", "vduse", "vhost_vdpa"),
      vdpaDev("vd-old", "vduse", "vhost_vdpa"),
    ]);
    const record: NodeSetupRecord = { pfs: {}, vdpa: { "vd-old": { mgmtdev: "vduse" } } };
    const plan = planNodeSetup(cfg, observed(inv), record);
    expect(summary(plan)).toEqual([
      "mtu ens1f0 9000",
      "vdpa-del vd-old",
      "vfio 0",
      "reprobe 2",
      "vdpa-add vd-new on vduse",
      "vdpa-bind vd-rebind virtio",
      "rescan",
    ]);
    const numVfsFirst = planNodeSetup(cfg, observed(node(1)), EMPTY_RECORD);
    expect(summary(numVfsFirst)[0]).toBe(`numVfs ${PF} 0`);
    expect(summary(numVfsFirst)[2]).toBe("mtu ens1f0 9000");
  });

  it("is idempotent: a node that matches gives no steps and no refusals", () => {
    const cfg = setup({
      pfs: [
        {
          pfName: "ens1f0",
          numVfs: 4,
          mtu: 1500,
          vfs: [
            { range: "0-1", driver: "vfio-pci" },
            { range: "2-3", driver: "kernel" },
          ],
        },
      ],
      vdpaDevices: [{ mgmtdev: "vduse", name: "vd0", driver: "vhost" }],
    });
    const inv = node(4, { 0: "vfio-pci", 1: "vfio-pci" }, [vdpaDev("vd0", "vduse", "vhost_vdpa")]);
    const record: NodeSetupRecord = {
      pfs: { [PF]: { numVfs: 0, vfDrivers: { "0": "igbvf", "1": "igbvf" } } },
      vdpa: { vd0: { mgmtdev: "vduse" } },
    };
    const plan = planNodeSetup(cfg, observed(inv), record);
    expect(plan.steps).toEqual([]);
    expect(plan.refusals).toEqual([]);
    expect(plan.record).toEqual(record);
  });

  it("does not rebind a held VF, says who holds it, and still converges the other VFs", () => {
    const held = new Map([[`pci/${vfAddr(0)}`, 'container "c1" (ifname net1)']]);
    const plan = planNodeSetup(setup(HALF_DPDK), observed(node(4), { held }), EMPTY_RECORD);
    expect(summary(plan)).toEqual(["vfio 1", "rescan"]);
    expect(plan.refusals).toEqual([
      {
        pf: PF,
        device: vfAddr(0),
        step: "bind-vfio",
        reason: `VF 0 (${vfAddr(0)}) is on igbvf and held; it is not rebound`,
        heldBy: 'container "c1" (ifname net1)',
      },
    ]);
  });

  it("refuses a VF count change on a PF with a held VF, and keeps converging its existing VFs", () => {
    const cfg = setup({ pfs: [{ pfName: "ens1f0", numVfs: 6, vfs: [{ range: "1", driver: "vfio-pci" }] }] });
    const held = new Map([[`pci/${vfAddr(3)}`, 'container "c2"']]);
    const plan = planNodeSetup(cfg, observed(node(4), { held }), EMPTY_RECORD);
    expect(plan.refusals).toEqual([
      {
        pf: PF,
        device: vfAddr(3),
        step: "set-num-vfs",
        reason: `changing numVfs from 4 to 6 removes every VF first, and VF 3 (${vfAddr(3)}) is held`,
        heldBy: 'container "c2"',
      },
    ]);
    expect(summary(plan)).toEqual(["vfio 1", "rescan"]);
  });

  it("a VF held through its vDPA device counts as held", () => {
    const cfg = setup({ pfs: [{ pfName: "ens1f0", numVfs: 0 }] });
    const inv = node(2, {}, [vdpaDev("vf-x", `pci/${vfAddr(1)}`, "vhost_vdpa", vfAddr(1))]);
    const plan = planNodeSetup(cfg, observed(inv, { held: new Map([["vdpa/vf-x", 'container "c3"']]) }), EMPTY_RECORD);
    expect(plan.steps).toEqual([]);
    expect(plan.refusals[0]?.heldBy).toBe('container "c3" (through vdpa device "vf-x")');
  });

  it("refuses a count above sriov_totalvfs and a PF that is not on the node; the rest converges", () => {
    const cfg = setup({
      pfs: [
        { pfName: "ens1f0", numVfs: 9 },
        { pciAddress: "0000:99:00.0", numVfs: 1 },
      ],
      vdpaDevices: [{ mgmtdev: "vduse", name: "vd0", driver: "vhost" }],
    });
    const plan = planNodeSetup(cfg, observed(node(0)), EMPTY_RECORD);
    expect(plan.refusals.map((r) => [r.pf, r.step, r.reason])).toEqual([
      [
        'pciAddress "0000:99:00.0"',
        "find-pf",
        'no SR-IOV PF with pciAddress "0000:99:00.0" on this node (nodeSetup.pfs[1])',
      ],
      [PF, "set-num-vfs", "numVfs 9 is above the PF's sriov_totalvfs 8"],
    ]);
    expect(summary(plan)).toEqual(["vdpa-add vd0 on vduse", "rescan"]);
  });

  it("refuses a vDPA attribute its management device does not take (VDUSE takes none), and a missing mgmtdev", () => {
    const cfg = setup({
      vdpaDevices: [
        { mgmtdev: "vduse", name: "vd0", driver: "vhost", mac: "02:00:00:00:00:01" },
        { mgmtdev: "pci/0000:3b:10.7", name: "vd1", driver: "vhost" },
        { mgmtdev: "pci/0000:3b:10.6", name: "vd2", driver: "vhost", mtu: 9000, maxVqp: 4 },
        { mgmtdev: "pci/0000:3b:10.5", name: "vd3", driver: "vhost", mac: "02:00:00:00:00:03" },
        { mgmtdev: "pci/0000:3b:10.4", name: "vd4", driver: "vhost", maxVqp: 2 },
      ],
    });
    const mgmtdevs: MgmtdevInfo[] = [
      VDUSE,
      { name: "pci/0000:3b:10.6", configAttrs: ["mac", "mtu", "max_vqp"] },
      { name: "pci/0000:3b:10.5", configAttrs: ["mtu"] },
      // Reports nothing (today's kernels): the kernel decides at creation.
      { name: "pci/0000:3b:10.4", configAttrs: [] },
    ];
    const plan = planNodeSetup(cfg, observed(node(0), { mgmtdevs }), EMPTY_RECORD);
    expect(plan.refusals.map((r) => [r.device, r.reason])).toEqual([
      ["vd0", 'management device "vduse" does not take mac (it takes: none)'],
      ["vd1", 'no vdpa management device "pci/0000:3b:10.7"'],
      ["vd3", 'management device "pci/0000:3b:10.5" does not take mac (it takes: mtu)'],
    ]);
    expect(summary(plan)).toEqual(["vdpa-add vd2 on pci/0000:3b:10.6", "vdpa-add vd4 on pci/0000:3b:10.4", "rescan"]);
  });

  it("creates a VF's vDPA device on the VF's mgmtdev, named after the VF, once the VF is on its kernel driver", () => {
    const cfg = setup({ pfs: [{ pfName: "ens1f0", numVfs: 2, vfs: [{ range: "1", vdpa: { driver: "vhost" } }] }] });
    const mgmtdevs: MgmtdevInfo[] = [{ name: `pci/${vfAddr(1)}`, configAttrs: [] }];
    const onVfio = planNodeSetup(cfg, observed(node(2, { 1: "vfio-pci" }), { mgmtdevs }), EMPTY_RECORD);
    expect(summary(onVfio)).toEqual(["reprobe 1", "rescan"]);
    const onKernel = planNodeSetup(cfg, observed(node(2), { mgmtdevs }), recordAfter(onVfio));
    expect(summary(onKernel)).toEqual([`vdpa-add vf-${vfAddr(1)} on pci/${vfAddr(1)}`, "rescan"]);
  });

  it("does not delete or rebind a held vDPA device", () => {
    const inv = node(0, {}, [vdpaDev("vd0", "vduse", "vhost_vdpa"), vdpaDev("vd1", "vduse", "vhost_vdpa")]);
    const cfg = setup({ vdpaDevices: [{ mgmtdev: "vduse", name: "vd1", driver: "virtio" }] });
    const held = new Map([
      ["vdpa/vd0", 'container "a"'],
      ["vdpa/vd1", 'container "b"'],
    ]);
    const record: NodeSetupRecord = { pfs: {}, vdpa: { vd0: { mgmtdev: "vduse" }, vd1: { mgmtdev: "vduse" } } };
    const plan = planNodeSetup(cfg, observed(inv, { held }), record);
    expect(plan.steps).toEqual([]);
    expect(plan.refusals.map((r) => [r.device, r.step, r.heldBy])).toEqual([
      ["vd0", "vdpa-del", 'container "a"'],
      ["vd1", "vdpa-bind", 'container "b"'],
    ]);
  });

  it("with the section removed, undoes exactly what the record says: VFs back to the count found, devices deleted", () => {
    const inv = node(4, { 0: "vfio-pci" }, [
      vdpaDev("vd0", "vduse", "vhost_vdpa"),
      vdpaDev("theirs", "vduse", "vhost_vdpa"),
    ]);
    const record: NodeSetupRecord = {
      pfs: { [PF]: { numVfs: 0, mtu: 1500, vfDrivers: { "0": "igbvf" } } },
      vdpa: { vd0: { mgmtdev: "vduse" } },
    };
    const pfMtus = new Map([["ens1f0", 9000]]);
    const plan = planNodeSetup(null, observed(inv, { pfMtus }), record);
    expect(summary(plan)).toEqual([`numVfs ${PF} 0`, "mtu ens1f0 1500", "vdpa-del vd0", "rescan"]);
    expect(recordAfter(plan)).toEqual(EMPTY_RECORD);
    // Back at the start: nothing more to do, and the device accelnet did not create was never touched.
    const again = planNodeSetup(null, observed(node(0, {}, [vdpaDev("theirs", "vduse", "vhost_vdpa")])), EMPTY_RECORD);
    expect(again.steps).toEqual([]);
  });

  it("with VFs it did not create, removal restores the drivers it changed and leaves the count", () => {
    const record: NodeSetupRecord = { pfs: { [PF]: { vfDrivers: { "1": "igbvf", "2": "vfio-pci" } } }, vdpa: {} };
    const plan = planNodeSetup(null, observed(node(4, { 1: "vfio-pci", 2: "igbvf" })), record);
    expect(summary(plan)).toEqual(["reprobe 1", "vfio 2", "rescan"]);
    expect(recordAfter(plan)).toEqual(EMPTY_RECORD);
  });

  it("leaves a PF alone that node setup never touched, even when the section is removed", () => {
    const plan = planNodeSetup(null, observed(node(4, { 0: "vfio-pci" })), EMPTY_RECORD);
    expect(plan.steps).toEqual([]);
    expect(plan.refusals).toEqual([]);
    expect(plan.pfs).toEqual([]);
  });

  it("keeps the first original across config changes (4 → 6 VFs still restores the node's 0)", () => {
    const four = planNodeSetup(setup({ pfs: [{ pfName: "ens1f0", numVfs: 4 }] }), observed(node(0)), EMPTY_RECORD);
    const six = planNodeSetup(setup({ pfs: [{ pfName: "ens1f0", numVfs: 6 }] }), observed(node(4)), recordAfter(four));
    expect(summary(six)).toEqual([`numVfs ${PF} 0`, `numVfs ${PF} 6`, "rescan"]);
    expect(recordAfter(six).pfs[PF]).toEqual({ numVfs: 0 });
  });

  it("parseRecord() reads back what it stores and refuses a damaged file", () => {
    const r: NodeSetupRecord = {
      pfs: { [PF]: { numVfs: 2, vfDrivers: { "0": null } } },
      vdpa: { v: { mgmtdev: "vduse" } },
    };
    expect(parseRecord(JSON.parse(JSON.stringify(r)))).toEqual(r);
    expect(() => parseRecord({ pfs: { [PF]: { numVfs: -1 } }, vdpa: {} })).toThrow(/not a count/);
    expect(() => parseRecord([])).toThrow(/Cannot read the node setup record/);
  });
});
