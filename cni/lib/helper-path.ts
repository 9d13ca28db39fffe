// Where the accelnet-helper executable is, in this order:
// 1. env ACCELNET_HELPER (relative paths resolve against the working directory; tests use the ASan build)
// 2. the file `accelnet-helper` next to the running executable: process.execPath when running as a Node
//    single executable application (node:sea isSea()), else next to the main script; for a plain bundle
//    run from dist/bundle/ also dist/native/accelnet-helper (the build's layout)
// 3. the SEA asset named `accelnet-helper`, extracted once to
//    <stateDir>/bin/accelnet-helper-<first 16 hex of its sha256> (mode 0700, temp + rename) and re-used
// A CNI bin dir usually holds only `accelnet`, so 3 is what a deployment normally uses. Root executes
// what lies there, so: the state dir is the environment's (never the config's, trusted-paths.ts), and
// the walk to bin/ (by handle, from "/") requires every directory on the way to be root's and writable
// by nobody else (README "Threat model"). Then only root can change what the path names between this
// check and the exec, and a file found there, looked at through the directory handle without following
// a symlink, is re-used when it is a regular file of this euid, mode 0700, one link, the asset's size
// (no hash of 40 MB per call: only root could have put another one there). Anything else is replaced
// (temp + rename, in the held directory).
// 1 and 2 are the runtime's choice (its environment and its CNI bin dir), trusted as the runtime is.
import { accessSync, closeSync, constants, fstatSync, openSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import * as sea from "node:sea";
import { CniCode, CniError, errorMessage } from "./errors.js";
import { writeFileAtomic } from "./state.js";
import { fdPath } from "./trusted-dir.js";
import { openTrustedStateDir } from "./trusted-paths.js";

export const HELPER_NAME = "accelnet-helper";

export interface HelperPathDeps {
  env: Readonly<Record<string, string | undefined>>;
  execPath: string;
  mainScript: string | undefined;
  isSea(): boolean;
  /** The raw SEA asset, or undefined when the executable carries none. */
  asset(name: string): ArrayBuffer | undefined;
}

export const processDeps: HelperPathDeps = {
  env: process.env,
  execPath: process.execPath,
  mainScript: process.argv[1],
  isSea: () => sea.isSea(),
  asset(name) {
    try {
      return sea.getRawAsset(name);
    } catch {
      return undefined;
    }
  },
};

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Whether a file extracted earlier (`name` in the held directory) may be executed as it is. */
function isOurExtractedHelper(dirFd: number, name: string, size: number): boolean {
  let fd;
  try {
    fd = openSync(fdPath(dirFd, name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    const st = fstatSync(fd);
    const euid = process.geteuid?.() ?? 0;
    return st.isFile() && st.uid === euid && (st.mode & 0o7777) === 0o700 && st.nlink === 1 && st.size === size;
  } finally {
    closeSync(fd);
  }
}

/** Writes the embedded helper under the state dir once; later calls find it by its content hash. */
export function extractAsset(asset: ArrayBuffer, stateDir: string): string {
  const bytes = new Uint8Array(asset);
  // Loaded here, not at startup: only a run from the SEA asset needs a hash (OpenSSL init costs).
  const { createHash } = process.getBuiltinModule("node:crypto");
  const hash = createHash("sha256").update(bytes).digest("hex").slice(0, 16);
  const name = `${HELPER_NAME}-${hash}`;
  const target = join(stateDir, "bin", name);
  const binFd = openTrustedStateDir(stateDir, "helper dir", ["bin"]);
  try {
    if (isOurExtractedHelper(binFd, name, bytes.byteLength)) return target;
    try {
      writeFileAtomic(fdPath(binFd, name), bytes, 0o700);
    } catch (err) {
      throw new CniError(CniCode.IoFailure, `Cannot extract helper "${target}": ${errorMessage(err)}`, { cause: err });
    }
    return target;
  } finally {
    closeSync(binFd);
  }
}

export function resolveHelperPath(stateDir: string, deps: HelperPathDeps = processDeps): string {
  const fromEnv = deps.env["ACCELNET_HELPER"];
  if (fromEnv !== undefined && fromEnv !== "") return resolve(fromEnv);
  const inSea = deps.isSea();
  const base = inSea ? deps.execPath : deps.mainScript;
  const candidates: string[] = [];
  if (base !== undefined) {
    candidates.push(join(dirname(base), HELPER_NAME));
    if (!inSea) candidates.push(join(dirname(base), "..", "native", HELPER_NAME));
  }
  for (const candidate of candidates) if (isExecutable(candidate)) return candidate;
  if (inSea) {
    const asset = deps.asset(HELPER_NAME);
    if (asset !== undefined) return extractAsset(asset, stateDir);
  }
  throw new CniError(
    CniCode.HelperFailed,
    `Cannot find helper "${HELPER_NAME}": set ACCELNET_HELPER or install it next to "${base ?? deps.execPath}"`,
  );
}
