// Mechanisms of the modes that take a host device for an attachment (an SR-IOV VF, a vDPA device): the
// owner marker claimed under the device lock (reclaiming a stale owner's device first), the state written
// before the first change and completed last, the Device Information file with its undo, releasing the
// device on DEL and GC, the ownership part of CHECK, STATUS, and the host-side reconcile. What to change
// on the device and how to restore it stays in the mode (restoreDevice).
import type { NativeClient } from "../../native/client/index.js";
import { cmd } from "../../native/client/index.js";
import {
  deleteAttachment,
  ipamDelFromState,
  ipamStatus,
  newAttachmentState,
  probeStateDir,
  unavailableError,
} from "./attachment.js";
import type { PrevInterface } from "./check.js";
import { restoreDeviceInfo, writeDeviceInfo, type DeviceInfo, type DeviceInfoRecord } from "./device-info.js";
import { CniCode, CniError, errorMessage } from "./errors.js";
import { lockTimeout } from "./gc.js";
import { attachmentLockPath, withLock, type LockOptions } from "./lock.js";
import type { Logger } from "./log.js";
import {
  claimDevice,
  OwnerMarkers,
  ownerNetnsAlive,
  ownerOf,
  sameAttachment,
  withDeviceLock,
  type DeviceOwner,
} from "./owner.js";
import type { Result } from "./result.js";
import { StateStore, type AttachmentState } from "./state.js";
import { UndoStack } from "./undo.js";
import type { CniRequest } from "../skel/types.js";

type Env = Readonly<Record<string, string | undefined>>;

/** What every device mode's state data has (besides its own facts). */
export interface DeviceData {
  deviceInfo: DeviceInfoRecord | null;
  ipamVersion: string | null;
  complete: boolean;
  /** Set when the device was restored without the attachment's DEL (reclaim, reconcile). */
  deviceRestored?: boolean;
}

/** How the shared mechanisms reach a device mode's own parts. */
export interface DeviceModeParts {
  /** How messages name the device: "VF", "vDPA device". */
  noun: string;
  /** The owner-marker key of the device a stored attachment holds ("pci/<addr>", "vdpa/<name>"). */
  keyOf(state: AttachmentState): string;
  /** Puts the device of a stored attachment back as ADD found it (called under the device lock). */
  restoreDevice(state: AttachmentState, native: NativeClient, log: Logger): Promise<void>;
}

/** An undo stack that remembers whether an undo failed: then state and owner marker must stay for DEL. */
export class TrackedUndo extends UndoStack {
  failed = false;

  override push(what: string, run: () => Promise<void>): void {
    super.push(what, async () => {
      try {
        await run();
      } catch (err) {
        this.failed = true;
        throw err;
      }
    });
  }
}

// ---------------------------------------------------------------- ADD

export interface ClaimRequest {
  req: CniRequest;
  key: string;
  /** The device's ID in messages (PCI address, vdpa device name). */
  id: string;
  undo: TrackedUndo;
  native: NativeClient;
  parts: DeviceModeParts;
  /** Test seam: whether an owner's netns still exists (default: an nsfs mount with the same inode). */
  isAlive?: ((owner: DeviceOwner) => boolean) | undefined;
}

/**
 * Makes the attachment the device's owner (call it holding the device lock), its undo pushed: a live
 * other owner is code 7, a stale one's device is restored first from its state (which stays for its own
 * IPAM DEL). A marker already naming this attachment is a complete ADD (code 7, DEL it first) or an
 * interrupted one (kill -9): without a record it changed nothing, with an incomplete record the device
 * is restored from its snapshot; either way this ADD takes over. Returns whether the device may have
 * changed, so the mode looks at it again.
 */
export async function claimForAdd(c: ClaimRequest): Promise<boolean> {
  const { req, key, undo, parts } = c;
  const markers = new OwnerMarkers(req.stateDir);
  const owner = ownerOf(req, req.conf.name);
  let reclaimed = false;
  const reclaim = async (stale: DeviceOwner) => {
    req.log.warning(
      `reclaiming a ${parts.noun} from "${stale.containerID}/${stale.ifname}": netns "${stale.netns}" is gone`,
    );
    const store = new StateStore(req.stateDir);
    const state = store.read(stale.containerID, stale.ifname);
    if (state !== null && state.data["deviceRestored"] !== true) {
      await parts.restoreDevice(state, c.native, req.log);
      store.write({ ...state, data: { ...state.data, deviceRestored: true } });
    }
    reclaimed = true;
  };
  const claim = { reclaim, ...(c.isAlive === undefined ? {} : { isAlive: c.isAlive }) };
  if (!(await claimDevice(markers, key, owner, claim))) {
    const mine = new StateStore(req.stateDir).read(req.containerID, req.ifname);
    if (mine !== null && (mine.data["complete"] === true || keyOfSafe(parts, mine) !== key)) {
      throw new CniError(
        CniCode.InvalidConfig,
        `Cannot add "${req.containerID}/${req.ifname}": it already holds ${parts.noun} "${c.id}" (DEL it first)`,
      );
    }
    req.log.warning(`taking over ${parts.noun} "${c.id}" from an interrupted ADD of this attachment`);
    if (mine !== null && mine.data["deviceRestored"] !== true) await parts.restoreDevice(mine, c.native, req.log);
    markers.write(key, owner);
    reclaimed = true;
  }
  undo.push(`owner marker of "${key}"`, () => {
    if (!undo.failed) markers.release(key, owner);
    return Promise.resolve();
  });
  return reclaimed;
}

/** The device key of a stored attachment, or null when the record is not this mode's. */
function keyOfSafe(parts: DeviceModeParts, state: AttachmentState): string | null {
  try {
    return parts.keyOf(state);
  } catch {
    return null;
  }
}

/** The attachment's state as ADD goes: written before the first change (undone with ADD), then saved. */
export interface StateRecord {
  /** Writes the state with `data` as it is now. */
  save(): void;
  /** Marks the data complete and writes it with the result: DEL, CHECK and GC rely on it after this. */
  complete(result: Result): void;
}

export function recordState(req: CniRequest, mode: string, data: DeviceData, undo: TrackedUndo): StateRecord {
  const store = new StateStore(req.stateDir);
  const state = newAttachmentState(req, mode, data);
  const write = (result: Result) => store.write({ ...state, result, data: data as unknown as Record<string, unknown> });
  write(state.result);
  undo.push(`state of "${req.containerID}/${req.ifname}"`, () => {
    if (!undo.failed) store.remove(req.containerID, req.ifname);
    return Promise.resolve();
  });
  return {
    save: () => write(state.result),
    complete(result) {
      data.complete = true;
      write(result);
    },
  };
}

/**
 * Writes the Device Information file (runtimeConfig.CNIDeviceInfoFile). Before the file is touched, its
 * undo is pushed and `keep` stores what DEL needs (the mode's state, saved): a kill during the write
 * leaves a record to restore from.
 */
export function addDeviceInfo(
  req: CniRequest,
  path: string,
  info: DeviceInfo,
  undo: UndoStack,
  keep: (record: DeviceInfoRecord) => void,
): void {
  writeDeviceInfo(path, info, req.env, (record) => {
    undo.push(`device info file "${record.path}"`, () => Promise.resolve(restoreDeviceInfo(record, req.log)));
    keep(record);
  });
}

// ---------------------------------------------------------------- DEL and GC

/**
 * Restores the device a stored attachment holds, under the device lock, when its owner marker still
 * names the attachment (or names nobody) and it was not restored already; then drops the marker.
 */
export async function releaseDevice(
  stateDir: string,
  key: string,
  state: AttachmentState,
  lock: LockOptions,
  restore: () => Promise<void>,
): Promise<void> {
  await withDeviceLock(stateDir, key, lock, async () => {
    const markers = new OwnerMarkers(stateDir);
    const owner = markers.read(key);
    if ((owner === null || sameAttachment(owner, state)) && state.data["deviceRestored"] !== true) await restore();
    markers.release(key, state);
  });
}

/** DEL: IPAM DEL first; then the device from the state if the attachment still owns it; the state last. */
export async function deleteDeviceAttachment(req: CniRequest, parts: DeviceModeParts, ipamType?: string) {
  const native = req.deps.native(req.stateDir, req.env);
  await deleteAttachment(req, ipamType, async (state) => {
    if (state === null) return;
    await releaseDevice(req.stateDir, parts.keyOf(state), state, lockTimeout(req), () =>
      parts.restoreDevice(state, native, req.log),
    );
  });
}

/** GC: one stored attachment that is no longer valid (collectGarbage holds its attachment lock). */
export async function releaseDeviceAttachment(state: AttachmentState, req: CniRequest, parts: DeviceModeParts) {
  const native = req.deps.native(req.stateDir, req.env);
  await ipamDelFromState(state, req.env, req.log, "", req.deps.runProcess);
  await releaseDevice(req.stateDir, parts.keyOf(state), state, lockTimeout(req), () =>
    parts.restoreDevice(state, native, req.log),
  );
  new StateStore(req.stateDir).remove(state.containerID, state.ifname);
}

// ---------------------------------------------------------------- CHECK and STATUS

/** CHECK: the attachment's complete state, else a mismatch (103). */
export function completeStateOf(req: CniRequest, p: PrevInterface): AttachmentState {
  const state = new StateStore(req.stateDir).read(req.containerID, req.ifname);
  if (state === null || state.data["complete"] !== true) throw p.mismatch("accelnet has no complete state for it");
  return state;
}

/** CHECK: the attachment still owns the device `id` (key `key`), else a mismatch (103). */
export function requireOwner(req: CniRequest, parts: DeviceModeParts, key: string, id: string, p: PrevInterface) {
  const owner = new OwnerMarkers(req.stateDir).read(key);
  if (owner === null || !sameAttachment(owner, req)) throw p.mismatch(`it no longer owns ${parts.noun} "${id}"`);
}

/** STATUS of a device mode: 50 unless the state dir is writable and the helper answers; then IPAM STATUS. */
export async function deviceModeStatus(req: CniRequest): Promise<void> {
  const unavailable = unavailableError(req);
  try {
    probeStateDir(req.stateDir);
    await req.deps.native(req.stateDir, req.env).run([cmd.linkList({})]);
  } catch (err) {
    throw unavailable(err);
  }
  await ipamStatus(req, req.conf.ipamType, unavailable);
}

// ---------------------------------------------------------------- reconcile

export interface ReconcileReport {
  restored: string[];
  failed: { key: string; error: string }[];
}

export interface ReconcileOptions {
  /** PATH and CNI_PATH for IPAM DEL (the stored CNI_PATH when env has none). */
  env?: Env;
  lock?: LockOptions;
  /** Test seam (default ownerNetnsAlive). */
  isAlive?: (owner: DeviceOwner) => boolean;
}

/**
 * The host-side reconcile (device plugin start): for every device of `bus` whose owner's netns is gone,
 * restore it from the owner's state, IPAM DEL (best effort: when it fails the state stays for GC or
 * DEL) and drop the marker. Lock order as everywhere: attachment, then device.
 */
export async function reconcileOrphans(
  stateDir: string,
  bus: "pci" | "vdpa",
  restore: (state: AttachmentState) => Promise<void>,
  log: Logger,
  opts: ReconcileOptions = {},
): Promise<ReconcileReport> {
  const markers = new OwnerMarkers(stateDir);
  const store = new StateStore(stateDir);
  const alive = opts.isAlive ?? ownerNetnsAlive;
  const report: ReconcileReport = { restored: [], failed: [] };
  for (const [key, owner] of markers.list()) {
    if (!key.startsWith(`${bus}/`) || alive(owner)) continue;
    const lockPath = attachmentLockPath(stateDir, owner.containerID, owner.ifname);
    try {
      await withLock(lockPath, { what: `attachment "${owner.containerID}/${owner.ifname}"`, ...opts.lock }, () =>
        withDeviceLock(stateDir, key, opts.lock ?? {}, async () => {
          const current = markers.read(key);
          if (current === null || !sameAttachment(current, owner) || alive(current)) return;
          const state = store.read(owner.containerID, owner.ifname);
          if (state !== null && state.data["deviceRestored"] !== true) {
            await restore(state);
            state.data["deviceRestored"] = true;
            store.write(state);
          }
          markers.release(key, owner);
          report.restored.push(key);
          if (state === null) return;
          try {
            await ipamDelFromState(state, opts.env ?? {}, log);
            store.remove(state.containerID, state.ifname);
          } catch (err) {
            log.warning(`reconcile keeps the state of "${owner.containerID}/${owner.ifname}": ${errorMessage(err)}`);
          }
        }),
      );
    } catch (err) {
      log.error(`Cannot reconcile device "${key}": ${errorMessage(err)}`);
      report.failed.push({ key, error: errorMessage(err) });
    }
  }
  return report;
}
