// Runs host tools for the lab build. Arguments are always an argv array,
// never a shell string; a failure names the command and shows stderr.
import { execFile, spawn } from "node:child_process";
import { open } from "node:fs/promises";

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Resolve instead of throwing on a non-zero exit. */
  allowFailure?: boolean;
  timeoutMs?: number;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly result: RunResult,
  ) {
    const tail = (result.stderr || result.stdout).trim().split("\n").slice(-15).join("\n");
    super(`failed to run ${argv.join(" ")} (exit ${result.code}):\n${tail}`);
    this.name = "CommandError";
  }
}

export function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error("run: empty argv");
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        cwd: options.cwd,
        env: options.env ?? process.env,
        maxBuffer: 256 * 1024 * 1024,
        timeout: options.timeoutMs ?? 0,
        encoding: "utf8",
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        const result = { code, stdout, stderr };
        if (code !== 0 && !options.allowFailure) reject(new CommandError(argv, result));
        else resolve(result);
      },
    );
  });
}

/** Progress lines go to stderr so the CLI's stdout stays machine-readable. */
export function log(message: string): void {
  process.stderr.write(`[lab] ${message}\n`);
}

/** Runs `step`, logs how long it took, and records the duration under `name`. */
export async function timed<T>(timings: Record<string, number>, name: string, step: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await step();
  } finally {
    const ms = Math.round(performance.now() - start);
    timings[name] = ms;
    log(`${name}: ${(ms / 1000).toFixed(1)} s`);
  }
}

/** Runs a command with its stdout written to `file` (binary-safe). */
export async function runToFile(argv: readonly string[], file: string): Promise<void> {
  const [command, ...args] = argv;
  if (command === undefined) throw new Error("runToFile: empty argv");
  const out = await open(file, "w");
  try {
    const child = spawn(command, args, { stdio: ["ignore", out.fd, "pipe"] });
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const code = await new Promise<number>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (status) => resolve(status ?? -1));
    });
    if (code !== 0) throw new CommandError(argv, { code, stdout: "", stderr });
  } finally {
    await out.close();
  }
}
