// Builds a fake sysfs tree for discovery tests (the helper's `inventory` with
// --sysfs-root=<root>). The shape follows the kernel's sysfs layout; the helper's
// `inventory` must find everything below without netlink (vDPA included):
//
//   <root>/devices/pci0000:00/<addr>/              one dir per PCI function
//       vendor  device  class                     "0x8086\n" "0x10ca\n" "0x020000\n"
//       numa_node                                 "-1\n" or "0\n"...
//       sriov_numvfs  sriov_totalvfs              PFs only: "8\n"
//       driver -> ../../../bus/pci/drivers/<drv>  absent when unbound
//       iommu_group -> ../../../kernel/iommu_groups/<n>
//       physfn -> ../<pf-addr>                    VFs only
//       virtfn<N> -> ../<vf-addr>                 PFs only, N = VF index
//       net/<ifname>/                             when bound to a netdev driver
//           carrier "1\n"|"0\n"  operstate "up\n"|"down\n"  type "1\n" (ARPHRD_ETHER)
//       <vdpa-name>/                              vDPA device whose parent is this VF
//           driver -> ../../../../bus/vdpa/drivers/<vhost_vdpa|virtio_vdpa>
//           vhost-vdpa-<N>/                       vhost_vdpa only (char dev /dev/vhost-vdpa-<N>)
//   <root>/devices/virtual/vduse/<vdpa-name>/     vDPA device without PCI parent (same content)
//   <root>/bus/pci/devices/<addr> -> ../../../devices/pci0000:00/<addr>
//   <root>/bus/pci/drivers/<drv>/
//   <root>/bus/vdpa/devices/<name> -> ../../../devices/.../<name>
//   <root>/bus/vdpa/drivers/{vhost_vdpa,virtio_vdpa}/
//   <root>/kernel/iommu_groups/<n>/devices/<addr> -> ../../../../devices/pci0000:00/<addr>
//   <root>/class/net/<ifname> -> ../../devices/pci0000:00/<addr>/net/<ifname>
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A temp dir for a fake tree, on tmpfs when the machine has /dev/shm: the 1024-VF
 * tree is ~20k files and symlinks, which takes ~1 s on tmpfs but 40 s or more on
 * a disk that QEMU guests keep busy.
 */
export function fakeTreeTempDir(prefix: string): string {
  let base = tmpdir();
  try {
    accessSync("/dev/shm", constants.W_OK);
    base = "/dev/shm";
  } catch {
    // no tmpfs: the normal temp dir
  }
  return mkdtempSync(join(base, prefix));
}

export interface FakeVf {
  readonly addr: string;
  readonly driver: string | null;
  readonly iommuGroup: number;
  /** Netdev name when bound to a netdev driver. */
  readonly netdev: string | null;
  readonly vdpa?: { readonly name: string; readonly driver: "vhost_vdpa" | "virtio_vdpa"; readonly vhostIndex: number };
  /** Defaults to the PF's. */
  readonly numaNode?: number;
}

export interface FakePf {
  readonly addr: string;
  readonly netdev: string;
  readonly driver: string;
  readonly numaNode: number;
  readonly carrier: boolean;
  readonly vendor: string;
  readonly pfDevice: string;
  readonly vfDevice: string;
  readonly iommuGroup: number;
  readonly totalVfs: number;
  readonly vfs: readonly FakeVf[];
}

export interface FakeVduse {
  readonly name: string;
  readonly driver: "vhost_vdpa" | "virtio_vdpa";
  readonly vhostIndex: number;
}

function file(path: string, content: string): void {
  writeFileSync(path, content);
}

function link(target: string, path: string): void {
  symlinkSync(target, path);
}

export class FakeSysfs {
  constructor(readonly root: string) {
    for (const d of [
      "devices/pci0000:00",
      "devices/virtual/vduse",
      "bus/pci/devices",
      "bus/pci/drivers",
      "bus/vdpa/devices",
      "bus/vdpa/drivers/vhost_vdpa",
      "bus/vdpa/drivers/virtio_vdpa",
      "kernel/iommu_groups",
      "class/net",
    ]) {
      mkdirSync(join(root, d), { recursive: true });
    }
  }

  private devDir(addr: string): string {
    return join(this.root, "devices/pci0000:00", addr);
  }

  private pciFunction(
    addr: string,
    vendor: string,
    device: string,
    numa: number,
    driver: string | null,
    group: number,
  ): string {
    const dir = this.devDir(addr);
    mkdirSync(dir, { recursive: true });
    file(join(dir, "vendor"), `0x${vendor}\n`);
    file(join(dir, "device"), `0x${device}\n`);
    file(join(dir, "class"), "0x020000\n");
    file(join(dir, "numa_node"), `${numa}\n`);
    link(`../../../devices/pci0000:00/${addr}`, join(this.root, "bus/pci/devices", addr));
    if (driver !== null) {
      mkdirSync(join(this.root, "bus/pci/drivers", driver), { recursive: true });
      link(`../../../bus/pci/drivers/${driver}`, join(dir, "driver"));
    }
    const groupDir = join(this.root, "kernel/iommu_groups", String(group), "devices");
    mkdirSync(groupDir, { recursive: true });
    link(`../../../kernel/iommu_groups/${group}`, join(dir, "iommu_group"));
    link(`../../../../devices/pci0000:00/${addr}`, join(groupDir, addr));
    return dir;
  }

  private netdev(dir: string, name: string, carrier: boolean): void {
    const n = join(dir, "net", name);
    mkdirSync(n, { recursive: true });
    file(join(n, "carrier"), carrier ? "1\n" : "0\n");
    file(join(n, "operstate"), carrier ? "up\n" : "down\n");
    file(join(n, "type"), "1\n");
    const addr = dir.slice(dir.lastIndexOf("/") + 1);
    link(`../../devices/pci0000:00/${addr}/net/${name}`, join(this.root, "class/net", name));
  }

  private vdpaDevice(parentDir: string, name: string, driver: string, vhostIndex: number, busTarget: string): void {
    const dir = join(parentDir, name);
    mkdirSync(dir, { recursive: true });
    link(`../../../../bus/vdpa/drivers/${driver}`, join(dir, "driver"));
    if (driver === "vhost_vdpa") mkdirSync(join(dir, `vhost-vdpa-${vhostIndex}`));
    link(busTarget, join(this.root, "bus/vdpa/devices", name));
  }

  addPf(pf: FakePf): void {
    const dir = this.pciFunction(pf.addr, pf.vendor, pf.pfDevice, pf.numaNode, pf.driver, pf.iommuGroup);
    file(join(dir, "sriov_numvfs"), `${pf.vfs.length}\n`);
    file(join(dir, "sriov_totalvfs"), `${pf.totalVfs}\n`);
    this.netdev(dir, pf.netdev, pf.carrier);
    pf.vfs.forEach((vf, i) => {
      const vdir = this.pciFunction(
        vf.addr,
        pf.vendor,
        pf.vfDevice,
        vf.numaNode ?? pf.numaNode,
        vf.driver,
        vf.iommuGroup,
      );
      link(`../${pf.addr}`, join(vdir, "physfn"));
      link(`../${vf.addr}`, join(dir, `virtfn${i}`));
      if (vf.netdev !== null) this.netdev(vdir, vf.netdev, true);
      if (vf.vdpa !== undefined) {
        this.vdpaDevice(
          vdir,
          vf.vdpa.name,
          vf.vdpa.driver,
          vf.vdpa.vhostIndex,
          `../../../devices/pci0000:00/${vf.addr}/${vf.vdpa.name}`,
        );
      }
    });
  }

  /** Rebinds a PCI function to another driver (null: unbound), as pci-bind would: its netdevs go away. */
  rebind(addr: string, driver: string | null): void {
    const dir = this.devDir(addr);
    rmSync(join(dir, "driver"), { force: true });
    for (const name of existsSync(join(dir, "net")) ? readdirSync(join(dir, "net")) : []) {
      rmSync(join(this.root, "class/net", name), { force: true });
    }
    rmSync(join(dir, "net"), { recursive: true, force: true });
    if (driver !== null) {
      mkdirSync(join(this.root, "bus/pci/drivers", driver), { recursive: true });
      link(`../../../bus/pci/drivers/${driver}`, join(dir, "driver"));
    }
  }

  addVduse(v: FakeVduse): void {
    this.vdpaDevice(
      join(this.root, "devices/virtual/vduse"),
      v.name,
      v.driver,
      v.vhostIndex,
      `../../../devices/virtual/vduse/${v.name}`,
    );
  }
}

/** 8 PFs × 128 VFs (netdev igbvf on even, vfio-pci on odd VFs), PFs on NUMA 0 and 1, plus one VDUSE device. */
export function buildScaleTree(root: string, pfCount = 8, vfsPerPf = 128): FakeSysfs {
  const fs = new FakeSysfs(root);
  let group = 100;
  for (let p = 0; p < pfCount; p++) {
    const bus = (0x10 + p).toString(16).padStart(2, "0");
    const vfs: FakeVf[] = [];
    for (let i = 0; i < vfsPerPf; i++) {
      const devfn = 0x10 * 8 + i; // device 0x10.. function 0..7
      const addr = `0000:${bus}:${(devfn >> 3).toString(16).padStart(2, "0")}.${devfn & 7}`;
      const vfio = i % 2 === 1;
      vfs.push({ addr, driver: vfio ? "vfio-pci" : "igbvf", iommuGroup: group++, netdev: vfio ? null : `p${p}v${i}` });
    }
    fs.addPf({
      addr: `0000:${bus}:00.0`,
      netdev: `ens${p}f0`,
      driver: "igb",
      numaNode: p < pfCount / 2 ? 0 : 1,
      carrier: true,
      vendor: "8086",
      pfDevice: "10c9",
      vfDevice: "10ca",
      iommuGroup: group++,
      totalVfs: vfsPerPf,
      vfs,
    });
  }
  fs.addVduse({ name: "vduse0", driver: "vhost_vdpa", vhostIndex: 0 });
  return fs;
}

/**
 * The node of inventory-fixtures.ts's sampleInventory() as a sysfs tree: PF
 * 0000:01:00.0 "ens1f0" with VFs 01:10.0 igbvf, 01:10.1 vfio-pci (group 21),
 * 01:10.2 igbvf with vdpa0 on vhost_vdpa (vhost-vdpa-0), 01:10.3 igbvf on NUMA 1;
 * and VDUSE "vduse1" on vhost_vdpa (vhost-vdpa-1).
 */
export function buildSampleTree(root: string): FakeSysfs {
  const fs = new FakeSysfs(root);
  fs.addPf({
    addr: "0000:01:00.0",
    netdev: "ens1f0",
    driver: "igb",
    numaNode: 0,
    carrier: true,
    vendor: "8086",
    pfDevice: "10c9",
    vfDevice: "10ca",
    iommuGroup: 1,
    totalVfs: 8,
    vfs: [
      { addr: "0000:01:10.0", driver: "igbvf", iommuGroup: 10, netdev: "ens1f0v0" },
      { addr: "0000:01:10.1", driver: "vfio-pci", iommuGroup: 21, netdev: null },
      {
        addr: "0000:01:10.2",
        driver: "igbvf",
        iommuGroup: 12,
        netdev: null,
        vdpa: { name: "vdpa0", driver: "vhost_vdpa", vhostIndex: 0 },
      },
      { addr: "0000:01:10.3", driver: "igbvf", iommuGroup: 13, netdev: "ens1f0v3", numaNode: 1 },
    ],
  });
  fs.addVduse({ name: "vduse1", driver: "vhost_vdpa", vhostIndex: 1 });
  return fs;
}
