// vhostuser mode: a vhost-user port on an OVS-DPDK bridge (datapath_type netdev) for a DPDK pod. The
// pod gets no netdev and no device: a Unix socket its application opens with the virtio-user PMD.
// accelnet talks to ovsdb-server over OVSDB (cni/ovsdb/, RFC 7047), never through ovs-vsctl.
//
// ADD, top to bottom: parse; check the bridge (exists, netdev); write the pending state (nothing
// changed yet, so DEL and GC always find what follows); create the attachment's socket dir; one
// transaction inserting Interface + Port and adding the Port to the bridge; wait for ovs-vswitchd to
// give it an ofport (or an error); server mode: link OVS's socket into the dir; IPAM (addresses in the
// result only); the device-info file; the complete state. Any failure unwinds in reverse.
// Port name: "vhu" + 12 hex digits of SHA-256(containerID NUL ifname): 15 characters (the netdev
// name limit OVS's own tools keep to, though a vhost-user port is no netdev), never from the config;
// a collision (2^-48 per pair) is refused by the database's unique name index, never shared.
import { createHash } from "node:crypto";
import {
  deleteAttachment,
  ipamAdd,
  ipamCheck,
  ipamDelFromState,
  ipamStatus,
  newAttachmentState,
  probeStateDir,
  requireNetns,
  unavailableError,
  withAttachmentLock,
} from "../lib/attachment.js";
import { prevInterfaceOf } from "../lib/check.js";
import { addDeviceInfo } from "../lib/device-attachment.js";
import { restoreDeviceInfo, type DeviceInfo, type DeviceInfoRecord } from "../lib/device-info.js";
import { CniCode, CniError, errorMessage } from "../lib/errors.js";
import { macFrom, optionalChoice, optionalMtu } from "../lib/fields.js";
import { lockTimeout, validAttachments } from "../lib/gc.js";
import { ifnameProblem } from "../lib/ifname.js";
import { hostObjectLockPath, withLock } from "../lib/lock.js";
import { invalidConfig, optionalInteger, optionalString, type NetConf } from "../lib/netconf.js";
import { randomHex } from "../lib/random.js";
import type { Result } from "../lib/result.js";
import { StateStore, type AttachmentState } from "../lib/state.js";
import { UndoStack } from "../lib/undo.js";
import {
  createSocketDir,
  envPath,
  linkServerSocket,
  removeSocketDir,
  socketGroup,
  socketPathOf,
  socketPlaceFor,
  socketDirOf,
  type DirIdentity,
  type SocketPlace,
} from "../lib/vhost-socket-dir.js";
import { OvsdbError, withOvsdb, type OvsdbClient } from "../ovsdb/client.js";
import {
  accelnetPorts,
  ATTACHMENT_KEY,
  findBridge,
  findPort,
  insertVhostPort,
  interfaceTypeOf,
  NETWORK_KEY,
  removePort,
  type PortView,
  type SocketMode,
} from "../ovsdb/ports.js";
import { waitForInterface } from "../ovsdb/schema.js";
import type { CniRequest } from "../skel/types.js";
import type { Mode } from "./mode.js";

type Env = Readonly<Record<string, string | undefined>>;

export const OVSDB_SOCKET_ENV = "ACCELNET_OVSDB_SOCKET";
export const DEFAULT_OVSDB_SOCKET = "/var/run/openvswitch/db.sock";
export const OVSDB_TIMEOUT_ENV = "ACCELNET_OVSDB_TIMEOUT_MS";
export const OVS_SOCK_DIR_ENV = "ACCELNET_OVS_VHOST_SOCK_DIR";
export const DEFAULT_OVS_SOCK_DIR = "/var/run/openvswitch";
const DEFAULT_TIMEOUT_MS = 5000;

export interface VhostUserConf {
  net: NetConf;
  bridge: string;
  socketMode: SocketMode;
  /** Port tag (access VLAN); undefined: untagged. */
  vlan?: number;
  /** Interface mtu_request; undefined: OVS's default. */
  mtu?: number;
  /** From runtimeConfig.mac, args.cni.mac, CNI_ARGS MAC= or `mac`; ADD generates one otherwise. */
  mac?: string;
  deviceInfoFile?: string;
}

// ---------------------------------------------------------------- parseConf

export function parseConf(req: Pick<CniRequest, "conf" | "cniArgs">): VhostUserConf {
  const raw = req.conf.raw;
  const bridge = optionalString(raw, "bridge");
  if (bridge === undefined || bridge === "")
    throw invalidConfig("bridge", "missing (the OVS-DPDK bridge to attach to)");
  const problem = ifnameProblem(bridge);
  if (problem !== null) throw invalidConfig("bridge", `${JSON.stringify(bridge)} is not a bridge name: ${problem}`);
  const conf: VhostUserConf = {
    net: req.conf,
    bridge,
    socketMode: optionalChoice(raw, "socketMode", ["client", "server"] as const) ?? "client",
  };
  const vlan = optionalInteger(raw, "vlan", 0, 4094);
  if (vlan !== undefined && vlan !== 0) conf.vlan = vlan;
  const mtu = optionalMtu(raw);
  if (mtu !== undefined) conf.mtu = mtu;
  const mac = macFrom(req.conf, req.cniArgs);
  if (mac !== undefined) conf.mac = mac;
  const info = req.conf.runtimeConfig.CNIDeviceInfoFile; // its place is checked (trusted-paths.ts)
  if (info !== undefined) conf.deviceInfoFile = info;
  return conf;
}

// ---------------------------------------------------------------- names and environment

export function portNameFor(containerID: string, ifname: string): string {
  return `vhu${createHash("sha256").update(`${containerID}\0${ifname}`).digest("hex").slice(0, 12)}`;
}

const attachmentKey = (containerID: string, ifname: string) => `${containerID}/${ifname}`;

interface OvsEnv {
  dbSocket: string;
  timeoutMs: number;
  ovsSockDir: string;
}

function ovsEnv(env: Env): OvsEnv {
  const raw = env[OVSDB_TIMEOUT_ENV];
  let timeoutMs = DEFAULT_TIMEOUT_MS;
  if (raw !== undefined && raw !== "") {
    if (!/^\d{1,7}$/.test(raw) || Number(raw) === 0) {
      throw new CniError(
        CniCode.InvalidEnvironment,
        `Cannot use ${OVSDB_TIMEOUT_ENV} "${raw}": not a positive integer`,
      );
    }
    timeoutMs = Number(raw);
  }
  return {
    dbSocket: envPath(env, OVSDB_SOCKET_ENV, DEFAULT_OVSDB_SOCKET),
    timeoutMs,
    ovsSockDir: envPath(env, OVS_SOCK_DIR_ENV, DEFAULT_OVS_SOCK_DIR),
  };
}

/** An OVSDB failure as a CNI error: "Cannot <action>: <why>" (105). */
function ovsdbFailure(action: string, err: unknown, leftover = ""): CniError {
  if (err instanceof CniError) return err;
  return new CniError(CniCode.OvsdbFailed, `Cannot ${action}: ${errorMessage(err)}${leftover}`, { cause: err });
}

async function ovs<T>(o: OvsEnv, action: string, fn: (c: OvsdbClient) => Promise<T>): Promise<T> {
  try {
    return await withOvsdb(o.dbSocket, o.timeoutMs, fn);
  } catch (err) {
    throw ovsdbFailure(action, err);
  }
}

/** The bridge must exist and be of the userspace datapath: code 7 naming it otherwise. */
async function requireNetdevBridge(c: OvsdbClient, o: OvsEnv, bridge: string): Promise<string> {
  const row = await findBridge(c, bridge);
  if (row === null)
    throw invalidConfig("bridge", `there is no OVS bridge "${bridge}" (ovsdb-server at "${o.dbSocket}")`);
  if (row.datapathType !== "netdev") {
    throw invalidConfig(
      "bridge",
      `OVS bridge "${bridge}" has datapath_type "${row.datapathType}"; vhost-user ports need "netdev" (OVS-DPDK's userspace datapath)`,
    );
  }
  return row.uuid;
}

/** A locally administered unicast MAC. */
function generatedMac(): string {
  const bytes = Buffer.from(randomHex(6), "hex");
  bytes[0] = ((bytes[0] ?? 0) & 0xfc) | 0x02;
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(":");
}

// ---------------------------------------------------------------- add

/** What DEL, CHECK and GC need; written before OVS is touched. */
interface VhostUserData {
  bridge: string;
  portName: string;
  socketMode: SocketMode;
  place: SocketPlace;
  socketPath: string;
  mac: string;
  vlan: number | null;
  mtu: number | null;
  /** The attachment dir ADD created (absent until it exists). */
  dir?: DirIdentity;
  portUuid?: string;
  ipamVersion: string | null;
  deviceInfo: DeviceInfoRecord | null;
  complete: boolean;
}

const dataOf = (state: AttachmentState) => state.data as unknown as VhostUserData;

const podLock = (req: CniRequest, place: SocketPlace) => hostObjectLockPath(req.stateDir, "vhost-user-pod", place.pod);

export async function add(req: CniRequest): Promise<Result> {
  const conf = parseConf(req);
  const o = ovsEnv(req.env);
  const place = socketPlaceFor(req.env, req.cniArgs, req.containerID, req.ifname);
  const gid = socketGroup(req.env);
  requireNetns(req.netns);
  return withAttachmentLock(req, async () => {
    const store = new StateStore(req.stateDir);
    const previous = store.read(req.containerID, req.ifname);
    if (previous !== null && dataOf(previous).complete) {
      throw new CniError(
        CniCode.InterfaceExists,
        `Cannot add "${req.ifname}" for container "${req.containerID}": it is attached already (DEL it first)`,
      );
    }
    if (previous !== null) await removeAttachment(req, previous); // an interrupted ADD's leftovers
    const undo = new UndoStack(req.log);
    return undo.guard(() =>
      ovs(o, `attach vhost-user port to bridge "${conf.bridge}"`, async (c) => {
        // 1. The bridge, read only: a missing or kernel-datapath bridge changes nothing.
        const bridgeUuid = await requireNetdevBridge(c, o, conf.bridge);

        // 2. The pending state, before anything exists.
        const data: VhostUserData = {
          bridge: conf.bridge,
          portName: portNameFor(req.containerID, req.ifname),
          socketMode: conf.socketMode,
          place,
          socketPath: socketPathOf(place),
          mac: conf.mac ?? generatedMac(),
          vlan: conf.vlan ?? null,
          mtu: conf.mtu ?? null,
          ipamVersion: null,
          deviceInfo: null,
          complete: false,
        };
        const save = () => store.write(newAttachmentState(req, "vhostuser", data));
        save();
        undo.push(`state of "${req.containerID}/${req.ifname}"`, () =>
          Promise.resolve(store.remove(req.containerID, req.ifname)),
        );

        // 3. The socket dir (104 when it exists: someone else's, left alone).
        data.dir = await withLock(
          podLock(req, place),
          { what: `socket dir of pod "${place.pod}"`, ...lockTimeout(req) },
          () => Promise.resolve(createSocketDir(place, gid)),
        );
        save();
        undo.push(`socket dir "${socketDirOf(place)}"`, () => removeDir(req, data));

        // 4. One transaction: Interface + Port, added to the bridge. 5. ovs-vswitchd's verdict.
        const ids = {
          [ATTACHMENT_KEY]: attachmentKey(req.containerID, req.ifname),
          [NETWORK_KEY]: req.conf.name,
          "accelnet:container-id": req.containerID,
          "accelnet:ifname": req.ifname,
        };
        data.portUuid = await insertVhostPort(c, {
          bridgeUuid,
          name: data.portName,
          mode: conf.socketMode,
          ...(conf.socketMode === "client" ? { serverPath: data.socketPath } : {}),
          ...(conf.vlan === undefined ? {} : { vlan: conf.vlan }),
          ...(conf.mtu === undefined ? {} : { mtu: conf.mtu }),
          externalIds: ids,
        }).catch((err: unknown) => {
          throw ovsdbFailure(`add port "${data.portName}" to bridge "${conf.bridge}"`, err);
        });
        const portUuid = data.portUuid;
        undo.push(`OVS port "${data.portName}"`, () =>
          withOvsdb(o.dbSocket, o.timeoutMs, (u) => removePort(u, portUuid)),
        );
        const ready = await waitForInterface(c, data.portName, o.timeoutMs);
        if ("error" in ready) {
          throw new CniError(
            CniCode.OvsdbFailed,
            `Cannot add port "${data.portName}" to bridge "${conf.bridge}": ovs-vswitchd says: ${ready.error}`,
          );
        }
        if (conf.socketMode === "server") linkServerSocket(o.ovsSockDir, data.portName, place);

        const result: Result = {
          interfaces: [{ name: req.ifname, mac: data.mac, sandbox: req.netns, socketPath: data.socketPath }],
          ips: [],
          routes: [],
          dns: conf.net.dns,
        };
        // 6. IPAM: the application configures the addresses itself.
        if (conf.net.ipamType !== undefined) {
          data.ipamVersion = await ipamAdd(req, conf.net.ipamType, result, undo);
          save();
        }
        // 7. Device info: "mode" is the application's role (it is the server when OVS is the client).
        if (conf.deviceInfoFile !== undefined) {
          const mode = conf.socketMode === "client" ? "server" : "client";
          const info: DeviceInfo = { type: "vhost-user", "vhost-user": { mode, path: data.socketPath } };
          addDeviceInfo(req, conf.deviceInfoFile, info, undo, (kept) => {
            data.deviceInfo = kept;
            save();
          });
        }
        data.complete = true;
        store.write(newAttachmentState(req, "vhostuser", data, result));
        req.log.info(
          `added vhost-user port "${data.portName}" (${conf.socketMode}) on "${conf.bridge}" at "${data.socketPath}"`,
        );
        return result;
      }),
    );
  });
}

async function removeDir(req: CniRequest, data: VhostUserData): Promise<void> {
  await withLock(podLock(req, data.place), { what: `socket dir of pod "${data.place.pod}"`, ...lockTimeout(req) }, () =>
    Promise.resolve(removeSocketDir(data.place, data.dir, req.log)),
  );
}

// ---------------------------------------------------------------- del

/**
 * Removes what a stored attachment holds: the OVS port (by its name, only when it carries this
 * attachment's marker), the socket dir, the device-info file. OVS unreachable: code 105 naming what is
 * left, and the state stays for the next DEL or GC.
 */
async function removeAttachment(req: CniRequest, state: AttachmentState): Promise<void> {
  const data = dataOf(state);
  const o = ovsEnv(req.env);
  const key = attachmentKey(state.containerID, state.ifname);
  try {
    await withOvsdb(o.dbSocket, o.timeoutMs, async (c) => {
      const port = await findPort(c, data.portName);
      if (port === null) return;
      if (port.externalIds[ATTACHMENT_KEY] !== key) {
        req.log.warning(`DEL leaves OVS port "${data.portName}" alone: it is not attachment "${key}"'s`);
        return;
      }
      await removePort(c, port.uuid);
    });
  } catch (err) {
    throw ovsdbFailure(
      `delete OVS port "${data.portName}" from bridge "${data.bridge}"`,
      err,
      `; left: the port, socket dir "${socketDirOf(data.place)}"; the state is kept for the next DEL or GC`,
    );
  }
  await removeDir(req, data);
  if (data.deviceInfo !== null) restoreDeviceInfo(data.deviceInfo, req.log);
}

/** DEL: IPAM DEL, then the port and the socket dir ADD recorded. Without state, ADD changed nothing. */
export async function del(req: CniRequest): Promise<void> {
  await deleteAttachment(req, req.conf.ipamType, async (state) => {
    if (state === null) {
      req.log.debug(`DEL finds no state for "${req.containerID}/${req.ifname}": nothing of vhostuser to remove`);
      return;
    }
    await removeAttachment(req, state);
  });
}

/** GC: releases a stored attachment with the config and environment it was added with. */
export async function release(state: AttachmentState, req: CniRequest): Promise<void> {
  await ipamDelFromState(state, req.env, req.log, "", req.deps.runProcess);
  await removeAttachment(req, state);
  new StateStore(req.stateDir).remove(state.containerID, state.ifname);
}

/**
 * GC's sweep of OVS itself: ports marked for this network whose attachment is neither valid nor
 * stored (a state record is released by `release`, with its IPAM and socket dir).
 */
export async function sweep(req: CniRequest): Promise<void> {
  const valid = new Set(validAttachments(req.conf.raw).map((a) => attachmentKey(a.containerID, a.ifname)));
  const stored = new Set(new StateStore(req.stateDir).list().states.map((s) => attachmentKey(s.containerID, s.ifname)));
  await ovs(ovsEnv(req.env), `collect OVS ports of network "${req.conf.name}"`, async (c) => {
    for (const port of await accelnetPorts(c, req.conf.name)) {
      const key = port.externalIds[ATTACHMENT_KEY] ?? "";
      if (valid.has(key) || stored.has(key)) continue;
      req.log.info(`GC removes OVS port "${port.name}" of attachment "${key}"`);
      await removePort(c, port.uuid);
    }
  });
}

// ---------------------------------------------------------------- check

/** Why the port differs from what ADD made for this config, or null. */
function portDiffers(port: PortView, conf: VhostUserConf, data: VhostUserData): string | null {
  if (port.bridge !== conf.bridge)
    return `port "${port.name}" is on ${port.bridge === null ? "no bridge" : `bridge "${port.bridge}"`}, config says "${conf.bridge}"`;
  if (port.iface === null) return `port "${port.name}" has no interface`;
  const type = interfaceTypeOf(conf.socketMode);
  if (port.iface.type !== type)
    return `interface type is "${port.iface.type}", socketMode "${conf.socketMode}" means "${type}"`;
  const path = port.iface.options["vhost-server-path"];
  if (conf.socketMode === "client" && path !== data.socketPath)
    return `vhost-server-path is ${JSON.stringify(path ?? null)}, expected "${data.socketPath}"`;
  if (port.tag !== conf.vlan) return `tag is ${port.tag ?? "none"}, config says ${conf.vlan ?? "none"}`;
  if (port.iface.mtuRequest !== conf.mtu)
    return `mtu_request is ${port.iface.mtuRequest ?? "none"}, config says ${conf.mtu ?? "none"}`;
  if (port.iface.error !== undefined && port.iface.error !== "") return `ovs-vswitchd reports: ${port.iface.error}`;
  if (port.iface.ofport === -1) return `ovs-vswitchd set ofport -1`;
  return null;
}

/** CHECK: the port is on the bridge with the config's type, socket path, tag and MTU; then IPAM CHECK. */
export async function check(req: CniRequest): Promise<void> {
  const conf = parseConf(req);
  const p = prevInterfaceOf(req, conf.net);
  const state = new StateStore(req.stateDir).read(req.containerID, req.ifname);
  if (state === null || state.mode !== "vhostuser")
    throw p.mismatch("accelnet has no vhostuser attachment of that name");
  const data = dataOf(state);
  if (p.intf.socketPath !== undefined && p.intf.socketPath !== data.socketPath) {
    throw p.mismatch(`prevResult's socketPath is "${p.intf.socketPath}", ADD made "${data.socketPath}"`);
  }
  const port = await ovs(ovsEnv(req.env), `check OVS port "${data.portName}"`, (c) => findPort(c, data.portName));
  if (port === null) throw p.mismatch(`OVS has no port "${data.portName}"`);
  const differs = portDiffers(port, conf, data);
  if (differs !== null) throw p.mismatch(differs);
  if (conf.net.ipamType !== undefined) await ipamCheck(req, conf.net.ipamType, state);
}

// ---------------------------------------------------------------- status

/** STATUS: 50 unless the state dir is writable and ovsdb-server answers with the bridge a netdev one. */
export async function status(req: CniRequest): Promise<void> {
  const conf = parseConf(req);
  const unavailable = unavailableError(req);
  try {
    probeStateDir(req.stateDir);
    const o = ovsEnv(req.env);
    await withOvsdb(o.dbSocket, o.timeoutMs, (c) => requireNetdevBridge(c, o, conf.bridge));
  } catch (err) {
    throw unavailable(err instanceof OvsdbError ? ovsdbFailure("reach ovsdb-server", err) : err);
  }
  await ipamStatus(req, conf.net.ipamType, unavailable);
}

export const vhostuser: Mode = { name: "vhostuser", add, del, check, status, release, sweep };
