// Runs a CNI plugin executable (IPAM delegation). The only file in cni/ allowed to spawn (ESLint enforces it).
import { spawn } from "node:child_process";

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
    const child = spawn(opts.path, [], { env, stdio: ["pipe", "pipe", "pipe"], timeout: opts.timeoutMs ?? 60_000 });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("exit", (_code, signal) => {
      if (signal === "SIGTERM") timedOut = true;
    });
    child.on("close", (code, signal) => {
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
