// Which paths root may act on, and who chooses them. In a Multus cluster the network config comes from a
// NetworkAttachmentDefinition that any user of a namespace can write, while this plugin runs as root on
// the host. So a config never chooses where root keeps state, executes from or logs to, and it names
// files only inside directories made for them. Every directory is reached by trusted-dir.ts's walk:
// from "/", by handle, each one root's and writable by nobody else (README "Threat model").
//
// | path                              | chosen by                                  | refused with                         |
// | --------------------------------- | ------------------------------------------ | ------------------------------------ |
// | state dir (state, locks, owner    | env ACCELNET_STATE_DIR, else               | config `stateDir`: 7; env not        |
// | markers, the extracted helper)    | /var/lib/cni/accelnet; created 0700        | absolute: 4; an untrusted dir on the |
// |                                   |                                            | way: 5                               |
// | log dir                           | env ACCELNET_LOG_DIR, else                 | an untrusted dir on the way: logs go |
// |                                   | /var/log/accelnet; created 0700            | to stderr, with a warning            |
// | `logFile`                         | the config: a file NAME in the log dir (or | 7 (also for a symlink or a file that |
// |                                   | an absolute path whose dirname is exactly  | is not regular)                      |
// |                                   | the log dir); O_APPEND|O_CREAT|O_NOFOLLOW  |                                      |
// | runtimeConfig.CNIDeviceInfoFile   | the config, under the Device Information   | 7 (also a symlink, or an untrusted   |
// |                                   | spec's /var/run/k8s.cni.cncf.io/devinfo/ or| dir on the way, at ADD, DEL and GC)  |
// |                                   | /run/... (or env ACCELNET_DEVINFO_DIR)     |                                      |
//
// The environment is the runtime's (kubelet, CRI, Multus), not the tenant's: the ACCELNET_*_DIR roots
// exist for tests and development. Code 5 for an untrusted state dir: the config is fine, the node is not.
import { closeSync, constants, fstatSync, lstatSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { CniCode, CniError, errorCode, errorMessage } from "./errors.js";
import { fdPath, isPlainName, openTrustedDir, UntrustedPathError } from "./trusted-dir.js";

type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULT_STATE_DIR = "/var/lib/cni/accelnet";
export const STATE_DIR_ENV = "ACCELNET_STATE_DIR";
export const LOG_DIR_ENV = "ACCELNET_LOG_DIR";
export const DEVINFO_DIR_ENV = "ACCELNET_DEVINFO_DIR";
export const DEFAULT_LOG_DIR = "/var/log/accelnet";
/** The Device Information spec's directory (/var/run is usually a link to /run: both spellings). */
export const DEVINFO_ROOTS = ["/var/run/k8s.cni.cncf.io/devinfo", "/run/k8s.cni.cncf.io/devinfo"] as const;

function invalidField(field: string, why: string): CniError {
  return new CniError(CniCode.InvalidConfig, `Cannot use config field "${field}": ${why}`);
}

/** Absolute, no ".." component, no NUL. */
export function isCleanAbsolute(path: string): boolean {
  return path.startsWith("/") && !path.split("/").includes("..") && !path.includes("\0");
}

/** Whether `path` names something strictly inside `root` (both clean absolute paths). */
export function isUnder(path: string, root: string): boolean {
  const prefix = `${root.replace(/\/+$/, "")}/`;
  return path.startsWith(prefix) && path.length > prefix.length;
}

function envRoot(env: Env, name: string): string | undefined {
  const value = env[name];
  if (value === undefined || value === "") return undefined;
  if (!isCleanAbsolute(value)) {
    throw new CniError(CniCode.InvalidEnvironment, `Cannot use ${name} "${value}": not an absolute path without ".."`);
  }
  return value.replace(/\/+$/, "") || "/";
}

// ---------------------------------------------------------------- state dir

/** The state dir: env ACCELNET_STATE_DIR, else /var/lib/cni/accelnet. Nothing is touched. */
export function stateDirFrom(env: Env): string {
  return envRoot(env, STATE_DIR_ENV) ?? DEFAULT_STATE_DIR;
}

/** The refusal of a config that names a state dir: it comes from the environment only. */
export function stateDirFieldRefused(): CniError {
  return invalidField(
    "stateDir",
    `the state dir comes from the runtime's environment (${STATE_DIR_ENV}, default ${DEFAULT_STATE_DIR}), ` +
      `never from the network config`,
  );
}

/**
 * Creates `dir` (0700; missing parents 0755) when missing, walking to it by handle, and trusts it only
 * when it and every directory above it are root's (or this euid's) and writable by nobody else, and
 * it is not a symlink (trusted-dir.ts). `below` are plain names under it, checked (and created 0700) the
 * same way. `what` names it in messages ("state dir", "helper dir"). Code 5 otherwise.
 */
export function ensureTrustedDir(dir: string, what: string, below: readonly string[] = []): void {
  closeSync(openTrustedStateDir(dir, what, below));
}

/** ensureTrustedDir, keeping the handle of the last directory open (the caller closes it). */
export function openTrustedStateDir(dir: string, what: string, below: readonly string[] = []): number {
  const shown = below.length === 0 ? dir : `${dir}/${below.join("/")}`;
  try {
    return openTrustedDir(dir, below, { create: { mode: 0o700 } });
  } catch (err) {
    const why = err instanceof UntrustedPathError ? err.about(shown) : errorMessage(err);
    throw new CniError(CniCode.IoFailure, `Cannot use ${what} "${shown}": ${why}`, { cause: err });
  }
}

// ---------------------------------------------------------------- the log file

/** The node's log dir: env ACCELNET_LOG_DIR, else /var/log/accelnet. */
export function logDirFrom(env: Env): string {
  return envRoot(env, LOG_DIR_ENV) ?? DEFAULT_LOG_DIR;
}

/**
 * `logFile` from the config: a file name in the node's log dir. An absolute path whose dirname is
 * exactly the log dir is accepted too (sriov-cni configs name a full path). Returns the name; code 7
 * for anything else (a "/" elsewhere, "..", NUL, a path in another directory).
 */
export function checkLogFile(value: string, env: Env): string {
  const logDir = logDirFrom(env);
  const name = value.startsWith("/") && dirname(value) === logDir ? value.slice(logDir.length + 1) : value;
  if (!isPlainName(name)) {
    throw invalidField(
      "logFile",
      `"${value}" is not a file name in the node's log dir "${logDir}/" (a name only, no "/" or "..")`,
    );
  }
  return name;
}

/**
 * Opens the log file `name` (checkLogFile's) for appending: the log dir is walked to by handle (created
 * 0700), then the file is opened through that handle, O_WRONLY|O_APPEND|O_CREAT|O_NOFOLLOW (and
 * O_NONBLOCK, so a FIFO cannot block the plugin), mode 0600, regular files only. A symlink, a
 * directory or another non-regular file: code 7. An untrusted log dir, or any other failure (disk
 * full), is thrown as it is (not a CniError); the caller logs to stderr instead.
 */
export function openLogFile(name: string, env: Env): number {
  const logDir = logDirFrom(env);
  const fileName = checkLogFile(name, env);
  const path = `${logDir}/${fileName}`;
  const notRegular = () => invalidField("logFile", `"${path}" is not a regular file`);
  const flags =
    constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK;
  const dirFd = openTrustedDir(logDir, [], { create: { mode: 0o700 } });
  let fd: number;
  try {
    fd = openSync(fdPath(dirFd, fileName), flags, 0o600);
  } catch (err) {
    const code = errorCode(err);
    if (code === "ELOOP") throw invalidField("logFile", `"${path}" is a symbolic link`);
    if (code === "EISDIR" || code === "ENXIO") throw notRegular();
    throw err;
  } finally {
    closeSync(dirFd);
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw notRegular();
  }
  return fd;
}

// ---------------------------------------------------------------- device info files

export function deviceInfoRoots(env: Env): string[] {
  const extra = envRoot(env, DEVINFO_DIR_ENV);
  return extra === undefined ? [...DEVINFO_ROOTS] : [...DEVINFO_ROOTS, extra];
}

export const DEVICE_INFO_FIELD = "runtimeConfig.CNIDeviceInfoFile";

/** Where a device info file is: the node's root it is under, the directories below it, its name. */
export interface DeviceInfoPlace {
  root: string;
  dirs: string[];
  name: string;
}

function placeUnder(path: string, roots: readonly string[]): DeviceInfoPlace | null {
  const root = roots.find((r) => isUnder(path, r));
  if (root === undefined) return null;
  const parts = path
    .slice(root.replace(/\/+$/, "").length + 1)
    .split("/")
    .filter((c) => c !== "");
  const name = parts.pop();
  if (name === undefined) return null;
  return { root, dirs: parts, name };
}

/**
 * runtimeConfig.CNIDeviceInfoFile: absolute, no "..", under the spec's directory (or
 * ACCELNET_DEVINFO_DIR), and when it exists, a regular file, not a symlink. Code 7 otherwise. The
 * directories are walked by handle when the file is written or restored (openDeviceInfoDir).
 */
export function checkDeviceInfoPath(path: string, env: Env): string {
  const roots = deviceInfoRoots(env);
  if (!isCleanAbsolute(path)) throw invalidField(DEVICE_INFO_FIELD, `"${path}" is not an absolute path without ".."`);
  if (placeUnder(path, roots) === null) {
    throw invalidField(DEVICE_INFO_FIELD, `"${path}" is not under ${roots.map((r) => `"${r}/"`).join(" or ")}`);
  }
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return path; // not there yet (or not reachable): the walk at ADD decides
  }
  if (st.isSymbolicLink()) throw invalidField(DEVICE_INFO_FIELD, `"${path}" is a symbolic link`);
  if (!st.isFile()) throw invalidField(DEVICE_INFO_FIELD, `"${path}" is not a regular file`);
  return path;
}

/**
 * The directory of a device info file, open by handle after walking to it: the node's root (a
 * symlink above it, such as /var/run, must be root's), then the config's directories below it, none
 * a symlink, each root's and writable by nobody else. `create` makes missing ones 0755 (ADD only:
 * restore and delete never create). `roots` are where the path may be. Code 7 otherwise.
 */
export function openDeviceInfoDir(
  path: string,
  roots: readonly string[],
  create: boolean,
): { dirFd: number; name: string; root: string } {
  const place = isCleanAbsolute(path) ? placeUnder(path, roots) : null;
  if (place === null) {
    throw invalidField(DEVICE_INFO_FIELD, `"${path}" is not under ${roots.map((r) => `"${r}/"`).join(" or ")}`);
  }
  try {
    const dirFd = openTrustedDir(place.root, place.dirs, create ? { create: { mode: 0o755 } } : {});
    return { dirFd, name: place.name, root: place.root };
  } catch (err) {
    if (err instanceof UntrustedPathError) {
      throw invalidField(DEVICE_INFO_FIELD, `"${path}" is not in a trusted place: ${err.message}`);
    }
    throw err;
  }
}

/** A CniError for a device info file that turned out to be a symlink or not a regular file at open. */
export function deviceInfoNotRegular(path: string, symlink: boolean): CniError {
  return invalidField(DEVICE_INFO_FIELD, `"${path}" is ${symlink ? "a symbolic link" : "not a regular file"}`);
}
