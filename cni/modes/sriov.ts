// SR-IOV mode: a VF for the pod, as a kernel netdev moved into its netns, or (VF bound to vfio-pci,
// uio_pci_generic or igb_uio) as a DPDK device that the device plugin injects, with only IPAM here.
// Field names are sriov-cni's. ADD snapshots everything DEL restores and writes it to the state before
// the first change; every change pushes its undo at once; any failure unwinds in reverse.
//
// ADD steps (names for ACCELNET_TEST_FAULT; each fault fires right after its step succeeded):
//   resolve, lock, snapshot, vf-mac, vf-vlan, vf-spoofchk, vf-trust, vf-link_state, vf-rate,
//   kernel mode only: tmp-netns, move-tmp, altname, move-pod, mac, mtu;
//   then ipam, configure (kernel mode), device-info, done.
import { randomBytes } from "node:crypto";
import { cmd, type Link, type NativeClient, type Vf } from "../../native/client/index.js";
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
import { restoreDeviceInfo, writeDeviceInfo, type DeviceInfoRecord } from "../lib/device-info.js";
import { cniErrorFromNative, isNotFound } from "../lib/errno.js";
import { CniCode, CniError } from "../lib/errors.js";
import { faultPoint } from "../lib/fault.js";
import { checkPciAddress, deviceIdFrom, macFrom, optionalChoice } from "../lib/fields.js";
import { lockTimeout } from "../lib/gc.js";
import { callIpam } from "../lib/ipam.js";
import type { Logger } from "../lib/log.js";
import {
  deleteTmpNetns,
  moveNetdevIn,
  returnNetdevToHost,
  snapshotNetdev,
  type NetdevPlace,
  type NetdevSnapshot,
} from "../lib/netdev.js";
import { checkAbsolutePath, invalidConfig, optionalInteger, type NetConf } from "../lib/netconf.js";
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
import { parseResult, type Result } from "../lib/result.js";
import { StateStore, type AttachmentState } from "../lib/state.js";
import {
  applyVfSetting,
  DPDK_DRIVERS,
  helperVfPlatform,
  restoreVfSettings,
  settingInEffect,
  VF_SETTING_ORDER,
  wantedSetting,
  type VfIdentity,
  type VfPlatform,
  type VfSettingName,
  type VfSettings,
} from "../lib/vf.js";
import type { CniRequest } from "../skel/types.js";
import { configureCommands } from "./macvlan.js";
import type { Mode } from "./mode.js";

export interface SriovConf {
  net: NetConf;
  /** The VF's PCI address (runtimeConfig.deviceID, deviceID, pciBusID: first set). */
  deviceID: string;
  settings: VfSettings;
  /** MTU of the VF netdev in the pod (kernel mode); undefined keeps the VF's. */
  mtu?: number;
  deviceInfoFile?: string;
}

// ---------------------------------------------------------------- parseConf

export function parseConf(req: Pick<CniRequest, "conf" | "cniArgs">): SriovConf {
  const raw = req.conf.raw;
  const id = deviceIdFrom(req.conf);
  if (id === undefined) throw invalidConfig("deviceID", "missing (runtimeConfig.deviceID, deviceID or pciBusID)");
  const deviceID = checkPciAddress(id.value, id.field);
  const s: VfSettings = {};
  const mac = macFrom(req.conf, req.cniArgs);
  if (mac !== undefined) s.mac = mac;
  const vlan = optionalInteger(raw, "vlan", 0, 4094);
  if (vlan !== undefined) s.vlan = vlan;
  const qos = optionalInteger(raw, "vlanQoS", 0, 7);
  if (qos !== undefined) {
    if (qos !== 0 && (vlan ?? 0) === 0) throw invalidConfig("vlanQoS", `${qos} needs a non-zero "vlan"`);
    s.vlanQoS = qos;
  }
  const proto = optionalChoice(raw, "vlanProto", ["802.1q", "802.1ad"] as const, true);
  if (proto !== undefined) {
    if (proto === "802.1ad" && (vlan ?? 0) === 0)
      throw invalidConfig("vlanProto", `"${proto}" needs a non-zero "vlan"`);
    s.vlanProto = proto;
  }
  // sriov-cni treats anything but "on" as off; a typo must not silently turn spoof checking off.
  const spoofchk = optionalChoice(raw, "spoofchk", ["on", "off"] as const);
  if (spoofchk !== undefined) s.spoofchk = spoofchk === "on";
  const trust = optionalChoice(raw, "trust", ["on", "off"] as const);
  if (trust !== undefined) s.trust = trust === "on";
  const linkState = optionalChoice(raw, "link_state", ["auto", "enable", "disable"] as const);
  if (linkState !== undefined) s.linkState = linkState;
  const min = optionalInteger(raw, "min_tx_rate", 0, 2 ** 32 - 1);
  const max = optionalInteger(raw, "max_tx_rate", 0, 2 ** 32 - 1);
  if (min !== undefined && max !== undefined && max !== 0 && min > max) {
    throw invalidConfig("min_tx_rate", `${min} is above max_tx_rate ${max}`);
  }
  if (min !== undefined) s.minTxRate = min;
  if (max !== undefined) s.maxTxRate = max;

  const conf: SriovConf = { net: req.conf, deviceID, settings: s };
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
export interface SriovData {
  attach: "kernel" | "dpdk";
  vf: Omit<VfIdentity, "netdevs">;
  /** The VF as the PF reported it before ADD. */
  vfSnapshot: Vf;
  /** Settings ADD applies (restored when they differ from the snapshot; the admin MAC always). */
  planned: VfSettingName[];
  netdev: NetdevSnapshot | null;
  /** Where ADD puts the netdev, and its temporary netns on the way. */
  place: NetdevPlace | null;
  tmpNetns: string | null;
  deviceInfo: DeviceInfoRecord | null;
  ipamVersion: string | null;
  complete: boolean;
  /** Set when the device was restored without the attachment's DEL (reclaim, reconcile). */
  deviceRestored?: boolean;
}

const dataOf = (state: AttachmentState) => state.data as unknown as SriovData;

function classify(vf: VfIdentity): "kernel" | "dpdk" {
  if (vf.netdevs.length > 0) return "kernel";
  if (vf.driver !== null && (DPDK_DRIVERS as readonly string[]).includes(vf.driver)) return "dpdk";
  throw new CniError(
    CniCode.InvalidConfig,
    `Cannot use VF "${vf.addr}": it has no netdev in the host netns and is bound to ` +
      `${vf.driver === null ? "no driver" : `"${vf.driver}"`} (not ${DPDK_DRIVERS.join(", ")})`,
  );
}

// ---------------------------------------------------------------- the mode

export interface SriovMode extends Mode {
  /** Restores the VF of one stored attachment (DEL, GC, reclaim and reconcile call it under the device lock). */
  restoreDevice(state: AttachmentState, native: NativeClient, log: Logger): Promise<void>;
}

export interface SriovOptions {
  /** How VFs are reached (default: the helper; tests stand a veth in for a VF). */
  platform?: VfPlatform;
  /** Whether an owner's netns still exists (default: an nsfs mount with the same inode). */
  ownerAlive?: (owner: DeviceOwner) => boolean;
}

export function createSriovMode(opts: SriovOptions = {}): SriovMode {
  const platform = opts.platform ?? helperVfPlatform;
  const locateBy = (native: NativeClient, addr: string) => async () =>
    (await platform.lookup(native, addr)).netdevs[0] ?? null;
  const ownsBy = (addr: string) => (link: Link) =>
    platform.owns === undefined ? link.parentDev === addr : platform.owns(link, addr);

  // ---------------------------------------------------------------- add

  async function add(req: CniRequest): Promise<Result> {
    const conf = parseConf(req);
    const { stateDir } = conf.net;
    const native = req.deps.native(stateDir, req.env);
    const fault = (step: string) => faultPoint(req.env, step);
    requireNetns(req.netns);
    const key = deviceKey("pci", conf.deviceID);
    const store = new StateStore(stateDir);
    const markers = new OwnerMarkers(stateDir);
    return withAttachmentLock(req, () =>
      withDeviceLock(stateDir, key, lockTimeout(req), async () => {
        const undo = new TrackedUndo(req.log);
        return undo.guard(async () => {
          // 1. Which VF: its PF netdev and VF index (kernel or DPDK mode is decided once it is ours).
          let vf = await platform.lookup(native, conf.deviceID);
          fault("resolve");

          // 2. The owner marker (device lock held): a live owner refuses, a stale one's VF is restored first.
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
              `Cannot add "${req.containerID}/${req.ifname}": it already holds VF "${vf.addr}" (DEL it first)`,
            );
          }
          undo.push(`owner marker of "${key}"`, () => {
            if (!undo.failed) markers.release(key, owner);
            return Promise.resolve();
          });
          if (reclaimed) vf = await platform.lookup(native, conf.deviceID);
          const attach = classify(vf);
          if (attach === "dpdk" && conf.mtu !== undefined) {
            throw invalidConfig("mtu", `applies to a VF netdev; VF "${vf.addr}" is bound to "${vf.driver}"`);
          }
          fault("lock");

          // 3. Snapshot before any change, written to the state with the mode (kernel or DPDK).
          const vfSnapshot = await platform.showVf(native, vf);
          let netdev: NetdevSnapshot | null = null;
          if (attach === "kernel") {
            const name = vf.netdevs[0] as string;
            const [{ link }] = await native.run([cmd.linkShow({ name })]).catch((err: unknown) => {
              throw cniErrorFromNative(err, "show VF netdev", name);
            });
            netdev = snapshotNetdev(link);
          }
          const { netdevs: _hostNames, ...identity } = vf;
          const data: SriovData = {
            attach,
            vf: identity,
            vfSnapshot,
            planned: VF_SETTING_ORDER.filter((n) => n === "mac" || wantedSetting(conf.settings, n) !== undefined),
            netdev,
            place: attach === "kernel" ? { netns: req.netns, name: req.ifname } : null,
            tmpNetns: attach === "kernel" ? `/run/netns/acn-${randomBytes(6).toString("hex")}` : null,
            deviceInfo: null,
            ipamVersion: null,
            complete: false,
          };
          const state = newAttachmentState(req, "sriov", data);
          store.write(state);
          undo.push(`state of "${req.containerID}/${req.ifname}"`, () => {
            if (!undo.failed) store.remove(req.containerID, req.ifname);
            return Promise.resolve();
          });
          fault("snapshot");

          // 4. VF settings through the PF, one per helper command, each read back (the MAC compared).
          for (const name of VF_SETTING_ORDER) {
            const setting = wantedSetting(conf.settings, name);
            if (setting === undefined) continue;
            await applyVfSetting(platform, native, vf, setting);
            undo.push(`VF ${vf.index} "${name}" on "${vf.pfNetdev}"`, async () => {
              await restoreVfSettings(platform, native, vf, vfSnapshot, [name], req.log);
            });
            fault(`vf-${name}`);
          }

          // 5. Kernel mode: the netdev into the pod through a temporary netns, MAC, MTU. DPDK: no netdev.
          const result: Result = { interfaces: [], ips: [], routes: [], dns: conf.net.dns };
          let mac: string | undefined = conf.settings.mac ?? nonZero(vfSnapshot.mac);
          let mtu: number | undefined = undefined;
          if (netdev !== null) {
            const link = await moveNetdevIn({
              native,
              undo,
              log: req.log,
              snapshot: netdev,
              podNetns: req.netns,
              ifname: req.ifname,
              tmpNetns: data.tmpNetns as string,
              ...(conf.settings.mac === undefined ? {} : { mac: conf.settings.mac }),
              ...(conf.mtu === undefined ? {} : { mtu: conf.mtu }),
              fault,
              locate: locateBy(native, vf.addr),
              owns: ownsBy(vf.addr),
            });
            mac = link.mac ?? undefined;
            mtu = link.mtu;
          }
          result.interfaces.push({
            name: req.ifname,
            ...(mac === undefined ? {} : { mac }),
            ...(mtu === undefined ? {} : { mtu }),
            sandbox: req.netns,
            pciID: vf.addr,
          });
          if (conf.net.ipamType !== undefined) data.ipamVersion = await ipamAdd(req, conf.net.ipamType, result, undo);
          fault("ipam");
          if (netdev !== null) {
            // arp_notify/ndisc_notify, addresses, up, routes: their effects leave with the netdev.
            await native.run(configureCommands(req, result, req.log)).catch((err: unknown) => {
              throw cniErrorFromNative(err, `configure interface "${req.ifname}" in netns`, req.netns);
            });
          }
          fault("configure");

          // 6. The Device Information file, then the complete state; the result goes out after it.
          if (conf.deviceInfoFile !== undefined) {
            const info = { type: "pci" as const, pci: { "pci-address": vf.addr, "pf-pci-address": vf.pfAddr } };
            const record = writeDeviceInfo(conf.deviceInfoFile, info);
            data.deviceInfo = record;
            undo.push(`device info file "${record.path}"`, () => Promise.resolve(restoreDeviceInfo(record)));
          }
          fault("device-info");
          data.complete = true;
          store.write({ ...state, result, data: data as unknown as Record<string, unknown> });
          fault("done");
          req.log.info(`added VF "${vf.addr}" (${attach}; VF ${vf.index} of "${vf.pfNetdev}") as "${req.ifname}"`);
          return result;
        });
      }),
    );
  }

  /** The VF back as the snapshot had it: netdev to the host first, then the PF-side settings. */
  async function restoreDevice(state: AttachmentState, native: NativeClient, log: Logger): Promise<void> {
    const d = dataOf(state);
    let vf: VfIdentity;
    try {
      vf = await platform.lookup(native, d.vf.addr);
    } catch (err) {
      if (!(err instanceof CniError && isNotFound(err.cause))) throw err;
      log.warning(`VF "${d.vf.addr}" no longer exists: nothing to restore`);
      return;
    }
    if (d.netdev !== null && d.place !== null) {
      const tmp: NetdevPlace[] = d.tmpNetns === null ? [] : [{ netns: d.tmpNetns, name: d.place.name }];
      const locate = locateBy(native, d.vf.addr);
      const places = [d.place, ...tmp];
      await returnNetdevToHost({ native, log, snapshot: d.netdev, places, locate, owns: ownsBy(d.vf.addr) });
      if (d.tmpNetns !== null && netnsInode(d.tmpNetns) !== null) await deleteTmpNetns(native, d.tmpNetns);
    }
    await restoreVfSettings(platform, native, vf, d.vfSnapshot, d.planned, log);
    if (d.deviceInfo !== null) restoreDeviceInfo(d.deviceInfo);
  }

  /** A stale owner (its netns is gone) loses the VF; its state stays for its own IPAM DEL. */
  async function reclaimFrom(stateDir: string, stale: DeviceOwner, native: NativeClient, log: Logger) {
    log.warning(`reclaiming a VF from "${stale.containerID}/${stale.ifname}": netns "${stale.netns}" is gone`);
    const store = new StateStore(stateDir);
    const state = store.read(stale.containerID, stale.ifname);
    if (state === null || state.data["deviceRestored"] === true) return;
    await restoreDevice(state, native, log);
    store.write({ ...state, data: { ...state.data, deviceRestored: true } });
  }

  // ---------------------------------------------------------------- del

  /** DEL: IPAM DEL first; then the VF from the state if the attachment still owns it; the state last. */
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
          ipam.error = err instanceof Error ? err : new Error(String(err)); // the VF is still restored; the error makes the runtime retry DEL
        });
      }
      if (state !== null) {
        const key = deviceKey("pci", dataOf(state).vf.addr);
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
    const key = deviceKey("pci", dataOf(state).vf.addr);
    await releaseDevice(req.conf.stateDir, key, state, lockTimeout(req), () => restoreDevice(state, native, req.log));
    new StateStore(req.conf.stateDir).remove(state.containerID, state.ifname);
  }

  // ---------------------------------------------------------------- check

  /** CHECK: the netdev in the pod as ADD left it (DPDK: the VF on its driver), the PF settings, IPs, routes. */
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
    if (d.vf.addr !== conf.deviceID) throw mismatch(`it holds VF "${d.vf.addr}", the config names "${conf.deviceID}"`);
    const owner = new OwnerMarkers(conf.net.stateDir).read(deviceKey("pci", d.vf.addr));
    if (owner === null || !sameAttachment(owner, req)) throw mismatch(`it no longer owns VF "${d.vf.addr}"`);
    if (conf.net.ipamType !== undefined) {
      const ipamCheck = { type: conf.net.ipamType, command: "CHECK" as const, stdin: req.stdin, env: req.env };
      await callIpam({ ...ipamCheck, log: req.log }, req.cniVersion);
    }
    const native = req.deps.native(conf.net.stateDir, req.env);
    const vf = await platform.lookup(native, d.vf.addr);
    if (d.attach === "dpdk" && vf.driver !== d.vf.driver) {
      throw mismatch(`VF "${vf.addr}" is bound to "${vf.driver ?? "no driver"}", ADD found "${d.vf.driver}"`);
    }
    if (d.attach === "kernel") {
      let shown;
      try {
        [shown] = await native.run([cmd.linkShow({ netns: req.netns, name: req.ifname, addrs: true, routes: true })]);
      } catch (err) {
        if (isNotFound(err)) throw mismatch(`no such interface in netns "${req.netns}"`);
        throw cniErrorFromNative(err, `show interface "${req.ifname}" in netns`, req.netns);
      }
      const { link } = shown;
      if (link.parentDev !== null && link.parentDev !== vf.addr)
        throw mismatch(`it is "${link.parentDev}", not "${vf.addr}"`);
      if (intf.mac !== undefined && intf.mac.toLowerCase() !== link.mac?.toLowerCase()) {
        throw mismatch(`MAC is ${link.mac ?? "none"}, prevResult says ${intf.mac}`);
      }
      const mtu = conf.mtu ?? intf.mtu;
      if (mtu !== undefined && link.mtu !== mtu) throw mismatch(`MTU is ${link.mtu}, expected ${mtu}`);
      const missing = missingAddressOrRoute(prev, index, shown.addrs ?? [], shown.routes ?? []);
      if (missing !== null) throw mismatch(missing);
    }
    const now = await platform.showVf(native, vf);
    for (const name of VF_SETTING_ORDER) {
      const wanted = wantedSetting(conf.settings, name);
      if (wanted !== undefined && !settingInEffect(now, wanted)) {
        throw mismatch(`VF ${vf.index} of "${vf.pfNetdev}" has ${JSON.stringify(now)}, not ${JSON.stringify(wanted)}`);
      }
    }
  }

  // ---------------------------------------------------------------- status

  /** STATUS: ready when the state dir is writable and the helper works; then IPAM STATUS. */
  async function status(req: CniRequest): Promise<void> {
    parseConf(req);
    await deviceModeStatus(req, req.deps.native(req.conf.stateDir, req.env));
  }

  return { name: "sriov", add, del, check, status, release, restoreDevice };
}

function nonZero(mac: string): string | undefined {
  return mac === "00:00:00:00:00:00" ? undefined : mac;
}

/** The SR-IOV mode as shipped (VFs through the helper). */
export const sriov: SriovMode = createSriovMode();

/**
 * Host-side reconcile, run by the device plugin at start: restores every VF whose owner's netns no
 * longer exists (netdev, PF settings, device-info file), then IPAM DEL from the stored config (with
 * `env` PATH and CNI_PATH; the stored CNI_PATH when env has none).
 */
export function reconcileOrphanedVfs(
  stateDir: string,
  native: NativeClient,
  log: Logger,
  opts: {
    env?: Readonly<Record<string, string | undefined>>;
    mode?: SriovMode;
    isAlive?: (o: DeviceOwner) => boolean;
  } = {},
): Promise<ReconcileReport> {
  const mode = opts.mode ?? sriov;
  const restore = (state: AttachmentState) => mode.restoreDevice(state, native, log);
  return reconcileOrphans({
    stateDir,
    bus: "pci",
    log,
    env: opts.env ?? {},
    restore,
    ...(opts.isAlive === undefined ? {} : { isAlive: opts.isAlive }),
  });
}
