// vDPA device lookup, from sysfs only (read, never written): which vdpa device a deviceID names, its
// bound driver, its vhost-vdpa char device or virtio-net netdev, and the PCI function it belongs to.
// The sysfs and /dev roots are parameters so the rules run against fake trees in unit tests.
//
//   <sysfs>/bus/vdpa/devices/<name> -> .../<parent>/<name>     the bus (absent: no vdpa module loaded)
//       driver -> .../bus/vdpa/drivers/<vhost_vdpa|virtio_vdpa>
//       vhost-vdpa-<N>/dev "MAJ:MIN"                          vhost_vdpa: /dev/vhost-vdpa-<N>
//       virtio<M>/device "0x0001", virtio<M>/net/<ifname>      virtio_vdpa: the virtio-net netdev
//   <sysfs>/bus/pci/devices/<addr>[/physfn -> ../<pf>]
//
// A deviceID is a vdpa device name, or the PCI address of the function whose vdpa device it is (the
// nearest PCI ancestor in sysfs: mgmtdev pci/<addr>, or an auxiliary device under it). Minors of
// vhost-vdpa-N are reused after a delete, so every caller looks them up again, never caches them.
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, join, sep } from "node:path";
import { CniCode, CniError, errorMessage } from "./errors.js";
import { pciAddressPattern } from "./fields.js";

export interface VdpaRoots {
  sysfs: string;
  dev: string;
}

export const HOST_ROOTS: VdpaRoots = { sysfs: "/sys", dev: "/dev" };

/** `vdpaDriver` in the config, and the kernel driver it means. */
export type VdpaDriverChoice = "vhost" | "virtio";
export const VDPA_KERNEL_DRIVERS = { vhost: "vhost_vdpa", virtio: "virtio_vdpa" } as const;
export type VdpaKernelDriver = (typeof VDPA_KERNEL_DRIVERS)[VdpaDriverChoice];

/** The config's name for a kernel driver, or null for any other driver (or none). */
export function driverChoiceOf(kernelDriver: string | null): VdpaDriverChoice | null {
  if (kernelDriver === VDPA_KERNEL_DRIVERS.vhost) return "vhost";
  if (kernelDriver === VDPA_KERNEL_DRIVERS.virtio) return "virtio";
  return null;
}

/** Same rule as the helper's vdpa device names: like an ifname, up to 31 bytes. */
export const vdpaNamePattern = /^[a-zA-Z0-9][a-zA-Z0-9_.:-]{0,30}$/;

/** VIRTIO_ID_NET: the only virtio device type this mode attaches. */
export const VIRTIO_ID_NET = 1;

export interface VhostChardev {
  /** "vhost-vdpa-N" */
  name: string;
  /** <dev-root>/vhost-vdpa-N */
  path: string;
  /** "MAJ:MIN" from sysfs, null when sysfs has no dev file. */
  devt: string | null;
}

export interface VirtioChild {
  /** "virtioM": the parent device of the netdev (IFLA_PARENT_DEV_NAME). */
  name: string;
  /** The virtio device type from sysfs (1 = net), null when unreadable. */
  deviceId: number | null;
  /** Its netdevs visible in the host netns (empty while the netdev is in a pod). */
  netdevs: string[];
}

export interface VdpaIdentity {
  name: string;
  /** The bound driver's name (null: unbound). */
  driver: string | null;
  /** The PCI function the device belongs to (nearest PCI ancestor), null for VDUSE and other virtual parents. */
  pciAddress: string | null;
  /** Its PF when that function is an SR-IOV VF. */
  pfPciAddress: string | null;
  chardev: VhostChardev | null;
  virtio: VirtioChild | null;
}

function unusable(id: string, why: string, cause?: unknown): CniError {
  return new CniError(CniCode.InvalidConfig, `Cannot use vDPA device "${id}": ${why}`, { cause });
}

function readTrimmed(path: string): string | null {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return null;
  }
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function vdpaBusDir(roots: VdpaRoots): string {
  return join(roots.sysfs, "bus/vdpa/devices");
}

/** Whether the host has a vdpa bus at all (the vdpa module is loaded). */
export function vdpaBusPresent(roots: VdpaRoots): boolean {
  return existsSync(vdpaBusDir(roots));
}

/** The PCI address nearest to `devicePath` (itself or an ancestor) inside <sysfs>/devices, or null. */
function nearestPciAncestor(roots: VdpaRoots, devicePath: string): string | null {
  const top = join(realpathSync(roots.sysfs), "devices");
  for (let dir = devicePath; dir.startsWith(top + sep); dir = dirname(dir)) {
    const name = basename(dir);
    if (pciAddressPattern.test(name)) return name;
  }
  return null;
}

function pfOf(roots: VdpaRoots, pciAddress: string): string | null {
  try {
    return basename(readlinkSync(join(roots.sysfs, "bus/pci/devices", pciAddress, "physfn")));
  } catch {
    return null;
  }
}

/** The vdpa device `name` as sysfs shows it now, or null when it is not on the bus. */
export function readVdpaDevice(roots: VdpaRoots, name: string): VdpaIdentity | null {
  if (!vdpaNamePattern.test(name)) return null;
  const link = join(vdpaBusDir(roots), name);
  let dir: string;
  try {
    dir = realpathSync(link);
  } catch {
    return null;
  }
  let driver: string | null = null;
  try {
    driver = basename(readlinkSync(join(dir, "driver")));
  } catch {
    driver = null;
  }
  const children = entries(dir);
  const vhost = children.find((e) => /^vhost-vdpa-\d+$/.test(e));
  const virtio = children.find((e) => /^virtio\d+$/.test(e));
  const pciAddress = nearestPciAncestor(roots, dirname(dir));
  let virtioChild: VirtioChild | null = null;
  if (virtio !== undefined) {
    const id = readTrimmed(join(dir, virtio, "device"));
    const parsed = id === null ? NaN : Number.parseInt(id, 16);
    virtioChild = {
      name: virtio,
      deviceId: Number.isNaN(parsed) ? null : parsed,
      netdevs: entries(join(dir, virtio, "net")),
    };
  }
  return {
    name,
    driver,
    pciAddress,
    pfPciAddress: pciAddress === null ? null : pfOf(roots, pciAddress),
    chardev:
      vhost === undefined
        ? null
        : { name: vhost, path: join(roots.dev, vhost), devt: readTrimmed(join(dir, vhost, "dev")) },
    virtio: virtioChild,
  };
}

/** The last PCI address among a sysfs path's directories (the device itself, its last component, excluded). */
function nearestPciInPath(path: string): string | null {
  const dirs = path.split("/").slice(0, -1);
  for (let i = dirs.length - 1; i >= 0; i--) {
    const name = dirs[i] as string;
    if (pciAddressPattern.test(name)) return name;
  }
  return null;
}

/**
 * Whether the PCI function `pciAddress` has a vdpa device (its nearest PCI ancestor, as findVdpaDevice
 * counts them: directly under it, or under an auxiliary device of it). Cheap enough for mode selection:
 * one readdir of the vdpa bus and one readlink per vdpa device, whose link target spells its sysfs path.
 * No vdpa bus: false.
 */
export function pciHasVdpaDevice(roots: VdpaRoots, pciAddress: string): boolean {
  const bus = vdpaBusDir(roots);
  let names: string[];
  try {
    names = readdirSync(bus);
  } catch {
    return false;
  }
  return names.some((name) => {
    try {
      return nearestPciInPath(readlinkSync(join(bus, name))) === pciAddress;
    } catch {
      return false;
    }
  });
}

/** Whether a device ID names a vdpa device: by its name on the vdpa bus, or as the PCI function that has one. */
export function namesVdpaDevice(roots: VdpaRoots, id: string): boolean {
  if (vdpaNamePattern.test(id) && existsSync(join(vdpaBusDir(roots), id))) return true;
  const lower = id.toLowerCase();
  return pciAddressPattern.test(lower) && pciHasVdpaDevice(roots, lower);
}

/** Every vdpa device whose nearest PCI ancestor is `pciAddress`. */
function vdpaDevicesOfPci(roots: VdpaRoots, pciAddress: string): VdpaIdentity[] {
  return entries(vdpaBusDir(roots))
    .map((name) => readVdpaDevice(roots, name))
    .filter((d): d is VdpaIdentity => d !== null && d.pciAddress === pciAddress);
}

/**
 * The vdpa device a deviceID names: a vdpa device name, or the PCI address of the function that has
 * exactly one vdpa device. Code 7 with a message naming the ID otherwise; nothing is changed.
 */
export function findVdpaDevice(roots: VdpaRoots, deviceID: string): VdpaIdentity {
  if (!vdpaBusPresent(roots)) {
    throw unusable(deviceID, "this host has no vdpa bus (the vdpa module and a vDPA device driver are not loaded)");
  }
  const lower = deviceID.toLowerCase();
  if (pciAddressPattern.test(lower)) {
    if (!existsSync(join(roots.sysfs, "bus/pci/devices", lower))) {
      throw unusable(deviceID, "no vdpa device of that name and no PCI device at that address");
    }
    const found = vdpaDevicesOfPci(roots, lower);
    const [only] = found;
    if (only === undefined) throw unusable(deviceID, `PCI device "${lower}" has no vDPA device`);
    if (found.length > 1) {
      const names = found.map((d) => `"${d.name}"`).join(", ");
      throw unusable(
        deviceID,
        `PCI device "${lower}" has ${found.length} vDPA devices (${names}): name one in deviceID`,
      );
    }
    return only;
  }
  if (!vdpaNamePattern.test(deviceID)) {
    throw unusable(deviceID, "not a vDPA device name ([a-zA-Z0-9_.:-], up to 31 bytes) nor a PCI address");
  }
  const dev = readVdpaDevice(roots, deviceID);
  if (dev === null) throw unusable(deviceID, `no such device on the vdpa bus (${vdpaBusDir(roots)})`);
  return dev;
}

/** Why the vhost-vdpa char device node does not match sysfs, or null when it does. */
export function chardevMismatch(chardev: VhostChardev): string | null {
  let st;
  try {
    st = statSync(chardev.path);
  } catch (err) {
    return `char device "${chardev.path}" is missing: ${errorMessage(err)}`;
  }
  if (chardev.devt === null) return null; // sysfs without a dev file (fake trees): existence is all we know
  if (!st.isCharacterDevice()) return `"${chardev.path}" is not a character device`;
  const [major, minor] = chardev.devt.split(":").map(Number);
  const rdevMajor = Math.floor(st.rdev / 256) & 0xfff;
  const rdevMinor = (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00);
  if (rdevMajor !== major || rdevMinor !== minor) {
    return `char device "${chardev.path}" is ${rdevMajor}:${rdevMinor}, sysfs says ${chardev.devt}`;
  }
  return null;
}
