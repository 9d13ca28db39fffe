// macvlan mode: a new macvlan link on a master, created directly in the pod netns.
// Field names are the reference macvlan plugin's: master, mode, mtu, mac, linkInContainer, bcqueuelen,
// ipam, dns. Kernel work goes through the helper in batches: ADD is one batch to create the link
// (two when `master` is absent and the default-route interface must be found), the IPAM exec, then one
// batch to configure addresses, sysctls, up and routes. DEL is the IPAM exec plus one batch. An IPAM
// plugin that only books addresses (host-local, static) runs beside the create and beside DEL's batch.
// No lock is held on the master: creating a macvlan is one atomic kernel operation under a name no one
// else uses (a random temporary name in the pod netns), so concurrent ADDs on one master need none.
// The link is undone by identity (its ifindex, in the netns recorded at ADD, checked by inode), never by
// the name asked for. A pending state (the temporary name) is written before the link exists, so DEL
// and GC find a link an interrupted ADD left.
import { cmd, NativeError, type Link, type MacvlanMode, type NativeClient } from "../../native/client/index.js";
import {
  deleteAttachment,
  ipamAddBeside,
  ipamCheck,
  ipamDelFromState,
  ipamStatus,
  newAttachmentState,
  pathExists,
  probeStateDir,
  requireNetns,
  unavailableError,
  withAttachmentLock,
} from "../lib/attachment.js";
import { netdevDiffers, prevInterfaceOf } from "../lib/check.js";
import { configureInterface } from "../lib/configure.js";
import { cniErrorFromNative, isNotFound } from "../lib/errno.js";
import { CniCode, CniError } from "../lib/errors.js";
import { macFrom } from "../lib/fields.js";
import { ifnameProblem } from "../lib/ifname.js";
import type { Logger } from "../lib/log.js";
import { invalidConfig, optionalBoolean, optionalInteger, optionalString, type NetConf } from "../lib/netconf.js";
import { netnsInode } from "../lib/owner.js";
import { randomHex } from "../lib/random.js";
import type { Interface, Result } from "../lib/result.js";
import { StateStore, type AttachmentState } from "../lib/state.js";
import { UndoStack } from "../lib/undo.js";
import type { CniRequest } from "../skel/types.js";
import type { Mode } from "./mode.js";

const MACVLAN_MODES = ["bridge", "private", "vepa", "passthru"] as const;
const MIN_MTU = 68;
const MAX_MTU = 65535;

export interface MacvlanConf {
  net: NetConf;
  /** Undefined: the interface of the default route (host netns, or pod netns with linkInContainer). */
  master?: string;
  mode: MacvlanMode;
  /** 0: inherit the master's MTU. */
  mtu: number;
  /** From runtimeConfig.mac, args.cni.mac, CNI_ARGS MAC= or `mac`, first one set. */
  mac?: string;
  linkInContainer: boolean;
  bcqueuelen?: number;
}

// ---------------------------------------------------------------- parseConf

export function parseConf(req: Pick<CniRequest, "conf" | "cniArgs">): MacvlanConf {
  const raw = req.conf.raw;
  const conf: MacvlanConf = { net: req.conf, mode: "bridge", mtu: 0, linkInContainer: false };
  const master = optionalString(raw, "master");
  if (master !== undefined && master !== "") {
    const problem = ifnameProblem(master);
    if (problem !== null)
      throw invalidConfig("master", `${JSON.stringify(master)} is not an interface name: ${problem}`);
    conf.master = master;
  }
  const mode = optionalString(raw, "mode");
  if (mode !== undefined && mode !== "") {
    if (!(MACVLAN_MODES as readonly string[]).includes(mode)) {
      throw invalidConfig("mode", `"${mode}" is not one of ${MACVLAN_MODES.join(", ")}`);
    }
    conf.mode = mode as MacvlanMode;
  }
  const mtu = optionalInteger(raw, "mtu", 0, MAX_MTU) ?? 0;
  if (mtu !== 0 && mtu < MIN_MTU)
    throw invalidConfig("mtu", `${mtu} is below the minimum ${MIN_MTU} (0 inherits the master's)`);
  conf.mtu = mtu;
  const mac = macFrom(req.conf, req.cniArgs);
  if (mac !== undefined) conf.mac = mac;
  conf.linkInContainer = optionalBoolean(raw, "linkInContainer") ?? false;
  const bcqueuelen = optionalInteger(raw, "bcqueuelen", 0, 2 ** 31 - 1);
  if (bcqueuelen !== undefined && bcqueuelen !== 0) conf.bcqueuelen = bcqueuelen;
  return conf;
}

// ---------------------------------------------------------------- add

/** What DEL, CHECK and GC need; `complete` false (and no ifindex) while ADD runs. */
interface MacvlanData {
  master: string;
  masterNetns: string | undefined;
  mode: MacvlanMode;
  ipamVersion: string | null;
  /** The name the link is created under before the rename to CNI_IFNAME. */
  tmpName: string;
  /** The link's ifindex in the pod netns: how DEL and GC find it, whatever its name. */
  ifindex?: number;
  complete: boolean;
}

export async function add(req: CniRequest): Promise<Result> {
  const conf = parseConf(req);
  const native = req.deps.native(req.stateDir, req.env);
  requireNetns(req.netns);
  return withAttachmentLock(req, async () => {
    const undo = new UndoStack(req.log);
    const store = new StateStore(req.stateDir);
    return undo.guard(async () => {
      const masterNetns = conf.linkInContainer ? req.netns : undefined;
      const master = conf.master ?? (await defaultRouteInterface(native, masterNetns));

      // 1. The pending state, before the link exists: an interrupted ADD's link is found by DEL and GC.
      //    A complete one is a repeated ADD: left alone (the create below fails on the taken name).
      const previous = store.read(req.containerID, req.ifname);
      const tmpName = `acntmp${randomHex(4)}`;
      const data: MacvlanData = { master, masterNetns, mode: conf.mode, ipamVersion: null, tmpName, complete: false };
      const fresh = previous === null || previous.data["complete"] === false;
      if (fresh) {
        if (previous !== null) await deleteRecordedLink(native, previous, req.netns, req.log);
        store.write(newAttachmentState(req, "macvlan", data));
        undo.push(`state of "${req.containerID}/${req.ifname}"`, () => {
          store.remove(req.containerID, req.ifname);
          return Promise.resolve();
        });
      }

      // 2. One batch: check the netns, read the master, create the macvlan under a temporary name in the
      //    pod netns, rename it to CNI_IFNAME (the reference's order; EEXIST when the name is taken). Its
      //    undo deletes it by ifindex, from the moment the create command returned it.
      // 3. IPAM ADD, beside the create when the plugin only books addresses; its undo is IPAM DEL.
      const result: Result = { interfaces: [], ips: [], routes: [], dns: conf.net.dns };
      const [link, ipamVersion] = await ipamAddBeside(req, conf.net.ipamType, result, undo, fresh, () =>
        createLink(native, undo, req, conf, master, masterNetns, tmpName),
      );
      data.ifindex = link.index;
      data.ipamVersion = ipamVersion;
      result.interfaces.push(interfaceOf(req, link));

      // 4. One batch inside the netns: notify sysctls, addresses, up, routes. Their effects die with the
      //    link, so the link's undo covers them.
      if (conf.net.ipamType !== undefined) await configureInterface(native, req, result);

      // 5. The complete state before the result is printed: DEL, CHECK and GC rely on it.
      data.complete = true;
      store.write(newAttachmentState(req, "macvlan", data, result));
      req.log.info(`added macvlan "${req.ifname}" on "${master}" (${conf.mode}) in "${req.netns}"`);
      return result;
    });
  });
}

/** The create batch of ADD step 2; pushes the link's undo as soon as the link may exist. */
async function createLink(
  native: NativeClient,
  undo: UndoStack,
  req: CniRequest,
  conf: MacvlanConf,
  master: string,
  masterNetns: string | undefined,
  tmpName: string,
): Promise<Link> {
  const layer2 = conf.net.ipamType === undefined;
  const create = [
    cmd.netnsCheck({ path: req.netns }),
    cmd.linkShow({ name: master, ...opt("netns", masterNetns) }),
    cmd.macvlanAdd({
      netns: req.netns,
      master,
      name: tmpName,
      mode: conf.mode,
      ...opt("masterNetns", masterNetns),
      ...opt("mac", conf.mac),
      ...opt("mtu", conf.mtu === 0 ? undefined : conf.mtu),
      ...opt("bcqueuelen", conf.bcqueuelen),
    }),
    cmd.linkRename({ netns: req.netns, name: tmpName, newname: req.ifname }),
    // Layer 2 only (no IPAM): nothing else to configure, so bring it up in the same batch.
    ...(layer2 ? [cmd.linkUp({ netns: req.netns, name: req.ifname })] : []),
  ] as const;
  try {
    const results = await native.run(create);
    pushDeleteLink(undo, native, req.netns, results[2].link.index);
    return results[3].link;
  } catch (err) {
    const created = err instanceof NativeError ? (err.completed[2] as { link?: Link } | undefined)?.link : undefined;
    if (created !== undefined) pushDeleteLink(undo, native, req.netns, created.index);
    // No reply (the helper timed out or crashed): it may have created the link before it died. A
    // macvlan under the random temporary name is ours.
    else if (!(err instanceof NativeError) || err.index === null) {
      undo.push(`macvlan "${tmpName}" in netns "${req.netns}"`, () =>
        deleteUnrecordedLink(native, req.netns, tmpName, req.log),
      );
    }
    throw createError(err, req, conf, master);
  }
}

function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function pushDeleteLink(undo: UndoStack, native: NativeClient, netns: string, index: number): void {
  undo.push(`macvlan link ${index} in netns "${netns}"`, async () => {
    await native.run([cmd.linkDelByIndex({ netns, index })]);
  });
}

/** The interface of the default route (IPv4 first, then IPv6), as the reference picks `master`. */
async function defaultRouteInterface(native: NativeClient, netns: string | undefined): Promise<string> {
  const where = netns === undefined ? "the host netns" : `netns "${netns}"`;
  let routes, links;
  try {
    [{ routes }, { links }] = await native.run([cmd.routeList(opt("netns", netns)), cmd.linkList(opt("netns", netns))]);
  } catch (err) {
    throw cniErrorFromNative(err, "find the default route in", netns ?? "host netns");
  }
  const def = routes.find((r) => r.dst === "0.0.0.0/0") ?? routes.find((r) => r.dst === "::/0");
  const name = links.find((l) => l.index === def?.oif)?.name;
  if (name === undefined) throw invalidConfig("master", `missing, and there is no default route in ${where}`);
  return name;
}

/** Turns a failure of the create batch into the error a user can act on. */
function createError(err: unknown, req: CniRequest, conf: MacvlanConf, master: string): CniError {
  if (!(err instanceof NativeError)) return cniErrorFromNative(err, `create macvlan "${req.ifname}" on master`, master);
  if (err.cmd === "netns-check") {
    // The helper validates netns paths before running anything (exit 2) and again when opening them.
    const code = isNotFound(err) ? CniCode.UnknownContainer : CniCode.InvalidEnvironment;
    return new CniError(
      code,
      `Cannot use CNI_NETNS "${req.netns}": ${isNotFound(err) ? "no such netns" : "not a network namespace"}`,
      {
        cause: err,
      },
    );
  }
  if (err.index === 1 && isNotFound(err)) {
    return new CniError(CniCode.InvalidConfig, `Cannot find master "${master}": no such interface`, { cause: err });
  }
  if (err.index === 2) {
    const masterLink = (err.completed[1] as { link?: Link } | undefined)?.link;
    if (masterLink !== undefined && conf.mtu > masterLink.mtu) {
      return invalidConfig("mtu", `${conf.mtu} is above master "${master}" MTU ${masterLink.mtu}`);
    }
  }
  if (err.index === 3 && err.errname === "EEXIST") {
    return new CniError(
      CniCode.InterfaceExists,
      `Cannot create interface "${req.ifname}" in netns "${req.netns}": an interface with that name already exists`,
      { cause: err },
    );
  }
  return cniErrorFromNative(err, `create macvlan "${req.ifname}" on master`, master);
}

function interfaceOf(req: CniRequest, link: Link): Interface {
  const intf: Interface = { name: req.ifname };
  if (link.mac !== null) intf.mac = link.mac;
  intf.mtu = link.mtu;
  intf.sandbox = req.netns;
  return intf;
}

// ---------------------------------------------------------------- del

/**
 * DEL: IPAM DEL first (always attempted), then the link; a missing netns, link or state is success.
 * The config is not validated: DEL must succeed for one ADD refused, and uses what ADD stored.
 */
export async function del(req: CniRequest): Promise<void> {
  const native = req.deps.native(req.stateDir, req.env);
  await deleteAttachment(req, req.conf.ipamType, (state) =>
    state === null
      ? deleteUnrecordedLink(native, req.netns, req.ifname, req.log)
      : deleteRecordedLink(native, state, req.netns, req.log),
  );
}

/**
 * The pod netns ADD recorded, as a path that still reaches it: CNI_NETNS now or the path of ADD, the
 * first that is the same netns (inode); undefined when neither is (the netns and its links are gone).
 */
function recordedNetns(state: AttachmentState, netnsNow: string): string | undefined {
  const candidates = [netnsNow, state.netns].filter((p) => p !== "");
  if (state.netnsInode === undefined || state.netnsInode === null) return candidates.find(pathExists);
  return candidates.find((p) => netnsInode(p) === state.netnsInode);
}

/**
 * Deletes the link of a stored attachment in the netns ADD recorded: by ifindex once ADD had it, else
 * (ADD interrupted) the macvlan under the temporary name or CNI_IFNAME.
 */
async function deleteRecordedLink(
  native: NativeClient,
  state: AttachmentState,
  netnsNow: string,
  log: Logger,
): Promise<void> {
  const netns = recordedNetns(state, netnsNow);
  if (netns === undefined) {
    log.info(`DEL finds netns "${state.netns}" of "${state.containerID}/${state.ifname}" gone: so is its link`);
    return;
  }
  const d = state.data as Partial<MacvlanData>;
  if (typeof d.ifindex === "number") {
    try {
      await native.run([cmd.linkDelByIndex({ netns, index: d.ifindex })]);
    } catch (err) {
      if (!isGone(err, netns)) throw cniErrorFromNative(err, `delete interface ${d.ifindex} in netns`, netns);
    }
    return;
  }
  const names = [d.tmpName, state.ifname].filter((n): n is string => typeof n === "string");
  for (const name of names) await deleteUnrecordedLink(native, netns, name, log);
}

const isGone = (err: unknown, netns: string) =>
  isNotFound(err) || (err instanceof NativeError && err.exitCode === 2 && err.object === netns);

/**
 * Deletes `ifname` in `netns` without state proving we created it (a failed or interrupted ADD, or
 * state lost): only a macvlan is deleted, never an interface someone else put there; a name ADD would
 * refuse (ifname.ts) was never created by accelnet.
 */
async function deleteUnrecordedLink(native: NativeClient, netns: string, ifname: string, log: Logger): Promise<void> {
  if (netns === "" || !pathExists(netns) || ifnameProblem(ifname) !== null) return;
  try {
    const [{ link }] = await native.run([cmd.linkShow({ netns, name: ifname })]);
    if (link.kind !== "macvlan") {
      log.warning(`DEL leaves "${ifname}" in "${netns}" alone: it is a ${link.kind ?? "device"}, not a macvlan`);
      return;
    }
    await native.run([cmd.linkDelByIndex({ netns, index: link.index })]);
  } catch (err) {
    if (isGone(err, netns)) return;
    // The helper refused its arguments (exit 2, nothing ran): with the name checked above, that is the
    // netns, a path that is no namespace (ADD refused it with code 3), so it holds no link of ours.
    if (err instanceof NativeError && err.exitCode === 2) {
      log.info(`DEL finds no netns at "${netns}" (${err.message}): nothing to delete`);
      return;
    }
    throw cniErrorFromNative(err, `delete interface "${ifname}" in netns`, netns);
  }
}

/** GC: releases a stored attachment with the config and environment it was added with. */
export async function release(state: AttachmentState, req: CniRequest): Promise<void> {
  await ipamDelFromState(state, req.env, req.log, recordedNetns(state, "") ?? "", req.deps.runProcess);
  const native = req.deps.native(req.stateDir, req.env);
  await deleteRecordedLink(native, state, "", req.log);
  new StateStore(req.stateDir).remove(state.containerID, state.ifname);
}

// ---------------------------------------------------------------- check

/** CHECK: the link is in the netns, is a macvlan with the configured mode and the MAC, IPs and routes of prevResult. */
export async function check(req: CniRequest): Promise<void> {
  const conf = parseConf(req);
  const p = prevInterfaceOf(req, conf.net);
  requireNetns(req.netns);

  if (conf.net.ipamType !== undefined) {
    await ipamCheck(req, conf.net.ipamType, new StateStore(req.stateDir).read(req.containerID, req.ifname));
  }

  const native = req.deps.native(req.stateDir, req.env);
  const masterNetns = conf.linkInContainer ? req.netns : undefined;
  const show = [
    cmd.linkShow({ netns: req.netns, name: req.ifname, addrs: true, routes: true }),
    ...(conf.master === undefined ? [] : [cmd.linkShow({ name: conf.master, ...opt("netns", masterNetns) })]),
  ] as const;
  let shown;
  try {
    [shown] = await native.run(show);
  } catch (err) {
    if (err instanceof NativeError && err.index === 0 && isNotFound(err))
      throw p.mismatch(`no such interface in netns "${req.netns}"`);
    if (err instanceof NativeError && err.index === 1 && isNotFound(err)) {
      throw new CniError(CniCode.InvalidConfig, `Cannot find master "${conf.master}": no such interface`, {
        cause: err,
      });
    }
    throw cniErrorFromNative(err, `show interface "${req.ifname}" in netns`, req.netns);
  }
  const { link } = shown;
  if (link.kind !== "macvlan") throw p.mismatch(`it is a ${link.kind ?? "device without a kind"}, not a macvlan`);
  if (link.macvlanMode !== conf.mode)
    throw p.mismatch(`macvlan mode is ${link.macvlanMode ?? "unknown"}, config says ${conf.mode}`);
  const differs = netdevDiffers(shown, p);
  if (differs !== null) throw p.mismatch(differs);
}

// ---------------------------------------------------------------- status

/** STATUS: 50 unless the state dir is writable, the helper runs and the master exists; then IPAM STATUS. */
export async function status(req: CniRequest): Promise<void> {
  const conf = parseConf(req);
  const unavailable = unavailableError(req);
  try {
    probeStateDir(req.stateDir);
  } catch (err) {
    throw unavailable(err);
  }
  try {
    const native = req.deps.native(req.stateDir, req.env);
    if (conf.linkInContainer) {
      await native.run([cmd.linkList({})]); // the master lives in pod netnses: only check the helper runs
    } else if (conf.master === undefined) {
      await defaultRouteInterface(native, undefined);
    } else {
      await native.run([cmd.linkShow({ name: conf.master })]).catch((err: unknown) => {
        throw cniErrorFromNative(err, "find master", conf.master as string);
      });
    }
  } catch (err) {
    throw unavailable(err);
  }
  await ipamStatus(req, conf.net.ipamType, unavailable);
}

export const macvlan: Mode = { name: "macvlan", add, del, check, status, release };
