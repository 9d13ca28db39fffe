// Inter-process file locks without flock (Node has none).
//
// A lock is a file created atomically with link(2) from a complete temp file, holding the owner's
// pid, its process start time (field 22 of /proc/PID/stat, so a reused pid is not mistaken for the
// owner) and a random token. A lock whose owner is dead is stale and is reclaimed: it is renamed to a
// unique name (only one reclaimer can win the rename), and if the renamed file turns out to be a fresh
// lock taken in between (token differs), it is linked back. Waiting is bounded: after `timeoutMs`
// the caller gets CNI code 11 (try again later).
import { linkSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { randomHex } from "./random.js";
import { removeFile } from "./state.js";
import { CniCode, CniError, errorCode, errorMessage } from "./errors.js";
import { codeForFsError } from "./errno.js";
import { isObject } from "./is.js";

export interface LockOwner {
  pid: number;
  start: string;
  token: string;
}

export interface LockOptions {
  /** How long to wait for a held lock before failing with code 11 (default 10 s). */
  timeoutMs?: number;
  /** What the lock protects, for messages (e.g. `attachment "abc/net1"`). */
  what?: string;
  /** Test seam: whether the owner still runs (default: /proc/PID/stat start time matches). */
  isAlive?: (owner: LockOwner) => boolean;
}

export interface Lock {
  readonly path: string;
  release(): void;
}

/** The start time (clock ticks since boot) of a process, or null when it does not exist. */
export function processStartTime(pid: number): string | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return fields[19] ?? null;
}

export function ownerIsAlive(owner: LockOwner): boolean {
  const start = processStartTime(owner.pid);
  return start !== null && start === owner.start;
}

function readOwner(path: string): LockOwner | null {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, "utf8"));
    if (isObject(parsed) && typeof parsed["pid"] === "number" && typeof parsed["start"] === "string") {
      return { pid: parsed["pid"], start: parsed["start"], token: String(parsed["token"]) };
    }
    // Not ours or damaged: treat as a dead owner so it can be reclaimed.
    return { pid: 0, start: "", token: "" };
  } catch (err) {
    if (errorCode(err) === "ENOENT") return null;
    return { pid: 0, start: "", token: "" };
  }
}

/**
 * The names of a lock's companions carry their writer's pid (`<lock>.<random>.<pid>.tmp|.stale`): one
 * killed between creating such a file and writing it leaves it empty, and GC must still tell that
 * its writer is dead (leftovers.ts).
 */
function companion(path: string, random: string, kind: "tmp" | "stale"): string {
  return `${path}.${random}.${process.pid}.${kind}`;
}

/** The writer's pid in a lock companion's name, or null for another name (or one of an older release). */
export function lockCompanionPid(name: string): number | null {
  const m = /\.lock\.[0-9a-f]+\.(\d+)\.(?:tmp|stale)$/.exec(name);
  return m === null ? null : Number(m[1]);
}

function tryCreate(path: string, owner: LockOwner): boolean {
  const tmp = companion(path, owner.token, "tmp");
  writeFileSync(tmp, JSON.stringify(owner), { mode: 0o600 });
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    if (errorCode(err) === "EEXIST") return false;
    throw err;
  } finally {
    removeFile(tmp);
  }
}

/** Removes a stale lock unless someone else got there first. */
function reclaim(path: string, stale: LockOwner): void {
  const aside = companion(path, randomHex(8), "stale");
  try {
    renameSync(path, aside);
  } catch (err) {
    if (errorCode(err) === "ENOENT") return; // another reclaimer won
    throw err;
  }
  const moved = readOwner(aside);
  if (moved !== null && moved.token !== stale.token) {
    // We moved a lock that was taken after we looked: put it back.
    try {
      linkSync(aside, path);
    } catch {
      // A third process already holds the path; the moved owner lost its lock file. Rare enough to
      // accept: its release() finds no file and does nothing.
    }
  }
  removeFile(aside);
}

/**
 * Removes the lock at `path` when its owner is dead (GC's sweep: a killed process's lock that nobody
 * asked for again). Returns whether it did; a live owner's lock is left alone.
 */
export function removeStaleLock(path: string, isAlive: (owner: LockOwner) => boolean = ownerIsAlive): boolean {
  const holder = readOwner(path);
  if (holder === null || isAlive(holder)) return false;
  reclaim(path, holder);
  return true;
}

/** The pid in a lock's temporary file's content, or null when it holds none (empty: killed before the write). */
export function lockTmpPid(path: string): number | null {
  const owner = readOwner(path);
  return owner === null || owner.pid === 0 ? null : owner.pid;
}

export async function acquireLock(path: string, opts: LockOptions = {}): Promise<Lock> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const isAlive = opts.isAlive ?? ownerIsAlive;
  const what = opts.what ?? `"${path}"`;
  const owner: LockOwner = {
    pid: process.pid,
    start: processStartTime(process.pid) ?? "",
    token: randomHex(8),
  };
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    for (;;) {
      if (tryCreate(path, owner)) break;
      const holder = readOwner(path);
      if (holder !== null && !isAlive(holder)) {
        reclaim(path, holder);
        continue;
      }
      if (Date.now() >= deadline) {
        throw new CniError(
          CniCode.TryAgainLater,
          `Cannot lock ${what}: held by pid ${holder?.pid ?? "unknown"} for more than ${timeoutMs} ms`,
        );
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 100);
    }
  } catch (err) {
    if (err instanceof CniError) throw err;
    throw new CniError(codeForFsError(err), `Cannot lock ${what}: ${errorMessage(err)}`, { cause: err });
  }
  return {
    path,
    release() {
      const current = readOwner(path);
      if (current !== null && current.token === owner.token) removeFile(path);
    },
  };
}

/** Runs `fn` holding `path`; the lock is released however `fn` ends. */
export async function withLock<T>(path: string, opts: LockOptions, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(path, opts);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

/** The lock of one attachment (containerID + ifname). */
export function attachmentLockPath(stateDir: string, containerID: string, ifname: string): string {
  return `${stateDir}/locks/attachment@${containerID}@${encodeURIComponent(ifname)}.lock`;
}

/** The lock of a host object shared by attachments (e.g. kind "master", name "eth1"). */
export function hostObjectLockPath(stateDir: string, kind: string, name: string): string {
  return `${stateDir}/locks/${kind}@${encodeURIComponent(name)}.lock`;
}
