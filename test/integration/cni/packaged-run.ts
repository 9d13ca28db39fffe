// Runs the packaged `dist/accelnet` as a runtime does: one process per call, env and stdin, stdout
// parsed. `kill` SIGKILLs the plugin itself after a delay (not its children, as a runtime's timeout
// does); `settled` waits until no process that inherited the call's token (helper, IPAM) still runs, so
// the next call does not race an orphan of the killed one.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { CNI_EXE, cniTestEnv } from "../thick/cni-under-test.js";

/** dist/accelnet (the front end, falling back to accelnet-standalone), or the thick run's copy: cni-under-test.ts. */
export const ACCELNET = CNI_EXE;

export interface PackagedRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: Record<string, unknown> | undefined;
  stdout: string;
  ms: number;
}

/** Every process of one call inherits this variable (the helper and IPAM get the plugin's environment). */
export const TOKEN_VAR = "ACN_TEST_RUN_TOKEN";

/** A call's stdout: the result or the CNI error; undefined when empty, { unparsable } when not JSON. */
export function parseCniStdout(stdout: string): Record<string, unknown> | undefined {
  try {
    return stdout.trim() === "" ? undefined : (JSON.parse(stdout) as Record<string, unknown>);
  } catch {
    return { unparsable: stdout };
  }
}

export function runPackaged(
  env: Record<string, string>,
  stdin: string,
  killAfterMs?: number,
): Promise<PackagedRun & { token: string }> {
  const token = randomBytes(8).toString("hex");
  const started = Date.now();
  return new Promise((done, fail) => {
    const child = spawn(ACCELNET, [], {
      env: { ...cniTestEnv(), ...env, [TOKEN_VAR]: token },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.resume();
    child.on("error", fail);
    child.stdin.on("error", () => undefined); // killed before it read stdin
    child.stdin.end(stdin);
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), killAfterMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, out: parseCniStdout(stdout), stdout, ms: Date.now() - started, token });
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
      // gone, or not ours to read
    }
  }
  return pids;
}

/** Waits (bounded) until no process carrying `token` runs any more. */
export async function settled(token: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (runningWith(token).length > 0) {
    if (Date.now() > deadline) throw new Error(`processes of run ${token} still running after ${timeoutMs} ms`);
    await sleep(20);
  }
}
