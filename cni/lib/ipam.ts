// IPAM delegation (spec "Delegated plugin protocol"): find `ipam.type` in CNI_PATH and exec it with the
// same environment and stdin, for ADD, DEL, CHECK, STATUS and GC.
//
// Version fallback: Debian 12 ships containernetworking-plugins 1.1.1, which supports cniVersion up to
// 1.0.0 and answers a 1.1.0 request with code 1 (incompatible version). When an IPAM plugin answers
// code 1, we ask it VERSION, pick the highest version both it and accelnet support (at least 0.4.0 for
// CHECK, 1.1.0 for STATUS and GC), rewrite `cniVersion` (and convert `prevResult`) in its stdin, and
// retry once. Its result is converted up to our internal (1.1.0) shape. When no common version allows
// STATUS or GC, the IPAM plugin is skipped for that verb (it cannot take part in it), which is logged.
// The VERSION answer is cached per plugin binary (ipam-versions.ts): later calls pick the version from
// it and run the plugin once; a plugin that refuses a version its cached answer listed is asked again.
//
// accelnet is never its own IPAM plugin: a type named "accelnet", or one that is the running executable
// (same inode: a hard link, a symlink or a renamed copy in place), is refused with code 7; and every IPAM
// plugin runs with ACCELNET_DELEGATED set, so a copy elsewhere refuses to run as IPAM (dispatch.ts).
// Otherwise CHECK, STATUS and GC would recurse without end. DEL skips such an IPAM with a warning:
// ADD refused it, so it holds nothing.
import { accessSync, constants, statSync } from "node:fs";
import { identityOf, type BinaryIdentity, type IpamVersionCache } from "./ipam-versions.js";
import { join } from "node:path";
import { CniCode, CniError, errorMessage } from "./errors.js";
import type { ProcessRunner } from "../../native/client/run-process.js";
import { execPlugin } from "./exec.js";
import { isObject, isStringArray } from "./is.js";
import type { Logger } from "./log.js";
import { formatResult, parseResult, type Result } from "./result.js";
import { atLeast, compareVersions, highestCommon, SUPPORTED_VERSIONS } from "./versions.js";

export type IpamCommand = "ADD" | "DEL" | "CHECK" | "STATUS" | "GC";

export interface IpamRequest {
  type: string;
  command: IpamCommand;
  /** The network config exactly as we received it (or as stored at ADD for GC). */
  stdin: string;
  /** Our environment; CNI_COMMAND is set to `command`. */
  env: Readonly<Record<string, string | undefined>>;
  log: Logger;
  timeoutMs?: number;
  /** accelnet's own executables (selfPaths() by default; tests name theirs). */
  selfPaths?: readonly string[];
  /** The version this plugin accepted before (stored at ADD): used directly, skipping the fallback. */
  knownVersion?: string | null;
  /**
   * Called with the version used as soon as the plugin exits 0, before its output is read: ADD pushes
   * its undo (IPAM DEL) here, so output that cannot be used still gets the reservation released.
   */
  onExitZero?: (version: string) => void;
  /** Where the plugin's VERSION answer is remembered (none: asked whenever needed). */
  versionCache?: IpamVersionCache;
  /** Who starts the plugin (PluginDeps.runProcess; default Node's spawn). */
  runner?: ProcessRunner | undefined;
}

const minVersionFor: Record<IpamCommand, string> = {
  ADD: "0.1.0",
  DEL: "0.1.0",
  CHECK: "0.4.0",
  STATUS: "1.1.0",
  GC: "1.1.0",
};

/** The executable of `type` in CNI_PATH (first match), or a code-7 error naming the search path. */
export function findPlugin(type: string, cniPath: string | undefined): string {
  const dirs = (cniPath ?? "").split(":").filter((d) => d !== "");
  for (const dir of dirs) {
    const candidate = join(dir, type);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  throw new CniError(CniCode.InvalidConfig, `Cannot find IPAM plugin "${type}": not in CNI_PATH "${cniPath ?? ""}"`);
}

/**
 * IPAM plugins that only book addresses in a store of their own and never use CNI_NETNS or the
 * interface: their ADD and DEL may run beside the kernel work (attachment.ts). Any other plugin runs in
 * the reference plugins' order, interface first on ADD and IPAM first on DEL: dhcp, for one, talks DHCP
 * over the interface, so its ADD needs the link and its DEL must still see it.
 */
const BOOKS_ONLY = new Set(["host-local", "static"]);

export function ipamOnlyBooksAddresses(type: string): boolean {
  return BOOKS_ONLY.has(type);
}

/** Set in every IPAM plugin's environment; an accelnet started with it refuses to run (dispatch.ts). */
export const DELEGATED_ENV = "ACCELNET_DELEGATED";

/** Paths of the running accelnet: the single executable, or the script a Node runs (the bundle). */
export function selfPaths(): string[] {
  const paths = [process.execPath];
  const main = process.argv[1];
  if (main !== undefined && main !== "") paths.push(main);
  return paths;
}

function sameFile(a: string, b: string): boolean {
  try {
    const sa = statSync(a);
    const sb = statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}

/** The refusal of an IPAM type that is accelnet itself (code 7). */
export class SelfIpamRefused extends CniError {
  constructor(msg: string) {
    super(CniCode.InvalidConfig, msg);
  }
}

/**
 * The IPAM plugin's executable for `type`: code 7 when it is accelnet itself (by name, or the same
 * inode as one of `self`), or when it is not in CNI_PATH.
 */
export function findIpamPlugin(type: string, cniPath: string | undefined, self: readonly string[]): string {
  const refuse = (where: string) =>
    new SelfIpamRefused(
      `Cannot use config field "ipam.type": "${type}"${where} is accelnet itself, which cannot be its own IPAM plugin`,
    );
  if (type === "accelnet") throw refuse("");
  const path = findPlugin(type, cniPath);
  if (self.some((p) => sameFile(p, path))) throw refuse(` ("${path}")`);
  return path;
}

interface RawOutcome {
  ok: boolean;
  json: unknown;
  error?: CniError;
}

async function run(req: IpamRequest, path: string, command: string, stdin: string, used: string): Promise<RawOutcome> {
  const action = `Cannot run IPAM plugin "${req.type}" ${command}`;
  let out;
  try {
    out = await execPlugin({
      path,
      env: { ...req.env, CNI_COMMAND: command, [DELEGATED_ENV]: "1" },
      stdin,
      timeoutMs: req.timeoutMs ?? 60_000,
      ...(req.runner === undefined ? {} : { runner: req.runner }),
    });
  } catch (err) {
    throw new CniError(CniCode.IpamFailed, `${action}: ${errorMessage(err)}`, { cause: err });
  }
  if (out.exitCode === 0 && command === req.command) req.onExitZero?.(used);
  if (out.stderr.trim() !== "") req.log.debug(`IPAM ${req.type} ${command} stderr: ${out.stderr.trim()}`);
  let json: unknown = undefined;
  const text = out.stdout.trim();
  if (text !== "") {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  if (out.exitCode === 0) {
    if (text !== "" && json === undefined) {
      throw new CniError(CniCode.IpamFailed, `${action}: output is not JSON: ${text.slice(0, 200)}`);
    }
    return { ok: true, json };
  }
  if (isObject(json) && typeof json["code"] === "number" && typeof json["msg"] === "string") {
    const details = typeof json["details"] === "string" ? json["details"] : "";
    return { ok: false, json, error: new CniError(json["code"], `${action}: ${json["msg"]}`, { details }) };
  }
  const why = out.timedOut
    ? "timed out"
    : out.signal !== null
      ? `killed by ${out.signal}`
      : `exit ${out.exitCode}: ${(text || out.stderr.trim()).slice(0, 200)}`;
  return { ok: false, json, error: new CniError(CniCode.IpamFailed, `${action}: ${why}`) };
}

function atLeastSafe(v: string, min: string): boolean {
  try {
    return atLeast(v, min);
  } catch {
    return false;
  }
}

/** Asks the plugin which versions it supports. */
async function supportedVersions(req: IpamRequest, path: string, version: string): Promise<string[]> {
  const outcome = await run(req, path, "VERSION", JSON.stringify({ cniVersion: version }), version);
  if (outcome.ok && isObject(outcome.json) && isStringArray(outcome.json["supportedVersions"])) {
    return outcome.json["supportedVersions"];
  }
  return [];
}

/**
 * The plugin's supportedVersions: `cached()` from the cache alone, `get()` from the cache or else by
 * asking VERSION (an answer is cached; a failed or empty one is not), `forget()` drops a stale answer.
 */
function pluginVersions(req: IpamRequest, path: string, version: string) {
  const cache = req.versionCache;
  let id: BinaryIdentity | null = null;
  if (cache !== undefined) {
    try {
      id = identityOf(statSync(path, { bigint: true }));
    } catch {
      id = null; // gone between the search and now: the exec will say so
    }
  }
  let known: string[] | null = cache !== undefined && id !== null ? cache.lookup(path, id) : null;
  return {
    cached: () => known,
    async get(): Promise<string[]> {
      if (known !== null) return known;
      const theirs = await supportedVersions(req, path, version);
      if (cache !== undefined && id !== null && theirs.length > 0) cache.store(path, id, theirs);
      known = theirs;
      return theirs;
    },
    forget() {
      known = null;
      cache?.forget(path);
    },
  };
}

/** The stdin rewritten for `version`: cniVersion replaced, prevResult converted to that version. */
export function rewriteForVersion(stdin: string, from: string, to: string): string {
  const conf = JSON.parse(stdin) as Record<string, unknown>;
  conf["cniVersion"] = to;
  if (conf["prevResult"] !== undefined && conf["prevResult"] !== null) {
    conf["prevResult"] = formatResult(parseResult(conf["prevResult"], from), to);
  }
  return JSON.stringify(conf);
}

export interface IpamOutcome {
  /** Parsed result (ADD only), in the internal 1.1.0 shape. */
  result: Result | null;
  /** The version the plugin was finally called with, or null when it was skipped. */
  version: string | null;
}

/**
 * Calls the IPAM plugin. `version` is the request's cniVersion. Throws a CniError: the plugin's own
 * code passes through, anything else is 102.
 */
export async function callIpam(req: IpamRequest, version: string): Promise<IpamOutcome> {
  let path: string;
  try {
    path = findIpamPlugin(req.type, req.env["CNI_PATH"], req.selfPaths ?? selfPaths());
  } catch (err) {
    // ADD refused a self-call, so there is nothing to release; DEL must make progress.
    if (!(req.command === "DEL" && err instanceof SelfIpamRefused)) throw err;
    req.log.warning(`DEL skips IPAM: ${err.message}`);
    return { result: null, version: null };
  }
  let stdin = req.stdin;
  let used = version;
  const ours = SUPPORTED_VERSIONS.filter(
    (v) => atLeast(v, minVersionFor[req.command]) && compareVersions(v, version) <= 0,
  );
  const versions = pluginVersions(req, path, version);
  const skipped = (theirs: readonly string[]) => {
    req.log.info(`IPAM plugin "${req.type}" supports [${theirs.join(", ")}]: skipped for ${req.command}`);
    return { result: null, version: null };
  };
  if (req.knownVersion !== undefined && req.knownVersion !== null) {
    used = req.knownVersion;
  } else if (req.command === "STATUS" || req.command === "GC") {
    // Plugins older than 1.1.0 do not know these verbs and answer with unrelated errors (1.1.1's skel
    // says "missing containerID"), so ask first instead of interpreting their failure.
    const theirs = await versions.get();
    if (!theirs.some((v) => atLeastSafe(v, "1.1.0"))) return skipped(theirs);
  } else {
    // A cached answer picks the version at once; without one the request's version is tried first.
    const theirs = versions.cached();
    if (theirs !== null && !theirs.includes(version)) used = highestCommon(ours, theirs) ?? version;
  }
  if (used !== version) stdin = rewriteForVersion(stdin, version, used);
  let outcome = await run(req, path, req.command, stdin, used);
  const refusal = (o: RawOutcome) => (!o.ok && o.error?.code === CniCode.IncompatibleVersion ? o.error : null);
  const refused = refusal(outcome);
  // Refusing a version its cached answer listed makes that answer stale (the binary changed in place).
  if (refused !== null && versions.cached()?.includes(used) === true) versions.forget();
  if (refused !== null) {
    const theirs = await versions.get();
    const common = highestCommon(ours, theirs);
    if (common === null || common === used) {
      if (req.command === "STATUS" || req.command === "GC") return skipped(theirs);
      throw refused;
    }
    req.log.info(`IPAM plugin "${req.type}" rejected cniVersion ${used}: retrying ${req.command} with ${common}`);
    stdin = common === version ? req.stdin : rewriteForVersion(req.stdin, version, common);
    used = common;
    outcome = await run(req, path, req.command, stdin, used);
  }
  if (!outcome.ok) throw outcome.error ?? new CniError(CniCode.IpamFailed, `Cannot run IPAM plugin "${req.type}"`);
  if (req.command !== "ADD") return { result: null, version: used };
  let result: Result;
  try {
    result = parseResult(outcome.json, used);
  } catch (err) {
    throw new CniError(CniCode.IpamFailed, `Cannot use IPAM plugin "${req.type}" result: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  return { result, version: used };
}
