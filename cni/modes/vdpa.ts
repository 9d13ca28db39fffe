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
import { randomBytes } from "node:crypto";
import { cmd, type NativeClient, type VdpaDevice } from "../../native/client/index.js";
import {
  deviceModeStatus,
  ipamAdd,
  ipamDel,
  ipamDelFromState,
  newAttachmentState,
  reconcileOrphans,
  releaseDevice,
  requireNetns,
  TrackedUndo,
  withAttachmentLock,
  type ReconcileReport,
} from "../lib/attachment.js";
import { missingAddressOrRoute } from "../lib/check.js";
import { netnsCmd } from "../lib/device-commands.js";
import { restoreDeviceInfo, writeDeviceInfo, type DeviceInfoRecord } from "../lib/device-info.js";
import { cniErrorFromNative, isNotFound } from "../lib/errno.js";
import { CniCode, CniError } from "../lib/errors.js";
import { faultPoint } from "../lib/fault.js";
import { deviceIdFrom, macFrom, optionalChoice } from "../lib/fields.js";
import { lockTimeout } from "../lib/gc.js";
import { callIpam } from "../lib/ipam.js";
import type { Logger } from "../lib/log.js";
import { moveNetdevIn, returnNetdevToHost, type NetdevPlace, type NetdevSnapshot } from "../lib/netdev.js";
import { checkAbsolutePath, invalidConfig, optionalBoolean, optionalInteger, type NetConf } from "../lib/netconf.js";
import {
  claimDevice,
  deviceKey,
  netnsInode,
  OwnerMarkers,
  ownerOf,
  sameAttachment,
  withDeviceLock,
  type DeviceOwner,
} from "../lib/owner.js";
import { parseResult, type Interface, type Result } from "../lib/result.js";
import { StateStore, type AttachmentState } from "../lib/state.js";
import {
  chardevMismatch,
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
import { bindVdpa, setVdpaConfigMac, showVdpa, snapshotVirtioNetdev } from "../lib/vdpa-device.js";
import type { CniRequest } from "../skel/types.js";
import { configureCommands } from "./macvlan.js";
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
  const id = deviceIdFrom(req.conf);
  if (id === undefined) throw invalidConfig("deviceID", "missing (runtimeConfig.deviceID, deviceID or pciBusID)");
  const conf: VdpaConf = { net: req.conf, deviceID: id.value, rebind: optionalBoolean(raw, "rebind") ?? false };
  const driver = optionalChoice(raw, "vdpaDriver", ["vhost", "virtio"] as const);
  if (driver !== undefined) conf.driver = driver;
  const mac = macFrom(req.conf, req.cniArgs);
  if (mac !== undefined) conf.mac = mac;
  const mtu = optionalInteger(raw, "mtu", 0, 65535);
  if (mtu !== undefined && mtu !== 0) {
    if (mtu < 68) throw invalidConfig("mtu", `${mtu} is below the minimum 68`);
    conf.mtu = mtu;
  }
  const info = req.conf.runtimeConfig.CNIDeviceInfoFile;
  if (info !== undefined) conf.deviceInfoFile = checkAbsolutePath(info, "runtimeConfig.CNIDeviceInfoFile");
  return conf;
}

// ---------------------------------------------------------------- state

/** What DEL, CHECK, GC and reconcile need; written before ADD changes anything. */
export interface VdpaData {
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
  deviceInfo: DeviceInfoRecord | null;
  ipamVersion: string | null;
  complete: boolean;
  /** Set when the device was restored without the attachment's DEL (reclaim, reconcile). */
  deviceRestored?: boolean;
}

const dataOf = (state: AttachmentState) => state.data as unknown as VdpaData;

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
  const hostNetdevOf = (name: string) => () => Promise.resolve(readVdpaDevice(roots, name)?.virtio?.netdevs[0] ?? null);

  // ---------------------------------------------------------------- add

  async function add(req: CniRequest): Promise<Result> {
    const conf = parseConf(req);
    const { stateDir } = conf.net;
    const native = req.deps.native(stateDir, req.env);
    const fault = (step: string) => faultPoint(req.env, step);
    requireNetns(req.netns);

    // 1. Which device, its type and drivers: every refusal comes before anything is locked or changed.
    let dev = findVdpaDevice(roots, conf.deviceID);
    let shown = await showVdpa(native, dev.name);
    let { originalDriver, driver } = plan(conf, dev, shown);
    fault("resolve");

    const key = deviceKey("vdpa", dev.name);
    const store = new StateStore(stateDir);
    const markers = new OwnerMarkers(stateDir);
    return withAttachmentLock(req, () =>
      withDeviceLock(stateDir, key, lockTimeout(req), async () => {
        const undo = new TrackedUndo(req.log);
        return undo.guard(async () => {
          // 2. The owner marker (device lock held): a live owner refuses, a stale one's device is restored first.
          const owner = ownerOf(req, conf.net.name);
          let reclaimed = false;
          const reclaim = async (stale: DeviceOwner) => {
            await reclaimFrom(stateDir, stale, native, req.log);
            reclaimed = true;
          };
          const claim = { reclaim, ...(opts.ownerAlive === undefined ? {} : { isAlive: opts.ownerAlive }) };
          if (!(await claimDevice(markers, key, owner, claim))) {
            throw new CniError(
              CniCode.InvalidConfig,
              `Cannot add "${req.containerID}/${req.ifname}": it already holds vDPA device "${dev.name}" (DEL it first)`,
            );
          }
          undo.push(`owner marker of "${key}"`, () => {
            if (!undo.failed) markers.release(key, owner);
            return Promise.resolve();
          });
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
            tmpNetns: driver === "virtio" ? `/run/netns/acn-${randomBytes(6).toString("hex")}` : null,
            chardev: null,
            deviceInfo: null,
            ipamVersion: null,
            complete: false,
          };
          const state = newAttachmentState(req, "vdpa", data);
          const save = () => store.write({ ...state, data: data as unknown as Record<string, unknown> });
          save();
          undo.push(`state of "${req.containerID}/${req.ifname}"`, () => {
            if (!undo.failed) store.remove(req.containerID, req.ifname);
            return Promise.resolve();
          });
          fault("snapshot");

          // 4. The driver the pod expects (only with rebind: true, checked above); undone by binding back.
          if (driver !== originalDriver) {
            undo.push(`driver of vDPA device "${dev.name}"`, () => rebindBack(native, data, req.log));
            dev = await bindVdpa(native, roots, dev.name, driver, appearMs);
          }
          fault("rebind");

          const result: Result = { interfaces: [], ips: [], routes: [], dns: conf.net.dns };
          const intf: Interface = { name: req.ifname, sandbox: req.netns };
          if (driver === "vhost") {
            // 5a. vhost: the MAC in config space, then the device as the workload will see it (ioctls).
            if (conf.mac !== undefined && shown.mac?.toLowerCase() !== conf.mac) {
              undo.push(`MAC of vDPA device "${dev.name}"`, () => restoreConfigMac(native, data));
              data.macSet = true;
              save();
              await setVdpaConfigMac(native, dev.name, shown.mgmtdev, conf.mac);
            }
            fault("config-mac");
            const info = await native.run([cmd.vhostVdpaInfo({ dev: dev.name })]).then(
              ([i]) => i,
              (err: unknown) => {
                throw cniErrorFromNative(err, "read vhost-vdpa device", dev.name);
              },
            );
            if (info.deviceId !== VIRTIO_ID_NET) {
              throw new CniError(
                CniCode.InvalidConfig,
                `Cannot use vDPA device "${dev.name}": "${info.path}" reports virtio device type ${info.deviceId}, not a network device`,
              );
            }
            if (conf.mac !== undefined && info.mac?.toLowerCase() !== conf.mac) {
              throw new CniError(
                CniCode.KernelOperationFailed,
                `Cannot set "mac" ${conf.mac} on vDPA device "${dev.name}": the device reports ${info.mac ?? "no MAC"}`,
              );
            }
            data.chardev = info.path;
            save();
            if (info.mac !== null) intf.mac = info.mac;
            if (info.mtu !== null) intf.mtu = info.mtu;
            intf.socketPath = info.path;
            fault("vhost-info");
          } else {
            // 5b. virtio: the netdev into the pod through a temporary netns, MAC, MTU.
            data.netdev = originalNetdev ?? (await snapshotVirtioNetdev(native, dev)); // a rebind made a new one
            save();
            const link = await moveNetdevIn({
              native,
              undo,
              log: req.log,
              snapshot: data.netdev,
              podNetns: req.netns,
              ifname: req.ifname,
              tmpNetns: data.tmpNetns as string,
              ...(conf.mac === undefined ? {} : { mac: conf.mac }),
              ...(conf.mtu === undefined ? {} : { mtu: conf.mtu }),
              fault,
              locate: hostNetdevOf(dev.name),
            });
            if (link.mac !== null) intf.mac = link.mac;
            intf.mtu = link.mtu;
          }
          if (dev.pciAddress !== null) intf.pciID = dev.pciAddress;
          result.interfaces.push(intf);

          // 6. IPAM; the addresses go on the netdev (virtio) or into the result only (vhost: the app sets them).
          if (conf.net.ipamType !== undefined) data.ipamVersion = await ipamAdd(req, conf.net.ipamType, result, undo);
          fault("ipam");
          if (driver === "virtio") {
            await native.run(configureCommands(req, result, req.log)).catch((err: unknown) => {
              throw cniErrorFromNative(err, `configure interface "${req.ifname}" in netns`, req.netns);
            });
          }
          fault("configure");

          // 7. The Device Information file, then the complete state; the result goes out after it.
          if (conf.deviceInfoFile !== undefined) {
            const record = writeDeviceInfo(conf.deviceInfoFile, {
              type: "vdpa",
              vdpa: {
                "parent-device": dev.name,
                driver,
                ...(data.chardev === null ? {} : { path: data.chardev }),
                ...(dev.pciAddress === null ? {} : { "pci-address": dev.pciAddress }),
                ...(dev.pfPciAddress === null ? {} : { "pf-pci-address": dev.pfPciAddress }),
              },
            });
            data.deviceInfo = record;
            undo.push(`device info file "${record.path}"`, () => Promise.resolve(restoreDeviceInfo(record)));
          }
          fault("device-info");
          data.complete = true;
          store.write({ ...state, result, data: data as unknown as Record<string, unknown> });
          fault("done");
          req.log.info(`added vDPA device "${dev.name}" (${driver}) as "${req.ifname}"`);
          return result;
        });
      }),
    );
  }

  /** The config-space MAC back to what ADD found, when ADD changed it and it differs now. */
  async function restoreConfigMac(native: NativeClient, d: VdpaData): Promise<void> {
    if (!d.macSet || d.originalMac === null) return;
    const now = await showVdpa(native, d.device.name);
    if (now.mac?.toLowerCase() === d.originalMac.toLowerCase()) return;
    await setVdpaConfigMac(native, d.device.name, d.mgmtdev, d.originalMac);
  }

  /** The driver back to the original one, and (original virtio) the new netdev made as the old one was. */
  async function rebindBack(native: NativeClient, d: VdpaData, log: Logger): Promise<void> {
    const now = readVdpaDevice(roots, d.device.name);
    if (now === null) return;
    if (driverChoiceOf(now.driver) !== d.originalDriver)
      await bindVdpa(native, roots, d.device.name, d.originalDriver, appearMs);
    if (d.originalNetdev !== null) {
      const locate = hostNetdevOf(d.device.name);
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
        const locate = hostNetdevOf(d.device.name);
        await returnNetdevToHost({ native, log, snapshot: d.netdev, places: [d.place, ...tmp], locate });
      }
      // A netdev left in the temporary netns returns to the host when it goes (and leaves with a rebind).
      if (d.tmpNetns !== null && netnsInode(d.tmpNetns) !== null) {
        await native.run([netnsCmd.delete({ path: d.tmpNetns })]).catch(() => undefined);
      }
      await restoreConfigMac(native, d);
      if (rebound) await rebindBack(native, d, log);
    }
    if (d.deviceInfo !== null) restoreDeviceInfo(d.deviceInfo);
  }

  /** A stale owner (its netns is gone) loses the device; its state stays for its own IPAM DEL. */
  async function reclaimFrom(stateDir: string, stale: DeviceOwner, native: NativeClient, log: Logger) {
    log.warning(`reclaiming a vDPA device from "${stale.containerID}/${stale.ifname}": netns "${stale.netns}" is gone`);
    const store = new StateStore(stateDir);
    const state = store.read(stale.containerID, stale.ifname);
    if (state === null || state.data["deviceRestored"] === true) return;
    await restoreDevice(state, native, log);
    store.write({ ...state, data: { ...state.data, deviceRestored: true } });
  }

  // ---------------------------------------------------------------- del

  /** DEL: IPAM DEL first; then the device from the state if the attachment still owns it; the state last. */
  async function del(req: CniRequest): Promise<void> {
    const conf = parseConf(req);
    const native = req.deps.native(conf.net.stateDir, req.env);
    const store = new StateStore(conf.net.stateDir);
    await withAttachmentLock(req, async () => {
      const state = store.read(req.containerID, req.ifname);
      const ipam: { error?: Error } = {};
      if (conf.net.ipamType !== undefined) {
        const known = state?.cniVersion === req.cniVersion ? dataOf(state).ipamVersion : null;
        await ipamDel(conf.net.ipamType, req.stdin, req.env, req.log, req.cniVersion, known).catch((err: unknown) => {
          ipam.error = err instanceof Error ? err : new Error(String(err)); // the device is still restored; DEL is retried
        });
      }
      if (state !== null) {
        const key = deviceKey("vdpa", dataOf(state).device.name);
        await releaseDevice(conf.net.stateDir, key, state, lockTimeout(req), () =>
          restoreDevice(state, native, req.log),
        );
      }
      if (ipam.error !== undefined) throw ipam.error;
      store.remove(req.containerID, req.ifname); // only after the restore succeeded
    });
  }

  /** GC: one stored attachment that is no longer valid (collectGarbage holds its attachment lock). */
  async function release(state: AttachmentState, req: CniRequest): Promise<void> {
    const native = req.deps.native(req.conf.stateDir, req.env);
    await ipamDelFromState(state, req.env, req.log);
    const key = deviceKey("vdpa", dataOf(state).device.name);
    await releaseDevice(req.conf.stateDir, key, state, lockTimeout(req), () => restoreDevice(state, native, req.log));
    new StateStore(req.conf.stateDir).remove(state.containerID, state.ifname);
  }

  // ---------------------------------------------------------------- check

  /** CHECK: the device on the expected driver; vhost: the char device; virtio: the netdev in the pod, IPs, routes. */
  async function check(req: CniRequest): Promise<void> {
    const conf = parseConf(req);
    const mismatch = (why: string) =>
      new CniError(CniCode.CheckMismatch, `Cannot check interface "${req.ifname}": ${why}`);
    if (conf.net.prevResult === undefined) throw invalidConfig("prevResult", "missing (CHECK needs it)");
    const prev = parseResult(conf.net.prevResult, req.cniVersion);
    const index = prev.interfaces.findIndex((i) => i.name === req.ifname && i.sandbox === req.netns);
    const intf = prev.interfaces[index];
    if (intf === undefined) throw mismatch(`prevResult has no interface "${req.ifname}" in netns "${req.netns}"`);
    requireNetns(req.netns);
    const state = new StateStore(conf.net.stateDir).read(req.containerID, req.ifname);
    if (state === null || !dataOf(state).complete) throw mismatch("accelnet has no complete state for it");
    const d = dataOf(state);
    const name = d.device.name;
    if (conf.deviceID !== name && conf.deviceID.toLowerCase() !== d.device.pciAddress) {
      throw mismatch(`it holds vDPA device "${name}", the config names "${conf.deviceID}"`);
    }
    const owner = new OwnerMarkers(conf.net.stateDir).read(deviceKey("vdpa", name));
    if (owner === null || !sameAttachment(owner, req)) throw mismatch(`it no longer owns vDPA device "${name}"`);
    const dev = readVdpaDevice(roots, name);
    if (dev === null) throw mismatch(`vDPA device "${name}" no longer exists`);
    if (driverChoiceOf(dev.driver) !== d.driver) {
      throw mismatch(
        `vDPA device "${name}" is bound to "${dev.driver ?? "no driver"}", not ${VDPA_KERNEL_DRIVERS[d.driver]}`,
      );
    }
    if (conf.net.ipamType !== undefined) {
      const ipamCheck = { type: conf.net.ipamType, command: "CHECK" as const, stdin: req.stdin, env: req.env };
      await callIpam({ ...ipamCheck, log: req.log }, req.cniVersion);
    }
    const native = req.deps.native(conf.net.stateDir, req.env);
    if (d.driver === "vhost") {
      // Never open the char device here: the workload holds it, and opening resets the device.
      if (dev.chardev === null) throw mismatch(`vDPA device "${name}" has no vhost-vdpa char device`);
      if (dev.chardev.path !== d.chardev)
        throw mismatch(`its char device is "${dev.chardev.path}", ADD had "${d.chardev}"`);
      const bad = chardevMismatch(dev.chardev);
      if (bad !== null) throw mismatch(bad);
      const now = await showVdpa(native, name);
      if (intf.mac !== undefined && now.mac !== null && now.mac.toLowerCase() !== intf.mac.toLowerCase()) {
        throw mismatch(`MAC of vDPA device "${name}" is ${now.mac}, prevResult says ${intf.mac}`);
      }
      return;
    }
    let shown;
    try {
      [shown] = await native.run([cmd.linkShow({ netns: req.netns, name: req.ifname, addrs: true, routes: true })]);
    } catch (err) {
      if (isNotFound(err)) throw mismatch(`no such interface in netns "${req.netns}"`);
      throw cniErrorFromNative(err, `show interface "${req.ifname}" in netns`, req.netns);
    }
    const { link } = shown;
    if (dev.virtio !== null && link.parentDev !== null && link.parentDev !== dev.virtio.name) {
      throw mismatch(`it is the netdev of "${link.parentDev}", not of "${dev.virtio.name}" (vDPA device "${name}")`);
    }
    if (intf.mac !== undefined && intf.mac.toLowerCase() !== link.mac?.toLowerCase()) {
      throw mismatch(`MAC is ${link.mac ?? "none"}, prevResult says ${intf.mac}`);
    }
    const mtu = conf.mtu ?? intf.mtu;
    if (mtu !== undefined && link.mtu !== mtu) throw mismatch(`MTU is ${link.mtu}, expected ${mtu}`);
    const missing = missingAddressOrRoute(prev, index, shown.addrs ?? [], shown.routes ?? []);
    if (missing !== null) throw mismatch(missing);
  }

  // ---------------------------------------------------------------- status

  /** STATUS: ready when the state dir is writable and the helper works; then IPAM STATUS. */
  async function status(req: CniRequest): Promise<void> {
    parseConf(req);
    await deviceModeStatus(req, req.deps.native(req.conf.stateDir, req.env));
  }

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
  opts: {
    env?: Readonly<Record<string, string | undefined>>;
    mode?: VdpaMode;
    isAlive?: (o: DeviceOwner) => boolean;
  } = {},
): Promise<ReconcileReport> {
  const mode = opts.mode ?? vdpa;
  return reconcileOrphans({
    stateDir,
    bus: "vdpa",
    log,
    env: opts.env ?? {},
    restore: (state) => mode.restoreDevice(state, native, log),
    ...(opts.isAlive === undefined ? {} : { isAlive: opts.isAlive }),
  });
}
