// Guest-side building blocks for lab tests: SR-IOV VFs on the emulated igb
// PF, VDUSE vDPA devices, netdevsim devices with VFs, network namespaces, and
// a cleanup stack that undoes all of it. Runs only inside the lab VM, where
// the tests are root in a throwaway kernel: sysfs writes here build the
// substrate; what accelnet itself does goes through its helper.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const inLab = process.env.ACCELNET_LAB === "1";
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
/** The helper under test; the host may point ACCELNET_LAB_HELPER at another build (repo-relative). */
export const helperPath = path.join(repoRoot, process.env.ACCELNET_LAB_HELPER ?? "dist/native/accelnet-helper");
export const vduseToolPath = path.join(repoRoot, "dist/lab/accelnet-vduse");
/**
 * CNI_PATH for guest tests: Debian's real IPAM plugins (containernetworking-plugins' host-local and static),
 * packed into the initramfs at the path they have on a node (test/lab/src/initramfs.ts).
 */
export const cniPath = "/usr/lib/cni";

/** The emulated 82576 PF (QEMU `-device igb,addr=0x2`). */
export const PF = "0000:00:02.0";
const pciDevices = "/sys/bus/pci/devices";

// ---------------------------------------------------------------- basics

export function sysfsRead(file: string): string {
  return readFileSync(file, "utf8").trim();
}

export function sysfsWrite(file: string, value: string): void {
  writeFileSync(file, value);
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a guest tool (argv, no shell); rejects with its stderr on failure unless allowFailure. */
export function sh(argv: readonly string[], options: { allowFailure?: boolean } = {}): Promise<CommandResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error("sh: empty argv");
  return new Promise((resolve, reject) => {
    execFile(file, args, { encoding: "utf8", timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      if (code !== 0 && !options.allowFailure) {
        reject(new Error(`${argv.join(" ")} failed (${code}): ${stderr.trim() || stdout.trim()}`));
      } else {
        resolve({ code, stdout, stderr });
      }
    });
  });
}

/** Polls `probe` until it returns a value other than undefined, or throws naming `what`. */
export async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// ---------------------------------------------------------------- cleanup

const undoStack: { what: string; undo: () => Promise<void> | void }[] = [];

/** Registers an undo step; cleanupAll runs them newest first. */
export function onCleanup(what: string, undo: () => Promise<void> | void): void {
  undoStack.push({ what, undo });
}

/** Undoes everything the prelude created; reports every failing step, not just the first. */
export async function cleanupAll(): Promise<void> {
  const failures: string[] = [];
  for (let step = undoStack.pop(); step !== undefined; step = undoStack.pop()) {
    try {
      await step.undo();
    } catch (error) {
      failures.push(`${step.what}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (failures.length > 0) throw new Error(`cleanup failed:\n${failures.join("\n")}`);
}

// ---------------------------------------------------------------- PCI

export function pciDriver(addr: string): string | null {
  const link = path.join(pciDevices, addr, "driver");
  return existsSync(link) ? path.basename(readlinkSync(link)) : null;
}

export function pciNetdevs(addr: string): string[] {
  const dir = path.join(pciDevices, addr, "net");
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

export function iommuGroup(addr: string): number | null {
  const link = path.join(pciDevices, addr, "iommu_group");
  return existsSync(link) ? Number(path.basename(readlinkSync(link))) : null;
}

export function pfNetdev(pf = PF): string {
  const [netdev] = pciNetdevs(pf);
  if (netdev === undefined) throw new Error(`PF ${pf} has no netdev (driver ${pciDriver(pf)})`);
  return netdev;
}

/** The PF's sriov_numvfs: how many VFs it has (writing it creates or removes them). */
export const numvfsFile = `${pciDevices}/${PF}/sriov_numvfs`;

/** The PCI address of VF `index` of the PF; throws when it has no such VF. */
export function vfAddr(index: number): string {
  const vf = listVfs().find((v) => v.index === index);
  if (vf === undefined) throw new Error(`no VF ${index} on ${PF}`);
  return vf.addr;
}

/**
 * For the suites that create VFs themselves (node setup): the PF must start without VFs, and is left
 * without them whatever the suite did.
 */
export function startWithoutVfs(): void {
  const count = sysfsRead(numvfsFile);
  if (count !== "0") throw new Error(`the PF should start without VFs, but ${numvfsFile} is ${count}`);
  onCleanup(`remove VFs of ${PF}`, () => sysfsWrite(numvfsFile, "0"));
}

export interface Vf {
  index: number;
  addr: string;
  netdev: string;
}

/**
 * The PF's VFs in index order (virtfnN links). A link that vanishes between the listing and its read
 * (VFs being removed while a test polls) is a VF that is gone: left out, not an error.
 */
export function listVfs(pf = PF): { index: number; addr: string }[] {
  const dir = path.join(pciDevices, pf);
  const vfs: { index: number; addr: string }[] = [];
  for (const name of readdirSync(dir).filter((n) => /^virtfn\d+$/.test(n))) {
    try {
      vfs.push({ index: Number(name.slice(6)), addr: path.basename(readlinkSync(path.join(dir, name))) });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  return vfs.sort((a, b) => a.index - b.index);
}

/** Creates `count` VFs on the PF and waits until each has its igbvf netdev. */
export async function createVfs(count: number, pf = PF): Promise<Vf[]> {
  const numvfs = path.join(pciDevices, pf, "sriov_numvfs");
  if (sysfsRead(numvfs) !== "0") sysfsWrite(numvfs, "0");
  sysfsWrite(numvfs, String(count));
  onCleanup(`remove VFs of ${pf}`, () => sysfsWrite(numvfs, "0"));
  const vfs = await waitFor(`${count} VFs on ${pf}`, () => {
    const found = listVfs(pf);
    return found.length === count ? found : undefined;
  });
  return Promise.all(
    vfs.map(async (vf) => ({
      ...vf,
      netdev: await waitFor(`netdev of VF ${vf.addr}`, () => pciNetdevs(vf.addr)[0]),
    })),
  );
}

/** Rebinds a PCI device to `driver` the way the kernel documents: override, unbind, probe. */
export function rebindPci(addr: string, driver: string): void {
  const device = path.join(pciDevices, addr);
  sysfsWrite(path.join(device, "driver_override"), driver);
  if (existsSync(path.join(device, "driver"))) sysfsWrite(path.join(device, "driver", "unbind"), addr);
  sysfsWrite("/sys/bus/pci/drivers_probe", addr);
  sysfsWrite(path.join(device, "driver_override"), "\n");
}

// ---------------------------------------------------------------- netns

/** Creates a named netns (ip netns add) and deletes it on cleanup. */
export async function createNetns(name: string): Promise<string> {
  await sh(["ip", "netns", "add", name]);
  onCleanup(`delete netns ${name}`, async () => {
    await sh(["ip", "netns", "del", name]);
  });
  return `/run/netns/${name}`;
}

// ---------------------------------------------------------------- VDUSE / vDPA

export interface VdpaDevice {
  name: string;
  mac: string;
  mtu: number;
  /** Stops serving: deletes the vdpa device, then the VDUSE device. */
  remove(): Promise<void>;
}

const vdpaBus = "/sys/bus/vdpa/devices";

export function vdpaDriver(name: string): string | null {
  const link = path.join(vdpaBus, name, "driver");
  return existsSync(link) ? path.basename(readlinkSync(link)) : null;
}

/** /dev/vhost-vdpa-N of a device bound to vhost_vdpa, looked up in sysfs (minors are reused). */
export function vhostVdpaChardev(name: string): string | undefined {
  const dir = path.join(vdpaBus, name);
  const entry = existsSync(dir) ? readdirSync(dir).find((e) => /^vhost-vdpa-\d+$/.test(e)) : undefined;
  return entry === undefined ? undefined : `/dev/${entry}`;
}

/** The virtio-net netdev of a device bound to virtio_vdpa. */
export function virtioNetdev(name: string): string | undefined {
  const dir = path.join(vdpaBus, name);
  if (!existsSync(dir)) return undefined;
  for (const entry of readdirSync(dir).filter((e) => e.startsWith("virtio"))) {
    const net = path.join(dir, entry, "net");
    if (existsSync(net)) return readdirSync(net)[0];
  }
  return undefined;
}

async function waitForExit(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`accelnet-vduse did not exit within ${timeoutMs} ms`)), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/**
 * Creates a VDUSE virtio-net device served by dist/lab/accelnet-vduse, NOT yet on the vdpa bus (that is
 * `VDPA_CMD_DEV_NEW` on the `vduse` management device). remove() deletes the vdpa device if one was added,
 * then the VDUSE device.
 */
export async function serveVduse(name: string, mac: string, mtu = 1500): Promise<VdpaDevice> {
  const child = spawn(vduseToolPath, ["serve", `name=${name}`, `mac=${mac}`, `mtu=${mtu}`], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  await new Promise<void>((resolve, reject) => {
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      if (stdout.includes('"ready":true')) resolve();
    });
    child.once("exit", (code) => reject(new Error(`accelnet-vduse exited with ${code} before ready: ${stderr}`)));
    child.once("error", reject);
  });
  let removed = false;
  const remove = async (): Promise<void> => {
    if (removed) return;
    removed = true;
    if (existsSync(path.join(vdpaBus, name))) await sh(["vdpa", "dev", "del", name]);
    child.kill("SIGTERM");
    const code = await waitForExit(child, 15_000);
    if (code !== 0) throw new Error(`accelnet-vduse ${name} exited with ${code}: ${stderr}`);
  };
  onCleanup(`remove vdpa device ${name}`, remove);
  return { name, mac, mtu, remove };
}

/**
 * Creates a VDUSE virtio-net device (serveVduse), adds it to the vdpa bus with iproute2 and waits for
 * vhost_vdpa to bind it.
 */
export async function createVdpa(name: string, mac: string, mtu = 1500): Promise<VdpaDevice> {
  const device = await serveVduse(name, mac, mtu);
  await sh(["vdpa", "dev", "add", "name", name, "mgmtdev", "vduse"]);
  await waitFor(`vhost-vdpa char device of ${name}`, () => vhostVdpaChardev(name));
  return device;
}

/** Binds a vdpa device to vhost_vdpa or virtio_vdpa through driver_override. */
export function rebindVdpa(name: string, driver: "vhost_vdpa" | "virtio_vdpa"): void {
  const device = path.join(vdpaBus, name);
  sysfsWrite(path.join(device, "driver_override"), driver);
  if (existsSync(path.join(device, "driver"))) sysfsWrite(path.join(device, "driver", "unbind"), name);
  sysfsWrite("/sys/bus/vdpa/drivers_probe", name);
}

// ---------------------------------------------------------------- netdevsim

export interface Netdevsim {
  id: number;
  netdev: string;
  sysfs: string;
}

/** A netdevsim device with one port and `vfs` VFs (VF settings only; no VF netdevs or PCI functions). */
export async function createNetdevsim(id: number, vfs: number): Promise<Netdevsim> {
  const sysfs = `/sys/bus/netdevsim/devices/netdevsim${id}`;
  sysfsWrite("/sys/bus/netdevsim/new_device", `${id} 1`);
  onCleanup(`delete netdevsim${id}`, () => sysfsWrite("/sys/bus/netdevsim/del_device", String(id)));
  const netdev = await waitFor(`netdev of netdevsim${id}`, () => {
    const net = path.join(sysfs, "net");
    return existsSync(net) ? readdirSync(net)[0] : undefined;
  });
  sysfsWrite(path.join(sysfs, "sriov_numvfs"), String(vfs));
  return { id, netdev, sysfs };
}
