// The smoke suite's view of accelnet-helper: run one command (or a batch) and
// return the parsed JSON reply with the exit code. The suite talks to the
// binary directly so it tests exactly what the CNI and device plugin exec.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { helperPath } from "./prelude.js";

export interface HelperError {
  index: number;
  cmd: string;
  op: string;
  object: string;
  errno?: number;
  errname?: string;
  message: string;
  /** The attribute the kernel (or, for VF settings, the helper) names as refused. */
  attr?: string;
}

export interface HelperReply {
  ok: boolean;
  results: Record<string, unknown>[];
  error?: HelperError;
}

export interface HelperRun {
  code: number;
  reply: HelperReply;
  stderr: string;
}

export function runHelper(args: readonly string[]): Promise<HelperRun> {
  if (!existsSync(helperPath)) {
    return Promise.reject(new Error(`helper not built: ${helperPath} is missing (build dist/native first)`));
  }
  return new Promise((resolve, reject) => {
    execFile(helperPath, args, { encoding: "utf8", timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      try {
        resolve({ code, reply: JSON.parse(stdout) as HelperReply, stderr });
      } catch {
        const how = code === -1 && error !== null ? `failed to run (${error.message})` : `exited ${code}`;
        reject(new Error(`helper ${args.join(" ")} ${how} without a JSON reply: ${stdout}${stderr}`));
      }
    });
  });
}

/** Runs one command that must succeed and returns its result object. */
export async function helper(
  command: string,
  keys: Record<string, string | number> = {},
): Promise<Record<string, unknown>> {
  const args = [command, ...Object.entries(keys).map(([key, value]) => `${key}=${value}`)];
  const { code, reply } = await runHelper(args);
  if (code !== 0 || !reply.ok) {
    throw new Error(`helper ${args.join(" ")} failed (exit ${code}): ${JSON.stringify(reply.error ?? reply)}`);
  }
  const [result] = reply.results;
  if (result === undefined) throw new Error(`helper ${args.join(" ")} returned no result`);
  return result;
}

let commands: Promise<string[]> | null = null;

/** The commands the built helper implements, from `--version`. */
export function helperCommands(): Promise<string[]> {
  commands ??= runHelper(["--version"]).then(({ reply }) => {
    const list = (reply as unknown as { commands?: unknown }).commands;
    if (!Array.isArray(list)) throw new Error(`helper --version lists no commands: ${JSON.stringify(reply)}`);
    return list.map(String);
  });
  return commands;
}

/** The helper commands node setup runs (VFs, drivers, vDPA devices). */
export const NODE_SETUP_COMMANDS = [
  "sriov-numvfs",
  "pci-bind",
  "pci-reprobe",
  "vdpa-mgmtdev-list",
  "vdpa-dev-add",
  "vdpa-dev-del",
] as const;

/** Fails the calling test (never skips it) when the helper does not implement `command`. */
export async function requireCommands(...wanted: string[]): Promise<void> {
  const available = await helperCommands();
  const missing = wanted.filter((command) => !available.includes(command));
  if (missing.length > 0) throw new Error(`helper lacks command ${missing.join(", ")}`);
}
