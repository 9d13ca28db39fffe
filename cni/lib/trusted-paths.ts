// Which paths root may act on, and who chooses them. In a Multus cluster the network config comes from a
// NetworkAttachmentDefinition that any user of a namespace can write, while this plugin runs as root on
// the host. So a config never chooses where root keeps state or executes from, and it names files only
// inside directories made for them:
//
// | path                              | chosen by                                  | refused with                         |
// | --------------------------------- | ------------------------------------------ | ------------------------------------ |
// | state dir (state, locks, owner    | env ACCELNET_STATE_DIR, else               | config `stateDir`: 7; env not        |
// | markers, the extracted helper)    | /var/lib/cni/accelnet; created 0700        | absolute: 4; dir not root-owned, or  |
// |                                   |                                            | group/other-writable, or a symlink: 5|
// | `logFile`                         | the config, under /var/log/ (or env        | 7 (also for a symlink or a file that |
// |                                   | ACCELNET_LOG_DIR); O_APPEND|O_CREAT|       | is not regular)                      |
// |                                   | O_NOFOLLOW, 0600                           |                                      |
// | runtimeConfig.CNIDeviceInfoFile   | the config, under the Device Information   | 7 (also a symlink as last component) |
// |                                   | spec's /var/run/k8s.cni.cncf.io/devinfo/ or|                                      |
// |                                   | /run/... (or env ACCELNET_DEVINFO_DIR)     |                                      |
//
// The environment is the runtime's (kubelet, CRI, Multus), not the tenant's: the ACCELNET_*_DIR roots
// exist for tests and development. Code 5 for an untrusted state dir: the config is fine, the node is not.
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, realpathSync } from "node:fs";
import { dirname } from "node:path";
import { CniCode, CniError, errorCode, errorMessage } from "./errors.js";

type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULT_STATE_DIR = "/var/lib/cni/accelnet";
export const STATE_DIR_ENV = "ACCELNET_STATE_DIR";
export const LOG_DIR_ENV = "ACCELNET_LOG_DIR";
export const DEVINFO_DIR_ENV = "ACCELNET_DEVINFO_DIR";
export const LOG_ROOT = "/var/log";
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

function euid(): number {
  return process.geteuid?.() ?? 0;
}

/**
 * Creates `dir` (0700; missing parents 0755) when missing, then trusts it only when it is a directory,
 * not a symlink, owned by root or this process's euid, and not writable by group or others.
 * `what` names it in messages ("state dir", "helper dir"). Code 5 otherwise.
 */
export function ensureTrustedDir(dir: string, what: string): void {
  const refuse = (why: string, cause?: unknown) =>
    new CniError(CniCode.IoFailure, `Cannot use ${what} "${dir}": ${why}`, cause === undefined ? undefined : { cause });
  let st;
  try {
    mkdirSync(dirname(dir), { recursive: true, mode: 0o755 });
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if (errorCode(err) !== "EEXIST") throw refuse(errorMessage(err), err);
  }
  try {
    st = lstatSync(dir);
  } catch (err) {
    throw refuse(errorMessage(err), err);
  }
  if (st.isSymbolicLink()) throw refuse("it is a symbolic link");
  if (!st.isDirectory()) throw refuse("it is not a directory");
  if (st.uid !== 0 && st.uid !== euid()) throw refuse(`it is owned by uid ${st.uid}, not root`);
  if ((st.mode & 0o022) !== 0) {
    throw refuse(`its mode ${(st.mode & 0o7777).toString(8).padStart(4, "0")} lets group or others write to it`);
  }
}

// ---------------------------------------------------------------- files a config names

function allowedRoots(fixed: readonly string[], env: Env, envName: string): string[] {
  const extra = envRoot(env, envName);
  return extra === undefined ? [...fixed] : [...fixed, extra];
}

function checkPlace(path: string, field: string, roots: readonly string[]): string {
  if (!isCleanAbsolute(path)) throw invalidField(field, `"${path}" is not an absolute path without ".."`);
  if (!roots.some((r) => isUnder(path, r))) {
    throw invalidField(field, `"${path}" is not under ${roots.map((r) => `"${r}/"`).join(" or ")}`);
  }
  return path;
}

/** realpath of `path`, or null when it does not exist. */
function resolved(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

/**
 * Refuses a directory that leads out of every root through a symlink (what exists of its roots is
 * compared after resolving). A directory that does not exist yet passes: it is created under a root.
 */
function checkResolvedDir(dir: string, field: string, path: string, roots: readonly string[]): void {
  const real = resolved(dir);
  if (real === null) return;
  const realRoots = roots.map((r) => resolved(r) ?? r);
  if (!realRoots.some((r) => real === r || isUnder(real, r))) {
    throw invalidField(field, `"${path}" leads out of ${roots.map((r) => `"${r}/"`).join(" or ")} (to "${real}")`);
  }
}

export function logFileRoots(env: Env): string[] {
  return allowedRoots([LOG_ROOT], env, LOG_DIR_ENV);
}

/** `logFile` from the config: absolute, no "..", under /var/log/ (or ACCELNET_LOG_DIR). Code 7 otherwise. */
export function checkLogFile(path: string, env: Env): string {
  return checkPlace(path, "logFile", logFileRoots(env));
}

/**
 * Opens a checked `logFile` for appending: O_WRONLY|O_APPEND|O_CREAT|O_NOFOLLOW (and O_NONBLOCK, so a
 * FIFO cannot block the plugin), mode 0600, regular files only. A symlink, a directory or another
 * non-regular file, or a directory that leads out of the roots: code 7. Any other failure (no such
 * directory, disk full) is thrown as it is; the caller logs to stderr instead.
 */
export function openLogFile(path: string, env: Env): number {
  const roots = logFileRoots(env);
  checkPlace(path, "logFile", roots);
  checkResolvedDir(dirname(path), "logFile", path, roots);
  const notRegular = () => invalidField("logFile", `"${path}" is not a regular file`);
  const flags =
    constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK;
  let fd: number;
  try {
    fd = openSync(path, flags, 0o600);
  } catch (err) {
    const code = errorCode(err);
    if (code === "ELOOP") throw invalidField("logFile", `"${path}" is a symbolic link`);
    if (code === "EISDIR" || code === "ENXIO") throw notRegular();
    throw err;
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw notRegular();
  }
  return fd;
}

export function deviceInfoRoots(env: Env): string[] {
  return allowedRoots(DEVINFO_ROOTS, env, DEVINFO_DIR_ENV);
}

export const DEVICE_INFO_FIELD = "runtimeConfig.CNIDeviceInfoFile";

/**
 * runtimeConfig.CNIDeviceInfoFile: absolute, no "..", under the spec's directory (or ACCELNET_DEVINFO_DIR),
 * and when it exists, a regular file, not a symlink. Code 7 otherwise. writeDeviceInfo checks again
 * when it opens the file (O_NOFOLLOW), so a symlink put there in between is refused as well.
 */
export function checkDeviceInfoPath(path: string, env: Env): string {
  const roots = deviceInfoRoots(env);
  checkPlace(path, DEVICE_INFO_FIELD, roots);
  checkResolvedDir(dirname(path), DEVICE_INFO_FIELD, path, roots);
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return path; // not there yet: ADD creates it
  }
  if (st.isSymbolicLink()) throw invalidField(DEVICE_INFO_FIELD, `"${path}" is a symbolic link`);
  if (!st.isFile()) throw invalidField(DEVICE_INFO_FIELD, `"${path}" is not a regular file`);
  return path;
}

/** After creating its directory: the device info file's directory must still resolve inside a root. */
export function checkDeviceInfoDir(path: string, env: Env): void {
  checkResolvedDir(dirname(path), DEVICE_INFO_FIELD, path, deviceInfoRoots(env));
}

/** A CniError for a device info file that turned out to be a symlink or not a regular file at open. */
export function deviceInfoNotRegular(path: string, symlink: boolean): CniError {
  return invalidField(DEVICE_INFO_FIELD, `"${path}" is ${symlink ? "a symbolic link" : "not a regular file"}`);
}
