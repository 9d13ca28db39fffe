// One child process run to its end: the shape both process runners share, the Node one here
// (child_process.spawn) and the resident spawner's (spawner.ts). The helper client (helper.ts) and
// IPAM delegation (cni/lib/exec.ts) take a runner and do not know which one they were given.
//
// Semantics (those of the helper batches and IPAM execs before there were runners): argv as an array,
// never a shell; `newSession` puts the child in a session and process group of its own (setsid), and
// a timeout then kills that whole group, so whatever it started goes with it; the timeout counts the
// child's own time, not time spent waiting for a CPU (child-timeout.ts); output beyond `maxOutputBytes`
// (stdout + stderr) gets the child SIGKILLed. Rejects only when the child cannot be started.
import { spawn } from "node:child_process";
import { childTimeout, describeSchedule } from "./child-timeout.js";

export interface RunOptions {
  /** The executable (a path: no PATH search). */
  path: string;
  /** argv[1..]; argv[0] is `path`. */
  args?: readonly string[];
  /** The child's whole environment (default: this process's). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Bytes for the child's stdin; without them it reads EOF at once. */
  stdin?: string;
  /** A session and process group of its own; a timeout kills the group. */
  newSession?: boolean;
  timeoutMs: number;
  /** stdout + stderr beyond this kills the child (default 16 MiB). */
  maxOutputBytes?: number;
}

export interface RunOutput {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** At a timeout: how long it ran and what the kernel said it was doing (describeSchedule). */
  timedOutAs?: string;
}

export type ProcessRunner = (opts: RunOptions) => Promise<RunOutput>;

export const DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

/** The environment as spawn and execve take it: unset entries dropped. */
export function definedEnv(env: Readonly<Record<string, string | undefined>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env ?? process.env)) if (v !== undefined) out[k] = v;
  return out;
}

/** SIGKILL to the process group `pid` leads; a group already gone is fine. */
export function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // ESRCH: every member has exited already
  }
}

/** The runner that forks this process (child_process.spawn). */
export const nodeRunProcess: ProcessRunner = (opts) =>
  new Promise((resolve, reject) => {
    const withStdin = opts.stdin !== undefined;
    const child = spawn(opts.path, opts.args ?? [], {
      env: definedEnv(opts.env),
      stdio: [withStdin ? "pipe" : "ignore", "pipe", "pipe"],
      detached: opts.newSession === true,
      shell: false,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const cap = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    let size = 0;
    let timedOut = false;
    let timedOutAs: string | undefined;
    const started = Date.now();
    const kill = () => (opts.newSession === true ? killGroup(child.pid) : child.kill("SIGKILL"));
    const timer = childTimeout(child.pid, opts.timeoutMs, (schedule) => {
      timedOut = true;
      timedOutAs = `${Date.now() - started} ms, ${describeSchedule(schedule)}`;
      kill();
    });
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length;
      if (size > cap) kill();
      else into.push(chunk);
    };
    child.stdout?.on("data", collect(out));
    child.stderr?.on("data", collect(err));
    child.on("error", (cause) => {
      timer.clear();
      reject(cause);
    });
    child.on("close", (exitCode, signal) => {
      timer.clear();
      resolve({
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        exitCode,
        signal,
        timedOut,
        ...(timedOutAs === undefined ? {} : { timedOutAs }),
      });
    });
    if (child.stdin !== null) {
      // A child that exits without reading stdin makes the write fail with EPIPE: that is its business.
      child.stdin.on("error", () => {});
      child.stdin.end(opts.stdin);
    }
  });
