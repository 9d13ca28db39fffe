// Per-device ownership for attachments that take a host device (an SR-IOV VF, a vDPA device):
// a device lock held while the device is changed, and an owner marker that says which attachment
// holds the device from the first change of ADD until DEL restored it.
//
// - Device key: "pci/<address>" or "vdpa/<name>"; lock <stateDir>/locks/device@<key>.lock,
//   marker <stateDir>/owners/<key>.json (key URI-encoded).
// - Lock order: attachment lock, then device lock. Nothing takes an attachment lock while holding a
//   device lock.
// - Only the holder of the marker restores the device: DEL, GC and reconcile of an attachment whose
//   marker names someone else (the device was reclaimed) leave the device alone.
// - A marker is stale when its netns no longer exists (path gone, no longer an nsfs mount, or another
//   inode). Claiming a device with a stale marker first runs `reclaim` (restore from its state).
import { readdirSync, readFileSync, mkdirSync, statfsSync, statSync } from "node:fs";
import { join } from "node:path";
import { CniCode, CniError, errorCode, errorMessage } from "./errors.js";
import { codeForFsError } from "./errno.js";
import { isObject, isString } from "./is.js";
import { hostObjectLockPath, withLock, type LockOptions } from "./lock.js";
import { removeFile, writeFileAtomic } from "./state.js";

export interface DeviceOwner {
  containerID: string;
  ifname: string;
  netns: string;
  /** Inode of the netns at claim time: a new netns at the same path is another pod. */
  netnsInode: number | null;
  network: string;
  since: string;
}

/** "pci/0000:00:12.0", "vdpa/vdpa0". */
export function deviceKey(bus: "pci" | "vdpa", id: string): string {
  return `${bus}/${id}`;
}

const NSFS_MAGIC = 0x6e736673;

/** The inode of a netns path when it is a live network namespace mount, else null. */
export function netnsInode(path: string): number | null {
  if (path === "") return null;
  try {
    if (statfsSync(path).type !== NSFS_MAGIC) return null;
    return statSync(path).ino;
  } catch {
    return null;
  }
}

/** Whether the owner's netns still exists (and is the same netns). */
export function ownerNetnsAlive(owner: DeviceOwner): boolean {
  const ino = netnsInode(owner.netns);
  return ino !== null && (owner.netnsInode === null || owner.netnsInode === ino);
}

export function sameAttachment(a: Pick<DeviceOwner, "containerID" | "ifname">, b: typeof a): boolean {
  return a.containerID === b.containerID && a.ifname === b.ifname;
}

export class OwnerMarkers {
  readonly dir: string;

  constructor(readonly stateDir: string) {
    this.dir = join(stateDir, "owners");
  }

  path(key: string): string {
    return join(this.dir, `${encodeURIComponent(key)}.json`);
  }

  read(key: string): DeviceOwner | null {
    const path = this.path(key);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      if (errorCode(err) === "ENOENT") return null;
      throw new CniError(codeForFsError(err), `Cannot read owner marker "${path}": ${errorMessage(err)}`);
    }
    try {
      const o: unknown = JSON.parse(text);
      if (isObject(o) && isString(o["containerID"]) && isString(o["ifname"]) && isString(o["netns"])) {
        return o as unknown as DeviceOwner;
      }
    } catch {
      // fall through: a damaged marker protects nothing (its netns cannot be checked)
    }
    return { containerID: "", ifname: "", netns: "", netnsInode: null, network: "", since: "" };
  }

  write(key: string, owner: DeviceOwner): void {
    const path = this.path(key);
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      writeFileAtomic(path, JSON.stringify(owner));
    } catch (err) {
      throw new CniError(codeForFsError(err), `Cannot write owner marker "${path}": ${errorMessage(err)}`, {
        cause: err,
      });
    }
  }

  /** Removes the marker if it still names `who` (a reclaimed device keeps its new owner's marker). */
  release(key: string, who: Pick<DeviceOwner, "containerID" | "ifname">): void {
    const current = this.read(key);
    if (current === null || !sameAttachment(current, who)) return;
    removeFile(this.path(key));
  }

  /** Every marker: [key, owner]. */
  list(): [string, DeviceOwner][] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (err) {
      if (errorCode(err) === "ENOENT") return [];
      throw new CniError(codeForFsError(err), `Cannot list owner markers "${this.dir}": ${errorMessage(err)}`);
    }
    const out: [string, DeviceOwner][] = [];
    for (const name of names.filter((n) => n.endsWith(".json")).sort()) {
      let key: string;
      try {
        key = decodeURIComponent(name.slice(0, -5));
      } catch {
        continue; // not a name this module wrote
      }
      const owner = this.read(key);
      if (owner !== null) out.push([key, owner]);
    }
    return out;
  }
}

/** Runs `fn` holding the device's lock. */
export function withDeviceLock<T>(stateDir: string, key: string, opts: LockOptions, fn: () => Promise<T>): Promise<T> {
  return withLock(hostObjectLockPath(stateDir, "device", key), { what: `device "${key}"`, ...opts }, fn);
}

export interface ClaimOptions {
  /** Restores the device from a stale owner's state (called under the device lock). */
  reclaim(stale: DeviceOwner): Promise<void>;
  /** Test seam (default ownerNetnsAlive). */
  isAlive?: (owner: DeviceOwner) => boolean;
}

/**
 * Makes `owner` the device's owner; call it holding the device lock. Returns false when the marker
 * already named this attachment (a repeated ADD). A live other owner: code 7, nothing changed.
 */
export async function claimDevice(
  markers: OwnerMarkers,
  key: string,
  owner: DeviceOwner,
  opts: ClaimOptions,
): Promise<boolean> {
  const current = markers.read(key);
  if (current !== null) {
    if (sameAttachment(current, owner)) return false;
    if ((opts.isAlive ?? ownerNetnsAlive)(current)) {
      throw new CniError(
        CniCode.InvalidConfig,
        `Cannot use device "${key}": in use by container "${current.containerID}" ` +
          `(ifname "${current.ifname}", netns "${current.netns}")`,
      );
    }
    await opts.reclaim(current);
  }
  markers.write(key, owner);
  return true;
}

export function ownerOf(req: { containerID: string; ifname: string; netns: string }, network: string): DeviceOwner {
  return {
    containerID: req.containerID,
    ifname: req.ifname,
    netns: req.netns,
    netnsInode: netnsInode(req.netns),
    network,
    since: new Date().toISOString(),
  };
}
