// accelnet-helper's sysfs commands (inventory, pci-show, pci-bind, sriov-numvfs,
// vfio-info, vhost-vdpa-info look-ups) against fake sysfs trees: no root, no
// hardware. The fake's bind/unbind/drivers_probe files are plain files (or
// FIFOs played by a tiny "kernel" below), so the tests see exactly what the
// helper wrote and in which order.
import { spawn, execFileSync } from "node:child_process";
import { constants, mkdirSync, openSync, closeSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";

import {
  HELPER_ASAN,
  PF,
  SANITIZER_ENV,
  VF0,
  VF1,
  VF2,
  helper,
  parseRun,
  requireHelper,
  smallNode,
  tempRoot,
  type Run,
} from "./_fake.js";

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0).reverse()) f();
});
beforeAll(requireHelper);

function dev(root: string, addr: string): string {
  return join(root, "devices/pci0000:00", addr);
}

/** Adds the files a bind needs: driver_override, the current driver's unbind, drivers_probe, the target driver. */
function bindable(root: string, addr: string, from: string, to: string): void {
  writeFileSync(join(dev(root, addr), "driver_override"), "(null)\n");
  writeFileSync(join(root, "bus/pci/drivers", from, "unbind"), "");
  writeFileSync(join(root, "bus/pci/drivers_probe"), "");
  mkdirSync(join(root, "bus/pci/drivers", to), { recursive: true });
}

describe("inventory", () => {
  it("inventory reports the PF, its VFs in index order with PF, index, driver, netdevs, IOMMU group, NUMA node and vdpa children", () => {
    const root = tempRoot(cleanup);
    smallNode(root);
    const r = helper(root, ["inventory"]);
    expect(r.error).toBeUndefined();
    expect(r.code).toBe(0);
    const common = { vendor: "8086", class: "020000", numaNode: 1 };
    const vfBase = { ...common, device: "10ca", isPf: false, isVf: true, pf: PF, numVfs: null, totalVfs: null };
    expect(r.result).toEqual({
      pfs: [
        {
          ...common,
          addr: PF,
          device: "10c9",
          driver: "igb",
          netdevs: ["ens1f0"],
          iommuGroup: 7,
          isPf: true,
          isVf: false,
          pf: null,
          vfIndex: null,
          numVfs: 3,
          totalVfs: 7,
          linkState: "up",
          carrier: true,
          vdpa: [],
        },
      ],
      vfs: [
        {
          ...vfBase,
          addr: VF0,
          driver: "igbvf",
          netdevs: ["v0"],
          iommuGroup: 20,
          vfIndex: 0,
          linkState: "up",
          carrier: true,
          vdpa: [],
        },
        {
          ...vfBase,
          addr: VF1,
          driver: "vfio-pci",
          netdevs: [],
          iommuGroup: 21,
          vfIndex: 1,
          linkState: null,
          carrier: null,
          vdpa: [],
        },
        {
          ...vfBase,
          addr: VF2,
          driver: "igbvf",
          netdevs: ["v2"],
          iommuGroup: 22,
          vfIndex: 2,
          linkState: "up",
          carrier: true,
          vdpa: ["vdpa0"],
        },
      ],
      vdpa: [
        {
          name: "vdpa0",
          mgmtdev: `pci/${VF2}`,
          parentPci: VF2,
          driver: "vhost_vdpa",
          deviceId: null,
          vendorId: null,
          chardev: "/dev/vhost-vdpa-3",
          netdev: null,
          mac: null,
          mtu: null,
        },
        {
          name: "vduse1",
          mgmtdev: "vduse",
          parentPci: null,
          driver: "virtio_vdpa",
          deviceId: null,
          vendorId: null,
          chardev: null,
          netdev: null,
          mac: null,
          mtu: null,
        },
      ],
    });
  });

  it("inventory vdpa=0 skips vDPA, and orders VFs by index (virtfn10 after virtfn2)", () => {
    const root = tempRoot(cleanup);
    smallNode(root);
    // Renumber VF2 as virtfn10: numeric, not lexical, order.
    rmSync(join(dev(root, PF), "virtfn2"));
    symlinkSync(`../${VF2}`, join(dev(root, PF), "virtfn10"));
    const r = helper(root, ["inventory", "vdpa=0"]);
    const vfs = r.result.vfs as { addr: string; vfIndex: number; vdpa: string[] }[];
    expect(vfs.map((v) => [v.addr, v.vfIndex])).toEqual([
      [VF0, 0],
      [VF1, 1],
      [VF2, 10],
    ]);
    expect(vfs[2]?.vdpa).toEqual([]);
    expect(r.result.vdpa).toEqual([]);
  });

  it("inventory of a tree without a PCI or vdpa bus is empty, not an error", () => {
    const root = tempRoot(cleanup);
    expect(helper(root, ["inventory"]).result).toEqual({ pfs: [], vfs: [], vdpa: [] });
  });
});

describe("pci-show", () => {
  it("pci-show finds a VF's PF and index by scanning the PF's virtfn links", () => {
    const root = tempRoot(cleanup);
    smallNode(root);
    expect(helper(root, ["pci-show", `addr=${VF1}`]).result.pci).toMatchObject({
      addr: VF1,
      driver: "vfio-pci",
      isVf: true,
      pf: PF,
      vfIndex: 1,
      iommuGroup: 21,
    });
  });

  it("pci-show of a missing device fails with ENODEV naming the address", () => {
    const root = tempRoot(cleanup);
    smallNode(root);
    const r = helper(root, ["pci-show", "addr=0000:01:11.0"]);
    expect(r.code).toBe(1);
    expect(r.error).toMatchObject({ op: "lookup device", object: "0000:01:11.0", errname: "ENODEV" });
  });

  it("pci-show refuses a device whose sysfs link escapes the sysfs root (EXDEV)", () => {
    const root = tempRoot(cleanup);
    const outside = tempRoot(cleanup);
    smallNode(root);
    symlinkSync(outside, join(root, "bus/pci/devices/0000:02:00.0"));
    expect(helper(root, ["pci-show", "addr=0000:02:00.0"]).error).toMatchObject({ errname: "EXDEV" });
  });

  it.each([
    ["0000:01:10.0/../x", "slash"],
    ["0000:01:10.8", "function above 7"],
    ["0000:01:20.0", "device above 1f"],
    ["0000:01:1A.0", "uppercase hex"],
    ["01:10.0", "no domain"],
  ])("pci-show refuses the PCI address %s (%s) before touching sysfs", (addr) => {
    const root = tempRoot(cleanup);
    const r = helper(root, ["pci-show", `addr=${addr}`]);
    expect(r.code).toBe(2);
    expect(r.error).toMatchObject({ op: "parse", object: "addr", errname: "EINVAL" });
  });
});

describe("pci-bind", () => {
  it("pci-bind writes driver_override, unbind, drivers_probe, then clears the override, in that order", () => {
    const root = tempRoot(cleanup);
    smallNode(root);
    bindable(root, VF0, "igbvf", "vfio-pci");
    const r = helper(root, ["pci-bind", `addr=${VF0}`, "driver=vfio-pci"]);
    expect(r.writes).toEqual([
      `write bus/pci/devices/${VF0}/driver_override vfio-pci`,
      `write bus/pci/devices/${VF0}/driver/unbind ${VF0}`,
      `write bus/pci/drivers_probe ${VF0}`,
      `write bus/pci/devices/${VF0}/driver_override \\n`,
    ]);
    expect(readFileSync(join(root, "bus/pci/drivers/igbvf/unbind"), "utf8")).toBe(VF0);
    expect(readFileSync(join(root, "bus/pci/drivers_probe"), "utf8")).toBe(VF0);
    expect(readFileSync(join(dev(root, VF0), "driver_override"), "utf8")).toBe("\n");
    // Plain files do not rebind: the helper verifies the driver link and says so.
    expect(r.code).toBe(1);
    expect(r.error).toMatchObject({ op: "verify driver", object: VF0, errname: "EIO" });
    expect(r.error?.message).toContain("is bound to igbvf after binding to vfio-pci");
  });

  it("pci-bind succeeds when the kernel rebinds during drivers_probe, and replies with the device read back", async () => {
    const root = tempRoot(cleanup);
    smallNode(root);
    bindable(root, VF0, "igbvf", "vfio-pci");
    const files = {
      override: join(dev(root, VF0), "driver_override"),
      unbind: join(root, "bus/pci/drivers/igbvf/unbind"),
      probe: join(root, "bus/pci/drivers_probe"),
    };
    for (const f of Object.values(files)) {
      rmSync(f);
      execFileSync("mkfifo", [f]);
    }
    const driverLink = join(dev(root, VF0), "driver");
    // The "kernel": reads each write in the order a correct helper makes them.
    const kernel = (async () => {
      const seen: string[] = [];
      seen.push(await readFile(files.override, "utf8"));
      seen.push(await readFile(files.unbind, "utf8"));
      rmSync(driverLink);
      seen.push(await readFile(files.probe, "utf8"));
      symlinkSync("../../../bus/pci/drivers/vfio-pci", driverLink);
      seen.push(await readFile(files.override, "utf8"));
      return seen;
    })();
    const run = new Promise<Run>((resolve) => {
      const child = spawn(HELPER_ASAN, [`--sysfs-root=${root}`, "pci-bind", `addr=${VF0}`, "driver=vfio-pci"], {
        env: { ...process.env, ...SANITIZER_ENV },
      });
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      child.on("close", (code) => resolve(parseRun(root, code, out, err)));
    });
    const r = await run;
    // Unblock the "kernel" if the helper stopped early (a reader waiting on a FIFO).
    for (const f of Object.values(files)) {
      try {
        closeSync(openSync(f, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // no reader waiting
      }
    }
    expect(await kernel).toEqual(["vfio-pci", VF0, VF0, "\n"]);
    expect(r.error).toBeUndefined();
    expect(r.result.pci).toMatchObject({ addr: VF0, driver: "vfio-pci", isVf: true, vfIndex: 0 });
  });

  it("pci-bind to the driver already bound writes nothing", () => {
    const root = tempRoot(cleanup);
    smallNode(root);
    bindable(root, VF1, "vfio-pci", "vfio-pci");
    const r = helper(root, ["pci-bind", `addr=${VF1}`, "driver=vfio-pci"]);
    expect(r.error).toBeUndefined();
    expect(r.writes).toEqual([]);
    expect(r.result.pci).toMatchObject({ driver: "vfio-pci" });
  });

  it("pci-bind refuses a driver that is not loaded and writes nothing (ENOENT)", () => {
    const root = tempRoot(cleanup);
    smallNode(root);
    bindable(root, VF0, "igbvf", "vfio-pci");
    const r = helper(root, ["pci-bind", `addr=${VF0}`, "driver=uio_pci_generic"]);
    expect(r.error).toMatchObject({ op: "lookup driver", object: "uio_pci_generic", errname: "ENOENT" });
    expect(r.writes).toEqual([]);
  });

  it("pci-bind refuses a device that does not exist and writes nothing (ENODEV)", () => {
    const root = tempRoot(cleanup);
    smallNode(root);
    const r = helper(root, ["pci-bind", "addr=0000:01:10.7", "driver=vfio-pci"]);
    expect(r.error).toMatchObject({ op: "lookup device", object: "0000:01:10.7", errname: "ENODEV" });
    expect(r.writes).toEqual([]);
  });

  it.each(["../vfio-pci", "vfio/pci", "VFIO", "", "a".repeat(32)])(
    "pci-bind refuses the driver name %j (exit 2, nothing written)",
    (driver) => {
      const root = tempRoot(cleanup);
      smallNode(root);
      const r = helper(root, ["pci-bind", `addr=${VF0}`, `driver=${driver}`]);
      expect(r.code).toBe(2);
      expect(r.error).toMatchObject({ op: "parse", object: "driver" });
      expect(r.writes).toEqual([]);
    },
  );
});

describe("pci-reprobe", () => {
  /** A fake /dev whose vfio/<group> is a plain file: it opens, so no workload holds the group. */
  function devWithGroup(group: number): string {
    const devRoot = tempRoot(cleanup);
    mkdirSync(join(devRoot, "vfio"));
    writeFileSync(join(devRoot, `vfio/${group}`), "");
    return devRoot;
  }

  it("pci-reprobe clears driver_override, unbinds the current driver, then asks the bus to probe, in that order", () => {
    const root = tempRoot(cleanup);
    smallNode(root);
    bindable(root, VF1, "vfio-pci", "igbvf");
    writeFileSync(join(dev(root, VF1), "driver_override"), "vfio-pci\n");
    const r = helper(root, ["pci-reprobe", `addr=${VF1}`], devWithGroup(21));
    expect(r.error).toBeUndefined();
    expect(r.writes).toEqual([
      `write bus/pci/devices/${VF1}/driver_override \\n`,
      `write bus/pci/devices/${VF1}/driver/unbind ${VF1}`,
      `write bus/pci/drivers_probe ${VF1}`,
    ]);
    expect(readFileSync(join(dev(root, VF1), "driver_override"), "utf8")).toBe("\n");
    expect(readFileSync(join(root, "bus/pci/drivers/vfio-pci/unbind"), "utf8")).toBe(VF1);
    expect(readFileSync(join(root, "bus/pci/drivers_probe"), "utf8")).toBe(VF1);
  });

  it("pci-reprobe replies with the function read back after the kernel probed it (igbvf again)", async () => {
    const root = tempRoot(cleanup);
    const devRoot = devWithGroup(21);
    smallNode(root);
    bindable(root, VF1, "vfio-pci", "igbvf");
    const files = {
      override: join(dev(root, VF1), "driver_override"),
      unbind: join(root, "bus/pci/drivers/vfio-pci/unbind"),
      probe: join(root, "bus/pci/drivers_probe"),
    };
    for (const f of Object.values(files)) {
      rmSync(f);
      execFileSync("mkfifo", [f]);
    }
    const driverLink = join(dev(root, VF1), "driver");
    const kernel = (async () => {
      const seen: string[] = [];
      seen.push(await readFile(files.override, "utf8"));
      seen.push(await readFile(files.unbind, "utf8"));
      // Rebound before drivers_probe is read: nothing follows that write for the helper to wait on, and its
      // open of the FIFO blocks until this reader is there, so the read-back cannot come before the link.
      rmSync(driverLink);
      symlinkSync("../../../bus/pci/drivers/igbvf", driverLink);
      seen.push(await readFile(files.probe, "utf8"));
      return seen;
    })();
    const r = await new Promise<Run>((resolve) => {
      const child = spawn(
        HELPER_ASAN,
        [`--sysfs-root=${root}`, `--dev-root=${devRoot}`, "pci-reprobe", `addr=${VF1}`],
        { env: { ...process.env, ...SANITIZER_ENV } },
      );
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      child.on("close", (code) => resolve(parseRun(root, code, out, err)));
    });
    for (const f of Object.values(files)) {
      try {
        closeSync(openSync(f, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // no reader waiting
      }
    }
    expect(await kernel).toEqual(["\n", VF1, VF1]);
    expect(r.error).toBeUndefined();
    expect(r.result.pci).toMatchObject({ addr: VF1, driver: "igbvf", isVf: true, pf: PF, vfIndex: 1 });
  });

  it("pci-reprobe of an unbound function writes no unbind, and a function no driver claims replies with driver null", () => {
    const root = tempRoot(cleanup);
    smallNode(root);
    bindable(root, VF1, "vfio-pci", "igbvf");
    rmSync(join(dev(root, VF1), "driver"));
    const r = helper(root, ["pci-reprobe", `addr=${VF1}`], tempRoot(cleanup));
    expect(r.error).toBeUndefined();
    expect(r.writes).toEqual([
      `write bus/pci/devices/${VF1}/driver_override \\n`,
      `write bus/pci/drivers_probe ${VF1}`,
    ]);
    expect(r.result.pci).toMatchObject({ addr: VF1, driver: null });
  });

  it("pci-reprobe of a missing function fails with ENODEV and writes nothing; a bad address is refused (exit 2)", () => {
    const root = tempRoot(cleanup);
    smallNode(root);
    const missing = helper(root, ["pci-reprobe", "addr=0000:01:10.7"]);
    expect(missing.error).toMatchObject({ op: "lookup device", object: "0000:01:10.7", errname: "ENODEV" });
    expect(missing.writes).toEqual([]);
    const bad = helper(root, ["pci-reprobe", "addr=0000:01:10.0/../x"]);
    expect(bad.code).toBe(2);
    expect(bad.error).toMatchObject({ op: "parse", object: "addr" });
  });

  it("pci-reprobe stops at the first failed write (driver_override) and reports it", () => {
    const root = tempRoot(cleanup);
    smallNode(root);
    bindable(root, VF0, "igbvf", "igbvf");
    rmSync(join(dev(root, VF0), "driver_override"));
    const r = helper(root, ["pci-reprobe", `addr=${VF0}`]);
    expect(r.code).toBe(1);
    expect(r.error).toMatchObject({ op: "write driver_override", object: VF0, errname: "ENOENT" });
    expect(readFileSync(join(root, "bus/pci/drivers/igbvf/unbind"), "utf8")).toBe("");
  });
});

describe("sriov-numvfs", () => {
  it("sriov-numvfs writes 0 before changing a non-zero count", () => {
    const root = tempRoot(cleanup);
    smallNode(root);
    const r = helper(root, ["sriov-numvfs", `addr=${PF}`, "count=5"]);
    expect(r.error).toBeUndefined();
    expect(r.writes).toEqual([
      `write bus/pci/devices/${PF}/sriov_numvfs 0`,
      `write bus/pci/devices/${PF}/sriov_numvfs 5`,
    ]);
    expect(r.result.pci).toMatchObject({ addr: PF, isPf: true, numVfs: 5 });
  });

  it("sriov-numvfs writes once from zero, and not at all for the current count", () => {
    const root = tempRoot(cleanup);
    smallNode(root);
    expect(helper(root, ["sriov-numvfs", `addr=${PF}`, "count=3"]).writes).toEqual([]);
    expect(helper(root, ["sriov-numvfs", `addr=${PF}`, "count=0"]).writes).toEqual([
      `write bus/pci/devices/${PF}/sriov_numvfs 0`,
    ]);
    expect(helper(root, ["sriov-numvfs", `addr=${PF}`, "count=2"]).writes).toEqual([
      `write bus/pci/devices/${PF}/sriov_numvfs 2`,
    ]);
  });

  it("sriov-numvfs refuses more than sriov_totalvfs (ERANGE) and a function that is not a PF (EOPNOTSUPP)", () => {
    const root = tempRoot(cleanup);
    smallNode(root);
    const tooMany = helper(root, ["sriov-numvfs", `addr=${PF}`, "count=8"]);
    expect(tooMany.error).toMatchObject({ errname: "ERANGE", object: PF });
    expect(tooMany.writes).toEqual([]);
    const notPf = helper(root, ["sriov-numvfs", `addr=${VF0}`, "count=1"]);
    expect(notPf.error).toMatchObject({ errname: "EOPNOTSUPP", object: VF0 });
  });
});

describe("vfio-info and vhost-vdpa-info look-ups", () => {
  it("vfio-info opens <dev-root>/vfio/<iommu group> and reports ENOENT when the group node is missing", () => {
    const root = tempRoot(cleanup);
    const devRoot = tempRoot(cleanup);
    smallNode(root);
    const r = helper(root, ["vfio-info", `addr=${VF1}`], devRoot);
    expect(r.error).toMatchObject({ op: "open vfio group", object: VF1, errname: "ENOENT" });
    expect(r.error?.message).toContain(`${devRoot}/vfio/21 does not exist`);
    // A regular file is not a VFIO group: the ioctl, not the look-up, fails.
    mkdirSync(join(devRoot, "vfio"));
    writeFileSync(join(devRoot, "vfio/21"), "");
    expect(helper(root, ["vfio-info", `addr=${VF1}`], devRoot).error).toMatchObject({
      op: "VFIO_GROUP_GET_STATUS",
      errname: "ENOTTY",
    });
  });

  it("vfio-info of a device without an IOMMU group fails with ENODEV", () => {
    const root = tempRoot(cleanup);
    smallNode(root);
    rmSync(join(dev(root, VF1), "iommu_group"));
    expect(helper(root, ["vfio-info", `addr=${VF1}`]).error).toMatchObject({
      op: "readlink iommu_group",
      errname: "ENODEV",
    });
  });

  it("vhost-vdpa-info finds /dev/vhost-vdpa-N under the vdpa device and refuses a device on virtio_vdpa", () => {
    const root = tempRoot(cleanup);
    const devRoot = tempRoot(cleanup);
    smallNode(root);
    writeFileSync(join(devRoot, "vhost-vdpa-3"), "");
    expect(helper(root, ["vhost-vdpa-info", "dev=vdpa0"], devRoot).error).toMatchObject({
      op: "VHOST_VDPA_GET_DEVICE_ID",
      object: "vdpa0",
      errname: "ENOTTY",
    });
    const virtio = helper(root, ["vhost-vdpa-info", "dev=vduse1"], devRoot);
    expect(virtio.error).toMatchObject({ op: "lookup vhost-vdpa", errname: "ENODEV" });
    expect(virtio.error?.message).toContain("driver virtio_vdpa");
    expect(helper(root, ["vhost-vdpa-info", "dev=nope"]).error).toMatchObject({ errname: "ENODEV" });
    expect(helper(root, ["vhost-vdpa-info", "dev=../vdpa0"]).code).toBe(2);
  });
});
