// Walks to a directory root may act in, by handle. Node has no openat(), so each step opens
// `/proc/self/fd/<parent>/<name>` with O_NOFOLLOW|O_DIRECTORY: the kernel follows the magic link to the
// directory already held (never a name someone could swap) and refuses a symlink as the next step.
// Every directory on the way, from "/", must be root's (or this euid's) and writable by no one else,
// sticky bit or not. Once that holds, no other user can rename, replace or add anything along the
// path, so a name inside the directory stays what it was checked as, for root's later exec or open.
//
// Symlinks: a path a node chooses (the state dir, the log dir, the Device Information dir) may pass
// through a symlink above the directory itself (`/var/run` -> `/run`) when root owns the link and the
// directory holding it passed the check: only root could have put it there. The directory itself and
// anything a config names below it must be real directories.
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readlinkSync, type Stats } from "node:fs";
import { errorCode } from "./errors.js";

/** A directory on the way is not root's, is writable by others, or is a symlink where none may be. */
export class UntrustedPathError extends Error {
  override readonly name = "UntrustedPathError";
  /** The directory (as walked, symlinks expanded) that failed. */
  readonly at: string;
  /** What is wrong with it: "is a symbolic link"... */
  readonly why: string;
  constructor(at: string, why: string) {
    super(`"${at}" ${why}`);
    this.at = at;
    this.why = why;
  }

  /** The message about `path`: "it ..." when the path itself failed, else naming the directory. */
  about(path: string): string {
    return this.at === path ? `it ${this.why}` : this.message;
  }
}

/** `name` inside the directory open as `fd`, as a path the kernel resolves through that handle. */
export function fdPath(fd: number, name?: string): string {
  return name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`;
}

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const MAX_LINKS = 40; // as the kernel's MAXSYMLINKS

function euid(): number {
  return process.geteuid?.() ?? 0;
}

function trustedOwner(uid: number): boolean {
  return uid === 0 || uid === euid();
}

function modeText(st: Stats): string {
  return (st.mode & 0o7777).toString(8).padStart(4, "0");
}

/** Throws unless the open directory `fd` (shown as `at`) is root's and writable by its owner only. */
function checkDir(fd: number, at: string): void {
  const st = fstatSync(fd);
  if (!st.isDirectory()) throw new UntrustedPathError(at, "is not a directory");
  if (!trustedOwner(st.uid)) throw new UntrustedPathError(at, `is owned by uid ${st.uid}, not root`);
  if ((st.mode & 0o022) !== 0) {
    throw new UntrustedPathError(at, `has mode ${modeText(st)}: group or others can write to it`);
  }
}

/** A plain name: one component, not "." or "..", no NUL. */
export function isPlainName(name: string): boolean {
  return name !== "" && name !== "." && name !== ".." && !name.includes("/") && !name.includes("\0");
}

export interface WalkOptions {
  /** Create missing directories: the last with `mode`, those before it 0755. Otherwise ENOENT is thrown. */
  create?: { mode: number };
}

interface Step {
  name: string;
  /** The directory the walk was asked for (or one below it): never a symlink. */
  strict: boolean;
  last: boolean;
}

function join(at: string, name: string): string {
  return at === "/" ? `/${name}` : `${at}/${name}`;
}

/** Opens the next directory; on ENOENT creates it when asked. Returns the fd, or "symlink". */
function openStep(parent: number, at: string, step: Step, opts: WalkOptions): number | "symlink" {
  const path = fdPath(parent, step.name);
  for (let attempt = 0; ; attempt++) {
    try {
      return openSync(path, DIR_FLAGS);
    } catch (err) {
      const code = errorCode(err);
      // O_NOFOLLOW|O_DIRECTORY on a symlink: ELOOP, or ENOTDIR (the kernel checks O_DIRECTORY first)
      if (code === "ELOOP") return "symlink";
      if (code === "ENOTDIR") {
        if (lstatSync(path).isSymbolicLink()) return "symlink";
        throw new UntrustedPathError(join(at, step.name), "is not a directory");
      }
      if (code !== "ENOENT" || opts.create === undefined || attempt > 0) throw err;
      try {
        mkdirSync(path, { mode: step.last ? opts.create.mode : 0o755 });
      } catch (mkErr) {
        if (errorCode(mkErr) !== "EEXIST") throw mkErr;
      }
    }
  }
}

/**
 * Walks from "/" to `path` (absolute) and then down `below` (plain names), checking every directory
 * on the way; returns an O_RDONLY handle to the last one (the caller closes it). Throws
 * UntrustedPathError for a directory that fails, or the fs error (ENOENT...) as it is.
 */
export function openTrustedDir(path: string, below: readonly string[] = [], opts: WalkOptions = {}): number {
  if (!path.startsWith("/")) throw new UntrustedPathError(path, "is not an absolute path");
  for (const name of below) if (!isPlainName(name)) throw new UntrustedPathError(name, "is not a plain name");
  const own = path.split("/").filter((c) => c !== "" && c !== ".");
  const steps: Step[] = [
    ...own.map((name, i) => ({ name, strict: i === own.length - 1, last: false })),
    ...below.map((name) => ({ name, strict: true, last: false })),
  ];
  const lastStep = steps.at(-1);
  if (lastStep !== undefined) lastStep.last = true;
  let at = "/";
  let fd = openSync("/", DIR_FLAGS);
  let links = 0;
  try {
    checkDir(fd, at);
    for (let step = steps.shift(); step !== undefined; step = steps.shift()) {
      if (step.name === "..") {
        // only from a symlink's target: the parent of the directory held
        const up = openSync(fdPath(fd, ".."), DIR_FLAGS);
        closeSync(fd);
        fd = up;
        at = at.slice(0, at.lastIndexOf("/")) || "/";
        checkDir(fd, at);
        continue;
      }
      const next = openStep(fd, at, step, opts);
      if (next === "symlink") {
        const linkAt = join(at, step.name);
        if (step.strict) throw new UntrustedPathError(linkAt, "is a symbolic link");
        const link = lstatSync(fdPath(fd, step.name));
        if (link.uid !== 0)
          throw new UntrustedPathError(linkAt, `is a symbolic link owned by uid ${link.uid}, not root`);
        if (++links > MAX_LINKS) throw new UntrustedPathError(linkAt, "has too many levels of symbolic links");
        const target = readlinkSync(fdPath(fd, step.name));
        const parts = target
          .split("/")
          .filter((c) => c !== "" && c !== ".")
          .map((name) => ({ name, strict: false, last: false }));
        steps.unshift(...parts);
        if (target.startsWith("/")) {
          const root = openSync("/", DIR_FLAGS);
          closeSync(fd);
          fd = root;
          at = "/";
        }
        continue;
      }
      closeSync(fd);
      fd = next;
      at = join(at, step.name);
      checkDir(fd, at);
    }
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** openTrustedDir, closed again: for a directory used by name afterwards (safe once it passed). */
export function checkTrustedDir(path: string, below: readonly string[] = [], opts: WalkOptions = {}): void {
  closeSync(openTrustedDir(path, below, opts));
}
