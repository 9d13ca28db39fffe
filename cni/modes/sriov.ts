// SR-IOV mode: a VF for the pod, as a kernel netdev moved into its netns, or (VF bound to vfio-pci,
// uio_pci_generic or igb_uio) as a DPDK device that the device plugin injects, with only IPAM here.
// Field names are sriov-cni's. ADD snapshots everything DEL restores and writes it to the state before
// the first change; every change pushes its undo at once; any failure unwinds in reverse.
//
// ADD steps (names for ACCELNET_TEST_FAULT; each fault fires right after its step succeeded):
//   resolve, lock, snapshot, vf-mac, vf-vlan, vf-spoofchk, vf-trust, vf-link_state, vf-rate,
//   kernel mode only: tmp-netns, move-tmp, altname, move-pod, mac, mtu;
//   then ipam, configure (kernel mode), device-info, done. An IPAM plugin that only books addresses
//   (host-local, static) runs beside the steps from vf-mac to mtu; `ipam` fires once both have ended.
import { cmd, type Link, type NativeClient, type Vf } from "../../native/client/index.js";
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
import { cniErrorFromNative, isNotFound } from "../lib/errno.js";
import { CniCode, CniError } from "../lib/errors.js";
import { faultPoint } from "../lib/fault.js";
import { checkPciAddress, macFrom, optionalChoice, optionalMtu, requiredDeviceId } from "../lib/fields.js";
import { lockTimeout } from "../lib/gc.js";
import type { Logger } from "../lib/log.js";
import {
  removeLeftoverTmpNetns,
  moveNetdevIn,
  newTmpNetnsPath,
  returnNetdevToHost,
  snapshotNetdev,
  type NetdevPlace,
  type NetdevSnapshot,
} from "../lib/netdev.js";
import { invalidConfig, optionalInteger, type NetConf } from "../lib/netconf.js";
import { deviceKey, withDeviceLock, type DeviceOwner } from "../lib/owner.js";
import type { Result } from "../lib/result.js";
import type { AttachmentState } from "../lib/state.js";
import {
  applyVfSettings,
  DPDK_DRIVERS,
  helperVfPlatform,
  pfMtu,
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
  const id = requiredDeviceId(req.conf);
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
  const mtu = optionalMtu(raw);
  if (mtu !== undefined) conf.mtu = mtu;
  const info = req.conf.runtimeConfig.CNIDeviceInfoFile; // its place is checked (trusted-paths.ts)
  if (info !== undefined) conf.deviceInfoFile = info;
  return conf;
}

// ---------------------------------------------------------------- state

/** What DEL, CHECK, GC and reconcile need; written before ADD changes anything. */
export interface SriovData extends DeviceData {
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
}

const dataOf = (state: AttachmentState) => state.data as unknown as SriovData;
const keyOf = (state: AttachmentState) => deviceKey("pci", dataOf(state).vf.addr);

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
    const native = req.deps.native(req.stateDir, req.env);
    const fault = (step: string) => faultPoint(req.env, step);
    requireNetns(req.netns);
    const key = deviceKey("pci", conf.deviceID);
    return withAttachmentLock(req, () =>
      withDeviceLock(req.stateDir, key, lockTimeout(req), async () => {
        const undo = new TrackedUndo(req.log);
        return undo.guard(async () => {
          // 1. Which VF: its PF netdev and VF index (kernel or DPDK mode is decided once it is ours).
          let vf = await platform.lookup(native, conf.deviceID);
          fault("resolve");

          // 2. The owner marker (device lock held): a live owner refuses, a stale one's VF is restored first.
          const claim = { req, key, id: vf.addr, undo, native, parts, isAlive: opts.ownerAlive };
          if (await claimForAdd(claim)) vf = await platform.lookup(native, conf.deviceID);
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
            const [{ link, addrs }] = await native.run([cmd.linkShow({ name, addrs: true })]).catch((err: unknown) => {
              throw cniErrorFromNative(err, "show VF netdev", name);
            });
            netdev = snapshotNetdev(link, addrs ?? []);
          }
          const { netdevs: _hostNames, ...identity } = vf;
          const data: SriovData = {
            attach,
            vf: identity,
            vfSnapshot,
            planned: VF_SETTING_ORDER.filter((n) => n === "mac" || wantedSetting(conf.settings, n) !== undefined),
            netdev,
            place: attach === "kernel" ? { netns: req.netns, name: req.ifname } : null,
            tmpNetns: attach === "kernel" ? newTmpNetnsPath() : null,
            deviceInfo: null,
            ipamVersion: null,
            complete: false,
          };
          const record = recordState(req, "sriov", data, undo);
          fault("snapshot");

          // 4. VF settings through the PF, in one round trip, each read back (the MAC compared). The undo
          //    is pushed first: it compares with the snapshot, so it also covers the settings of a batch
          //    that stopped half-way (or whose helper died) and leaves the others alone.
          // 5. Kernel mode: the netdev into the pod through a temporary netns, MAC, MTU. DPDK: no netdev.
          const setUpVf = async (): Promise<{ mac?: string | undefined; mtu?: number | undefined }> => {
            const wanted = VF_SETTING_ORDER.flatMap((name) => {
              const setting = wantedSetting(conf.settings, name);
              return setting === undefined ? [] : [{ name, setting }];
            });
            if (wanted.length > 0) {
              const names = wanted.map((w) => w.name);
              undo.push(`VF ${vf.index} ${names.join(", ")} on "${vf.pfNetdev}"`, async () => {
                await restoreVfSettings(platform, native, vf, vfSnapshot, names, req.log);
              });
              await applyVfSettings(
                platform,
                native,
                vf,
                wanted.map((w) => w.setting),
              );
            }
            for (const { name } of wanted) fault(`vf-${name}`);
            if (netdev === null)
              return { mac: conf.settings.mac ?? nonZero(vfSnapshot.mac), mtu: await pfMtu(native, vf) };
            const link = await moveNetdevIn({
              native,
              undo,
              log: req.log,
              snapshot: netdev,
              podNetns: req.netns,
              ifname: req.ifname,
              tmpNetns: data.tmpNetns as string,
              mac: conf.settings.mac,
              mtu: conf.mtu,
              fault,
              locate: locateBy(native, vf.addr),
              owns: ownsBy(vf.addr),
            });
            return { mac: link.mac ?? undefined, mtu: link.mtu };
          };

          // 4-5, then IPAM ADD; beside them when the plugin only books addresses (attachment.ts). Its undo
          // is IPAM DEL.
          const result: Result = { interfaces: [], ips: [], routes: [], dns: conf.net.dns };
          const [{ mac, mtu }, ipamVersion] = await ipamAddBeside(req, conf.net.ipamType, result, undo, true, setUpVf);
          data.ipamVersion = ipamVersion;
          result.interfaces.push({
            name: req.ifname,
            ...(mac === undefined ? {} : { mac }),
            ...(mtu === undefined ? {} : { mtu }),
            sandbox: req.netns,
            pciID: vf.addr,
          });
          fault("ipam");
          // arp_notify/ndisc_notify, addresses, up, routes: their effects leave with the netdev.
          if (netdev !== null) await configureInterface(native, req, result);
          fault("configure");

          // 6. The Device Information file, then the complete state; the result goes out after it.
          if (conf.deviceInfoFile !== undefined) {
            const info = { type: "pci" as const, pci: { "pci-address": vf.addr, "pf-pci-address": vf.pfAddr } };
            addDeviceInfo(req, conf.deviceInfoFile, info, undo, (kept) => {
              data.deviceInfo = kept;
              record.save();
            });
          }
          fault("device-info");
          record.complete(result);
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
      await removeLeftoverTmpNetns(native, d.tmpNetns, log);
    }
    await restoreVfSettings(platform, native, vf, d.vfSnapshot, d.planned, log);
    if (d.deviceInfo !== null) restoreDeviceInfo(d.deviceInfo, log);
  }

  // ---------------------------------------------------------------- del

  /** DEL: IPAM DEL first; then the VF from the state if the attachment still owns it; the state last. */
  // The config is not validated: DEL must succeed for one ADD refused, and uses what ADD stored.
  async function del(req: CniRequest): Promise<void> {
    await deleteDeviceAttachment(req, parts, req.conf.ipamType);
  }

  /** GC: one stored attachment that is no longer valid (collectGarbage holds its attachment lock). */
  async function release(state: AttachmentState, req: CniRequest): Promise<void> {
    await releaseDeviceAttachment(state, req, parts);
  }

  // ---------------------------------------------------------------- check

  /** CHECK: the netdev in the pod as ADD left it (DPDK: the VF on its driver), the PF settings, IPs, routes. */
  async function check(req: CniRequest): Promise<void> {
    const conf = parseConf(req);
    const p = prevInterfaceOf(req, conf.net);
    requireNetns(req.netns);
    const state = completeStateOf(req, p);
    const d = dataOf(state);
    if (d.vf.addr !== conf.deviceID)
      throw p.mismatch(`it holds VF "${d.vf.addr}", the config names "${conf.deviceID}"`);
    requireOwner(req, parts, deviceKey("pci", d.vf.addr), d.vf.addr, p);
    if (conf.net.ipamType !== undefined) await ipamCheck(req, conf.net.ipamType, state);
    const native = req.deps.native(req.stateDir, req.env);
    const vf = await platform.lookup(native, d.vf.addr);
    if (d.attach === "dpdk" && vf.driver !== d.vf.driver) {
      throw p.mismatch(`VF "${vf.addr}" is bound to "${vf.driver ?? "no driver"}", ADD found "${d.vf.driver}"`);
    }
    if (d.attach === "kernel") {
      const shown = await showPodNetdev(native, req, p);
      const { parentDev } = shown.link;
      if (parentDev !== null && parentDev !== vf.addr) throw p.mismatch(`it is "${parentDev}", not "${vf.addr}"`);
      const differs = netdevDiffers(shown, p, conf.mtu ?? p.intf.mtu);
      if (differs !== null) throw p.mismatch(differs);
    }
    const now = await platform.showVf(native, vf);
    for (const name of VF_SETTING_ORDER) {
      const wanted = wantedSetting(conf.settings, name);
      if (wanted !== undefined && !settingInEffect(now, wanted)) {
        throw p.mismatch(
          `VF ${vf.index} of "${vf.pfNetdev}" has ${JSON.stringify(now)}, not ${JSON.stringify(wanted)}`,
        );
      }
    }
  }

  // ---------------------------------------------------------------- status

  /** STATUS: ready when the state dir is writable and the helper works; then IPAM STATUS. */
  async function status(req: CniRequest): Promise<void> {
    parseConf(req);
    await deviceModeStatus(req);
  }

  const parts: DeviceModeParts = { noun: "VF", keyOf, restoreDevice };
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
  opts: ReconcileOptions & { mode?: SriovMode } = {},
): Promise<ReconcileReport> {
  const mode = opts.mode ?? sriov;
  return reconcileOrphans(stateDir, "pci", (state) => mode.restoreDevice(state, native, log), log, opts);
}
