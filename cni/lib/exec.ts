// Runs a CNI plugin executable (IPAM delegation). The only file in cni/ allowed to spawn (ESLint enforces it).
// The plugin runs in a process group of its own (detached: setsid), and a timeout kills that whole
// group with SIGKILL: whatever the plugin started (a chain of plugins, a hung helper) goes with it, so
// nothing it began outlives the call. The timeout counts the plugin's own time, not time it waited for
// a CPU on a busy node (native/client/child-timeout.ts).
import { spawn } from "node:child_process";
import { childTimeout } from "../../native/client/child-timeout.js";

export interface ExecOutput {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
}

export interface ExecOptions {
  path: string;
  env: Readonly<Record<string, string | undefined>>;
  stdin: string;
  timeoutMs?: number;
}

/** Runs `path` with exactly `env` and `stdin`, collecting stdout and stderr. Rejects only when it cannot start. */
export function execPlugin(opts: ExecOptions): Promise<ExecOutput> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.env)) if (v !== undefined) env[k] = v;
    const child = spawn(opts.path, [], { env, stdio: ["pipe", "pipe", "pipe"], detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = childTimeout(child.pid, opts.timeoutMs ?? 60_000, () => {
      timedOut = true;
      killGroup(child.pid);
    });
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => {
      timer.clear();
      reject(e);
    });
    child.on("close", (code, signal) => {
      timer.clear();
      resolve({
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        exitCode: code,
        signal,
        timedOut,
      });
    });
    // A plugin that exits without reading stdin makes the write fail with EPIPE: that is its business.
    child.stdin.on("error", () => {});
    child.stdin.end(opts.stdin);
  });
}

/** SIGKILL to the process group `pid` leads (spawned detached); a group already gone is fine. */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // ESRCH: every member has exited already
  }
}
