// SR-IOV VF mechanisms: who a VF is (PF netdev, VF index, driver, host netdevs, through the helper's
// pci-show), and its PF-side settings (snapshot, apply one at a time with read-back, restore). The
// `VfPlatform` interface is the seam tests use to stand a veth in for a VF.
import { cmd, NativeError, type Link, type NativeClient, type Vf, type VfSetting } from "../../native/client/index.js";
import { causeText, cniErrorFromNative, codeForKernelErrno, isNotFound } from "./errno.js";
import { CniCode, CniError } from "./errors.js";

/** Drivers that leave a VF without a netdev for a user-space (DPDK) driver. */
export const DPDK_DRIVERS = ["vfio-pci", "uio_pci_generic", "igb_uio"] as const;

export interface VfIdentity {
  addr: string;
  pfAddr: string;
  pfNetdev: string;
  pfDriver: string;
  index: number;
  /** The VF's bound driver (null: unbound). */
  driver: string | null;
  /** Its netdevs visible in the host netns (empty while it is in a pod, or bound to vfio-pci). */
  netdevs: string[];
}

/** How accelnet reaches VFs: the helper (helperVfPlatform), or a test stand-in. */
export interface VfPlatform {
  lookup: (native: NativeClient, addr: string) => Promise<VfIdentity>;
  showVf: (native: NativeClient, vf: VfIdentity) => Promise<Vf>;
  /**
   * Applies `settings` in order in one round trip, resolving with each read-back. A failure rejects
   * with a NativeError whose `index` names the failing setting (null: unknown which ran).
   */
  setVfs: (native: NativeClient, vf: VfIdentity, settings: readonly VfSetting[]) => Promise<Vf[]>;
  /** Whether a netdev is this VF's (default: its parent device is the VF's PCI address). */
  owns?: (link: Link, addr: string) => boolean;
}

function lookupError(err: unknown, addr: string, what: string): CniError {
  if (isNotFound(err)) {
    return new CniError(CniCode.InvalidConfig, `Cannot use ${what} "${addr}": no such PCI device`, { cause: err });
  }
  return cniErrorFromNative(err, "look up PCI device", addr);
}

export const helperVfPlatform: VfPlatform = {
  async lookup(native, addr) {
    let vf, pf;
    try {
      [{ pci: vf }] = await native.run([cmd.pciShow({ addr })]);
    } catch (err) {
      throw lookupError(err, addr, "deviceID");
    }
    if (!vf.isVf || vf.pf === null || vf.vfIndex === null) {
      throw new CniError(CniCode.InvalidConfig, `Cannot use deviceID "${addr}": not an SR-IOV virtual function`);
    }
    try {
      [{ pci: pf }] = await native.run([cmd.pciShow({ addr: vf.pf })]);
    } catch (err) {
      throw lookupError(err, vf.pf, "PF");
    }
    const pfNetdev = pf.netdevs[0];
    if (pfNetdev === undefined) {
      throw new CniError(
        CniCode.InvalidConfig,
        `Cannot use VF "${addr}": its PF "${pf.addr}" has no netdev in the host netns (driver ${pf.driver ?? "none"})`,
      );
    }
    return {
      addr,
      pfAddr: pf.addr,
      pfNetdev,
      pfDriver: pf.driver ?? "none",
      index: vf.vfIndex,
      driver: vf.driver,
      netdevs: vf.netdevs,
    };
  },
  async showVf(native, vf) {
    let vfs: Vf[];
    try {
      [{ vfs }] = await native.run([cmd.vfShow({ pf: vf.pfNetdev })]);
    } catch (err) {
      throw cniErrorFromNative(err, "show VFs of PF", vf.pfNetdev);
    }
    const found = vfs.find((v) => v.vf === vf.index);
    if (found === undefined) {
      throw new CniError(
        CniCode.KernelOperationFailed,
        `Cannot show VF ${vf.index} of "${vf.pfNetdev}": the PF reports ${vfs.length} VFs`,
      );
    }
    return found;
  },
  async setVfs(native, vf, settings) {
    const results = await native.run(settings.map((setting) => cmd.vfSet({ pf: vf.pfNetdev, vf: vf.index, setting })));
    return results.map((r) => r.vf);
  },
};

/**
 * The MTU of a VF without a netdev (DPDK mode), for the result: its PF netdev's, which bounds the
 * frames the VF can send and receive (the application sets its own MTU up to it).
 */
export async function pfMtu(native: NativeClient, vf: VfIdentity): Promise<number> {
  try {
    const [{ link }] = await native.run([cmd.linkShow({ name: vf.pfNetdev })]);
    return link.mtu;
  } catch (err) {
    throw cniErrorFromNative(err, "show PF netdev", vf.pfNetdev);
  }
}

// ---------------------------------------------------------------- settings

/** The PF-side settings a config asks for (sriov-cni's fields). */
export interface VfSettings {
  mac?: string;
  vlan?: number;
  vlanQoS?: number;
  vlanProto?: "802.1q" | "802.1ad";
  spoofchk?: boolean;
  trust?: boolean;
  linkState?: "auto" | "enable" | "disable";
  minTxRate?: number;
  maxTxRate?: number;
}

export type VfSettingName = "mac" | "vlan" | "spoofchk" | "trust" | "link_state" | "rate";

/** Apply order (sriov-cni's); restore runs it backwards. */
export const VF_SETTING_ORDER: readonly VfSettingName[] = ["mac", "vlan", "spoofchk", "trust", "link_state", "rate"];

/** The vf-set argument that applies `name` from `s`, or undefined when the config does not ask for it. */
export function wantedSetting(s: VfSettings, name: VfSettingName): VfSetting | undefined {
  switch (name) {
    case "mac":
      return s.mac === undefined ? undefined : { mac: s.mac };
    case "vlan":
      if (s.vlan === undefined) return undefined;
      return {
        vlan: s.vlan,
        ...(s.vlanQoS === undefined ? {} : { qos: s.vlanQoS }),
        ...(s.vlanProto === undefined || s.vlanProto === "802.1q" ? {} : { proto: s.vlanProto }),
      };
    case "spoofchk":
      return s.spoofchk === undefined ? undefined : { spoofchk: s.spoofchk };
    case "trust":
      return s.trust === undefined ? undefined : { trust: s.trust };
    case "link_state":
      return s.linkState === undefined ? undefined : { state: s.linkState };
    case "rate":
      if (s.maxTxRate !== undefined) {
        return { maxTxRate: s.maxTxRate, ...(s.minTxRate === undefined ? {} : { minTxRate: s.minTxRate }) };
      }
      return s.minTxRate === undefined ? undefined : { minTxRate: s.minTxRate };
  }
}

/** The vf-set argument that puts `name` back as the snapshot had it; undefined when the driver reports none. */
export function originalSetting(snap: Vf, name: VfSettingName): VfSetting | undefined {
  switch (name) {
    case "mac":
      return { mac: snap.mac };
    case "vlan":
      return { vlan: snap.vlan, qos: snap.qos, ...(snap.vlanProto === "802.1q" ? {} : { proto: snap.vlanProto }) };
    case "spoofchk":
      return snap.spoofchk === null ? undefined : { spoofchk: snap.spoofchk };
    case "trust":
      return snap.trust === null ? undefined : { trust: snap.trust };
    case "link_state":
      return snap.linkState === null ? undefined : { state: snap.linkState };
    case "rate":
      return { minTxRate: snap.minTxRate, maxTxRate: snap.maxTxRate };
  }
}

/** Whether the PF reports `setting` as in effect on `vf` (read-back check; CHECK). */
export function settingInEffect(vf: Vf, setting: VfSetting): boolean {
  if ("mac" in setting) return vf.mac.toLowerCase() === setting.mac.toLowerCase();
  if ("vlan" in setting) {
    return (
      vf.vlan === setting.vlan &&
      (setting.qos === undefined || vf.qos === setting.qos) &&
      vf.vlanProto === (setting.proto ?? "802.1q")
    );
  }
  if ("spoofchk" in setting) return vf.spoofchk === setting.spoofchk;
  if ("trust" in setting) return vf.trust === setting.trust;
  if ("state" in setting) return vf.linkState === setting.state;
  return (
    (setting.minTxRate === undefined || vf.minTxRate === setting.minTxRate) &&
    (setting.maxTxRate === undefined || vf.maxTxRate === setting.maxTxRate)
  );
}

/** The config field a setting came from, for messages ("vlanProto" when an 802.1ad VLAN is refused). */
export function fieldOf(setting: VfSetting): string {
  if ("mac" in setting) return "mac";
  if ("vlan" in setting) return setting.proto === "802.1ad" ? "vlanProto" : "vlan";
  if ("spoofchk" in setting) return "spoofchk";
  if ("trust" in setting) return "trust";
  if ("state" in setting) return "link_state";
  return (setting.minTxRate ?? 0) > 0 ? "min_tx_rate" : "max_tx_rate";
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

// Kernel answers to vf-set that are not the driver refusing the value: the PF or VF is gone (100),
// the kernel is short of memory (100), or busy (11, try again). Any other errno is the driver's refusal.
const notARefusal = new Set(["ENODEV", "ENOENT", "ENXIO", "ENOMEM", "ENOBUFS"]);

/** The CNI code of a kernel errno from vf-set: a driver's refusal is 2 whichever errno it picked. */
export function codeForVfSetError(errname: string): number {
  if (notARefusal.has(errname)) return CniCode.KernelOperationFailed;
  const code = codeForKernelErrno(errname);
  return code === CniCode.TryAgainLater ? code : CniCode.UnsupportedField;
}

/**
 * Applies settings through the PF in one round trip and checks the read-backs. Errors name the
 * failing setting and the PF's driver: `Cannot set "link_state" on VF 0 of "eth1" (driver igb):
 * operation not supported`. A refusal is code 2 (a field accelnet knows but this hardware cannot
 * honour), whatever errno the driver chose for it: igb refuses min_tx_rate with EINVAL, others say
 * EOPNOTSUPP, EPERM or ERANGE. The settings before the failing one took effect (the caller's undo,
 * restoreVfSettings, compares and puts back whatever differs).
 */
export async function applyVfSettings(
  platform: VfPlatform,
  native: NativeClient,
  vf: VfIdentity,
  settings: readonly VfSetting[],
): Promise<Vf[]> {
  const what = (setting: VfSetting | undefined) =>
    `Cannot set ${setting === undefined ? "VF settings" : `"${fieldOf(setting)}"`} on VF ${vf.index} of ` +
    `"${vf.pfNetdev}" (driver ${vf.pfDriver})`;
  let readBacks: Vf[];
  try {
    readBacks = await platform.setVfs(native, vf, settings);
  } catch (err) {
    const failed =
      err instanceof NativeError && err.index !== null
        ? settings[err.index]
        : settings.length === 1
          ? settings[0]
          : undefined;
    if (err instanceof CniError) throw new CniError(err.code, `${what(failed)}: ${err.message}`, { cause: err });
    const errname = err instanceof NativeError ? err.errname : null;
    const code =
      err instanceof NativeError && err.exitCode === 2
        ? CniCode.InvalidConfig
        : errname === null
          ? CniCode.HelperFailed
          : codeForVfSetError(errname);
    // The helper adds "driver X (addr) refused IFLA_VF_..." after the errno text: this message names both.
    const cause = causeText(err);
    const text = err instanceof NativeError && err.errno !== null ? (cause.split(": ")[0] ?? cause) : cause;
    throw new CniError(code, `${what(failed)}: ${lowerFirst(text)}`, { cause: err });
  }
  settings.forEach((setting, i) => {
    const readBack = readBacks[i];
    if ("mac" in setting && readBack !== undefined && !settingInEffect(readBack, setting)) {
      throw new CniError(CniCode.KernelOperationFailed, `${what(setting)}: the PF reports MAC ${readBack.mac}`);
    }
  });
  return readBacks;
}

const ZERO_MAC = "00:00:00:00:00:00";

/**
 * Puts the PF-side settings `names` of the VF back as `snap` had them, in reverse apply order, touching
 * only those that differ now (a setting the driver refused never changed). Returns what it changed.
 * An all-zero original admin MAC the helper refuses to write (exit 2) is logged, not fatal.
 */
export async function restoreVfSettings(
  platform: VfPlatform,
  native: NativeClient,
  vf: VfIdentity,
  snap: Vf,
  names: readonly VfSettingName[],
  log: { warning(msg: string): void },
): Promise<VfSettingName[]> {
  const now = await platform.showVf(native, vf);
  let pending: { name: VfSettingName; setting: VfSetting }[] = [];
  for (const name of [...VF_SETTING_ORDER].reverse()) {
    if (!names.includes(name)) continue;
    const original = originalSetting(snap, name);
    if (original !== undefined && !settingInEffect(now, original)) pending.push({ name, setting: original });
  }
  const changed: VfSettingName[] = [];
  while (pending.length > 0) {
    try {
      await applyVfSettings(
        platform,
        native,
        vf,
        pending.map((p) => p.setting),
      );
      changed.push(...pending.map((p) => p.name));
      pending = [];
    } catch (err) {
      // The helper refuses to write an all-zero MAC (exit 2: nothing of the batch ran): without it, again.
      const zeroMac = (p: { setting: VfSetting }) => "mac" in p.setting && p.setting.mac === ZERO_MAC;
      if (err instanceof CniError && err.code === CniCode.InvalidConfig && pending.some(zeroMac)) {
        log.warning(`Cannot clear the admin MAC of VF ${vf.index} of "${vf.pfNetdev}": ${err.message}`);
        pending = pending.filter((p) => !zeroMac(p));
        continue;
      }
      throw err;
    }
  }
  return changed;
}
