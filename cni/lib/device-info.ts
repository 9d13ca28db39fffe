// The Device Information file (k8snetworkplumbingwg Device Information spec 1.1.0) at
// runtimeConfig.CNIDeviceInfoFile: {"type":"pci"|"vdpa","version":"1.1.0","pci"|"vdpa":{...}}.
// The device plugin may have written it already: ADD merges its fields into the existing object and
// keeps the others (vhost-net, rdma-device...); DEL puts back what was there before (or removes a
// file ADD created). What DEL needs is returned as a record the mode keeps in its state.
// The path is the config's: trusted-paths.ts decides where it may be; here it is opened without
// following a symlink, so root never reads (and later writes back) a file the path was pointed at.
import { closeSync, constants, fstatSync, mkdirSync, openSync, readFileSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { CniError, errorCode, errorMessage } from "./errors.js";
import { codeForFsError } from "./errno.js";
import { isObject } from "./is.js";
import { writeFileAtomic } from "./state.js";
import { checkDeviceInfoDir, deviceInfoNotRegular } from "./trusted-paths.js";

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
    };

/** What ADD did to the file, for DEL. `previous` null: the file did not exist. */
export interface DeviceInfoRecord {
  path: string;
  previous: string | null;
}

/** The file's content, or null when there is none; a symlink or a non-regular file is code 7. */
function readIfExists(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
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
  const fields = info.type === "pci" ? info.pci : info.vdpa;
  const out = { type: info.type, version: DEVICE_INFO_VERSION, [info.type]: { ...body, ...fields } };
  return JSON.stringify(out);
}

/**
 * Creates or updates the file (`env` gives the allowed directories, trusted-paths.ts); returns what DEL
 * needs to undo it. The new content replaces the file by rename, which never follows a symlink.
 */
export function writeDeviceInfo(
  path: string,
  info: DeviceInfo,
  env: Readonly<Record<string, string | undefined>>,
): DeviceInfoRecord {
  const previous = readIfExists(path);
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  } catch (err) {
    throw new CniError(codeForFsError(err), `Cannot write device info file "${path}": ${errorMessage(err)}`, {
      cause: err,
    });
  }
  checkDeviceInfoDir(path, env);
  try {
    writeFileAtomic(path, deviceInfoContent(info, previous), 0o644);
  } catch (err) {
    throw new CniError(codeForFsError(err), `Cannot write device info file "${path}": ${errorMessage(err)}`, {
      cause: err,
    });
  }
  return { path, previous };
}

/** Undoes writeDeviceInfo: restores the previous content, or removes the file ADD created. */
export function restoreDeviceInfo(record: DeviceInfoRecord): void {
  try {
    if (record.previous === null) rmSync(record.path, { force: true });
    else writeFileAtomic(record.path, record.previous, 0o644);
  } catch (err) {
    throw new CniError(codeForFsError(err), `Cannot restore device info file "${record.path}": ${errorMessage(err)}`, {
      cause: err,
    });
  }
}
