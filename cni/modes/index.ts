// The mode registry and how a config selects its mode.
//
// Mode selection (one CNI type, `accelnet`, for every attachment kind), first rule that applies wins:
//   1. `accelnetMode`: "macvlan" | "sriov" | "vdpa" | "vhostuser"  -- explicit, optional; any other value
//      is code 7. vhostuser is selected only this way (its `bridge` field is the reference bridge plugin's too)
//   2. a `vdpaDriver` field, or a device ID that names a vDPA device: a name under /sys/bus/vdpa/devices,
//      or the PCI address of a function that has a vdpa device (the device plugin's vdpa pools hand out
//      the parent VF's address; one readdir of the vdpa bus, only for a PCI-address device ID)
//                                                     -> vdpa
//   3. a device ID (runtimeConfig.deviceID, then top-level deviceID, then pciBusID)
//                                                     -> sriov  (sriov-cni configs select it unchanged)
//   4. anything else, with or without `master`        -> macvlan (reference macvlan configs select it unchanged)
// macvlan's own `mode` field (bridge|private|vepa|passthru) is the macvlan mode, hence `accelnetMode`.
// A mode missing from the registry fails with code 7 "the mode is not available yet".
// DEL and CHECK of an attachment with stored state go to the mode that created it, whatever the config
// selects now (a deviceID added, a vDPA device gone); GC releases each one with its stored mode. A DEL
// without state whose config selects no mode (ADD refused it) goes to macvlan's DEL, which touches only
// IPAM and what an interrupted ADD of that attachment left.
//
// Modes register explicitly (createRegistry), nothing registers itself on import.
import { CniCode, CniError } from "../lib/errors.js";
import { checkRequestedIps } from "../lib/fields.js";
import { collectGarbage } from "../lib/gc.js";
import { isObject, isString, type JsonObject } from "../lib/is.js";
import { invalidConfig } from "../lib/netconf.js";
import { StateStore, type AttachmentState } from "../lib/state.js";
import { HOST_ROOTS, namesVdpaDevice, type VdpaRoots } from "../lib/vdpa.js";
import type { CniFuncs, CniRequest } from "../skel/types.js";
import { macvlan } from "./macvlan.js";
import { sriov } from "./sriov.js";
import { lazyMode, MODE_NAMES, type Mode, type ModeName } from "./mode.js";
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

/** vhostuser, loaded when a request needs it (its OVSDB client stays out of the other modes' start-up). */
const vhostuser = lazyMode("vhostuser", async () => (await import("./vhostuser.js")).vhostuser);

/** Every mode accelnet ships today. */
export function defaultRegistry(): Registry {
  return createRegistry([macvlan, sriov, vdpa, vhostuser]);
}

function modeFor(registry: Registry, name: ModeName): Mode {
  const mode = registry.get(name);
  if (mode === undefined) {
    throw new CniError(CniCode.InvalidConfig, `Cannot use mode "${name}": the mode is not available yet`);
  }
  return mode;
}

/** The mode that created a stored attachment (code 999 for a name no accelnet ever wrote). */
function storedMode(registry: Registry, state: AttachmentState): Mode {
  if (!(MODE_NAMES as readonly string[]).includes(state.mode)) {
    throw new CniError(
      CniCode.Internal,
      `Cannot release attachment "${state.containerID}/${state.ifname}": unknown mode "${state.mode}"`,
    );
  }
  return modeFor(registry, state.mode as ModeName);
}

/** The dispatcher's function table: ADD and STATUS select the mode from the config, DEL and CHECK from state. */
export function modeFuncs(registry: Registry, opts: SelectOptions = {}): CniFuncs {
  const pick = (req: CniRequest) => modeFor(registry, selectMode(req.conf.raw, opts));
  const stored = (req: CniRequest) => new StateStore(req.stateDir).read(req.containerID, req.ifname);
  const forDel = (req: CniRequest): Mode => {
    const state = stored(req);
    if (state !== null) return storedMode(registry, state);
    try {
      return pick(req);
    } catch (err) {
      if (!(err instanceof CniError && err.code === CniCode.InvalidConfig)) throw err;
      req.log.warning(`DEL ignores a refused field: ${err.message}`);
      return modeFor(registry, "macvlan");
    }
  };
  return {
    add: async (req) => {
      // The IPs a runtime asks for reach IPAM in every mode: checked once, before the mode changes anything.
      checkRequestedIps(req.conf, req.cniArgs);
      return pick(req).add(req);
    },
    del: async (req) => forDel(req).del(req),
    check: async (req) => {
      const state = stored(req);
      return (state === null ? pick(req) : storedMode(registry, state)).check(req);
    },
    status: async (req) => pick(req).status(req),
    // GC covers every attachment of the network, whatever mode created it; then the network's mode
    // sweeps what it finds outside the state (vhostuser: OVS ports), even when a release failed.
    gc: async (req) => {
      let released: Error | undefined;
      try {
        await collectGarbage(req, (state) => storedMode(registry, state).release(state, req));
      } catch (err) {
        released = err instanceof Error ? err : new Error(String(err));
      }
      let selected: Mode | undefined;
      try {
        selected = registry.get(selectMode(req.conf.raw, opts));
      } catch {
        selected = undefined; // a config no mode accepts has nothing of a mode's outside the state
      }
      if (selected?.sweep !== undefined) await selected.sweep(req);
      if (released !== undefined) throw released;
    },
  };
}
