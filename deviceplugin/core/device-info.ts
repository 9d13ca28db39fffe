// Device-info files (k8snetworkplumbingwg Device Information spec 1.1.0) that
// Multus hands to the CNI: <prefix>-<name>-<deviceID>-device.json with a "pci"
// or "vdpa" object, encoded as Go's encoding/json writes that struct.
import { goJson, GoStruct, type GoValue } from "./go-json.js";
import type { Pool, PoolDevice } from "./pools.js";
import { vdpaTypeOf } from "./selectors.js";
import { vhostVdpaPath } from "./allocate-response.js";

export const DEVICE_INFO_VERSION = "1.1.0";

/** "<prefix>/<name>" and the device ID with "/" made "-", as the NAD client library names the file. */
export function deviceInfoFileName(pool: Pool, deviceId: string): string {
  return `${pool.config.fullName.replace(/\//g, "-")}-${deviceId.replace(/\//g, "-")}-device.json`;
}

function omitEmpty(fields: readonly (readonly [string, string | null])[]): GoStruct {
  return new GoStruct(fields.filter((f): f is readonly [string, string] => f[1] !== null && f[1] !== ""));
}

/** The file content (no trailing newline, like the Go writer). */
export function deviceInfoContent(dev: PoolDevice): string {
  let body: readonly [string, GoValue];
  if (dev.kind === "vdpa" && dev.vdpa !== null) {
    body = [
      "vdpa",
      omitEmpty([
        ["parent-device", dev.vdpa.name],
        ["driver", vdpaTypeOf(dev.vdpa)],
        ["path", vhostVdpaPath(dev)],
        ["pci-address", dev.pci?.addr ?? null],
        ["pf-pci-address", dev.pfAddr],
      ]),
    ];
  } else {
    body = [
      "pci",
      omitEmpty([
        ["pci-address", dev.pci?.addr ?? dev.id],
        ["pf-pci-address", dev.pfAddr],
      ]),
    ];
  }
  return goJson(new GoStruct([["type", body[0]], ["version", DEVICE_INFO_VERSION], body]));
}
