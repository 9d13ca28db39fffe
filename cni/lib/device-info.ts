// The Device Information file (k8snetworkplumbingwg Device Information spec 1.1.0) at
// runtimeConfig.CNIDeviceInfoFile: {"type":"pci"|"vdpa","version":"1.1.0","pci"|"vdpa":{...}}.
// The device plugin may have written it already: ADD merges its fields into the existing object and
// keeps the others (vhost-net, rdma-device...); DEL puts back what was there before (or removes a
// file ADD created). What DEL needs is returned as a record the mode keeps in its state.
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { CniError, errorCode, errorMessage } from "./errors.js";
import { codeForFsError } from "./errno.js";
import { isObject } from "./is.js";
import { writeFileAtomic } from "./state.js";

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

function readIfExists(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    if (errorCode(err) === "ENOENT") return null;
    throw new CniError(codeForFsError(err), `Cannot read device info file "${path}": ${errorMessage(err)}`);
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

/** Creates or updates the file; returns what DEL needs to undo it. */
export function writeDeviceInfo(path: string, info: DeviceInfo): DeviceInfoRecord {
  const previous = readIfExists(path);
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
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
