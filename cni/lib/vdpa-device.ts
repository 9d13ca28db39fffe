// vDPA device operations through the helper, with their errors mapped to CNI codes: the vdpa netlink
// view of a device, binding a driver (and waiting for the char device or netdev it creates), the
// config-space MAC (vdpa `dev config set`), and the snapshot of a virtio-net netdev in the host.
import { setTimeout as sleep } from "node:timers/promises";
import { cmd, NativeError, type NativeClient, type VdpaDevice, type VhostVdpaInfo } from "../../native/client/index.js";
import { causeText, cniErrorFromNative, isNotFound } from "./errno.js";
import { CniCode, CniError } from "./errors.js";
import { snapshotNetdev, type NetdevSnapshot } from "./netdev.js";
import {
  chardevMismatch,
  readVdpaDevice,
  VDPA_KERNEL_DRIVERS,
  VIRTIO_ID_NET,
  type VdpaDriverChoice,
  type VdpaIdentity,
  type VdpaRoots,
} from "./vdpa.js";

/** vdpa netlink's view (device type, mgmtdev, config-space MAC and MTU); a missing device is code 7. */
export async function showVdpa(native: NativeClient, name: string): Promise<VdpaDevice> {
  try {
    const [{ vdpa }] = await native.run([cmd.vdpaShow({ dev: name })]);
    return vdpa;
  } catch (err) {
    if (isNotFound(err)) {
      throw new CniError(CniCode.InvalidConfig, `Cannot use vDPA device "${name}": ${causeText(err)}`, { cause: err });
    }
    throw cniErrorFromNative(err, "show vDPA device", name);
  }
}

/** Binds `name` to the driver of `choice`, then waits (up to `appearMs`) for its char device or netdev in sysfs. */
export async function bindVdpa(
  native: NativeClient,
  roots: VdpaRoots,
  name: string,
  choice: VdpaDriverChoice,
  appearMs: number,
): Promise<VdpaIdentity> {
  const driver = VDPA_KERNEL_DRIVERS[choice];
  await native.run([cmd.vdpaBind({ dev: name, driver })]).catch((err: unknown) => {
    throw cniErrorFromNative(err, `bind ${driver} to vDPA device`, name);
  });
  const deadline = Date.now() + appearMs;
  for (;;) {
    const dev = readVdpaDevice(roots, name);
    const ready = choice === "vhost" ? dev?.chardev != null : (dev?.virtio?.netdevs.length ?? 0) > 0;
    if (dev !== null && ready) return dev;
    if (Date.now() >= deadline) {
      const what = choice === "vhost" ? "vhost-vdpa char device" : "virtio-net netdev";
      throw new CniError(CniCode.KernelOperationFailed, `Cannot find the ${what} of vDPA device "${name}" after bind`);
    }
    await sleep(50);
  }
}

/**
 * Sets the MAC in the device's config space. A refusal (EOPNOTSUPP: VDUSE, kernels before 6.12) is
 * code 2 with the kernel's words: `Cannot set "mac" <mac> on vDPA device "<name>" (mgmtdev <m>): <cause>`.
 */
export async function setVdpaConfigMac(
  native: NativeClient,
  name: string,
  mgmtdev: string,
  mac: string,
): Promise<void> {
  try {
    await native.run([cmd.vdpaConfigSet({ dev: name, mac })]);
  } catch (err) {
    const refused = err instanceof NativeError && (err.errname === "EOPNOTSUPP" || err.errname === "ENOTSUP");
    const what = `Cannot set "mac" ${mac} on vDPA device "${name}" (mgmtdev ${mgmtdev})`;
    if (refused) throw new CniError(CniCode.UnsupportedField, `${what}: ${causeText(err)}`, { cause: err });
    throw cniErrorFromNative(err, `set "mac" ${mac} on vDPA device`, name);
  }
}

/** The snapshot of a virtio_vdpa device's netdev in the host netns. */
export async function snapshotVirtioNetdev(native: NativeClient, dev: VdpaIdentity): Promise<NetdevSnapshot> {
  const name = dev.virtio?.netdevs[0];
  if (name === undefined) {
    throw new CniError(
      CniCode.InvalidConfig,
      `Cannot use vDPA device "${dev.name}": it is on ${VDPA_KERNEL_DRIVERS.virtio} but has no netdev in the host netns`,
    );
  }
  const [{ link, addrs }] = await native.run([cmd.linkShow({ name, addrs: true })]).catch((err: unknown) => {
    throw cniErrorFromNative(err, "show virtio-net netdev", name);
  });
  return snapshotNetdev(link, addrs ?? []);
}

/** Puts the config-space MAC back to `mac` unless the device already reports it. */
export async function putBackConfigMac(
  native: NativeClient,
  name: string,
  mgmtdev: string,
  mac: string,
): Promise<void> {
  const now = await showVdpa(native, name);
  if (now.mac?.toLowerCase() === mac.toLowerCase()) return;
  await setVdpaConfigMac(native, name, mgmtdev, mac);
}

/**
 * The vhost-vdpa char device as the workload will see it (the helper's ioctls): a virtio-net device
 * (code 7 otherwise) with the MAC the config asked for, when it asked (code 100 otherwise).
 */
export async function readVhostInfo(native: NativeClient, name: string, mac?: string): Promise<VhostVdpaInfo> {
  const [info] = await native.run([cmd.vhostVdpaInfo({ dev: name })]).catch((err: unknown) => {
    throw cniErrorFromNative(err, "read vhost-vdpa device", name);
  });
  if (info.deviceId !== VIRTIO_ID_NET) {
    throw new CniError(
      CniCode.InvalidConfig,
      `Cannot use vDPA device "${name}": "${info.path}" reports virtio device type ${info.deviceId}, not a network device`,
    );
  }
  if (mac !== undefined && info.mac?.toLowerCase() !== mac) {
    throw new CniError(
      CniCode.KernelOperationFailed,
      `Cannot set "mac" ${mac} on vDPA device "${name}": the device reports ${info.mac ?? "no MAC"}`,
    );
  }
  return info;
}

/** Finds the host netdev of a virtio_vdpa device (moveNetdevIn's and returnNetdevToHost's `locate`). */
export function hostNetdevOf(roots: VdpaRoots, name: string): () => Promise<string | null> {
  return () => Promise.resolve(readVdpaDevice(roots, name)?.virtio?.netdevs[0] ?? null);
}

/**
 * CHECK of a device on vhost_vdpa: why it differs from what ADD recorded (its char device, which must
 * match sysfs, and the config-space MAC of prevResult), or null. Never opens the char device: the
 * workload holds it, and opening resets the device.
 */
export async function vhostDiffers(
  native: NativeClient,
  dev: VdpaIdentity,
  recordedChardev: string | null,
  mac: string | undefined,
): Promise<string | null> {
  if (dev.chardev === null) return `vDPA device "${dev.name}" has no vhost-vdpa char device`;
  if (dev.chardev.path !== recordedChardev)
    return `its char device is "${dev.chardev.path}", ADD had "${recordedChardev}"`;
  const bad = chardevMismatch(dev.chardev);
  if (bad !== null) return bad;
  const now = await showVdpa(native, dev.name);
  if (mac !== undefined && now.mac !== null && now.mac.toLowerCase() !== mac.toLowerCase()) {
    return `MAC of vDPA device "${dev.name}" is ${now.mac}, prevResult says ${mac}`;
  }
  return null;
}
