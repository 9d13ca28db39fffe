// Per-attachment state (containerID + ifname): what DEL, CHECK and GC need after ADD returned.
// One JSON file per attachment under <stateDir>/attachments/, written atomically (temp file, fsync,
// rename) before ADD prints its result, so a printed result always has state.
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { CniError, errorCode, errorMessage } from "./errors.js";
import { codeForFsError } from "./errno.js";
import { isObject, isString } from "./is.js";
import type { Result } from "./result.js";

export const STATE_FORMAT = 1;

export interface AttachmentState {
  format: typeof STATE_FORMAT;
  containerID: string;
  ifname: string;
  /** CNI_NETNS at ADD time. */
  netns: string;
  /** Inode of that netns at ADD time (null: none; absent in states written before it was kept). */
  netnsInode?: number | null;
  /** Network name from the config: GC only collects attachments of its own network. */
  network: string;
  mode: string;
  cniVersion: string;
  /** The exact stdin of ADD: GC replays it to IPAM DEL. */
  config: string;
  /** CNI_ARGS at ADD time (IPAM plugins such as static read it). */
  cniArgs: string;
  /** CNI_PATH at ADD time. */
  cniPath: string;
  result: Result;
  /** Mode-specific facts (macvlan: master, mac, mode). */
  data: Record<string, unknown>;
  createdAt: string;
}

/** The file name of an attachment: containerIDs never contain "@", encoded ifnames never do. */
export function stateFileName(containerID: string, ifname: string): string {
  return `${containerID}@${encodeURIComponent(ifname)}.json`;
}

function ioError(action: string, path: string, err: unknown): CniError {
  return new CniError(codeForFsError(err), `Cannot ${action} "${path}": ${errorMessage(err)}`, { cause: err });
}

/**
 * A temporary file of writeFileAtomic (`<file>.tmp-<pid>-<random>`): its writer's pid, or null for any
 * other name (or a temporary file of another `file` when one is given).
 */
export function atomicTmpPid(name: string, file?: string): number | null {
  const m = /^(.+)\.tmp-(\d+)-[0-9a-f]*$/.exec(name);
  if (m === null || (file !== undefined && m[1] !== file)) return null;
  return Number(m[2]);
}

/** Removes the file at `path`; one already gone is fine (rmSync's `force`, without its two stat calls). */
export function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if (errorCode(err) !== "ENOENT") throw err;
  }
}

/**
 * Writes `data` to `path` atomically: a crash leaves the old file or the new one, never half of one.
 * The data is synced before the rename; the directory is not. A power loss may then undo the rename,
 * which every reader takes as the older version (or none): a pending state instead of a complete one, or
 * an attachment without state, whose DEL uses the DEL config. Of what an ADD sets up, only the IPAM
 * plugin's reservation outlives a power loss, and DEL releases it either way. Syncing the directory too
 * cost ADD+DEL about 5 ms (two journal commits more).
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): void {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(16).slice(2)}`;
  const fd = openSync(tmp, "wx", mode);
  try {
    writeFileSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, path);
  } catch (err) {
    removeFile(tmp);
    throw err;
  }
}

export class StateStore {
  readonly dir: string;

  constructor(stateDir: string) {
    this.dir = join(stateDir, "attachments");
  }

  path(containerID: string, ifname: string): string {
    return join(this.dir, stateFileName(containerID, ifname));
  }

  write(state: AttachmentState): void {
    const path = this.path(state.containerID, state.ifname);
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      writeFileAtomic(path, JSON.stringify(state));
    } catch (err) {
      throw ioError("write state", path, err);
    }
  }

  /** The state of an attachment, or null when there is none. An unreadable file is an error (code 5). */
  read(containerID: string, ifname: string): AttachmentState | null {
    return this.readFile(this.path(containerID, ifname));
  }

  remove(containerID: string, ifname: string): void {
    const path = this.path(containerID, ifname);
    try {
      removeFile(path);
    } catch (err) {
      throw ioError("remove state", path, err);
    }
  }

  /** Every stored attachment; files that are not valid state are skipped and returned in `broken`. */
  list(): { states: AttachmentState[]; broken: string[] } {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (err) {
      if (errorCode(err) === "ENOENT") return { states: [], broken: [] };
      throw ioError("list state dir", this.dir, err);
    }
    const states: AttachmentState[] = [];
    const broken: string[] = [];
    for (const name of names.filter((n) => n.endsWith(".json")).sort()) {
      const path = join(this.dir, name);
      try {
        const state = this.readFile(path);
        if (state !== null) states.push(state);
      } catch {
        broken.push(path);
      }
    }
    return { states, broken };
  }

  private readFile(path: string): AttachmentState | null {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      if (errorCode(err) === "ENOENT") return null;
      throw ioError("read state", path, err);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw ioError("decode state", path, err);
    }
    if (!isObject(parsed) || parsed["format"] !== STATE_FORMAT || !isString(parsed["containerID"])) {
      throw ioError("decode state", path, new Error("not an accelnet attachment state"));
    }
    return parsed as unknown as AttachmentState;
  }
}
