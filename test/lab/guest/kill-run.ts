// The packaged plugin (dist/accelnet, the front end; with no CNI server it execs accelnet-standalone in
// place) run once as a runtime runs it, in a process group of its own so that a SIGKILL after a delay
// hits it and every child it has at that moment (the helper, host-local), as a runtime's timeout that
// kills the call's group does. `settled` then waits until no process of that call is left, so the next
// call never races an orphan of the killed one.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { parseCniStdout, TOKEN_VAR } from "../../integration/cni/packaged-run.js";
import { repoRoot } from "./prelude.js";

// The host suites' call token and its wait: every process of a call carries it.
export { settled } from "../../integration/cni/packaged-run.js";

export const cniPluginPath = path.join(repoRoot, "dist/accelnet");

export interface KillableRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout parsed (the result or the CNI error); undefined when empty, { unparsable } when not JSON. */
  out: Record<string, unknown> | undefined;
  stderr: string;
  ms: number;
  token: string;
}

/** Runs the plugin with exactly `env` and `stdin`; with `killAfterMs`, SIGKILLs its group after that delay. */
export function runPlugin(env: Record<string, string>, stdin: string, killAfterMs?: number): Promise<KillableRun> {
  const token = randomBytes(8).toString("hex");
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cniPluginPath, [], {
      env: { ...env, [TOKEN_VAR]: token },
      stdio: ["pipe", "pipe", "pipe"],
      detached: true, // setsid: its own process group, whose id is its pid
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    child.once("error", reject);
    child.stdin.on("error", () => undefined); // killed before it read stdin
    child.stdin.end(stdin);
    const timer =
      killAfterMs === undefined
        ? undefined
        : setTimeout(() => {
            try {
              if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
            } catch {
              // the group is gone: the call finished first
            }
          }, killAfterMs);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        out: parseCniStdout(stdout),
        stderr,
        ms: Math.round(performance.now() - started),
        token,
      });
    });
  });
}
