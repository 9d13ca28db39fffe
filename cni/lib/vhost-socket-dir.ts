// Where vhost-user sockets live on the node: <base>/<pod>/<ifname>/socket.
// - <base>: env ACCELNET_VHOSTUSER_DIR (the runtime's), default /run/accelnet/vhost-user; root's,
//   0755, reached by the trusted walk from "/" (trusted-dir.ts) like every root path.
// - <pod>: the pod's UID from CNI_ARGS K8S_POD_UID (set by the runtime: Multus, containerd; a UUID,
//   checked), so a pod mounts only its own directory (hostPath of <base> with subPathExpr $(POD_UID));
//   without it (no Kubernetes) "c-" and 32 hex digits of the container ID's SHA-256. Root's, 0755.
// - <ifname>: CNI_IFNAME (the dispatcher refuses names with "/" or "." and ".."). Created by ADD, never
//   reused: one that exists is another attachment's (error 104), left as it is. Mode 0755, or root:<gid>
//   0770 with env ACCELNET_VHOSTUSER_GID, for a DPDK application that does not run as root (it creates
//   the socket in client mode).
// The leaf may hold what the pod put there, so DEL removes it through directory handles only
// (never a path a pod could swap for a symlink), after checking it is the directory ADD made (inode).
import { createHash } from "node:crypto";
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmdirSync,
  unlinkSync,
} from "node:fs";
import { CniCode, CniError, errorCode, errorMessage } from "./errors.js";
import type { CniArgs } from "./cni-args.js";
import type { Logger } from "./log.js";
import { fdPath, openTrustedDir, UntrustedPathError } from "./trusted-dir.js";
import { isCleanAbsolute } from "./trusted-paths.js";

type Env = Readonly<Record<string, string | undefined>>;

export const VHOSTUSER_DIR_ENV = "ACCELNET_VHOSTUSER_DIR";
export const DEFAULT_VHOSTUSER_DIR = "/run/accelnet/vhost-user";
export const VHOSTUSER_GID_ENV = "ACCELNET_VHOSTUSER_GID";
export const SOCKET_NAME = "socket";
/** sun_path is 108 bytes with its NUL. */
const MAX_SOCKET_PATH = 107;
const POD_UID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

const envError = (msg: string) => new CniError(CniCode.InvalidEnvironment, msg);

/** An env path (clean absolute, code 4 otherwise), or the default. */
export function envPath(env: Env, name: string, fallback: string): string {
  const value = env[name];
  if (value === undefined || value === "") return fallback;
  if (!isCleanAbsolute(value)) throw envError(`Cannot use ${name} "${value}": not an absolute path without ".."`);
  return value.replace(/\/+$/, "") || "/";
}

/** The group that may write in attachment dirs (env ACCELNET_VHOSTUSER_GID), or undefined. */
export function socketGroup(env: Env): number | undefined {
  const value = env[VHOSTUSER_GID_ENV];
  if (value === undefined || value === "") return undefined;
  if (!/^\d{1,10}$/.test(value) || Number(value) > 2 ** 32 - 2) {
    throw envError(`Cannot use ${VHOSTUSER_GID_ENV} "${value}": not a group ID`);
  }
  return Number(value);
}

/** Where one attachment's socket is. */
export interface SocketPlace {
  base: string;
  pod: string;
  ifname: string;
}

export const socketDirOf = (p: SocketPlace) => `${p.base}/${p.pod}/${p.ifname}`;
export const socketPathOf = (p: SocketPlace) => `${socketDirOf(p)}/${SOCKET_NAME}`;

/** The place of an attachment's socket: from the runtime's env and CNI_ARGS, never from the config. */
export function socketPlaceFor(env: Env, cniArgs: CniArgs, containerID: string, ifname: string): SocketPlace {
  const base = envPath(env, VHOSTUSER_DIR_ENV, DEFAULT_VHOSTUSER_DIR);
  const uid = cniArgs.k8sPodUid?.toLowerCase();
  if (uid !== undefined && !POD_UID.test(uid)) {
    throw envError(`Cannot use CNI_ARGS K8S_POD_UID "${cniArgs.k8sPodUid}": not a UUID`);
  }
  const pod = uid ?? `c-${createHash("sha256").update(containerID).digest("hex").slice(0, 32)}`;
  const place = { base, pod, ifname };
  if (Buffer.byteLength(socketPathOf(place)) > MAX_SOCKET_PATH) {
    throw envError(
      `Cannot use ${VHOSTUSER_DIR_ENV} "${base}": socket path "${socketPathOf(place)}" is longer than ${MAX_SOCKET_PATH} bytes`,
    );
  }
  return place;
}

/** The attachment dir ADD made: its inode, so DEL removes that one and nothing put in its place. */
export interface DirIdentity {
  dev: number;
  ino: number;
}

function dirFailure(p: SocketPlace, err: unknown): CniError {
  const why = err instanceof UntrustedPathError ? err.message : errorMessage(err);
  return new CniError(CniCode.IoFailure, `Cannot use socket dir "${socketDirOf(p)}": ${why}`, { cause: err });
}

/**
 * Creates the attachment dir (and <base>, <pod> as needed, root 0755, each checked). One that exists
 * is refused with 104, untouched. Returns its identity.
 */
export function createSocketDir(p: SocketPlace, gid: number | undefined): DirIdentity {
  let podFd: number;
  try {
    podFd = openTrustedDir(p.base, [p.pod], { create: { mode: 0o755 } });
  } catch (err) {
    throw dirFailure(p, err);
  }
  try {
    try {
      mkdirSync(fdPath(podFd, p.ifname), { mode: 0o700 });
    } catch (err) {
      if (errorCode(err) === "EEXIST") {
        throw new CniError(
          CniCode.InterfaceExists,
          `Cannot create socket dir "${socketDirOf(p)}": it exists and is not this attachment's ` +
            `(another attachment of the pod, or left by someone else); nothing was changed`,
        );
      }
      throw err;
    }
    const fd = openSync(fdPath(podFd, p.ifname), DIR_FLAGS);
    try {
      if (gid !== undefined) fchownSync(fd, 0, gid);
      fchmodSync(fd, gid === undefined ? 0o755 : 0o770);
      const st = fstatSync(fd);
      return { dev: st.dev, ino: st.ino };
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if (err instanceof CniError) throw err;
    throw dirFailure(p, err);
  } finally {
    closeSync(podFd);
  }
}

/** Removes everything in the open directory `fd`, through handles only (depth-limited). */
function emptyDir(fd: number, depth: number): void {
  for (const name of readdirSync(fdPath(fd))) {
    const path = fdPath(fd, name);
    if (!lstatSync(path).isDirectory()) {
      unlinkSync(path); // a socket, file or symlink: unlink never follows the last component
      continue;
    }
    if (depth >= 8) throw new Error(`nested deeper than 8 directories`);
    const sub = openSync(path, DIR_FLAGS);
    try {
      emptyDir(sub, depth + 1);
    } finally {
      closeSync(sub);
    }
    rmdirSync(path);
  }
}

/**
 * DEL: removes the attachment dir ADD made (same inode) with what is in it, then the pod dir when it is
 * empty. Gone already: fine. A different directory under that name (not ours) is left, with a warning.
 */
export function removeSocketDir(p: SocketPlace, identity: DirIdentity | undefined, log: Logger): void {
  let baseFd: number | undefined;
  let podFd: number | undefined;
  try {
    baseFd = openTrustedDir(p.base);
    podFd = openTrustedDir(p.base, [p.pod]);
  } catch (err) {
    if (baseFd !== undefined) closeSync(baseFd);
    if (errorCode(err) === "ENOENT") return;
    throw dirFailure(p, err);
  }
  try {
    const leaf = fdPath(podFd, p.ifname);
    let fd: number | undefined;
    try {
      fd = openSync(leaf, DIR_FLAGS);
    } catch (err) {
      if (errorCode(err) !== "ENOENT") throw err;
    }
    if (fd !== undefined) {
      try {
        const st = fstatSync(fd);
        if (identity === undefined || st.ino !== identity.ino || st.dev !== identity.dev) {
          log.warning(`Leaving socket dir "${socketDirOf(p)}": it is not the directory this attachment created`);
          return;
        }
        emptyDir(fd, 0);
      } finally {
        closeSync(fd);
      }
      rmdirSync(leaf);
    }
    try {
      rmdirSync(fdPath(baseFd, p.pod));
    } catch (err) {
      // another attachment of the pod still has its dir: the last DEL removes the pod's
      if (errorCode(err) !== "ENOTEMPTY" && errorCode(err) !== "EEXIST") throw err;
    }
  } catch (err) {
    throw dirFailure(p, err);
  } finally {
    closeSync(podFd);
    closeSync(baseFd);
  }
}

/**
 * Server mode: ovs-vswitchd creates the socket as <its vhost-sock-dir>/<port>; a hard link gives it the
 * attachment's path (same inode, so connecting through it reaches OVS). The OVS dir is walked like
 * every root path and the source must be a socket.
 */
export function linkServerSocket(ovsDir: string, portName: string, p: SocketPlace): void {
  let ovsFd: number | undefined;
  let podFd: number | undefined;
  try {
    ovsFd = openTrustedDir(ovsDir);
    const source = fdPath(ovsFd, portName);
    if (!lstatSync(source).isSocket()) throw new Error(`"${ovsDir}/${portName}" is not a socket`);
    podFd = openTrustedDir(p.base, [p.pod]);
    linkSync(source, fdPath(podFd, `${p.ifname}/${SOCKET_NAME}`));
  } catch (err) {
    throw new CniError(
      CniCode.IoFailure,
      `Cannot link OVS socket "${ovsDir}/${portName}" to "${socketPathOf(p)}": ${err instanceof UntrustedPathError ? err.message : errorMessage(err)}`,
      { cause: err },
    );
  } finally {
    if (ovsFd !== undefined) closeSync(ovsFd);
    if (podFd !== undefined) closeSync(podFd);
  }
}
