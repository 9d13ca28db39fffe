// What each IPAM plugin binary answered to VERSION (its supportedVersions), remembered in
// <stateDir>/ipam-versions.json so the version fallback (ipam.ts) is paid once per binary, not on every
// ADD and CHECK. supportedVersions is a property of the binary alone (not of the request's cniVersion
// or verb), so one entry serves every later call; it is only asked when the plugin refused the
// request's version (or for STATUS and GC, which need it first), so a plugin that takes our version
// costs nothing extra, ever.
//
// An entry is keyed by the plugin's path and holds the binary's identity (dev, inode, size, mtime,
// ctime, nanoseconds): an upgraded, replaced or touched binary no longer matches and is asked again.
// The file lives in the trusted state dir (root's, 0700), is written atomically (0600) and is trusted
// only when it is a regular file of root's that nobody else can write; anything else (corrupt,
// foreign, another format) reads as empty and is rewritten. The cache never fails a call: an I/O
// error only costs the exec it would have saved.
import { closeSync, constants, fstatSync, openSync, readFileSync, type BigIntStats } from "node:fs";
import { errorMessage } from "./errors.js";
import { isObject, isStringArray } from "./is.js";
import type { Logger } from "./log.js";
import { writeFileAtomic } from "./state.js";
import { fdPath } from "./trusted-dir.js";
import { openTrustedStateDir } from "./trusted-paths.js";

export const IPAM_VERSIONS_FILE = "ipam-versions.json";
const FORMAT = 1;
/** Entries beyond this are dropped (oldest first): CNI_PATH holds a handful of IPAM plugins. */
const MAX_ENTRIES = 64;

/** Who a plugin binary is: any change to the file (replace, rewrite, touch, chmod) changes one of these. */
export interface BinaryIdentity {
  dev: string;
  ino: string;
  size: string;
  mtimeNs: string;
  ctimeNs: string;
}

interface Entry extends BinaryIdentity {
  supportedVersions: string[];
}

export function identityOf(st: BigIntStats): BinaryIdentity {
  return {
    dev: st.dev.toString(),
    ino: st.ino.toString(),
    size: st.size.toString(),
    mtimeNs: st.mtimeNs.toString(),
    ctimeNs: st.ctimeNs.toString(),
  };
}

function sameIdentity(a: BinaryIdentity, b: BinaryIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

function isEntry(v: unknown): v is Entry {
  if (!isObject(v) || !isStringArray(v["supportedVersions"])) return false;
  return ["dev", "ino", "size", "mtimeNs", "ctimeNs"].every((k) => typeof v[k] === "string");
}

export interface IpamVersionCache {
  /** The cached supportedVersions of the binary at `path` with `id`, or null (miss, changed binary). */
  lookup(path: string, id: BinaryIdentity): string[] | null;
  /** Remembers what the binary at `path` with `id` answered to VERSION. */
  store(path: string, id: BinaryIdentity, supportedVersions: readonly string[]): void;
  /** Forgets the binary at `path` (it refused a version it had listed). */
  forget(path: string): void;
}

/** The cache file in `stateDir` (which the dispatcher has trusted, or which is created 0700 here). */
export function stateDirVersionCache(stateDir: string, log: Logger): IpamVersionCache {
  const withDir = <T>(what: string, fallback: T, f: (fd: number) => T): T => {
    let fd: number;
    try {
      fd = openTrustedStateDir(stateDir, "state dir");
    } catch (err) {
      log.debug(`IPAM version cache not ${what}: ${errorMessage(err)}`);
      return fallback;
    }
    try {
      return f(fd);
    } catch (err) {
      log.debug(`IPAM version cache not ${what}: ${errorMessage(err)}`);
      return fallback;
    } finally {
      closeSync(fd);
    }
  };
  const readEntries = (fd: number): Map<string, Entry> => {
    const entries = new Map<string, Entry>();
    let file: number;
    try {
      file = openSync(fdPath(fd, IPAM_VERSIONS_FILE), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      return entries; // none yet, or a symlink: both read as empty
    }
    let text: string;
    try {
      const st = fstatSync(file);
      const euid = process.geteuid?.() ?? 0;
      if (!st.isFile() || (st.uid !== 0 && st.uid !== euid) || (st.mode & 0o022) !== 0) return entries;
      text = readFileSync(file, "utf8");
    } finally {
      closeSync(file);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return entries;
    }
    if (!isObject(parsed) || parsed["format"] !== FORMAT || !isObject(parsed["plugins"])) return entries;
    for (const [path, v] of Object.entries(parsed["plugins"])) if (isEntry(v)) entries.set(path, v);
    return entries;
  };
  const writeEntries = (fd: number, entries: Map<string, Entry>) => {
    const kept = [...entries].slice(-MAX_ENTRIES);
    const text = JSON.stringify({ format: FORMAT, plugins: Object.fromEntries(kept) });
    writeFileAtomic(fdPath(fd, IPAM_VERSIONS_FILE), text, 0o600);
  };
  return {
    lookup(path, id) {
      return withDir("read", null, (fd) => {
        const e = readEntries(fd).get(path);
        return e !== undefined && sameIdentity(e, id) ? e.supportedVersions : null;
      });
    },
    store(path, id, supportedVersions) {
      withDir("written", undefined, (fd) => {
        // Read-modify-write without a lock: a concurrent writer may win and drop this entry, which
        // only costs the next call one VERSION exec.
        const entries = readEntries(fd);
        entries.delete(path);
        entries.set(path, { ...id, supportedVersions: [...supportedVersions] });
        writeEntries(fd, entries);
      });
    },
    forget(path) {
      withDir("written", undefined, (fd) => {
        const entries = readEntries(fd);
        if (entries.delete(path)) writeEntries(fd, entries);
      });
    },
  };
}
