// macvlan mode: a new macvlan link on a master, created directly in the pod netns.
// Field names are the reference macvlan plugin's: master, mode, mtu, mac, linkInContainer, bcqueuelen,
// ipam, dns. Kernel work goes through the helper in batches: ADD is one batch to create the link
// (two when `master` is absent and the default-route interface must be found), the IPAM exec, then one
// batch to configure addresses, sysctls, up and routes. DEL is the IPAM exec plus one batch.
import { mkdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  cmd,
  NativeError,
  type Command,
  type Link,
  type MacvlanMode,
  type NativeClient,
} from "../../native/client/index.js";
import { randomHex } from "../lib/random.js";
import { cniErrorFromNative, isNotFound } from "../lib/errno.js";
import { CniCode, CniError, errorCode, errorMessage } from "../lib/errors.js";
import { lockTimeout } from "../lib/gc.js";
import { callIpam, type IpamCommand } from "../lib/ipam.js";
import { attachmentLockPath, hostObjectLockPath, withLock } from "../lib/lock.js";
import type { Logger } from "../lib/log.js";
import { invalidConfig, optionalBoolean, optionalInteger, optionalString, type NetConf } from "../lib/netconf.js";
import { familyOf, parseResult, type Interface, type Result, type Route } from "../lib/result.js";
import { StateStore, STATE_FORMAT, writeFileAtomic, type AttachmentState } from "../lib/state.js";
import { UndoStack } from "../lib/undo.js";
import { parseNetConf } from "../lib/netconf.js";
import { isObject } from "../lib/is.js";
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

const ifnamePattern = /^[^/:\s]{1,15}$/u;
const macPattern = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

function checkMac(mac: string, field: string): string {
  const lower = mac.toLowerCase();
  if (!macPattern.test(lower)) throw invalidConfig(field, `"${mac}" is not a MAC address (xx:xx:xx:xx:xx:xx)`);
  if ((parseInt(lower.slice(0, 2), 16) & 1) === 1) throw invalidConfig(field, `"${mac}" is a multicast address`);
  if (lower === "00:00:00:00:00:00") throw invalidConfig(field, `"${mac}" is all zeros`);
  return lower;
}

export function parseConf(req: Pick<CniRequest, "conf" | "cniArgs">): MacvlanConf {
  const raw = req.conf.raw;
  const conf: MacvlanConf = { net: req.conf, mode: "bridge", mtu: 0, linkInContainer: false };
  const master = optionalString(raw, "master");
  if (master !== undefined && master !== "") {
    if (!ifnamePattern.test(master) || master === "." || master === ".." || Buffer.byteLength(master) > 15) {
      throw invalidConfig("master", `"${master}" is not an interface name`);
    }
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
  const macSources: [string | undefined, string][] = [
    [req.conf.runtimeConfig.mac, "runtimeConfig.mac"],
    [req.conf.argsCni.mac, "args.cni.mac"],
    [req.cniArgs.mac, "CNI_ARGS MAC"],
    [optionalString(raw, "mac"), "mac"],
  ];
  const mac = macSources.find(([value]) => value !== undefined && value !== "");
  if (mac !== undefined) conf.mac = checkMac(mac[0] as string, mac[1]);
  conf.linkInContainer = optionalBoolean(raw, "linkInContainer") ?? false;
  const bcqueuelen = optionalInteger(raw, "bcqueuelen", 0, 2 ** 31 - 1);
  if (bcqueuelen !== undefined && bcqueuelen !== 0) conf.bcqueuelen = bcqueuelen;
  return conf;
}

// ---------------------------------------------------------------- add

export async function add(req: CniRequest): Promise<Result> {
  const conf = parseConf(req);
  const native = req.deps.native(conf.net.stateDir, req.env);
  requireNetnsExists(req.netns);
  return withAttachmentLock(req, async () => {
    const undo = new UndoStack(req.log);
    return undo.guard(async () => {
      const masterNetns = conf.linkInContainer ? req.netns : undefined;
      const master = conf.master ?? (await defaultRouteInterface(native, masterNetns));

      // 1. One batch: check the netns, read the master, create the macvlan under a temporary name in the
      //    pod netns, rename it to CNI_IFNAME (the reference's order; EEXIST when the name is taken).
      const tmpName = `acntmp${randomHex(4)}`;
      let linkName = tmpName; // the undo below deletes the link under whatever name it has by then
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
      let link: Link;
      await withLock(
        hostObjectLockPath(conf.net.stateDir, "master", `${masterNetns ?? ""}:${master}`),
        {
          what: `master "${master}"`,
          ...lockTimeout(req),
        },
        async () => {
          try {
            const results = await native.run(create);
            link = results[3].link;
          } catch (err) {
            const completed = err instanceof NativeError ? err.completed.length : 0;
            if (completed >= 3) pushDeleteLink(undo, native, req.netns, () => linkName);
            if (completed >= 4) linkName = req.ifname;
            throw createError(err, req, conf, master);
          }
          pushDeleteLink(undo, native, req.netns, () => linkName);
          linkName = req.ifname;
        },
      );

      const result: Result = {
        interfaces: [interfaceOf(req, link!)],
        ips: [],
        routes: [],
        dns: conf.net.dns,
      };
      let ipamVersion: string | null = null;

      // 2. IPAM ADD; its undo is IPAM DEL.
      if (conf.net.ipamType !== undefined) {
        const ipam = await callIpam(ipamRequest(req, conf.net.ipamType, "ADD"), req.cniVersion);
        ipamVersion = ipam.version;
        undo.push(`IPAM "${conf.net.ipamType}" ADD`, async () => {
          await callIpam(ipamRequest(req, conf.net.ipamType as string, "DEL", ipamVersion), req.cniVersion);
        });
        const ipamResult = ipam.result;
        if (ipamResult === null || ipamResult.ips.length === 0) {
          throw new CniError(CniCode.IpamFailed, `Cannot use IPAM plugin "${conf.net.ipamType}" result: no IP config`);
        }
        result.ips = ipamResult.ips.map((ip) => ({ ...ip, interface: 0 }));
        result.routes = ipamResult.routes;
        if (Object.keys(conf.net.dns).length === 0) result.dns = ipamResult.dns;

        // 3. One batch inside the netns: notify sysctls, addresses, up, routes. Their effects die with
        //    the link, so the link's undo covers them.
        try {
          await native.run(configureCommands(req, result, req.log));
        } catch (err) {
          throw cniErrorFromNative(err, `configure interface "${req.ifname}" in netns`, req.netns);
        }
      }

      // 4. State before the result is printed: DEL, CHECK and GC rely on it.
      new StateStore(conf.net.stateDir).write(
        stateOf(req, result, { master, masterNetns, mode: conf.mode, ipamVersion }),
      );
      req.log.info(`added macvlan "${req.ifname}" on "${master}" (${conf.mode}) in "${req.netns}"`);
      return result;
    });
  });
}

function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function requireNetnsExists(netns: string): void {
  try {
    statSync(netns);
  } catch (err) {
    if (errorCode(err) === "ENOENT") {
      throw new CniError(CniCode.UnknownContainer, `Cannot open netns "${netns}": no such file or directory`);
    }
    throw new CniError(CniCode.InvalidEnvironment, `Cannot open netns "${netns}": ${errorMessage(err)}`);
  }
}

function withAttachmentLock<T>(req: CniRequest, fn: () => Promise<T>): Promise<T> {
  const path = attachmentLockPath(req.conf.stateDir, req.containerID, req.ifname);
  return withLock(path, { what: `attachment "${req.containerID}/${req.ifname}"`, ...lockTimeout(req) }, fn);
}

function pushDeleteLink(undo: UndoStack, native: NativeClient, netns: string, name: () => string): void {
  undo.push(`macvlan link in netns "${netns}"`, async () => {
    await native.run([cmd.linkDel({ netns, name: name() })]);
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

const scopeNames: Record<number, "universe" | "link" | "host"> = { 0: "universe", 253: "link", 254: "host" };

/** The gateway of the first IP of each family fills in routes without one (libcni ConfigureIface). */
export function routesWithGateways(result: Result): Route[] {
  const gw4 = result.ips.find((ip) => ip.gateway !== undefined && familyOf(ip.gateway) === 4)?.gateway;
  const gw6 = result.ips.find((ip) => ip.gateway !== undefined && familyOf(ip.gateway) === 6)?.gateway;
  return result.routes.map((r) => {
    if (r.gw !== undefined) return r;
    const gw = familyOf(r.dst) === 4 ? gw4 : gw6;
    return gw === undefined ? r : { ...r, gw };
  });
}

export function configureCommands(
  req: Pick<CniRequest, "netns" | "ifname">,
  result: Result,
  log: Logger,
): Command<unknown>[] {
  const at = { netns: req.netns, name: req.ifname };
  const cmds: Command<unknown>[] = [cmd.sysctlSet({ ...at, key: "arp_notify", value: 1 })];
  if (result.ips.some((ip) => familyOf(ip.address) === 6))
    cmds.push(cmd.sysctlSet({ ...at, key: "ndisc_notify", value: 1 }));
  for (const ip of result.ips) cmds.push(cmd.addrAdd({ ...at, addr: ip.address }));
  cmds.push(cmd.linkUp(at));
  for (const r of routesWithGateways(result)) {
    if (r.mtu !== undefined || r.advmss !== undefined) log.warning(`route "${r.dst}": mtu/advmss are not applied`);
    const scope = r.scope === undefined ? undefined : scopeNames[r.scope];
    cmds.push(
      cmd.routeAdd({
        netns: req.netns,
        dst: r.dst,
        name: req.ifname,
        ...opt("gw", r.gw),
        ...opt("metric", r.priority),
        ...opt("table", r.table),
        ...opt("scope", scope),
      }),
    );
  }
  return cmds;
}

function ipamRequest(req: CniRequest, type: string, command: IpamCommand, knownVersion?: unknown) {
  return {
    type,
    command,
    stdin: req.stdin,
    env: req.env,
    log: req.log,
    ...(typeof knownVersion === "string" ? { knownVersion } : {}),
  };
}

function stateOf(req: CniRequest, result: Result, data: Record<string, unknown>): AttachmentState {
  return {
    format: STATE_FORMAT,
    containerID: req.containerID,
    ifname: req.ifname,
    netns: req.netns,
    network: req.conf.name,
    mode: "macvlan",
    cniVersion: req.cniVersion,
    config: req.stdin,
    cniArgs: req.args,
    cniPath: req.path,
    result,
    data,
    createdAt: new Date().toISOString(),
  };
}

// ---------------------------------------------------------------- del

/** DEL: IPAM DEL first (always attempted), then the link; a missing netns, link or state is success. */
export async function del(req: CniRequest): Promise<void> {
  const conf = parseConf(req);
  const native = req.deps.native(conf.net.stateDir, req.env);
  const store = new StateStore(conf.net.stateDir);
  await withAttachmentLock(req, async () => {
    const state = store.read(req.containerID, req.ifname);
    let ipamError: CniError | undefined = undefined;
    if (conf.net.ipamType !== undefined) {
      try {
        // The version IPAM accepted at ADD (stored) saves the fallback round trip.
        const known = state?.cniVersion === req.cniVersion ? state.data["ipamVersion"] : undefined;
        await callIpam(ipamRequest(req, conf.net.ipamType, "DEL", known), req.cniVersion);
      } catch (err) {
        // Still remove the link; report IPAM's error afterwards so the runtime retries DEL.
        ipamError = err instanceof CniError ? err : new CniError(CniCode.IpamFailed, errorMessage(err), { cause: err });
      }
    }
    await deleteLink(native, req.netns, req.ifname, state !== null && state.netns === req.netns, req.log);
    if (ipamError !== undefined) throw ipamError;
    store.remove(req.containerID, req.ifname);
  });
}

/**
 * Deletes the attachment's link. With state proving we created it: one exec. Without state (a failed
 * ADD, or state lost): only a macvlan is deleted, never an interface someone else put there.
 */
async function deleteLink(
  native: NativeClient,
  netns: string,
  ifname: string,
  ours: boolean,
  log: Logger,
): Promise<void> {
  if (netns === "" || !pathExists(netns)) return;
  const gone = (err: unknown) =>
    isNotFound(err) || (err instanceof NativeError && err.exitCode === 2 && err.object === netns);
  try {
    if (!ours) {
      const [{ link }] = await native.run([cmd.linkShow({ netns, name: ifname })]);
      if (link.kind !== "macvlan") {
        log.warning(`DEL leaves "${ifname}" in "${netns}" alone: it is a ${link.kind ?? "device"}, not a macvlan`);
        return;
      }
    }
    await native.run([cmd.linkDel({ netns, name: ifname })]);
  } catch (err) {
    if (gone(err)) return;
    throw cniErrorFromNative(err, `delete interface "${ifname}" in netns`, netns);
  }
}

function pathExists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** GC: releases a stored attachment with the config and environment it was added with. */
export async function release(state: AttachmentState, req: CniRequest): Promise<void> {
  const stored: unknown = JSON.parse(state.config);
  const storedConf = isObject(stored) ? parseNetConf(stored) : req.conf;
  if (storedConf.ipamType !== undefined) {
    const env = {
      ...req.env,
      CNI_CONTAINERID: state.containerID,
      CNI_IFNAME: state.ifname,
      CNI_NETNS: pathExists(state.netns) ? state.netns : "",
      CNI_ARGS: state.cniArgs,
      CNI_PATH: req.path,
    };
    const known = state.data["ipamVersion"];
    await callIpam(
      {
        type: storedConf.ipamType,
        command: "DEL",
        stdin: state.config,
        env,
        log: req.log,
        ...(typeof known === "string" ? { knownVersion: known } : {}),
      },
      state.cniVersion,
    );
  }
  const native = req.deps.native(req.conf.stateDir, req.env);
  await deleteLink(native, state.netns, state.ifname, true, req.log);
  new StateStore(req.conf.stateDir).remove(state.containerID, state.ifname);
}

// ---------------------------------------------------------------- check

/** CHECK: the link is in the netns, is a macvlan with the configured mode and the MAC, IPs and routes of prevResult. */
export async function check(req: CniRequest): Promise<void> {
  const conf = parseConf(req);
  const mismatch = (why: string) =>
    new CniError(CniCode.CheckMismatch, `Cannot check interface "${req.ifname}": ${why}`);
  if (conf.net.prevResult === undefined) throw invalidConfig("prevResult", "missing (CHECK needs it)");
  const prev = parseResult(conf.net.prevResult, req.cniVersion);
  const index = prev.interfaces.findIndex((i) => i.name === req.ifname && i.sandbox === req.netns);
  const intf = prev.interfaces[index];
  if (intf === undefined) throw mismatch(`prevResult has no interface "${req.ifname}" in netns "${req.netns}"`);
  requireNetnsExists(req.netns);

  if (conf.net.ipamType !== undefined) await callIpam(ipamRequest(req, conf.net.ipamType, "CHECK"), req.cniVersion);

  const native = req.deps.native(conf.net.stateDir, req.env);
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
      throw mismatch(`no such interface in netns "${req.netns}"`);
    if (err instanceof NativeError && err.index === 1 && isNotFound(err)) {
      throw new CniError(CniCode.InvalidConfig, `Cannot find master "${conf.master}": no such interface`, {
        cause: err,
      });
    }
    throw cniErrorFromNative(err, `show interface "${req.ifname}" in netns`, req.netns);
  }
  const { link } = shown;
  if (link.kind !== "macvlan") throw mismatch(`it is a ${link.kind ?? "device without a kind"}, not a macvlan`);
  if (link.macvlanMode !== conf.mode)
    throw mismatch(`macvlan mode is ${link.macvlanMode ?? "unknown"}, config says ${conf.mode}`);
  if (intf.mac !== undefined && intf.mac.toLowerCase() !== link.mac?.toLowerCase()) {
    throw mismatch(`MAC is ${link.mac ?? "none"}, prevResult says ${intf.mac}`);
  }
  const addrs = new Set((shown.addrs ?? []).map((a) => `${canonicalIp(a.address)}/${a.prefixlen}`));
  for (const ip of prev.ips) {
    if (ip.interface !== undefined && ip.interface !== index) continue;
    if (!addrs.has(canonicalCidr(ip.address))) throw mismatch(`address ${ip.address} is missing`);
  }
  const routes = (shown.routes ?? []).map((r) => ({
    dst: canonicalCidr(r.dst),
    gw: r.gateway === null ? undefined : canonicalIp(r.gateway),
  }));
  for (const want of routesWithGateways(prev)) {
    const found = routes.some(
      (r) => r.dst === canonicalCidr(want.dst) && (want.gw === undefined || r.gw === canonicalIp(want.gw)),
    );
    if (!found) throw mismatch(`route ${want.dst}${want.gw === undefined ? "" : ` via ${want.gw}`} is missing`);
  }
}

/** One spelling per address ("fd00:0::1" and "fd00::1" compare equal); IPv4 unchanged. */
export function canonicalIp(ip: string): string {
  if (!ip.includes(":")) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip.toLowerCase();
  }
}

function canonicalCidr(cidr: string): string {
  const slash = cidr.indexOf("/");
  if (slash < 0) return canonicalIp(cidr);
  return `${canonicalIp(cidr.slice(0, slash))}${cidr.slice(slash)}`;
}

// ---------------------------------------------------------------- status

/** STATUS: 50 unless the state dir is writable, the helper runs and the master exists; then IPAM STATUS. */
export async function status(req: CniRequest): Promise<void> {
  const conf = parseConf(req);
  const unavailable = (why: string, cause?: unknown) =>
    new CniError(CniCode.PluginNotAvailable, `Cannot serve ADD on network "${conf.net.name}": ${why}`, { cause });
  try {
    // A probe file (not an attachment state, so a concurrent GC never sees it).
    const store = new StateStore(conf.net.stateDir);
    const probe = join(store.dir, `.status-probe-${process.pid}`);
    mkdirSync(store.dir, { recursive: true, mode: 0o700 });
    writeFileAtomic(probe, "");
    rmSync(probe, { force: true });
  } catch (err) {
    throw unavailable(errorMessage(err), err);
  }
  try {
    const native = req.deps.native(conf.net.stateDir, req.env);
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
    throw unavailable(errorMessage(err), err);
  }
  if (conf.net.ipamType !== undefined) {
    try {
      await callIpam(ipamRequest(req, conf.net.ipamType, "STATUS"), req.cniVersion);
    } catch (err) {
      if (
        err instanceof CniError &&
        (err.code === CniCode.PluginNotAvailable || err.code === CniCode.LimitedConnectivity)
      )
        throw err;
      throw unavailable(errorMessage(err), err);
    }
  }
}

export const macvlan: Mode = { name: "macvlan", add, del, check, status, release };
