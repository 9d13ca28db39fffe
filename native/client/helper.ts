// Runs accelnet-helper: one exec per batch, argv as an array (never a shell),
// one JSON reply parsed and checked. The exec goes through a process runner
// (run-process.ts: Node's spawn, or the CNI server's resident spawner);
// native/client is the only TypeScript that spawns (ESLint keeps
// child_process inside it).
import type { Command, ResultsOf } from "./commands.js";
import { nodeRunProcess, type ProcessRunner, type RunOutput } from "./run-process.js";

export interface NativeClient {
  /**
   * Runs the batch in ONE helper exec. Resolves with every result, or rejects
   * with NativeError (whose `completed` holds the results of the commands
   * that ran before the failure).
   */
  run<const C extends readonly Command<unknown>[]>(cmds: C): Promise<ResultsOf<C>>;
}

export interface NativeClientOptions {
  helperPath: string;
  sysfsRoot?: string;
  devRoot?: string;
  timeoutMs?: number;
  /** Who starts the helper (default: Node's spawn; the CNI server's spawner, run-process.ts). */
  runner?: ProcessRunner;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** The helper's reply buffer is 4 MiB; anything far beyond that is not a reply. */
const MAX_OUTPUT_BYTES = 8 * 1024 * 1024;

export interface NativeErrorInit {
  argv: readonly string[];
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  stderr: string;
  index?: number | null;
  cmd?: string | null;
  op?: string | null;
  object?: string | null;
  errno?: number | null;
  errname?: string | null;
  extack?: string | null;
  attr?: string | null;
  completed?: readonly unknown[];
}

/** A helper failure: the process view (execa shape) plus the helper's own error fields. */
export class NativeError extends Error {
  override readonly name = "NativeError";
  readonly argv: readonly string[];
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  readonly stderr: string;
  readonly index: number | null;
  readonly cmd: string | null;
  readonly op: string | null;
  readonly object: string | null;
  readonly errno: number | null;
  readonly errname: string | null;
  readonly extack: string | null;
  readonly attr: string | null;
  readonly completed: readonly unknown[];

  constructor(message: string, init: NativeErrorInit, options?: { cause?: unknown }) {
    super(message, options);
    this.argv = init.argv;
    this.exitCode = init.exitCode;
    this.signal = init.signal;
    this.timedOut = init.timedOut;
    this.stderr = init.stderr;
    this.index = init.index ?? null;
    this.cmd = init.cmd ?? null;
    this.op = init.op ?? null;
    this.object = init.object ?? null;
    this.errno = init.errno ?? null;
    this.errname = init.errname ?? null;
    this.extack = init.extack ?? null;
    this.attr = init.attr ?? null;
    this.completed = init.completed ?? [];
  }
}

/** The helper's argv for a batch: globals, then commands separated by "--". */
export function helperArgv(opts: Omit<NativeClientOptions, "helperPath">, cmds: readonly Command<unknown>[]): string[] {
  const argv: string[] = [];
  if (opts.sysfsRoot !== undefined) argv.push(`--sysfs-root=${opts.sysfsRoot}`);
  if (opts.devRoot !== undefined) argv.push(`--dev-root=${opts.devRoot}`);
  cmds.forEach((c, i) => {
    if (i > 0) argv.push("--");
    argv.push(c.name, ...c.args);
  });
  return argv;
}

type Exit = RunOutput;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

function num(v: unknown): number | null {
  return typeof v === "number" ? v : null;
}

/** Turns a finished helper process into its results, or the NativeError that describes it. */
export function interpretReply(helperPath: string, argv: readonly string[], count: number, exit: Exit): unknown[] {
  const base = {
    argv,
    exitCode: exit.exitCode,
    signal: exit.signal,
    timedOut: exit.timedOut,
    stderr: exit.stderr,
  };
  if (exit.timedOut) {
    const as = exit.timedOutAs === undefined ? "" : ` (${exit.timedOutAs})`;
    throw new NativeError(`Cannot run helper "${helperPath}": timed out${as}`, base);
  }
  let reply: unknown;
  try {
    reply = JSON.parse(exit.stdout);
  } catch (cause) {
    const how = exit.signal ? `killed by ${exit.signal}` : `exit code ${String(exit.exitCode)}`;
    throw new NativeError(`Cannot parse reply of helper "${helperPath}" (${how}): not JSON`, base, { cause });
  }
  if (!isRecord(reply) || typeof reply.ok !== "boolean" || !Array.isArray(reply.results)) {
    throw new NativeError(`Cannot parse reply of helper "${helperPath}": unexpected shape`, base);
  }
  const results: unknown[] = reply.results;
  if (reply.ok) {
    if (exit.exitCode !== 0 || results.length !== count) {
      throw new NativeError(
        `Cannot parse reply of helper "${helperPath}": ok with exit code ${String(exit.exitCode)} and ` +
          `${results.length} of ${count} results`,
        { ...base, completed: results },
      );
    }
    return results;
  }
  const e = isRecord(reply.error) ? reply.error : {};
  const cmd = str(e.cmd);
  const object = str(e.object) ?? "";
  const extack = str(e.extack);
  const text = str(e.message) ?? "unknown error";
  const message = `Cannot ${cmd ?? "run helper"} "${object}": ${text}${extack ? `: ${extack}` : ""}`;
  throw new NativeError(message, {
    ...base,
    index: num(e.index),
    cmd,
    op: str(e.op),
    object,
    errno: num(e.errno),
    errname: str(e.errname),
    extack,
    attr: str(e.attr),
    completed: results,
  });
}

/** One helper batch through `run`; a helper that cannot be started is a NativeError too. */
async function execHelper(run: ProcessRunner, helperPath: string, argv: readonly string[], timeoutMs: number) {
  try {
    return await run({ path: helperPath, args: argv, timeoutMs, maxOutputBytes: MAX_OUTPUT_BYTES });
  } catch (cause) {
    const init = { argv, exitCode: null, signal: null, timedOut: false, stderr: "" };
    const text = cause instanceof Error ? cause.message : String(cause);
    throw new NativeError(`Cannot run helper "${helperPath}": ${text}`, init, { cause });
  }
}

export function createNativeClient(opts: NativeClientOptions): NativeClient {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return {
    async run<const C extends readonly Command<unknown>[]>(cmds: C): Promise<ResultsOf<C>> {
      const argv = helperArgv(opts, cmds);
      const exit = await execHelper(opts.runner ?? nodeRunProcess, opts.helperPath, argv, timeoutMs);
      return interpretReply(opts.helperPath, argv, cmds.length, exit) as ResultsOf<C>;
    },
  };
}
