// Mechanisms shared by the device modes (SR-IOV, vDPA): netns and state-dir checks, IPAM DEL from a
// stored attachment, releasing a device under its lock and owner marker, and the host-side
// reconcile that restores every device whose owner's netns is gone.
import { mkdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { CniCode, CniError, errorCode, errorMessage } from "./errors.js";
import { callIpam } from "./ipam.js";
import { isObject } from "./is.js";
import { attachmentLockPath, withLock, type LockOptions } from "./lock.js";
import type { Logger } from "./log.js";
import { parseNetConf } from "./netconf.js";
import { OwnerMarkers, ownerNetnsAlive, sameAttachment, withDeviceLock, type DeviceOwner } from "./owner.js";
import { StateStore, STATE_FORMAT, writeFileAtomic, type AttachmentState } from "./state.js";
import type { Result } from "./result.js";
import { UndoStack } from "./undo.js";
import { lockTimeout } from "./gc.js";
import { cmd, type NativeClient } from "../../native/client/index.js";
import type { CniRequest } from "../skel/types.js";

type Env = Readonly<Record<string, string | undefined>>;

/** ADD and CHECK need the pod netns: code 3 when it does not exist. */
export function requireNetns(netns: string): void {
  try {
    statSync(netns);
  } catch (err) {
    if (errorCode(err) === "ENOENT") {
      throw new CniError(CniCode.UnknownContainer, `Cannot open netns "${netns}": no such file or directory`);
    }
    throw new CniError(CniCode.InvalidEnvironment, `Cannot open netns "${netns}": ${errorMessage(err)}`);
  }
}

/** STATUS: the state dir takes a write (a probe file no GC ever sees). */
export function probeStateDir(stateDir: string): void {
  const dir = join(stateDir, "attachments");
  const probe = join(dir, `.status-probe-${process.pid}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileAtomic(probe, "");
  rmSync(probe, { force: true });
}

/** IPAM DEL with a config and environment (ADD's, or a stored attachment's). */
export async function ipamDel(
  type: string,
  stdin: string,
  env: Env,
  log: Logger,
  cniVersion: string,
  knownVersion: string | null,
): Promise<void> {
  await callIpam({ type, command: "DEL", stdin, env: { ...env, CNI_COMMAND: "DEL" }, log, knownVersion }, cniVersion);
}

/** IPAM DEL for a stored attachment, replaying its ADD config, CNI_ARGS and CNI_PATH (GC, reconcile). */
export async function ipamDelFromState(state: AttachmentState, env: Env, log: Logger): Promise<void> {
  const stored: unknown = JSON.parse(state.config);
  if (!isObject(stored)) return;
  const conf = parseNetConf(stored);
  if (conf.ipamType === undefined) return;
  const known = state.data["ipamVersion"];
  await ipamDel(
    conf.ipamType,
    state.config,
    {
      ...env,
      CNI_CONTAINERID: state.containerID,
      CNI_IFNAME: state.ifname,
      CNI_NETNS: "",
      CNI_ARGS: state.cniArgs,
      CNI_PATH: env["CNI_PATH"] || state.cniPath,
    },
    log,
    state.cniVersion,
    typeof known === "string" ? known : null,
  );
}

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

export interface ReconcileReport {
  restored: string[];
  failed: { key: string; error: string }[];
}

/**
 * The host-side reconcile (device plugin start): for every device of `bus` whose owner's netns is gone,
 * restore it from the owner's state, IPAM DEL (best effort: when it fails the state stays for GC or
 * DEL) and drop the marker. Lock order as everywhere: attachment, then device.
 */
export async function reconcileOrphans(opts: {
  stateDir: string;
  bus: "pci" | "vdpa";
  log: Logger;
  env: Env;
  restore: (state: AttachmentState) => Promise<void>;
  lock?: LockOptions;
  isAlive?: (owner: DeviceOwner) => boolean;
}): Promise<ReconcileReport> {
  const { stateDir, log } = opts;
  const markers = new OwnerMarkers(stateDir);
  const store = new StateStore(stateDir);
  const alive = opts.isAlive ?? ownerNetnsAlive;
  const report: ReconcileReport = { restored: [], failed: [] };
  for (const [key, owner] of markers.list()) {
    if (!key.startsWith(`${opts.bus}/`) || alive(owner)) continue;
    const lockPath = attachmentLockPath(stateDir, owner.containerID, owner.ifname);
    try {
      await withLock(lockPath, { what: `attachment "${owner.containerID}/${owner.ifname}"`, ...opts.lock }, () =>
        withDeviceLock(stateDir, key, opts.lock ?? {}, async () => {
          const current = markers.read(key);
          if (current === null || !sameAttachment(current, owner) || alive(current)) return;
          const state = store.read(owner.containerID, owner.ifname);
          if (state !== null && state.data["deviceRestored"] !== true) {
            await opts.restore(state);
            state.data["deviceRestored"] = true;
            store.write(state);
          }
          markers.release(key, owner);
          report.restored.push(key);
          if (state === null) return;
          try {
            await ipamDelFromState(state, opts.env, log);
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

/** Runs `fn` holding the attachment's lock (containerID + ifname). */
export function withAttachmentLock<T>(req: CniRequest, fn: () => Promise<T>): Promise<T> {
  const path = attachmentLockPath(req.conf.stateDir, req.containerID, req.ifname);
  return withLock(path, { what: `attachment "${req.containerID}/${req.ifname}"`, ...lockTimeout(req) }, fn);
}

/** A new attachment state for `req` (result filled in when ADD completes). */
export function newAttachmentState(req: CniRequest, mode: string, data: object): AttachmentState {
  return {
    format: STATE_FORMAT,
    containerID: req.containerID,
    ifname: req.ifname,
    netns: req.netns,
    network: req.conf.name,
    mode,
    cniVersion: req.cniVersion,
    config: req.stdin,
    cniArgs: req.args,
    cniPath: req.path,
    result: { interfaces: [], ips: [], routes: [], dns: {} },
    data: data as Record<string, unknown>,
    createdAt: new Date().toISOString(),
  };
}

/**
 * IPAM ADD for interface 0 of `result` (ips, routes, and dns unless the config has its own), pushing
 * IPAM DEL as its undo. Returns the version IPAM accepted (kept in state for DEL).
 */
export async function ipamAdd(req: CniRequest, type: string, result: Result, undo: UndoStack): Promise<string | null> {
  const ipam = await callIpam({ type, command: "ADD", stdin: req.stdin, env: req.env, log: req.log }, req.cniVersion);
  undo.push(`IPAM "${type}" ADD`, () => ipamDel(type, req.stdin, req.env, req.log, req.cniVersion, ipam.version));
  if (ipam.result === null || ipam.result.ips.length === 0) {
    throw new CniError(CniCode.IpamFailed, `Cannot use IPAM plugin "${type}" result: no IP config`);
  }
  result.ips = ipam.result.ips.map((ip) => ({ ...ip, interface: 0 }));
  result.routes = ipam.result.routes;
  if (Object.keys(result.dns).length === 0) result.dns = ipam.result.dns;
  return ipam.version;
}

/** STATUS of a device mode: 50 unless the state dir is writable and the helper answers; then IPAM STATUS. */
export async function deviceModeStatus(req: CniRequest, native: NativeClient): Promise<void> {
  const { name, stateDir, ipamType } = req.conf;
  const unavailable = (err: unknown) =>
    new CniError(CniCode.PluginNotAvailable, `Cannot serve ADD on network "${name}": ${errorMessage(err)}`, {
      cause: err,
    });
  try {
    probeStateDir(stateDir);
    await native.run([cmd.linkList({})]);
  } catch (err) {
    throw unavailable(err);
  }
  if (ipamType === undefined) return;
  try {
    await callIpam({ type: ipamType, command: "STATUS", stdin: req.stdin, env: req.env, log: req.log }, req.cniVersion);
  } catch (err) {
    if (err instanceof CniError && [CniCode.PluginNotAvailable, CniCode.LimitedConnectivity].includes(err.code as 50)) {
      throw err;
    }
    throw unavailable(err);
  }
}
