// The mode registry and how a config selects its mode.
//
// Mode selection (one CNI type, `accelnet`, for every attachment kind), first rule that applies wins:
//   1. `accelnetMode`: "macvlan" | "sriov" | "vdpa"  -- explicit, optional; any other value is code 7
//   2. a `vdpaDriver` field, or a device ID that names a vDPA device: a name under /sys/bus/vdpa/devices,
//      or the PCI address of a function that has a vdpa device (the device plugin's vdpa pools hand out
//      the parent VF's address; one readdir of the vdpa bus, only for a PCI-address device ID)
//                                                     -> vdpa
//   3. a device ID (runtimeConfig.deviceID, then top-level deviceID, then pciBusID)
//                                                     -> sriov  (sriov-cni configs select it unchanged)
//   4. anything else, with or without `master`        -> macvlan (reference macvlan configs select it unchanged)
// macvlan's own `mode` field (bridge|private|vepa|passthru) is the macvlan mode, hence `accelnetMode`.
// A mode missing from the registry fails with code 7 "the mode is not available yet".
//
// Modes register explicitly (createRegistry), nothing registers itself on import.
import { CniCode, CniError } from "../lib/errors.js";
import { checkRequestedIps } from "../lib/fields.js";
import { collectGarbage } from "../lib/gc.js";
import { isObject, isString, type JsonObject } from "../lib/is.js";
import { invalidConfig } from "../lib/netconf.js";
import { HOST_ROOTS, namesVdpaDevice, type VdpaRoots } from "../lib/vdpa.js";
import type { CniFuncs, CniRequest } from "../skel/types.js";
import { macvlan } from "./macvlan.js";
import { sriov } from "./sriov.js";
import { MODE_NAMES, type Mode, type ModeName } from "./mode.js";
import { vdpa } from "./vdpa.js";

export type { Mode, ModeName } from "./mode.js";

export interface SelectOptions {
  /** Whether a device ID names a vDPA device (default: namesVdpaDevice under `roots`). */
  isVdpaDevice?: (id: string) => boolean;
  /** sysfs root for the default check (default /sys; tests use fake trees). */
  roots?: VdpaRoots;
}

/** The device ID a config carries, in sriov-cni's order of precedence. */
export function deviceIdOf(raw: JsonObject): string | undefined {
  const rc = raw["runtimeConfig"];
  const candidates = [isObject(rc) ? rc["deviceID"] : undefined, raw["deviceID"], raw["pciBusID"]];
  return candidates.find((c): c is string => isString(c) && c !== "");
}

export function selectMode(raw: JsonObject, opts: SelectOptions = {}): ModeName {
  const explicit = raw["accelnetMode"];
  if (explicit !== undefined && explicit !== null) {
    if (!isString(explicit) || !(MODE_NAMES as readonly string[]).includes(explicit)) {
      throw invalidConfig("accelnetMode", `${JSON.stringify(explicit)} is not one of ${MODE_NAMES.join(", ")}`);
    }
    return explicit as ModeName;
  }
  const deviceId = deviceIdOf(raw);
  const isVdpa = opts.isVdpaDevice ?? ((id: string) => namesVdpaDevice(opts.roots ?? HOST_ROOTS, id));
  if (raw["vdpaDriver"] !== undefined || (deviceId !== undefined && isVdpa(deviceId))) return "vdpa";
  if (deviceId !== undefined) return "sriov";
  return "macvlan";
}

export type Registry = ReadonlyMap<ModeName, Mode>;

export function createRegistry(modes: readonly Mode[]): Registry {
  return new Map(modes.map((m) => [m.name, m]));
}

/** Every mode accelnet ships today. */
export function defaultRegistry(): Registry {
  return createRegistry([macvlan, sriov, vdpa]);
}

function modeFor(registry: Registry, name: ModeName): Mode {
  const mode = registry.get(name);
  if (mode === undefined) {
    throw new CniError(CniCode.InvalidConfig, `Cannot use mode "${name}": the mode is not available yet`);
  }
  return mode;
}

/** The dispatcher's function table: each verb selects the mode from the config. */
export function modeFuncs(registry: Registry, opts: SelectOptions = {}): CniFuncs {
  const pick = (req: CniRequest) => modeFor(registry, selectMode(req.conf.raw, opts));
  return {
    // The IPs a runtime asks for reach IPAM in every mode: checked once, before the mode changes anything.
    add: async (req) => {
      checkRequestedIps(req.conf, req.cniArgs);
      return pick(req).add(req);
    },
    del: async (req) => pick(req).del(req),
    check: async (req) => pick(req).check(req),
    status: async (req) => pick(req).status(req),
    // GC covers every attachment of the network, whatever mode created it.
    gc: (req) =>
      collectGarbage(req, (state) => {
        if (!(MODE_NAMES as readonly string[]).includes(state.mode)) {
          throw new CniError(
            CniCode.Internal,
            `Cannot release attachment "${state.containerID}/${state.ifname}": unknown mode "${state.mode}"`,
          );
        }
        return modeFor(registry, state.mode as ModeName).release(state, req);
      }),
  };
}
