// The socket's directory and the socket file, root's only (native/FRONTEND.md "Server rules"). The
// directory is walked to by handle (lib/trusted-dir.ts: every directory above it root's and writable by
// nobody else, created 0755 when missing), then created 0700 or, when it exists, made 0700. It is
// refused when it is a symlink, not a directory, or not root's: someone else put it there. The socket
// is bound under a temporary name, made 0600 and renamed into place, so the path never names a socket
// with looser permissions, and a live server's socket is never replaced.
import { chmodSync, closeSync, lstatSync, mkdirSync, renameSync, rmSync, type Stats } from "node:fs";
import { connect } from "node:net";
import { basename, dirname } from "node:path";
import { errorCode, errorMessage } from "../lib/errors.js";
import { fdPath, isPlainName, openTrustedDir, UntrustedPathError } from "../lib/trusted-dir.js";

/** The server cannot start: the message says why (main prints it and exits 1). */
export class StartError extends Error {
  override readonly name = "StartError";
}

function modeText(st: Stats): string {
  return (st.mode & 0o7777).toString(8).padStart(4, "0");
}

/** Creates or fixes `dir` as root's 0700; throws StartError when it cannot be made so. */
export function prepareSocketDir(dir: string): void {
  const name = basename(dir);
  if (!dir.startsWith("/") || !isPlainName(name)) throw new StartError(`Socket dir "${dir}" is not an absolute path`);
  let parent: number;
  try {
    parent = openTrustedDir(dirname(dir), [], { create: { mode: 0o755 } });
  } catch (err) {
    const why = err instanceof UntrustedPathError ? err.message : errorMessage(err);
    throw new StartError(`Cannot use socket dir "${dir}": ${why}`);
  }
  try {
    const path = fdPath(parent, name);
    try {
      mkdirSync(path, { mode: 0o700 });
    } catch (err) {
      if (errorCode(err) !== "EEXIST") throw new StartError(`Cannot create socket dir "${dir}": ${errorMessage(err)}`);
    }
    let st = lstatSync(path);
    if (st.isSymbolicLink()) throw new StartError(`Cannot use socket dir "${dir}": it is a symbolic link`);
    if (!st.isDirectory()) throw new StartError(`Cannot use socket dir "${dir}": it is not a directory`);
    if (st.uid !== 0) throw new StartError(`Cannot use socket dir "${dir}": it is owned by uid ${st.uid}, not root`);
    if ((st.mode & 0o7777) !== 0o700) {
      try {
        chmodSync(path, 0o700);
        st = lstatSync(path);
      } catch {
        // reported below with the mode it kept
      }
      if ((st.mode & 0o7777) !== 0o700) {
        throw new StartError(`Cannot use socket dir "${dir}": it has mode ${modeText(st)} and cannot be made 0700`);
      }
    }
  } finally {
    closeSync(parent);
  }
}

/** Whether a server answers on `path` (a connect succeeds). */
export function isLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/**
 * Makes way for the socket at `path`: a live server there is a StartError; a stale socket (a crash
 * left it) is removed; anything else there is a StartError.
 */
export async function clearStaleSocket(path: string): Promise<void> {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch (err) {
    if (errorCode(err) === "ENOENT") return;
    throw new StartError(`Cannot check socket "${path}": ${errorMessage(err)}`);
  }
  if (!st.isSocket()) throw new StartError(`Cannot use socket "${path}": something other than a socket is there`);
  if (await isLive(path)) throw new StartError(`Cannot serve on "${path}": another server answers there`);
  rmSync(path, { force: true });
}

/** `tmp` (a bound socket) made 0600 and renamed to `path`; returns its inode, to unlink only our own. */
export function publishSocket(tmp: string, path: string): number {
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  return lstatSync(path).ino;
}

/** Removes the socket at `path` if it is still the one we published (inode `ino`). */
export function unpublishSocket(path: string, ino: number): void {
  try {
    if (lstatSync(path).ino === ino) rmSync(path, { force: true });
  } catch {
    // already gone
  }
}
