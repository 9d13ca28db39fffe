// vDPA mode: a vdpa virtio-net device for the pod, either on vhost_vdpa (a /dev/vhost-vdpa-N char device
// for a DPDK virtio-user application; the device plugin injects the node, here only state, the MAC, IPAM
// in the result and the Device Information file) or on virtio_vdpa (its virtio-net netdev moved into the
// pod like a VF netdev). ADD snapshots what DEL restores, including the bound driver, and writes it to
// the state before the first change; every change pushes its undo at once; any failure unwinds in reverse.
//
// Decisions:
// - `vdpaDriver` (vhost|virtio) states the driver the pod expects; unset keeps the bound one. A device on
//   the other driver is switched only with `rebind: true` (and switched back on DEL), else code 7.
// - `mac` on vhost goes to the device's config space (vdpa netlink `dev config set`). When the device
//   already has that MAC nothing is sent. When the kernel or the device refuses (VDUSE, kernels < 6.12:
//   EOPNOTSUPP) ADD fails with code 2 naming the device and the kernel's words, and rolls back.
// - `mtu` on vhost cannot be changed (it is fixed when the vdpa device is created): a different value is
//   code 2. On virtio it is the netdev's MTU.
// - The result's interface carries `socketPath` = the char device (DPDK virtio-user takes it as `path=`,
//   as it takes a vhost-user socket) and `pciID` = the PCI function of the device, when it has one.
//
// ADD steps (names for ACCELNET_TEST_FAULT; each fault fires right after its step succeeded):
//   resolve, lock, snapshot, rebind; vhost: config-mac, vhost-info;
//   virtio: tmp-netns, move-tmp, altname, move-pod, mac, mtu; then ipam, configure, device-info, done.
//   An IPAM plugin that only books addresses (host-local, static) runs beside the steps after rebind;
//   `ipam` fires once both have ended.
import type { NativeClient, VdpaDevice } from "../../native/client/index.js";
import { ipamAddBeside, ipamCheck, requireNetns, withAttachmentLock } from "../lib/attachment.js";
import { netdevDiffers, prevInterfaceOf, showPodNetdev } from "../lib/check.js";
import { configureInterface } from "../lib/configure.js";
import {
  addDeviceInfo,
  claimForAdd,
  completeStateOf,
  deleteDeviceAttachment,
  deviceModeStatus,
  reconcileOrphans,
  recordState,
  releaseDeviceAttachment,
  requireOwner,
  TrackedUndo,
  type DeviceData,
  type DeviceModeParts,
  type ReconcileOptions,
  type ReconcileReport,
} from "../lib/device-attachment.js";
import { restoreDeviceInfo } from "../lib/device-info.js";
import { CniCode, CniError } from "../lib/errors.js";
import { faultPoint } from "../lib/fault.js";
import { macFrom, optionalChoice, optionalMtu, requiredDeviceId } from "../lib/fields.js";
import { lockTimeout } from "../lib/gc.js";
import type { Logger } from "../lib/log.js";
import {
  moveNetdevIn,
  newTmpNetnsPath,
  removeLeftoverTmpNetns,
  returnNetdevToHost,
  type NetdevPlace,
  type NetdevSnapshot,
} from "../lib/netdev.js";
import { optionalBoolean, type NetConf } from "../lib/netconf.js";
import { deviceKey, withDeviceLock, type DeviceOwner } from "../lib/owner.js";
import type { Interface, Result } from "../lib/result.js";
import type { AttachmentState } from "../lib/state.js";
import {
  driverChoiceOf,
  findVdpaDevice,
  HOST_ROOTS,
  readVdpaDevice,
  VDPA_KERNEL_DRIVERS,
  VIRTIO_ID_NET,
  type VdpaDriverChoice,
  type VdpaIdentity,
  type VdpaRoots,
} from "../lib/vdpa.js";
import {
  bindVdpa,
  hostNetdevOf,
  putBackConfigMac,
  readVhostInfo,
  vhostDiffers,
  setVdpaConfigMac,
  showVdpa,
  snapshotVirtioNetdev,
} from "../lib/vdpa-device.js";
import type { CniRequest } from "../skel/types.js";
import type { Mode } from "./mode.js";

export interface VdpaConf {
  net: NetConf;
  /** A vdpa device name or the PCI address of its parent function (runtimeConfig.deviceID, deviceID, pciBusID). */
  deviceID: string;
  /** The driver the pod expects; undefined keeps the bound one. */
  driver?: VdpaDriverChoice;
  rebind: boolean;
  mac?: string;
  mtu?: number;
  deviceInfoFile?: string;
}

// ---------------------------------------------------------------- parseConf

export function parseConf(req: Pick<CniRequest, "conf" | "cniArgs">): VdpaConf {
  const raw = req.conf.raw;
  const id = requiredDeviceId(req.conf);
  const conf: VdpaConf = { net: req.conf, deviceID: id.value, rebind: optionalBoolean(raw, "rebind") ?? false };
  const driver = optionalChoice(raw, "vdpaDriver", ["vhost", "virtio"] as const);
  if (driver !== undefined) conf.driver = driver;
  const mac = macFrom(req.conf, req.cniArgs);
  if (mac !== undefined) conf.mac = mac;
  const mtu = optionalMtu(raw);
  if (mtu !== undefined) conf.mtu = mtu;
  const info = req.conf.runtimeConfig.CNIDeviceInfoFile; // its place is checked (trusted-paths.ts)
  if (info !== undefined) conf.deviceInfoFile = info;
  return conf;
}

// ---------------------------------------------------------------- state

/** What DEL, CHECK, GC and reconcile need; written before ADD changes anything. */
export interface VdpaData extends DeviceData {
  device: Omit<VdpaIdentity, "chardev" | "virtio">;
  mgmtdev: string;
  /** The driver bound before ADD, and the one the pod has (they differ only after a rebind). */
  originalDriver: VdpaDriverChoice;
  driver: VdpaDriverChoice;
  /** The config-space MAC before ADD (vdpa netlink), and whether ADD set another one (vhost). */
  originalMac: string | null;
  macSet: boolean;
  /** The virtio netdev as the host had it before ADD (original driver virtio), restored by DEL. */
  originalNetdev: NetdevSnapshot | null;
  /** The netdev ADD moves into the pod (virtio), where it goes, and its temporary netns on the way. */
  netdev: NetdevSnapshot | null;
  place: NetdevPlace | null;
  tmpNetns: string | null;
  chardev: string | null;
}

const dataOf = (state: AttachmentState) => state.data as unknown as VdpaData;
const keyOf = (state: AttachmentState) => deviceKey("vdpa", dataOf(state).device.name);

/** The driver the device has and the one the pod gets; every refusal of the device (code 7, or 2). */
function plan(conf: VdpaConf, dev: VdpaIdentity, shown: VdpaDevice) {
  if (shown.deviceId !== VIRTIO_ID_NET) {
    throw new CniError(
      CniCode.InvalidConfig,
      `Cannot use vDPA device "${dev.name}": it is virtio device type ${String(shown.deviceId)}, not a network device (${VIRTIO_ID_NET})`,
    );
  }
  const originalDriver = driverChoiceOf(dev.driver);
  if (originalDriver === null) {
    throw new CniError(
      CniCode.InvalidConfig,
      `Cannot use vDPA device "${dev.name}": it is bound to ${dev.driver === null ? "no driver" : `"${dev.driver}"`}, ` +
        `not ${VDPA_KERNEL_DRIVERS.vhost} or ${VDPA_KERNEL_DRIVERS.virtio}`,
    );
  }
  const driver = conf.driver ?? originalDriver;
  if (driver !== originalDriver && !conf.rebind) {
    throw new CniError(
      CniCode.InvalidConfig,
      `Cannot use vDPA device "${dev.name}" with "vdpaDriver" "${driver}": it is bound to "${dev.driver}" ` +
        `(set "rebind": true to switch it)`,
    );
  }
  if (driver === "vhost" && conf.mac !== undefined && shown.mac === null) {
    throw new CniError(
      CniCode.UnsupportedField,
      `Cannot set "mac" ${conf.mac} on vDPA device "${dev.name}": the device offers no MAC (VIRTIO_NET_F_MAC)`,
    );
  }
  if (driver === "vhost" && conf.mtu !== undefined && shown.mtu !== null && conf.mtu !== shown.mtu) {
    throw new CniError(
      CniCode.UnsupportedField,
      `Cannot set "mtu" ${conf.mtu} on vDPA device "${dev.name}" (driver vhost): its MTU ${shown.mtu} is fixed ` +
        `when the device is created`,
    );
  }
  return { originalDriver, driver };
}

// ---------------------------------------------------------------- the mode

export interface VdpaMode extends Mode {
  /** Restores the device of one stored attachment (DEL, GC, reclaim and reconcile call it under the device lock). */
  restoreDevice(state: AttachmentState, native: NativeClient, log: Logger): Promise<void>;
}

export interface VdpaOptions {
  /** sysfs and /dev roots for device lookup (default /sys, /dev; tests use fake trees). */
  roots?: VdpaRoots;
  /** Whether an owner's netns still exists (default: an nsfs mount with the same inode). */
  ownerAlive?: (owner: DeviceOwner) => boolean;
  /** How long to wait for the char device or netdev after a rebind (default 3 s). */
  appearMs?: number;
}

export function createVdpaMode(opts: VdpaOptions = {}): VdpaMode {
  const roots = opts.roots ?? HOST_ROOTS;
  const appearMs = opts.appearMs ?? 3000;

  // ---------------------------------------------------------------- add

  async function add(req: CniRequest): Promise<Result> {
    const conf = parseConf(req);
    const native = req.deps.native(req.stateDir, req.env);
    const fault = (step: string) => faultPoint(req.env, step);
    requireNetns(req.netns);

    // 1. Which device, its type and drivers: every refusal comes before anything is locked or changed.
    let dev = findVdpaDevice(roots, conf.deviceID);
    let shown = await showVdpa(native, dev.name);
    let { originalDriver, driver } = plan(conf, dev, shown);
    fault("resolve");

    const key = deviceKey("vdpa", dev.name);
    return withAttachmentLock(req, () =>
      withDeviceLock(req.stateDir, key, lockTimeout(req), async () => {
        const undo = new TrackedUndo(req.log);
        return undo.guard(async () => {
          // 2. The owner marker (device lock held): a live owner refuses, a stale one's device is restored first.
          const claim = { req, key, id: dev.name, undo, native, parts, isAlive: opts.ownerAlive };
          const reclaimed = await claimForAdd(claim);
          // Read again under the lock: a reclaim (or a change before we held it) may have rebound it.
          const locked = readVdpaDevice(roots, dev.name);
          if (locked === null)
            throw new CniError(CniCode.TryAgainLater, `Cannot use vDPA device "${dev.name}": it is gone`);
          if (reclaimed || locked.driver !== dev.driver) {
            shown = await showVdpa(native, dev.name);
            ({ originalDriver, driver } = plan(conf, locked, shown));
          }
          dev = locked;
          fault("lock");

          // 3. Snapshot before any change: driver, config-space MAC, the host netdev (virtio); then the state.
          let originalNetdev: NetdevSnapshot | null = null;
          if (originalDriver === "virtio") originalNetdev = await snapshotVirtioNetdev(native, dev);
          const { chardev: _c, virtio: _v, ...identity } = dev;
          const data: VdpaData = {
            device: identity,
            mgmtdev: shown.mgmtdev,
            originalDriver,
            driver,
            originalMac: shown.mac,
            macSet: false,
            originalNetdev,
            netdev: null,
            place: driver === "virtio" ? { netns: req.netns, name: req.ifname } : null,
            tmpNetns: driver === "virtio" ? newTmpNetnsPath() : null,
            chardev: null,
            deviceInfo: null,
            ipamVersion: null,
            complete: false,
          };
          const record = recordState(req, "vdpa", data, undo);
          fault("snapshot");

          // 4. The driver the pod expects (only with rebind: true, checked above); undone by binding back.
          if (driver !== originalDriver) {
            undo.push(`driver of vDPA device "${dev.name}"`, () => rebindBack(native, data, req.log));
            dev = await bindVdpa(native, roots, dev.name, driver, appearMs);
          }
          fault("rebind");

          // 5. The device for the pod (setUpDevice), then IPAM ADD; beside it when the plugin only books
          //    addresses (attachment.ts). Its undo is IPAM DEL. The addresses go on the netdev (virtio) or
          //    into the result only (vhost: the app sets them).
          const intf: Interface = { name: req.ifname, sandbox: req.netns };
          const setUpDevice = async (): Promise<void> => {
            if (driver === "vhost") {
              // 5a. vhost: the MAC in config space, then the device as the workload will see it (ioctls).
              if (conf.mac !== undefined && shown.mac?.toLowerCase() !== conf.mac) {
                undo.push(`MAC of vDPA device "${dev.name}"`, () => restoreConfigMac(native, data));
                data.macSet = true;
                record.save();
                await setVdpaConfigMac(native, dev.name, shown.mgmtdev, conf.mac);
              }
              fault("config-mac");
              const info = await readVhostInfo(native, dev.name, conf.mac);
              data.chardev = info.path;
              record.save();
              if (info.mac !== null) intf.mac = info.mac;
              if (info.mtu !== null) intf.mtu = info.mtu;
              intf.socketPath = info.path;
              fault("vhost-info");
            } else {
              // 5b. virtio: the netdev into the pod through a temporary netns, MAC, MTU.
              data.netdev = originalNetdev ?? (await snapshotVirtioNetdev(native, dev)); // a rebind made a new one
              record.save();
              const link = await moveNetdevIn({
                native,
                undo,
                log: req.log,
                snapshot: data.netdev,
                podNetns: req.netns,
                ifname: req.ifname,
                tmpNetns: data.tmpNetns as string,
                mac: conf.mac,
                mtu: conf.mtu,
                fault,
                locate: hostNetdevOf(roots, dev.name),
              });
              if (link.mac !== null) intf.mac = link.mac;
              intf.mtu = link.mtu;
            }
          };
          const result: Result = { interfaces: [], ips: [], routes: [], dns: conf.net.dns };
          [, data.ipamVersion] = await ipamAddBeside(req, conf.net.ipamType, result, undo, true, setUpDevice);
          if (dev.pciAddress !== null) intf.pciID = dev.pciAddress;
          result.interfaces.push(intf);
          fault("ipam");
          if (driver === "virtio") await configureInterface(native, req, result);
          fault("configure");

          // 6. The Device Information file, then the complete state; the result goes out after it.
          if (conf.deviceInfoFile !== undefined) {
            const info = {
              type: "vdpa" as const,
              vdpa: {
                "parent-device": dev.name,
                driver,
                ...(data.chardev === null ? {} : { path: data.chardev }),
                ...(dev.pciAddress === null ? {} : { "pci-address": dev.pciAddress }),
                ...(dev.pfPciAddress === null ? {} : { "pf-pci-address": dev.pfPciAddress }),
              },
            };
            addDeviceInfo(req, conf.deviceInfoFile, info, undo, (kept) => {
              data.deviceInfo = kept;
              record.save();
            });
          }
          fault("device-info");
          record.complete(result);
          fault("done");
          req.log.info(`added vDPA device "${dev.name}" (${driver}) as "${req.ifname}"`);
          return result;
        });
      }),
    );
  }

  /** The config-space MAC back to what ADD found, when ADD changed it and it differs now. */
  async function restoreConfigMac(native: NativeClient, d: VdpaData): Promise<void> {
    if (d.macSet && d.originalMac !== null) await putBackConfigMac(native, d.device.name, d.mgmtdev, d.originalMac);
  }

  /** The driver back to the original one, and (original virtio) the new netdev made as the old one was. */
  async function rebindBack(native: NativeClient, d: VdpaData, log: Logger): Promise<void> {
    const now = readVdpaDevice(roots, d.device.name);
    if (now === null) return;
    if (driverChoiceOf(now.driver) !== d.originalDriver)
      await bindVdpa(native, roots, d.device.name, d.originalDriver, appearMs);
    if (d.originalNetdev !== null) {
      const locate = hostNetdevOf(roots, d.device.name);
      await returnNetdevToHost({ native, log, snapshot: d.originalNetdev, places: [], locate });
    }
  }

  /** The device back as the snapshot had it: the netdev (virtio), the MAC, the driver, the device info file. */
  async function restoreDevice(state: AttachmentState, native: NativeClient, log: Logger): Promise<void> {
    const d = dataOf(state);
    const dev = readVdpaDevice(roots, d.device.name);
    if (dev === null) {
      log.warning(`vDPA device "${d.device.name}" no longer exists: nothing to restore`);
    } else {
      const rebound = d.driver !== d.originalDriver;
      if (d.driver === "virtio" && d.netdev !== null && d.place !== null && !rebound) {
        const tmp: NetdevPlace[] = d.tmpNetns === null ? [] : [{ netns: d.tmpNetns, name: d.place.name }];
        const locate = hostNetdevOf(roots, d.device.name);
        await returnNetdevToHost({ native, log, snapshot: d.netdev, places: [d.place, ...tmp], locate });
      }
      // A netdev left in the temporary netns returns to the host when it goes (and leaves with a rebind).
      await removeLeftoverTmpNetns(native, d.tmpNetns, log);
      await restoreConfigMac(native, d);
      if (rebound) await rebindBack(native, d, log);
    }
    if (d.deviceInfo !== null) restoreDeviceInfo(d.deviceInfo, log);
  }

  // ---------------------------------------------------------------- del

  /** DEL: IPAM DEL first; then the device from the state if the attachment still owns it; the state last. */
  // The config is not validated: DEL must succeed for one ADD refused, and uses what ADD stored.
  async function del(req: CniRequest): Promise<void> {
    await deleteDeviceAttachment(req, parts, req.conf.ipamType);
  }

  /** GC: one stored attachment that is no longer valid (collectGarbage holds its attachment lock). */
  async function release(state: AttachmentState, req: CniRequest): Promise<void> {
    await releaseDeviceAttachment(state, req, parts);
  }

  // ---------------------------------------------------------------- check

  /** CHECK: the device on the expected driver; vhost: the char device; virtio: the netdev in the pod, IPs, routes. */
  async function check(req: CniRequest): Promise<void> {
    const conf = parseConf(req);
    const p = prevInterfaceOf(req, conf.net);
    requireNetns(req.netns);
    const state = completeStateOf(req, p);
    const d = dataOf(state);
    const name = d.device.name;
    if (conf.deviceID !== name && conf.deviceID.toLowerCase() !== d.device.pciAddress) {
      throw p.mismatch(`it holds vDPA device "${name}", the config names "${conf.deviceID}"`);
    }
    requireOwner(req, parts, deviceKey("vdpa", name), name, p);
    const dev = readVdpaDevice(roots, name);
    if (dev === null) throw p.mismatch(`vDPA device "${name}" no longer exists`);
    if (driverChoiceOf(dev.driver) !== d.driver) {
      throw p.mismatch(
        `vDPA device "${name}" is bound to "${dev.driver ?? "no driver"}", not ${VDPA_KERNEL_DRIVERS[d.driver]}`,
      );
    }
    if (conf.net.ipamType !== undefined) await ipamCheck(req, conf.net.ipamType, state);
    const native = req.deps.native(req.stateDir, req.env);
    if (d.driver === "vhost") {
      const differs = await vhostDiffers(native, dev, d.chardev, p.intf.mac);
      if (differs !== null) throw p.mismatch(differs);
      return;
    }
    const shown = await showPodNetdev(native, req, p);
    const { parentDev } = shown.link;
    if (dev.virtio !== null && parentDev !== null && parentDev !== dev.virtio.name) {
      throw p.mismatch(`it is the netdev of "${parentDev}", not of "${dev.virtio.name}" (vDPA device "${name}")`);
    }
    const differs = netdevDiffers(shown, p, conf.mtu ?? p.intf.mtu);
    if (differs !== null) throw p.mismatch(differs);
  }

  // ---------------------------------------------------------------- status

  /** STATUS: ready when the state dir is writable and the helper works; then IPAM STATUS. */
  async function status(req: CniRequest): Promise<void> {
    parseConf(req);
    await deviceModeStatus(req);
  }

  const parts: DeviceModeParts = { noun: "vDPA device", keyOf, restoreDevice };
  return { name: "vdpa", add, del, check, status, release, restoreDevice };
}

/** The vDPA mode as shipped (devices under /sys/bus/vdpa, nodes under /dev). */
export const vdpa: VdpaMode = createVdpaMode();

/**
 * Host-side reconcile, run by the device plugin at start: restores every vDPA device whose owner's netns
 * no longer exists (netdev, MAC, driver, device-info file), then IPAM DEL from the stored config.
 */
export function reconcileOrphanedVdpa(
  stateDir: string,
  native: NativeClient,
  log: Logger,
  opts: ReconcileOptions & { mode?: VdpaMode } = {},
): Promise<ReconcileReport> {
  const mode = opts.mode ?? vdpa;
  return reconcileOrphans(stateDir, "vdpa", (state) => mode.restoreDevice(state, native, log), log, opts);
}
