// CNI_* environment parsing and validation, as the reference skel does it (libcni pkg/skel, pkg/utils):
// required variables per verb, CNI_CONTAINERID characters, CNI_IFNAME rules; plus CNI_NETNS path shape.
import { CniCode, CniError } from "../lib/errors.js";
import { ifnameProblem } from "../lib/ifname.js";

export const COMMANDS = ["ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION"] as const;
export type Command = (typeof COMMANDS)[number];

export type Env = Readonly<Record<string, string | undefined>>;

export interface CniEnv {
  command: Exclude<Command, "VERSION">;
  containerID: string;
  netns: string;
  ifname: string;
  args: string;
  path: string;
}

// Which variables each verb requires (libcni skel's reqForCmd, with GC and STATUS from spec 1.1.0).
const required: Record<string, readonly Command[]> = {
  CNI_CONTAINERID: ["ADD", "CHECK", "DEL"],
  CNI_NETNS: ["ADD", "CHECK"],
  CNI_IFNAME: ["ADD", "CHECK", "DEL"],
  CNI_PATH: ["ADD", "CHECK", "DEL", "GC", "STATUS"],
};

const containerIdPattern = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
// Runtimes use 64 hex characters. The ID is part of state, lock and temporary file names (with an
// encoded ifname of up to 45 bytes and suffixes), which must stay within NAME_MAX (255 bytes).
export const MAX_CONTAINER_ID_LENGTH = 128;
export const MAX_IFNAME_LENGTH = 15;

function envError(msg: string, details?: string): CniError {
  return new CniError(CniCode.InvalidEnvironment, msg, details === undefined ? undefined : { details });
}

/** The CNI_COMMAND, or an error when it is missing or unknown. */
export function readCommand(env: Env): Command {
  const command = env["CNI_COMMAND"] ?? "";
  if (command === "") throw envError(`Cannot run plugin: required env variables [CNI_COMMAND] missing`);
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw envError(`Cannot run CNI_COMMAND "${command}": unknown command (one of ${COMMANDS.join(", ")})`);
  }
  return command as Command;
}

/** The spec's rule (alphanumeric, then alphanumerics and "_.-") and at most 128 characters. */
export function validateContainerId(id: string): void {
  if (id.length > MAX_CONTAINER_ID_LENGTH) {
    throw envError(
      `Cannot use CNI_CONTAINERID "${id.slice(0, 32)}…": longer than ${MAX_CONTAINER_ID_LENGTH} characters`,
    );
  }
  if (!containerIdPattern.test(id)) {
    throw envError(`Cannot use CNI_CONTAINERID "${id}": invalid characters (allowed: [a-zA-Z0-9][a-zA-Z0-9_.-]*)`);
  }
}

/** The kernel's and the reference's rules: 1-15 bytes, no "/", ":" or whitespace, not "." or "..". */
export function validateIfname(name: string): void {
  const bad = (why: string) => envError(`Cannot use CNI_IFNAME "${name}": ${why}`);
  if (name === "") throw bad("empty");
  if (Buffer.byteLength(name) > MAX_IFNAME_LENGTH) throw bad(`longer than ${MAX_IFNAME_LENGTH} bytes`);
  if (name === "." || name === "..") throw bad(`"." and ".." are not interface names`);
  if (/[/:\s]/u.test(name) || name.includes("\0")) throw bad(`contains "/", ":", NUL or whitespace`);
}

/**
 * ADD and CHECK: a name accelnet can create as it is (ifname.ts), stricter than the reference's rules.
 * DEL keeps the reference's rules: a name ADD refused created nothing, so its DEL must succeed.
 */
export function validateKernelIfname(name: string): void {
  validateIfname(name);
  const problem = ifnameProblem(name);
  if (problem !== null) throw envError(`Cannot use CNI_IFNAME "${name}": ${problem}`);
}

/** A netns path must be absolute and must not climb out with "..". Whether it is a netns is checked later. */
export function validateNetnsPath(path: string): void {
  if (!path.startsWith("/") || path.split("/").includes("..") || path.includes("\0")) {
    throw envError(`Cannot use CNI_NETNS "${path}": not an absolute path without ".."`);
  }
}

export function readCniEnv(env: Env, command: Exclude<Command, "VERSION">): CniEnv {
  const missing = Object.entries(required)
    .filter(([name, verbs]) => verbs.includes(command) && (env[name] ?? "") === "")
    .map(([name]) => name);
  if (missing.length > 0) {
    throw envError(`Cannot run CNI_COMMAND "${command}": required env variables [${missing.join(",")}] missing`);
  }
  const cniEnv: CniEnv = {
    command,
    containerID: env["CNI_CONTAINERID"] ?? "",
    netns: env["CNI_NETNS"] ?? "",
    ifname: env["CNI_IFNAME"] ?? "",
    args: env["CNI_ARGS"] ?? "",
    path: env["CNI_PATH"] ?? "",
  };
  if (command === "ADD" || command === "DEL" || command === "CHECK") {
    validateContainerId(cniEnv.containerID);
    if (command === "DEL") validateIfname(cniEnv.ifname);
    else validateKernelIfname(cniEnv.ifname);
  }
  if (cniEnv.netns !== "") validateNetnsPath(cniEnv.netns);
  return cniEnv;
}
