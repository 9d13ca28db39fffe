// The dispatcher (libcni skel): env, stdin, version negotiation, calling the verb, printing the
// result or error. I/O is injected so tests run the whole plugin in-process.
// A CniError passes through untouched; anything else becomes code 999 keeping its message.
// The state dir comes from the environment and is checked here before any verb but STATUS uses it
// (STATUS reports an unusable one as code 50); the config cannot name it (trusted-paths.ts).
// Code 999 prints the message only: the stack goes to the debug log, never to stdout.
// Run as another accelnet's IPAM plugin (ACCELNET_DELEGATED, ipam.ts), it refuses: code 7, except DEL,
// which succeeds doing nothing (the ADD it would undo was refused the same way).
import { closeSync, statSync } from "node:fs";
import { parseCniArgs } from "../lib/cni-args.js";
import { CniCode, CniError, errorMessage } from "../lib/errors.js";
import { isObject, jsonType, type JsonObject } from "../lib/is.js";
import { DELEGATED_ENV } from "../lib/ipam.js";
import { createLogger, fileSink } from "../lib/log.js";
import { invalidConfig, parseNetConf } from "../lib/netconf.js";
import { formatResult } from "../lib/result.js";
import { ensureTrustedDir, logDirFrom, openLogFile, stateDirFrom } from "../lib/trusted-paths.js";
import {
  atLeast,
  type CniVersion,
  decodeVersion,
  DEFAULT_VERSION,
  isSupportedVersion,
  LATEST_VERSION,
  requireSupported,
  SUPPORTED_VERSIONS,
} from "../lib/versions.js";
import { readCniEnv, readCommand } from "./env.js";
import type { CniFuncs, CniRequest, PluginDeps, PluginIo } from "./types.js";

const networkNamePattern = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/**
 * How deep a config may nest. JSON.parse takes any depth, but JSON.stringify (rewriting the config for
 * an older IPAM version, writing state) recurses and overflows the stack at a few thousand levels; no
 * real config comes near this.
 */
export const MAX_CONFIG_DEPTH = 128;

/** The deepest nesting of arrays and objects in JSON text (strings skipped), without recursion. */
export function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) max = Math.max(max, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/**
 * The most stdin a request may carry (1 MiB). The thick front end and the CNI server apply the same
 * limit with the same message (native/FRONTEND.md); no real config comes near it, and reading stops
 * there instead of buffering whatever a caller sends.
 */
export const MAX_STDIN_BYTES = 1024 * 1024;

/**
 * The cniVersion a simple scan of the first 64 KiB finds, when supported: for errors about a stdin that
 * is not decoded (too large here; the CNI server's busy and timeout answers).
 */
export function scanCniVersion(stdin: Uint8Array): CniVersion | undefined {
  const head = Buffer.from(stdin.buffer, stdin.byteOffset, Math.min(stdin.byteLength, 64 * 1024));
  const m = /"cniVersion"\s*:\s*"([^"\\]*)"/.exec(head.toString("latin1"));
  return m?.[1] !== undefined && isSupportedVersion(m[1]) ? m[1] : undefined;
}

/** Code 7, in the version a simple scan of the first bytes finds (else ctx's, the latest). */
function stdinTooLarge(head: Buffer, ctx: Context): CniError {
  ctx.version = scanCniVersion(head) ?? ctx.version;
  return new CniError(CniCode.InvalidConfig, `Cannot read stdin: larger than ${MAX_STDIN_BYTES} bytes`);
}

async function readAll(stdin: PluginIo["stdin"], ctx: Context): Promise<string> {
  const checked = (bytes: Buffer): string => {
    if (bytes.length > MAX_STDIN_BYTES) throw stdinTooLarge(bytes, ctx);
    return bytes.toString("utf8");
  };
  if (typeof stdin === "string") return checked(Buffer.from(stdin));
  if (stdin instanceof Uint8Array) return checked(Buffer.from(stdin));
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk));
    size += chunks.at(-1)?.length ?? 0;
    if (size > MAX_STDIN_BYTES) break;
  }
  return checked(Buffer.concat(chunks));
}

/**
 * A config nested deeper than MAX_CONFIG_DEPTH: code 7, except for DEL, which goes on with its top-level
 * scalars only. ADD refused it before anything, so there is nothing for the config to name (no IPAM);
 * an attachment's state has its own (ADD's) config.
 */
function limitDepth(raw: JsonObject, stdin: string, command: string, ignored: string[]): JsonObject {
  const depth = nestingDepth(stdin);
  if (depth <= MAX_CONFIG_DEPTH) return raw;
  const err = invalidConfig("stdin", `nests ${depth} levels deep (at most ${MAX_CONFIG_DEPTH})`);
  if (command !== "DEL") throw err;
  ignored.push(err.message);
  return Object.fromEntries(Object.entries(raw).filter(([, v]) => v === null || typeof v !== "object"));
}

function decodeConfig(text: string): JsonObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CniError(CniCode.DecodingFailure, `Cannot decode "stdin": ${errorMessage(err)}`);
  }
  if (!isObject(parsed)) {
    throw new CniError(
      CniCode.DecodingFailure,
      `Cannot decode "stdin": expected a JSON object, got ${jsonType(parsed)}`,
    );
  }
  return parsed;
}

function checkNetworkName(conf: JsonObject): void {
  const name = conf["name"];
  if (name === undefined || name === null || name === "") throw invalidConfig("name", "missing");
  if (typeof name !== "string") throw invalidConfig("name", `expected a string, got ${jsonType(name)}`);
  if (!networkNamePattern.test(name)) {
    throw invalidConfig("name", `"${name}" has invalid characters (allowed: [a-zA-Z0-9][a-zA-Z0-9_.-]*)`);
  }
}

/** Refuses the plugin's own netns as CNI_NETNS (the reference skel does the same). */
function checkNotOwnNetns(netns: string, ownNetnsPath: string): void {
  let target;
  let own;
  try {
    target = statSync(netns);
    own = statSync(ownNetnsPath);
  } catch {
    return; // a missing netns is the mode's business (ADD: code 3, DEL: already gone)
  }
  if (target.ino === own.ino && target.dev === own.dev) {
    throw new CniError(CniCode.InvalidEnvironment, `Cannot use CNI_NETNS "${netns}": it is the plugin's own netns`);
  }
}

/** What the error path needs: the version to print the error in. */
interface Context {
  version: string;
}

function noteVersion(stdin: string, ctx: Context): void {
  try {
    const parsed: unknown = JSON.parse(stdin);
    const v = isObject(parsed) ? parsed["cniVersion"] : undefined;
    if (typeof v === "string" && isSupportedVersion(v)) ctx.version = v;
    else if (isObject(parsed) && (v === undefined || v === "")) ctx.version = DEFAULT_VERSION;
  } catch {
    // undecodable: the error is printed with the latest version
  }
}

function minVersionError(command: string, min: string, version: string): CniError {
  return new CniError(
    CniCode.IncompatibleVersion,
    `Cannot run ${command} with cniVersion "${version}": needs ${min} or later`,
  );
}

/** The command's work; resolves with the JSON to print on success (or null to print nothing). */
async function runCommand(io: PluginIo, funcs: CniFuncs, deps: PluginDeps, ctx: Context): Promise<unknown> {
  const command = readCommand(io.env);
  if (command === "VERSION") return { cniVersion: LATEST_VERSION, supportedVersions: SUPPORTED_VERSIONS };
  if ((io.env[DELEGATED_ENV] ?? "") !== "") {
    if (command === "DEL") return null;
    throw new CniError(
      CniCode.InvalidConfig,
      `Cannot run ${command} as another plugin's IPAM plugin (${DELEGATED_ENV} is set): "ipam.type" must not name accelnet`,
    );
  }
  const stdin = await readAll(io.stdin, ctx);
  noteVersion(stdin, ctx); // so that even env errors are printed in the request's version
  const cniEnv = readCniEnv(io.env, command);
  const tooDeep: string[] = [];
  const raw = limitDepth(decodeConfig(stdin), stdin, command, tooDeep);
  const version = decodeVersion(raw);
  checkNetworkName(raw);
  const cniVersion = requireSupported(version);
  if (command === "CHECK" && !atLeast(cniVersion, "0.4.0")) throw minVersionError("CHECK", "0.4.0", cniVersion);
  if ((command === "GC" || command === "STATUS") && !atLeast(cniVersion, "1.1.0")) {
    throw minVersionError(command, "1.1.0", cniVersion);
  }
  const conf = parseNetConf(raw, { env: io.env, forDel: command === "DEL" });
  const stateDir = stateDirFrom(io.env);
  const logFile = openLog(conf.logFile, io.env, command);
  try {
    const log = createLogger({
      level: conf.logLevel,
      stderr: io.stderr,
      ...(logFile.fd === undefined ? {} : { file: fileSink(logFile.fd) }),
      ...(cniEnv.containerID === "" ? {} : { prefix: `${cniEnv.containerID}/${cniEnv.ifname}` }),
    });
    if (logFile.note !== undefined) log.warning(logFile.note);
    for (const refused of [...tooDeep, ...conf.ignored]) log.warning(`${command} ignores a refused field: ${refused}`);
    if (cniEnv.netns !== "" && command !== "GC" && command !== "STATUS") {
      checkNotOwnNetns(cniEnv.netns, deps.ownNetnsPath ?? "/proc/self/ns/net");
    }
    if (command !== "STATUS") ensureTrustedDir(stateDir, "state dir");
    const req: CniRequest = {
      ...cniEnv,
      stdin,
      conf,
      cniVersion,
      cniArgs: parseCniArgs(cniEnv.args),
      env: io.env,
      stateDir,
      log,
      deps,
    };
    log.debug(`${command} ${stdin}`);
    try {
      return await runVerb(command, funcs, req);
    } catch (err) {
      if (!(err instanceof CniError)) log.debug(`${command} internal error: ${stackOf(err)}`);
      throw err;
    }
  } finally {
    if (logFile.fd !== undefined) closeSync(logFile.fd);
  }
}

/**
 * The log file, opened; undefined (lines go to stderr, with a note why) when it cannot be opened for a
 * reason of the node's (no such directory, disk full). A path the policy refuses is code 7, except on
 * DEL, which logs to stderr instead (see ParseOptions.forDel).
 */
function openLog(path: string | undefined, env: PluginIo["env"], command: string): { fd?: number; note?: string } {
  if (path === undefined) return {};
  try {
    return { fd: openLogFile(path, env) };
  } catch (err) {
    if (err instanceof CniError) {
      if (!(command === "DEL" && err.code === CniCode.InvalidConfig)) throw err;
      return { note: `${command} ignores a refused field: ${err.message}` };
    }
    const where = `the node's log dir "${logDirFrom(env)}"`;
    return { note: `Cannot open log file "${path}" in ${where}: ${errorMessage(err)} (logging to stderr)` };
  }
}

async function runVerb(command: Exclude<ReturnType<typeof readCommand>, "VERSION">, funcs: CniFuncs, req: CniRequest) {
  switch (command) {
    case "ADD":
      return formatResult(await funcs.add(req), req.cniVersion);
    case "DEL":
      await funcs.del(req);
      return null;
    case "CHECK":
      await funcs.check(req);
      return null;
    case "GC":
      await funcs.gc(req);
      return null;
    case "STATUS":
      await funcs.status(req);
      return null;
  }
}

/**
 * Runs one CNI invocation and returns the exit code. Only the result or the error JSON is written to
 * `io.stdout`. With no CNI_COMMAND at all, prints `about` to stderr and exits 0, as the reference does.
 */
export async function dispatch(io: PluginIo, funcs: CniFuncs, deps: PluginDeps, about: string): Promise<number> {
  if ((io.env["CNI_COMMAND"] ?? "") === "") {
    io.stderr.write(`${about}\nCNI protocol versions supported: ${SUPPORTED_VERSIONS.join(", ")}\n`);
    return 0;
  }
  const ctx: Context = { version: LATEST_VERSION };
  try {
    const out = await runCommand(io, funcs, deps, ctx);
    if (out !== null) io.stdout.write(`${JSON.stringify(out)}\n`);
    return 0;
  } catch (err) {
    const cniErr = err instanceof CniError ? err : new CniError(CniCode.Internal, errorMessage(err));
    const printed: JsonObject = { cniVersion: ctx.version, code: cniErr.code, msg: cniErr.message };
    if (cniErr.details !== "") printed["details"] = cniErr.details;
    io.stdout.write(`${JSON.stringify(printed)}\n`);
    return 1;
  }
}

function stackOf(err: unknown): string {
  return err instanceof Error && err.stack !== undefined ? err.stack : String(err);
}
