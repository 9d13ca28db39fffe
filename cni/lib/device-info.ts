// The Device Information file (k8snetworkplumbingwg Device Information spec 1.1.0) at
// runtimeConfig.CNIDeviceInfoFile: {"type":"pci"|"vdpa"|"vhost-user","version":"1.1.0","<type>":{...}}.
// The device plugin may have written it already: ADD merges its fields into the existing object and
// keeps the others (vhost-net, rdma-device...); DEL puts back what was there before (or removes a
// file ADD created). What DEL needs is returned as a record the mode keeps in its state.
// The path is the config's: trusted-paths.ts decides where it may be. Its directory is reached by handle
// (openDeviceInfoDir: from "/", every directory root's and writable by nobody else, none below the
// node's root a symlink), and the file is opened, replaced and removed through that handle without
// following a symlink. DEL walks again: a directory that turned into a symlink or changed hands after
// ADD is left alone (a warning), so root never writes back through it.
import { closeSync, constants, fstatSync, openSync, readdirSync, readFileSync, unlinkSync } from "node:fs";
import { CniError, errorCode, errorMessage } from "./errors.js";
import { codeForFsError } from "./errno.js";
import { isObject, isString } from "./is.js";
import { processStartTime } from "./lock.js";
import type { Logger } from "./log.js";
import { atomicTmpPid, writeFileAtomic } from "./state.js";
import { fdPath } from "./trusted-dir.js";
import { deviceInfoNotRegular, deviceInfoRoots, DEVINFO_ROOTS, openDeviceInfoDir } from "./trusted-paths.js";

export const DEVICE_INFO_VERSION = "1.1.0";

export type DeviceInfo =
  | { type: "pci"; pci: { "pci-address": string; "pf-pci-address"?: string } }
  | {
      type: "vdpa";
      vdpa: {
        "parent-device": string;
        driver: "vhost" | "virtio";
        path?: string;
        "pci-address"?: string;
        "pf-pci-address"?: string;
      };
    }
  /** `mode` is the application's role (spec 3.1.5.1): "server" when it creates the socket and the host connects. */
  | { type: "vhost-user"; "vhost-user": { mode: "client" | "server"; path: string } };

/** What ADD did to the file, for DEL. `previous` null: the file did not exist. */
export interface DeviceInfoRecord {
  path: string;
  previous: string | null;
  /** The node's directory the path was under at ADD (records of older versions lack it). */
  root?: string;
}

/** The file's content (read through the directory handle), or null when there is none. */
function readIfExists(dirFd: number, name: string, path: string): string | null {
  let fd: number;
  try {
    fd = openSync(fdPath(dirFd, name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if (errorCode(err) === "ENOENT") return null;
    if (errorCode(err) === "ELOOP") throw deviceInfoNotRegular(path, true);
    throw new CniError(codeForFsError(err), `Cannot read device info file "${path}": ${errorMessage(err)}`);
  }
  try {
    if (!fstatSync(fd).isFile()) throw deviceInfoNotRegular(path, false);
    return readFileSync(fd, "utf8");
  } catch (err) {
    if (err instanceof CniError) throw err;
    throw new CniError(codeForFsError(err), `Cannot read device info file "${path}": ${errorMessage(err)}`);
  } finally {
    closeSync(fd);
  }
}

/** The file's new content: `info` merged over what is there (same type), else `info` alone. */
export function deviceInfoContent(info: DeviceInfo, previous: string | null): string {
  let body: Record<string, unknown> = {};
  if (previous !== null) {
    try {
      const old: unknown = JSON.parse(previous);
      const kind = info.type;
      if (isObject(old) && old["type"] === kind && isObject(old[kind])) body = { ...old[kind] };
    } catch {
      // not JSON: replaced (and restored on DEL)
    }
  }
  const fields = info.type === "pci" ? info.pci : info.type === "vdpa" ? info.vdpa : info["vhost-user"];
  const out = { type: info.type, version: DEVICE_INFO_VERSION, [info.type]: { ...body, ...fields } };
  return JSON.stringify(out);
}

function ioFailure(action: string, path: string, err: unknown): CniError {
  return new CniError(codeForFsError(err), `Cannot ${action} device info file "${path}": ${errorMessage(err)}`, {
    cause: err,
  });
}

/**
 * Creates or updates the file (`env` gives the allowed directories, trusted-paths.ts); returns what DEL
 * needs to undo it, and hands it to `planned` first, before the file is touched: an ADD killed in the
 * middle of the write (a temporary file made, or the new content renamed into place) leaves a state
 * that says how to undo it. Missing directories are created by handle, each checked before anything is
 * made in it; the new content replaces the file by rename, which never follows a symlink.
 */
export function writeDeviceInfo(
  path: string,
  info: DeviceInfo,
  env: Readonly<Record<string, string | undefined>>,
  planned: (record: DeviceInfoRecord) => void = () => undefined,
): DeviceInfoRecord {
  let dir;
  try {
    dir = openDeviceInfoDir(path, deviceInfoRoots(env), true);
  } catch (err) {
    if (err instanceof CniError) throw err;
    throw ioFailure("write", path, err);
  }
  try {
    const previous = readIfExists(dir.dirFd, dir.name, path);
    const record = { path, previous, root: dir.root };
    planned(record);
    try {
      writeFileAtomic(fdPath(dir.dirFd, dir.name), deviceInfoContent(info, previous), 0o644);
    } catch (err) {
      throw ioFailure("write", path, err);
    }
    return record;
  } finally {
    closeSync(dir.dirFd);
  }
}

/**
 * Undoes writeDeviceInfo: restores the previous content, or removes the file ADD created, through a
 * fresh walk to its directory. A directory that is gone, or that no longer passes the walk (replaced by
 * a symlink, handed to another user), is left alone with a warning: DEL goes on, root writes nothing.
 */
export function restoreDeviceInfo(record: DeviceInfoRecord, log: Logger): void {
  const roots = isString(record.root) ? [record.root] : [...DEVINFO_ROOTS];
  let dir;
  try {
    dir = openDeviceInfoDir(record.path, roots, false);
  } catch (err) {
    log.warning(`Leaving device info file "${record.path}" as it is: ${errorMessage(err)}`);
    return;
  }
  try {
    removeAbandonedTemporaries(dir.dirFd, dir.name, log);
    const target = fdPath(dir.dirFd, dir.name);
    if (record.previous === null) unlinkSync(target);
    else writeFileAtomic(target, record.previous, 0o644);
  } catch (err) {
    if (errorCode(err) !== "ENOENT" || record.previous !== null) throw ioFailure("restore", record.path, err);
  } finally {
    closeSync(dir.dirFd);
  }
}

/**
 * The temporary files of this file's atomic writes (`<name>.tmp-<pid>-<random>`, state.ts) whose writer
 * is dead: an ADD or DEL killed between creating one and renaming it into place leaves it behind.
 */
function removeAbandonedTemporaries(dirFd: number, name: string, log: Logger): void {
  for (const entry of readdirSync(fdPath(dirFd, "."))) {
    const pid = atomicTmpPid(entry, name);
    if (pid === null || processStartTime(pid) !== null) continue;
    try {
      unlinkSync(fdPath(dirFd, entry));
      log.debug(`removed the abandoned temporary file "${entry}" of a device info file`);
    } catch (err) {
      if (errorCode(err) !== "ENOENT") log.warning(`Cannot remove "${entry}": ${errorMessage(err)}`);
    }
  }
}
