import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  chardevMismatch,
  driverChoiceOf,
  findVdpaDevice,
  namesVdpaDevice,
  pciHasVdpaDevice,
  readVdpaDevice,
  vdpaBusPresent,
  type VdpaRoots,
} from "../../../../cni/lib/vdpa.js";
import { FakeSysfs, type FakeVf } from "../../../deviceplugin/fake-sysfs.js";

const PF = "0000:3b:00.0";
const VF0 = "0000:3b:00.2";
const VF1 = "0000:3b:00.3";
const VF2 = "0000:3b:00.4";

describe("vdpa device lookup (fake sysfs)", () => {
  let dir: string;
  let roots: VdpaRoots;
  let fs: FakeSysfs;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "acn-vdpa-sysfs-"));
    roots = { sysfs: join(dir, "sys"), dev: join(dir, "dev") };
    fs = new FakeSysfs(roots.sysfs);
    const vf = (addr: string, vdpa?: FakeVf["vdpa"]): FakeVf => ({
      addr,
      driver: "mlx5_core",
      iommuGroup: 10,
      netdev: null,
      ...(vdpa === undefined ? {} : { vdpa }),
    });
    fs.addPf({
      addr: PF,
      netdev: "ens1f0",
      driver: "mlx5_core",
      numaNode: 0,
      carrier: true,
      vendor: "15b3",
      pfDevice: "101d",
      vfDevice: "101e",
      iommuGroup: 9,
      totalVfs: 8,
      vfs: [
        vf(VF0, { name: "vdpa0", driver: "vhost_vdpa", vhostIndex: 3 }),
        vf(VF1, { name: "vdpa1", driver: "virtio_vdpa", vhostIndex: 0 }),
        vf(VF2),
      ],
    });
    fs.addVduse({ name: "lab-vdpa0", driver: "vhost_vdpa", vhostIndex: 7 });
    // virtio_vdpa: the virtio device (type 1 = net) and its netdev in the host netns
    const virtio = join(roots.sysfs, "devices/pci0000:00", VF1, "vdpa1", "virtio2");
    mkdirSync(join(virtio, "net", "eth5"), { recursive: true });
    writeFileSync(join(virtio, "device"), "0x0001\n");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("readVdpaDevice() finds a VF's vhost device: driver, char device, PCI function and PF", () => {
    expect(readVdpaDevice(roots, "vdpa0")).toEqual({
      name: "vdpa0",
      driver: "vhost_vdpa",
      pciAddress: VF0,
      pfPciAddress: PF,
      chardev: { name: "vhost-vdpa-3", path: join(roots.dev, "vhost-vdpa-3"), devt: null },
      virtio: null,
    });
  });

  it("readVdpaDevice() finds a virtio device's virtio child, its type and its host netdev", () => {
    expect(readVdpaDevice(roots, "vdpa1")).toMatchObject({
      driver: "virtio_vdpa",
      chardev: null,
      virtio: { name: "virtio2", deviceId: 1, netdevs: ["eth5"] },
    });
  });

  it("readVdpaDevice() gives a VDUSE device no PCI function", () => {
    expect(readVdpaDevice(roots, "lab-vdpa0")).toMatchObject({ pciAddress: null, pfPciAddress: null });
  });

  it("readVdpaDevice() reads the char device number from sysfs when there is one", () => {
    writeFileSync(join(roots.sysfs, "devices/pci0000:00", VF0, "vdpa0", "vhost-vdpa-3", "dev"), "508:3\n");
    expect(readVdpaDevice(roots, "vdpa0")?.chardev?.devt).toBe("508:3");
  });

  it("readVdpaDevice() returns null for a name not on the bus or not a device name", () => {
    expect(readVdpaDevice(roots, "vdpa9")).toBeNull();
    expect(readVdpaDevice(roots, "../../x")).toBeNull();
  });

  it("findVdpaDevice() takes a vdpa device name", () => {
    expect(findVdpaDevice(roots, "vdpa1").name).toBe("vdpa1");
  });

  it("findVdpaDevice() takes the PCI address of the device's function, in any case", () => {
    expect(findVdpaDevice(roots, VF0).name).toBe("vdpa0");
    expect(findVdpaDevice(roots, VF0.toUpperCase()).name).toBe("vdpa0");
  });

  it("findVdpaDevice() refuses a PCI function with two vdpa devices, naming both", () => {
    const second = join(roots.sysfs, "devices/pci0000:00", VF0, "vdpa0b");
    mkdirSync(second);
    symlinkSync(`../../../devices/pci0000:00/${VF0}/vdpa0b`, join(roots.sysfs, "bus/vdpa/devices/vdpa0b"));
    expect(() => findVdpaDevice(roots, VF0)).toThrow(
      expect.objectContaining({
        code: 7,
        message: `Cannot use vDPA device "${VF0}": PCI device "${VF0}" has 2 vDPA devices ("vdpa0", "vdpa0b"): name one in deviceID`,
      }),
    );
  });

  it.each([
    [VF2, `Cannot use vDPA device "${VF2}": PCI device "${VF2}" has no vDPA device`],
    [
      "0000:99:00.0",
      'Cannot use vDPA device "0000:99:00.0": no vdpa device of that name and no PCI device at that address',
    ],
    ["vdpa9", 'Cannot use vDPA device "vdpa9": no such device on the vdpa bus (SYS/bus/vdpa/devices)'],
    [
      "../vdpa0",
      'Cannot use vDPA device "../vdpa0": not a vDPA device name ([a-zA-Z0-9_.:-], up to 31 bytes) nor a PCI address',
    ],
  ])("findVdpaDevice(%j) fails with code 7 and changes nothing", (id, msg) => {
    expect(() => findVdpaDevice(roots, id)).toThrow(
      expect.objectContaining({ code: 7, message: msg.replace("SYS", roots.sysfs) }),
    );
  });

  it("findVdpaDevice() says when the host has no vdpa bus", () => {
    rmSync(join(roots.sysfs, "bus/vdpa"), { recursive: true });
    expect(vdpaBusPresent(roots)).toBe(false);
    expect(() => findVdpaDevice(roots, "vdpa0")).toThrow(
      expect.objectContaining({
        code: 7,
        message:
          'Cannot use vDPA device "vdpa0": this host has no vdpa bus (the vdpa module and a vDPA device driver are not loaded)',
      }),
    );
  });

  it("pciHasVdpaDevice() is true for a VF with a vdpa device under it, false for the PF and a plain VF", () => {
    expect(pciHasVdpaDevice(roots, VF0)).toBe(true);
    expect(pciHasVdpaDevice(roots, VF1)).toBe(true);
    expect(pciHasVdpaDevice(roots, VF2)).toBe(false);
    expect(pciHasVdpaDevice(roots, PF)).toBe(false);
    expect(pciHasVdpaDevice(roots, "0000:99:00.0")).toBe(false);
  });

  it("pciHasVdpaDevice() counts a vdpa device under an auxiliary device of the function (mgmtdev pci/<addr>)", () => {
    const aux = join(roots.sysfs, "devices/pci0000:00", VF2, "mlx5_core.vnet.4", "vdpa4");
    mkdirSync(aux, { recursive: true });
    symlinkSync(
      `../../../devices/pci0000:00/${VF2}/mlx5_core.vnet.4/vdpa4`,
      join(roots.sysfs, "bus/vdpa/devices/vdpa4"),
    );
    expect(pciHasVdpaDevice(roots, VF2)).toBe(true);
    expect(findVdpaDevice(roots, VF2).name).toBe("vdpa4"); // the same rule as the lookup ADD makes
  });

  it("pciHasVdpaDevice() is false when the host has no vdpa bus", () => {
    rmSync(join(roots.sysfs, "bus/vdpa"), { recursive: true });
    expect(pciHasVdpaDevice(roots, VF0)).toBe(false);
  });

  it("namesVdpaDevice() takes a name on the bus or a PCI address (any case) with a vdpa device", () => {
    expect(namesVdpaDevice(roots, "vdpa1")).toBe(true);
    expect(namesVdpaDevice(roots, "lab-vdpa0")).toBe(true);
    expect(namesVdpaDevice(roots, VF0.toUpperCase())).toBe(true);
    expect(namesVdpaDevice(roots, VF2)).toBe(false);
    expect(namesVdpaDevice(roots, "vdpa9")).toBe(false);
    expect(namesVdpaDevice(roots, "../vdpa0")).toBe(false);
  });

  it("driverChoiceOf() names the two vdpa bus drivers and nothing else", () => {
    expect(driverChoiceOf("vhost_vdpa")).toBe("vhost");
    expect(driverChoiceOf("virtio_vdpa")).toBe("virtio");
    expect(driverChoiceOf("mlx5_vdpa")).toBeNull();
    expect(driverChoiceOf(null)).toBeNull();
  });
});

describe("chardevMismatch()", () => {
  it("accepts a node whose device number matches sysfs (/dev/null is 1:3)", () => {
    expect(chardevMismatch({ name: "null", path: "/dev/null", devt: "1:3" })).toBeNull();
  });

  it("reports another device number", () => {
    expect(chardevMismatch({ name: "null", path: "/dev/null", devt: "1:5" })).toBe(
      'char device "/dev/null" is 1:3, sysfs says 1:5',
    );
  });

  it("reports a missing node and a node that is not a character device", () => {
    const dir = mkdtempSync(join(tmpdir(), "acn-vdpa-dev-"));
    try {
      expect(chardevMismatch({ name: "vhost-vdpa-0", path: join(dir, "vhost-vdpa-0"), devt: "508:0" })).toMatch(
        /^char device ".*vhost-vdpa-0" is missing: ENOENT/,
      );
      writeFileSync(join(dir, "vhost-vdpa-0"), "");
      expect(chardevMismatch({ name: "vhost-vdpa-0", path: join(dir, "vhost-vdpa-0"), devt: "508:0" })).toBe(
        `"${join(dir, "vhost-vdpa-0")}" is not a character device`,
      );
      expect(chardevMismatch({ name: "vhost-vdpa-0", path: join(dir, "vhost-vdpa-0"), devt: null })).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
