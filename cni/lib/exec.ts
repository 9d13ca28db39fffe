// Runs a CNI plugin executable (IPAM delegation). The only file in cni/ that starts processes (ESLint
// keeps child_process out of the rest): through the request's process runner (native/client/run-process.ts;
// the resident server's is its spawner), or Node's spawn by default.
// The plugin runs in a process group of its own (setsid), and a timeout kills that whole group with
// SIGKILL: whatever the plugin started (a chain of plugins, a hung helper) goes with it, so nothing it
// began outlives the call. The timeout counts the plugin's own time, not time it waited for a CPU on a
// busy node (native/client/child-timeout.ts).
import { nodeRunProcess, type ProcessRunner, type RunOutput } from "../../native/client/run-process.js";

export type ExecOutput = Omit<RunOutput, "timedOutAs">;

export interface ExecOptions {
  path: string;
  env: Readonly<Record<string, string | undefined>>;
  stdin: string;
  timeoutMs?: number;
  /** Who starts the process (default: Node's spawn). */
  runner?: ProcessRunner;
}

/** Runs `path` with exactly `env` and `stdin`, collecting stdout and stderr. Rejects only when it cannot start. */
export async function execPlugin(opts: ExecOptions): Promise<ExecOutput> {
  const run = opts.runner ?? nodeRunProcess;
  const out = await run({
    path: opts.path,
    env: opts.env,
    stdin: opts.stdin,
    newSession: true,
    timeoutMs: opts.timeoutMs ?? 60_000,
  });
  return { stdout: out.stdout, stderr: out.stderr, exitCode: out.exitCode, signal: out.signal, timedOut: out.timedOut };
}
