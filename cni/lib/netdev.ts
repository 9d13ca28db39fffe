// Moving an existing host netdev (a VF's, a virtio-vdpa device's) into a pod and back, exactly.
//
// In: host --(link-move + rename to CNI_IFNAME)--> temporary netns (no clash with host names, no udev
// or NetworkManager watching) --(altnames not in the snapshot dropped)--> pod netns, then MAC and MTU.
// Back: from wherever it is (pod, temporary netns, or the host when the pod netns was deleted and the
// kernel returned it) to the host under its original name, with its original MAC, MTU, altnames, admin
// state and addresses (a move to another netns flushes them; they are put back as static addresses).
import { lstatSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import {
  cmd,
  NativeError,
  type Address,
  type Command,
  type Link,
  type NativeClient,
} from "../../native/client/index.js";
import { causeText, cniErrorFromNative, isNotFound } from "./errno.js";
import { CniCode, CniError, errorMessage } from "./errors.js";
import type { Logger } from "./log.js";
import { randomHex } from "./random.js";
import type { UndoStack } from "./undo.js";

/** The helper's own netns, which is the host's: the plugin runs in the host netns. */
export const HOST_NETNS = "/proc/self/ns/net";

/** A fresh path for the temporary netns of one ADD (recorded in the state before it is created). */
export function newTmpNetnsPath(): string {
  return `/run/netns/acn-${randomHex(6)}`;
}

export interface NetdevSnapshot {
  name: string;
  mac: string | null;
  mtu: number;
  altnames: string[];
  up: boolean;
  /** Its addresses in the host ("addr/prefixlen"); absent in states written before they were kept. */
  addrs?: string[];
}

export function snapshotNetdev(link: Link, addrs: readonly Address[]): NetdevSnapshot {
  return {
    name: link.name,
    mac: link.mac,
    mtu: link.mtu,
    altnames: [...link.altnames],
    up: link.up,
    addrs: addrs.map((a) => `${a.address}/${a.prefixlen}`),
  };
}

/** Where the netdev is now; netns null is the host. */
export interface NetdevPlace {
  netns: string | null;
  name: string;
}

export interface MoveInOptions {
  native: NativeClient;
  undo: UndoStack;
  log: Logger;
  snapshot: NetdevSnapshot;
  podNetns: string;
  ifname: string;
  /** Path for the temporary netns (recorded in state before it is created). */
  tmpNetns: string;
  /** MAC and MTU to set in the pod; undefined keeps the device's. */
  mac?: string | undefined;
  mtu?: number | undefined;
  /** Test fault points, called after each step. */
  fault: (step: string) => void;
  /** Finds the netdev in the host when it is not where we left it (by PCI address). */
  locate: () => Promise<string | null>;
  /** Whether a link is this device (a link of the same name that is not is never moved). Default: any. */
  owns?: (link: Link) => boolean;
}

function at(p: NetdevPlace): { netns?: string; name: string } {
  return p.netns === null ? { name: p.name } : { netns: p.netns, name: p.name };
}

function exists(err: unknown): boolean {
  return err instanceof NativeError && err.errname === "EEXIST";
}

function ifnameTaken(ifname: string, netns: string, cause?: unknown): CniError {
  return new CniError(
    CniCode.InterfaceExists,
    `Cannot move the device into netns "${netns}" as "${ifname}": an interface with that name already exists`,
    { cause },
  );
}

/** The reply of a batch that failed: how many of its commands completed, which failed (null: unknown). */
function failedAt(err: unknown): { completed: number; index: number | null } {
  if (!(err instanceof NativeError) || err.index === null) return { completed: 0, index: null };
  return { completed: err.completed.length, index: err.index };
}

/**
 * Moves the snapshot's netdev into the pod as CNI_IFNAME with MAC and MTU, in three helper round trips
 * (the move needs the netns to exist when its batch is validated; the last round trip needs the
 * altnames the first move left), pushing the undo of each command that ran
 * (a batch that failed says which did; a helper that died says nothing, and then every undo whose step
 * may have run is pushed: each of them is harmless when its step did not happen).
 * Step names for fault(), all fired after the last round trip: tmp-netns, move-tmp, altname,
 * move-pod, mac, mtu.
 */
export async function moveNetdevIn(o: MoveInOptions): Promise<Link> {
  const { native, undo, snapshot: snap } = o;
  const place: NetdevPlace = { netns: null, name: snap.name };
  const podPlace: NetdevPlace = { netns: o.podNetns, name: o.ifname };
  // The temporary netns: "maybe" until netns-create answers (a helper that died may have made it),
  // "created" once it did, "gone" once the batch that deletes it did (or the name was not ours).
  let tmp: "maybe" | "created" | "gone" = "maybe";
  let mayBeInPod = false;
  let link: Link;

  // 1. The temporary netns, then the netdev into it away from host names, udev and NetworkManager
  //    (move and rename in one command).
  const pushNetdevUndo = () => {
    undo.push(`netdev "${snap.name}" out of the host`, async () => {
      // Where a batch that died left it is unknown: the pod (only a link that is this device), then here.
      const places = mayBeInPod && place.netns !== o.podNetns ? [{ ...podPlace }, { ...place }] : [{ ...place }];
      const owns = o.owns ?? (() => true);
      await returnNetdevToHost({ native, log: o.log, snapshot: snap, places, locate: o.locate, owns });
    });
  };
  // The helper checks every netns path of a batch before it runs any command, so the netns must
  // exist before the batch that moves into it.
  // Its undo comes first: a helper that dies inside netns-create (killed, OOM) may leave the netns or
  // the empty file it binds the netns onto, and both are removed by path. The undo runs after the
  // netdev left the temporary netns (the undo pushed below runs first).
  undo.push(`temporary netns "${o.tmpNetns}"`, async () => {
    if (tmp === "created") await deleteTmpNetns(native, o.tmpNetns, o.log);
    else if (tmp === "maybe") await removeLeftoverTmpNetns(native, o.tmpNetns, o.log);
  });
  await native.run([cmd.netnsCreate({ path: o.tmpNetns })]).catch((err: unknown) => {
    // EEXIST: the name is someone else's netns, not ours to delete.
    if (err instanceof NativeError && err.errname === "EEXIST") tmp = "gone";
    throw cniErrorFromNative(err, "create temporary netns", o.tmpNetns);
  });
  tmp = "created";
  try {
    [{ link }] = await native.run([cmd.linkMove({ name: snap.name, to: o.tmpNetns, newname: o.ifname })]);
  } catch (err) {
    if (failedAt(err).index === null) {
      Object.assign(place, { netns: o.tmpNetns, name: o.ifname });
      pushNetdevUndo();
    }
    throw cniErrorFromNative(err, "move netdev into temporary netns", snap.name);
  }
  Object.assign(place, { netns: o.tmpNetns, name: o.ifname });
  pushNetdevUndo();

  // 2. Altnames it did not have in the host (the kernel keeps an old name as one), into the pod, MAC,
  //    MTU (the device's range is known from the first move: netns moves do not change it), and the
  //    temporary netns deleted last, so a failure to delete it only leaves it for rollback or DEL.
  const extra = link.altnames.filter((a) => !snap.altnames.includes(a));
  const setMac = o.mac !== undefined && link.mac?.toLowerCase() !== o.mac ? o.mac : undefined;
  const setMtu = o.mtu !== undefined && link.mtu !== o.mtu ? o.mtu : undefined;
  if (setMtu !== undefined) {
    const range = `${link.minMtu ?? 68}-${link.maxMtu ?? 65535}`;
    if ((link.maxMtu !== null && setMtu > link.maxMtu) || (link.minMtu !== null && setMtu < link.minMtu)) {
      throw new CniError(
        CniCode.InvalidConfig,
        `Cannot set "mtu" ${setMtu} on "${o.ifname}": the device allows ${range}`,
      );
    }
  }
  const steps: { step: "altname" | "move-pod" | "mac" | "mtu" | "tmp-gone"; command: Command<{ link?: Link }> }[] = [
    ...extra.map((altname) => ({ step: "altname" as const, command: cmd.linkAltnameDel({ ...at(place), altname }) })),
    { step: "move-pod", command: cmd.linkMove({ netns: o.tmpNetns, name: o.ifname, to: o.podNetns }) },
    ...(setMac === undefined
      ? []
      : [{ step: "mac" as const, command: cmd.linkSetMac({ ...at(podPlace), mac: setMac }) }]),
    ...(setMtu === undefined
      ? []
      : [{ step: "mtu" as const, command: cmd.linkSetMtu({ ...at(podPlace), mtu: setMtu }) }]),
    { step: "tmp-gone", command: cmd.netnsDelete({ path: o.tmpNetns }) },
  ];
  const ran = (step: string) => {
    if (step === "move-pod") place.netns = o.podNetns;
    if (step === "mac") {
      undo.push(`MAC of "${o.ifname}"`, async () => {
        if (snap.mac !== null) await native.run([cmd.linkSetMac({ ...at(place), mac: snap.mac })]);
      });
    }
    if (step === "mtu") {
      undo.push(`MTU of "${o.ifname}"`, async () => {
        await native.run([cmd.linkSetMtu({ ...at(place), mtu: snap.mtu })]);
      });
    }
    if (step === "tmp-gone") tmp = "gone";
  };
  try {
    const results = await native.run(steps.map((s) => s.command));
    for (const s of steps) ran(s.step);
    for (const r of results) if (r.link !== undefined) link = r.link;
  } catch (err) {
    const { completed, index } = failedAt(err);
    for (const s of steps.slice(0, completed)) ran(s.step);
    const failed = index === null ? undefined : steps[index]?.step;
    if (failed === "tmp-gone") {
      o.log.warning(
        `${errorMessage(cniErrorFromNative(err, "delete temporary netns", o.tmpNetns))} (retried on rollback and DEL)`,
      );
      const lastLink = (err as NativeError).completed.findLast((r) => (r as { link?: Link }).link !== undefined);
      link = (lastLink as { link: Link }).link;
    } else {
      if (index === null) {
        // No reply: the netdev may be in the pod already, with the MAC and MTU set.
        mayBeInPod = true;
        for (const s of steps) if (s.step === "mac" || s.step === "mtu") ran(s.step);
      }
      throw moveInError(err, failed, o, extra, setMac, setMtu);
    }
  }
  for (const step of ["tmp-netns", "move-tmp", "altname", "move-pod", "mac", "mtu"]) o.fault(step);
  return link;
}

function moveInError(
  err: unknown,
  failed: string | undefined,
  o: MoveInOptions,
  extra: readonly string[],
  mac: string | undefined,
  mtu: number | undefined,
): CniError {
  switch (failed) {
    case "altname":
      return cniErrorFromNative(err, `delete altnames ${extra.join(", ")} of`, o.ifname);
    case "mac":
      return cniErrorFromNative(err, `set MAC ${mac} on`, o.ifname);
    case "mtu":
      return new CniError(CniCode.InvalidConfig, `Cannot set "mtu" ${mtu} on "${o.ifname}": ${causeText(err)}`, {
        cause: err,
      });
    default:
      if (exists(err)) return ifnameTaken(o.ifname, o.podNetns, err);
      return cniErrorFromNative(err, `move netdev "${o.ifname}" into netns`, o.podNetns);
  }
}

/**
 * Clean-up of a temporary netns (rollback, and DEL or GC from the state): nothing when there is none or
 * nothing is at its path (the usual case, since ADD deletes it: no helper exec), otherwise deleted.
 * What is there need not be a netns: an ADD killed inside netns-create, after it made the file and
 * before it bound the netns onto it, leaves an empty file, which netns-delete removes too.
 */
export async function removeLeftoverTmpNetns(native: NativeClient, path: string | null, log: Logger): Promise<void> {
  if (path === null || !pathExists(path)) return;
  await deleteTmpNetns(native, path, log);
}

/** Deletes a temporary netns (or netns-create's empty file); one that is already gone is fine. */
async function deleteTmpNetns(native: NativeClient, path: string, log: Logger): Promise<void> {
  try {
    await native.run([cmd.netnsDelete({ path })]);
  } catch (err) {
    if (isNotFound(err)) return;
    // Something that is neither a netns nor netns-create's empty file is not ours to remove, and DEL
    // must make progress: say so and leave it.
    if (err instanceof NativeError && err.errname === "EINVAL") {
      log.warning(`left "${path}" alone: ${err.message}`);
      return;
    }
    throw cniErrorFromNative(err, "delete temporary netns", path);
  }
}

function pathExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

export interface ReturnOptions {
  native: NativeClient;
  log: Logger;
  snapshot: NetdevSnapshot;
  /** Where the netdev may be (the pod, the temporary netns; netns null: the host), tried in order. */
  places: NetdevPlace[];
  /** Finds the netdev in the host by its device (PCI address) when it is in none of `places`. */
  locate: () => Promise<string | null>;
  /** Whether a link is this device: a link of the same name that is not is left alone. Default: any. */
  owns?: (link: Link) => boolean;
  /** How long to look for a netdev the kernel is still returning from a deleted netns (default 3 s). */
  waitMs?: number;
}

/**
 * Puts the netdev back in the host as the snapshot had it: name, MAC, MTU, altnames, admin state and
 * addresses.
 * Idempotent: a netdev already back is only re-checked. Throws code 11 when it cannot be found
 * anywhere (the caller keeps its state and DEL is retried).
 */
export async function returnNetdevToHost(o: ReturnOptions): Promise<void> {
  const { native, snapshot: snap } = o;
  let hostName: string | null = null;
  for (const place of o.places) {
    if (place.netns === null) {
      if (await hostHas(native, place.name)) hostName = place.name;
    } else {
      hostName = await moveToHost(o, place);
    }
    if (hostName !== null) break;
  }
  hostName ??= await waitForHostNetdev(o);
  const target = { name: snap.name };
  const fix: Command<unknown>[] = [];
  if (hostName !== snap.name) fix.push(cmd.linkRename({ name: hostName, newname: snap.name }));
  fix.push(cmd.linkDown(target));
  if (snap.mac !== null) fix.push(cmd.linkSetMac({ ...target, mac: snap.mac }));
  fix.push(cmd.linkSetMtu({ ...target, mtu: snap.mtu }));
  let results: readonly unknown[];
  try {
    results = await native.run(fix);
  } catch (err) {
    throw cniErrorFromNative(err, "restore netdev", snap.name);
  }
  const link = (results.at(-1) as { link: Link }).link;
  const after: Command<unknown>[] = link.altnames
    .filter((a) => !snap.altnames.includes(a))
    .map((altname) => cmd.linkAltnameDel({ ...target, altname }));
  if (snap.up) after.push(cmd.linkUp(target));
  if (after.length > 0) {
    await native.run(after).catch((err: unknown) => {
      throw cniErrorFromNative(err, "restore netdev", snap.name);
    });
  }
  await restoreAddresses(native, snap);
  o.log.debug(`netdev "${snap.name}" is back in the host`);
}

/**
 * Adds the snapshot's addresses the netdev lacks (after it came up, so an IPv6 link-local address the
 * kernel made again is not added twice); the ones it has are left alone, so a retry is harmless.
 */
async function restoreAddresses(native: NativeClient, snap: NetdevSnapshot): Promise<void> {
  const want = snap.addrs ?? [];
  if (want.length === 0) return;
  try {
    const [{ addrs }] = await native.run([cmd.addrList({ name: snap.name })]);
    const have = new Set(addrs.map((a) => `${a.address}/${a.prefixlen}`));
    const missing = want.filter((a) => !have.has(a));
    if (missing.length > 0) await native.run(missing.map((addr) => cmd.addrAdd({ name: snap.name, addr })));
  } catch (err) {
    throw cniErrorFromNative(err, `restore addresses ${want.join(", ")} of netdev`, snap.name);
  }
}

/** Moves the netdev at `place` to the host under its snapshot name; null when it is not there. */
async function moveToHost(o: ReturnOptions, place: NetdevPlace): Promise<string | null> {
  const from = { netns: place.netns as string, name: place.name };
  const name = o.snapshot.name;
  try {
    const [{ link }] = await o.native.run([cmd.linkShow(from)]);
    if (o.owns !== undefined && !o.owns(link)) {
      o.log.warning(`"${place.name}" in "${from.netns}" is another device (${link.parentDev ?? link.kind ?? "?"})`);
      return null;
    }
    await o.native.run([cmd.linkDown(from), cmd.linkMove({ ...from, to: HOST_NETNS, newname: name })]);
    return name;
  } catch (err) {
    // Not there, or the netns is gone (the helper refuses a netns path that is not one any more).
    if (isNotFound(err) || (err instanceof NativeError && err.exitCode === 2 && err.object === "netns")) return null;
    if (exists(err)) {
      throw new CniError(
        CniCode.TryAgainLater,
        `Cannot return netdev "${place.name}" to the host as "${name}": the name is taken in the host`,
        { cause: err },
      );
    }
    throw cniErrorFromNative(err, `return netdev "${place.name}" from netns`, from.netns);
  }
}

async function hostHas(native: NativeClient, name: string): Promise<boolean> {
  try {
    await native.run([cmd.linkShow({ name })]);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw cniErrorFromNative(err, "show netdev", name);
  }
}

async function waitForHostNetdev(o: ReturnOptions): Promise<string> {
  const deadline = Date.now() + (o.waitMs ?? 3000);
  for (;;) {
    const name = await o.locate();
    if (name !== null) return name;
    if (Date.now() >= deadline) {
      throw new CniError(
        CniCode.TryAgainLater,
        `Cannot find netdev "${o.snapshot.name}" in ${o.places.map((p) => p.netns ?? "the host").join(", ")} ` +
          `or anywhere in the host netns`,
      );
    }
    await sleep(100);
  }
}
