// GC (spec 1.1.0): release every stored attachment of this network that is not in
// `cni.dev/valid-attachments` (or the legacy `cni.dev/attachments`), and what interrupted ADDs of such
// attachments left (leftovers.ts: owner markers without a record, temporary files, dead processes'
// locks), then forward GC to IPAM.
import { CniError, errorMessage } from "./errors.js";
import { isObject } from "./is.js";
import { callIpam } from "./ipam.js";
import { stateDirVersionCache } from "./ipam-versions.js";
import { clearAttachmentLeftovers, sweepDeadFiles, unrecordedOwners } from "./leftovers.js";
import { attachmentLockPath, withLock } from "./lock.js";
import { invalidConfig } from "./netconf.js";
import { StateStore, type AttachmentState } from "./state.js";
import type { CniRequest } from "../skel/types.js";

export interface Attachment {
  containerID: string;
  ifname: string;
}

/** The valid attachments of a GC request; code 7 when the list is malformed. */
export function validAttachments(raw: Record<string, unknown>): Attachment[] {
  const key = raw["cni.dev/valid-attachments"] !== undefined ? "cni.dev/valid-attachments" : "cni.dev/attachments";
  const list = raw[key];
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw invalidConfig(key, "expected an array");
  return list.map((entry, i) => {
    if (!isObject(entry) || typeof entry["containerID"] !== "string" || typeof entry["ifname"] !== "string") {
      throw invalidConfig(`${key}[${i}]`, `expected {"containerID": string, "ifname": string}`);
    }
    return { containerID: entry["containerID"], ifname: entry["ifname"] };
  });
}

/**
 * Releases stale attachments through `release` (the mode's, looked up by the stored mode name).
 * Every stale attachment is attempted; the first failure is thrown at the end.
 */
export async function collectGarbage(
  req: CniRequest,
  release: (state: AttachmentState) => Promise<void>,
): Promise<void> {
  const valid = new Set(validAttachments(req.conf.raw).map((a) => `${a.containerID}\0${a.ifname}`));
  const store = new StateStore(req.stateDir);
  const { states, broken } = store.list();
  for (const path of broken) req.log.warning(`GC skips unreadable state "${path}"`);
  let firstError: unknown = undefined;
  for (const state of states) {
    if (state.network !== req.conf.name || valid.has(`${state.containerID}\0${state.ifname}`)) continue;
    const lock = attachmentLockPath(req.stateDir, state.containerID, state.ifname);
    try {
      await withLock(
        lock,
        { what: `attachment "${state.containerID}/${state.ifname}"`, ...lockTimeout(req) },
        async () => {
          // Re-read under the lock: a DEL may have finished in between.
          if (store.read(state.containerID, state.ifname) === null) return;
          req.log.info(`GC releases attachment "${state.containerID}/${state.ifname}"`);
          await release(state);
          await clearAttachmentLeftovers(req.stateDir, state.containerID, state.ifname, lockTimeout(req), req.log);
        },
      );
    } catch (err) {
      req.log.error(`GC cannot release "${state.containerID}/${state.ifname}": ${errorMessage(err)}`);
      firstError ??= err;
    }
  }
  for (const a of unrecordedOwners(req.stateDir, req.conf.name)) {
    if (valid.has(`${a.containerID}\0${a.ifname}`)) continue;
    const lock = attachmentLockPath(req.stateDir, a.containerID, a.ifname);
    try {
      await withLock(lock, { what: `attachment "${a.containerID}/${a.ifname}"`, ...lockTimeout(req) }, () =>
        clearAttachmentLeftovers(req.stateDir, a.containerID, a.ifname, lockTimeout(req), req.log),
      );
    } catch (err) {
      req.log.error(`GC cannot release the devices of "${a.containerID}/${a.ifname}": ${errorMessage(err)}`);
      firstError ??= err;
    }
  }
  sweepDeadFiles(req.stateDir, req.log);
  if (req.conf.ipamType !== undefined) {
    await callIpam(
      {
        type: req.conf.ipamType,
        command: "GC",
        stdin: req.stdin,
        env: req.env,
        log: req.log,
        versionCache: stateDirVersionCache(req.stateDir, req.log),
        runner: req.deps.runProcess,
      },
      req.cniVersion,
    );
  }
  if (firstError !== undefined) {
    if (firstError instanceof CniError) throw firstError;
    throw new Error(errorMessage(firstError), { cause: firstError });
  }
}

export function lockTimeout(req: CniRequest): { timeoutMs?: number } {
  return req.deps.lockTimeoutMs === undefined ? {} : { timeoutMs: req.deps.lockTimeoutMs };
}
