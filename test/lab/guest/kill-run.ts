// The packaged plugin (dist/accelnet, the front end; with no CNI server it execs accelnet-standalone in
// place) run once as a runtime runs it, in a process group of its own so that a SIGKILL after a delay
// hits it and every child it has at that moment (the helper, host-local), as a runtime's timeout that
// kills the call's group does. `settled` then waits until no process of that call is left, so the next
// call never races an orphan of the killed one.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { repoRoot } from "./prelude.js";

export const cniPluginPath = path.join(repoRoot, "dist/accelnet");

/** Every process of one call inherits this variable (the helper and IPAM get the plugin's environment). */
const TOKEN_VAR = "ACN_LAB_KILL_TOKEN";

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
      let out: Record<string, unknown> | undefined;
      try {
        out = stdout.trim() === "" ? undefined : (JSON.parse(stdout) as Record<string, unknown>);
      } catch {
        out = { unparsable: stdout };
      }
      resolve({ code, signal, out, stderr, ms: Math.round(performance.now() - started), token });
    });
  });
}

function runningWith(token: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, "latin1").includes(`${TOKEN_VAR}=${token}`)) pids.push(Number(name));
    } catch {
      // gone
    }
  }
  return pids;
}

/** Waits (bounded) until no process of the call with `token` runs any more. */
export async function settled(token: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let pids = runningWith(token); pids.length > 0; pids = runningWith(token)) {
    if (Date.now() > deadline)
      throw new Error(`processes ${pids.join(", ")} of call ${token} still run after ${timeoutMs} ms`);
    await sleep(20);
  }
}
