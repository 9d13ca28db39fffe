// Mechanisms every mode uses for one attachment (containerID + ifname): the netns check, its lock, its
// state record, the state dir probe of STATUS, and IPAM ADD/DEL/CHECK/STATUS with the request's config
// or a stored one. Device-mode mechanisms (owner markers, restore, reconcile) are in device-attachment.ts.
import { mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { CniCode, CniError, errorCode, errorMessage } from "./errors.js";
import { lockTimeout } from "./gc.js";
import type { ProcessRunner } from "../../native/client/run-process.js";
import { callIpam, ipamOnlyBooksAddresses, type IpamCommand } from "./ipam.js";
import { stateDirVersionCache, type IpamVersionCache } from "./ipam-versions.js";
import { isObject } from "./is.js";
import { clearAttachmentLeftovers } from "./leftovers.js";
import { attachmentLockPath, withLock } from "./lock.js";
import type { Logger } from "./log.js";
import { parseNetConf } from "./netconf.js";
import { netnsInode } from "./owner.js";
import type { Result } from "./result.js";
import { removeFile, StateStore, STATE_FORMAT, writeFileAtomic, type AttachmentState } from "./state.js";
import { ensureTrustedDir } from "./trusted-paths.js";
import type { UndoStack } from "./undo.js";
import { atLeast, isSupportedVersion } from "./versions.js";
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

export function pathExists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** STATUS: the state dir is trusted (trusted-paths.ts) and takes a write (a probe file no GC ever sees). */
export function probeStateDir(stateDir: string): void {
  ensureTrustedDir(stateDir, "state dir");
  const dir = join(stateDir, "attachments");
  const probe = join(dir, `.status-probe-${process.pid}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileAtomic(probe, "");
  removeFile(probe);
}

/** Runs `fn` holding the attachment's lock (containerID + ifname). */
export function withAttachmentLock<T>(req: CniRequest, fn: () => Promise<T>): Promise<T> {
  const path = attachmentLockPath(req.stateDir, req.containerID, req.ifname);
  return withLock(path, { what: `attachment "${req.containerID}/${req.ifname}"`, ...lockTimeout(req) }, fn);
}

/** A new attachment state for `req` (result empty unless given: device modes fill it in when ADD completes). */
export function newAttachmentState(
  req: CniRequest,
  mode: string,
  data: object,
  result: Result = { interfaces: [], ips: [], routes: [], dns: {} },
): AttachmentState {
  return {
    format: STATE_FORMAT,
    containerID: req.containerID,
    ifname: req.ifname,
    netns: req.netns,
    netnsInode: netnsInode(req.netns),
    network: req.conf.name,
    mode,
    cniVersion: req.cniVersion,
    config: req.stdin,
    cniArgs: req.args,
    cniPath: req.path,
    result,
    data: data as Record<string, unknown>,
    createdAt: new Date().toISOString(),
  };
}

// ---------------------------------------------------------------- IPAM

/** The IPAM plugins' VERSION answers in the state dir (ipam-versions.ts). */
export function cacheOf(req: Pick<CniRequest, "stateDir" | "log">): IpamVersionCache {
  return stateDirVersionCache(req.stateDir, req.log);
}

/** IPAM with the request's config and environment (STATUS: no version cache, it writes nothing). */
export async function ipamCall(req: CniRequest, type: string, command: IpamCommand): Promise<void> {
  await callIpam(
    { type, command, stdin: req.stdin, env: req.env, log: req.log, runner: req.deps.runProcess },
    req.cniVersion,
  );
}

/**
 * IPAM CHECK at the version IPAM accepted at ADD (stored), so an older plugin is not asked, refused
 * and asked VERSION on every CHECK. Only when the request's version is ADD's and the stored one knows
 * CHECK (0.4.0); otherwise the usual fallback.
 */
export async function ipamCheck(req: CniRequest, type: string, state: AttachmentState | null): Promise<void> {
  const known = state?.data["ipamVersion"];
  const usable =
    state?.cniVersion === req.cniVersion &&
    typeof known === "string" &&
    isSupportedVersion(known) &&
    atLeast(known, "0.4.0");
  const knownVersion = usable ? known : null;
  await callIpam(
    {
      type,
      command: "CHECK",
      stdin: req.stdin,
      env: req.env,
      log: req.log,
      knownVersion,
      versionCache: cacheOf(req),
      runner: req.deps.runProcess,
    },
    req.cniVersion,
  );
}

/**
 * IPAM ADD for interface 0 of `result` (ips, routes, and dns unless the config has its own), pushing
 * IPAM DEL as its undo as soon as the plugin exited 0, before its output is parsed: a plugin that
 * reserved an address and printed something unusable still gets its DEL. Returns the version IPAM
 * accepted (kept in state for DEL).
 */
export async function ipamAdd(req: CniRequest, type: string, result: Result, undo: UndoStack): Promise<string | null> {
  const onExitZero = (version: string) =>
    undo.push(`IPAM "${type}" ADD`, () =>
      ipamDel(type, req.stdin, req.env, req.log, req.cniVersion, version, req.deps.runProcess),
    );
  const request = {
    type,
    command: "ADD" as const,
    stdin: req.stdin,
    env: req.env,
    log: req.log,
    onExitZero,
    versionCache: cacheOf(req),
    runner: req.deps.runProcess,
  };
  const ipam = await callIpam(request, req.cniVersion);
  if (ipam.result === null || ipam.result.ips.length === 0) {
    throw new CniError(CniCode.IpamFailed, `Cannot use IPAM plugin "${type}" result: no IP config`);
  }
  result.ips = ipam.result.ips.map((ip) => ({ ...ip, interface: 0 }));
  result.routes = ipam.result.routes;
  if (Object.keys(result.dns).length === 0) result.dns = ipam.result.dns;
  return ipam.version;
}

/**
 * `work` (the kernel work ADD does before IPAM) and IPAM ADD, returning what each returned. When the
 * plugin only books addresses (ipam.ts) and `fresh` (no complete attachment holds this containerID and
 * ifname, whose name `work` is expected to find taken before IPAM books a second address for it), the
 * two run side by side: they share nothing, and the plugin's exec is ADD's longest wait. Otherwise
 * `work` first, as the reference plugins do. Both have ended before either's error is thrown, so each
 * one's undo is on the stack when ADD unwinds; `work`'s error wins.
 */
export async function ipamAddBeside<T>(
  req: CniRequest,
  type: string | undefined,
  result: Result,
  undo: UndoStack,
  fresh: boolean,
  work: () => Promise<T>,
): Promise<[T, string | null]> {
  if (type === undefined) return [await work(), null];
  if (fresh && ipamOnlyBooksAddresses(type)) return bothSettled(work(), ipamAdd(req, type, result, undo));
  const value = await work();
  return [value, await ipamAdd(req, type, result, undo)];
}

/** Both values once both have settled; the first's error, else the second's. */
async function bothSettled<A, B>(first: Promise<A>, second: Promise<B>): Promise<[A, B]> {
  const [a, b] = await Promise.allSettled([first, second]);
  if (a.status === "rejected") throw a.reason;
  if (b.status === "rejected") throw b.reason;
  return [a.value, b.value];
}

/** IPAM DEL with a config and environment (ADD's, or a stored attachment's). */
export async function ipamDel(
  type: string,
  stdin: string,
  env: Env,
  log: Logger,
  cniVersion: string,
  knownVersion: string | null,
  runner?: ProcessRunner,
): Promise<void> {
  await callIpam(
    { type, command: "DEL", stdin, env: { ...env, CNI_COMMAND: "DEL" }, log, knownVersion, runner },
    cniVersion,
  );
}

/**
 * DEL's IPAM DEL, always attempted first; its error is returned, not thrown, so the mode still removes
 * the device and then reports it (the runtime retries DEL). With state it replays what ADD gave IPAM
 * (config, CNI_ARGS, version), whatever the DEL config says now; without, the DEL config (`type` is
 * undefined when there is no IPAM or ADD refused its type).
 */
async function ipamDelForDel(
  req: CniRequest,
  type: string | undefined,
  state: AttachmentState | null,
): Promise<CniError | undefined> {
  if (state === null) {
    if (type !== undefined) await ipamDelWithoutState(req, type);
    return undefined;
  }
  try {
    await ipamDelFromState(state, req.env, req.log, pathExists(req.netns) ? req.netns : "", req.deps.runProcess);
    return undefined;
  } catch (err) {
    return err instanceof CniError ? err : new CniError(CniCode.IpamFailed, errorMessage(err), { cause: err });
  }
}

/**
 * IPAM DEL of an attachment with no state: best effort. Every ADD writes its state record before it
 * calls IPAM (macvlan's pending state, a device mode's snapshot), so without one this ADD never reserved
 * anything, typically because it was refused first. The DEL config may be what ADD refused (an IPAM type
 * not in CNI_PATH, a requested IP the plugin's own DEL rejects): a failure then is a warning, never a DEL
 * that fails for ever. It is still attempted, for attachments whose state was lost.
 */
async function ipamDelWithoutState(req: CniRequest, type: string): Promise<void> {
  try {
    await ipamDel(type, req.stdin, req.env, req.log, req.cniVersion, null, req.deps.runProcess);
  } catch (err) {
    req.log.warning(`DEL without state: IPAM "${type}" DEL failed, nothing of ours to release: ${errorMessage(err)}`);
  }
}

/**
 * DEL under the attachment lock: IPAM DEL (always attempted) and `removeDevice` with the stored state
 * (null when there is none), then the state and whatever an interrupted ADD of this attachment left
 * (leftovers.ts). IPAM DEL runs first, as the reference plugins order it, unless the plugin only books
 * addresses (ipam.ts): then the two run side by side. An IPAM failure is thrown after the device is
 * removed and keeps the state, so the runtime's retry of DEL still finds it.
 */
export async function deleteAttachment(
  req: CniRequest,
  ipamType: string | undefined,
  removeDevice: (state: AttachmentState | null) => Promise<void>,
): Promise<void> {
  const store = new StateStore(req.stateDir);
  await withAttachmentLock(req, async () => {
    const state = store.read(req.containerID, req.ifname);
    const type = delIpamType(state, ipamType);
    let ipamError: CniError | undefined;
    if (type !== undefined && ipamOnlyBooksAddresses(type)) {
      [, ipamError] = await bothSettled(removeDevice(state), ipamDelForDel(req, ipamType, state));
    } else {
      ipamError = await ipamDelForDel(req, ipamType, state);
      await removeDevice(state);
    }
    if (ipamError !== undefined) throw ipamError;
    store.remove(req.containerID, req.ifname); // only after the device was removed or restored
    await clearAttachmentLeftovers(req.stateDir, req.containerID, req.ifname, lockTimeout(req), req.log);
  });
}

/** The `ipam.type` of the config a stored attachment was added with (undefined: none). Throws what the parse throws. */
function storedIpamType(state: AttachmentState): string | undefined {
  const stored: unknown = JSON.parse(state.config);
  if (!isObject(stored)) return undefined;
  return parseNetConf(stored, { forDel: true }).ipamType; // path fields never fail a DEL parse
}

/** The IPAM type DEL releases: the stored config's, else the request's; undefined when unreadable. */
function delIpamType(state: AttachmentState | null, requestType: string | undefined): string | undefined {
  if (state === null) return requestType;
  try {
    return storedIpamType(state);
  } catch {
    return undefined; // ipamDelFromState reports it, in the reference order
  }
}

/**
 * IPAM DEL for a stored attachment, replaying its ADD config, CNI_ARGS and CNI_PATH (GC, reconcile).
 * `netns`: CNI_NETNS to give IPAM (default none).
 */
export async function ipamDelFromState(
  state: AttachmentState,
  env: Env,
  log: Logger,
  netns = "",
  runner?: ProcessRunner,
): Promise<void> {
  const type = storedIpamType(state);
  if (type === undefined) return;
  const known = state.data["ipamVersion"];
  await ipamDel(
    type,
    state.config,
    {
      ...env,
      CNI_CONTAINERID: state.containerID,
      CNI_IFNAME: state.ifname,
      CNI_NETNS: netns,
      CNI_ARGS: state.cniArgs,
      CNI_PATH: env["CNI_PATH"] || state.cniPath,
    },
    log,
    state.cniVersion,
    typeof known === "string" ? known : null,
    runner,
  );
}

/**
 * STATUS of IPAM: its own 50/51 pass through, any other failure is `unavailable` (50 with the mode's
 * wording). Nothing to do without IPAM.
 */
export async function ipamStatus(
  req: CniRequest,
  type: string | undefined,
  unavailable: (err: unknown) => CniError,
): Promise<void> {
  if (type === undefined) return;
  try {
    await ipamCall(req, type, "STATUS");
  } catch (err) {
    if (err instanceof CniError && [CniCode.PluginNotAvailable, CniCode.LimitedConnectivity].includes(err.code as 50)) {
      throw err;
    }
    throw unavailable(err);
  }
}

/** "Cannot serve ADD on network <name>: <cause>" (STATUS code 50). */
export function unavailableError(req: CniRequest): (err: unknown) => CniError {
  return (err) =>
    new CniError(CniCode.PluginNotAvailable, `Cannot serve ADD on network "${req.conf.name}": ${errorMessage(err)}`, {
      cause: err,
    });
}
