// What an interrupted ADD (kill -9, OOM, node reboot) can leave in the state dir besides its state
// record, and how DEL and GC find it again, whatever the order of writes:
// - an owner marker naming the attachment (a device mode claims the device before it writes the record):
//   without a record, the attachment never changed the device (the record is written before the first
//   change), so the marker is released;
// - temporary files of atomic writes (`<file>.tmp-<pid>-<random>`) of its record and of markers;
// - lock files (and their `.tmp`/`.stale` companions) of processes that are dead.
// DEL clears its own attachment's leftovers holding its lock; GC also sweeps every dead process's files.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { errorMessage } from "./errors.js";
import { lockCompanionPid, lockTmpPid, processStartTime, removeStaleLock, type LockOptions } from "./lock.js";
import type { Logger } from "./log.js";
import { OwnerMarkers, sameAttachment, withDeviceLock } from "./owner.js";
import { atomicTmpPid, removeFile, stateFileName, StateStore } from "./state.js";

/** How old a leftover temporary file of a live pid must be before GC takes it for abandoned. */
const ABANDONED_AFTER_MS = 10 * 60_000;

function names(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function remove(path: string, log: Logger): void {
  try {
    removeFile(path);
    log.debug(`removed leftover "${path}"`);
  } catch (err) {
    log.warning(`Cannot remove leftover "${path}": ${errorMessage(err)}`);
  }
}

function abandoned(path: string, pid: number | null): boolean {
  if (pid !== null && processStartTime(pid) === null) return true;
  try {
    return Date.now() - statSync(path).mtimeMs > ABANDONED_AFTER_MS;
  } catch {
    return false;
  }
}

/**
 * DEL (and GC) of one attachment, holding its lock: its record's temporary files, and when it has no
 * record, the owner markers that name it (each under its device lock, read again there).
 */
export async function clearAttachmentLeftovers(
  stateDir: string,
  containerID: string,
  ifname: string,
  lock: LockOptions,
  log: Logger,
): Promise<void> {
  const store = new StateStore(stateDir);
  const file = stateFileName(containerID, ifname);
  // Only this attachment's lock holder writes its record, so any temporary file of it is abandoned.
  for (const name of names(store.dir)) if (atomicTmpPid(name, file) !== null) remove(join(store.dir, name), log);
  if (store.read(containerID, ifname) !== null) return;
  const markers = new OwnerMarkers(stateDir);
  const who = { containerID, ifname };
  for (const [key, owner] of markers.list()) {
    if (!sameAttachment(owner, who)) continue;
    await withDeviceLock(stateDir, key, lock, () => {
      const current = markers.read(key);
      if (current !== null && sameAttachment(current, who)) {
        log.info(`releasing device "${key}": an interrupted ADD of "${containerID}/${ifname}" claimed it`);
        markers.release(key, who);
      }
      return Promise.resolve();
    });
  }
}

/** Every owner marker of `network` whose attachment has no state record: [containerID, ifname]. */
export function unrecordedOwners(stateDir: string, network: string): { containerID: string; ifname: string }[] {
  const store = new StateStore(stateDir);
  return new OwnerMarkers(stateDir)
    .list()
    .filter(([, o]) => o.network === network && o.containerID !== "" && store.read(o.containerID, o.ifname) === null)
    .map(([, o]) => ({ containerID: o.containerID, ifname: o.ifname }));
}

/** GC: lock files of dead processes, and temporary files nobody will rename any more. */
export function sweepDeadFiles(stateDir: string, log: Logger): void {
  const locks = join(stateDir, "locks");
  for (const name of names(locks)) {
    const path = join(locks, name);
    if (name.endsWith(".lock")) {
      if (removeStaleLock(path)) log.debug(`removed the stale lock "${path}"`);
    } else if (name.endsWith(".tmp")) {
      if (abandoned(path, lockCompanionPid(name) ?? lockTmpPid(path))) remove(path, log);
    } else if (name.endsWith(".stale")) {
      // A reclaimer's aside copy, gone within microseconds unless the reclaimer was killed.
      if (abandoned(path, lockCompanionPid(name))) remove(path, log);
    }
  }
  for (const dir of [new StateStore(stateDir).dir, new OwnerMarkers(stateDir).dir]) {
    for (const name of names(dir)) {
      const pid = atomicTmpPid(name);
      if (pid !== null && abandoned(join(dir, name), pid)) remove(join(dir, name), log);
    }
  }
}
