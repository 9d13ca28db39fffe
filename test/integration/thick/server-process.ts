// Starts the real dist/accelnet-cni-server on a private socket for tests, with its log (JSON lines on
// stderr) in a file, and reads that log back: which requests it served, which connections it refused.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export const SERVER_EXE = resolve("dist/accelnet-cni-server");
export const FRONT_END = resolve("dist/accelnet");
export const STANDALONE = resolve("dist/accelnet-standalone");
export const thickBuilt = existsSync(SERVER_EXE) && existsSync(FRONT_END) && existsSync(STANDALONE);

export interface LogLine {
  msg: string;
  level: string;
  command?: string;
  containerID?: string;
  exit?: number;
  [field: string]: unknown;
}

export function readLog(logFile: string): LogLine[] {
  if (!existsSync(logFile)) return [];
  return readFileSync(logFile, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as LogLine);
}

/** The requests the server answered, as it logged them (one line each, after the answer). */
export function servedRequests(logFile: string): LogLine[] {
  return readLog(logFile).filter((l) => l.msg === "request");
}

export class ServerProcess {
  private exitStatus: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly child: ChildProcess,
    readonly socket: string,
    readonly logFile: string,
  ) {
    this.exited = new Promise((done) =>
      child.once("exit", (code, signal) => {
        this.exitStatus = { code, signal };
        done(this.exitStatus);
      }),
    );
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.exitStatus === undefined;
  }

  /** Starts the server and resolves once it logged "serving"; throws with its log if it exits first. */
  static async start(socket: string, logFile: string, args: string[] = []): Promise<ServerProcess> {
    const fd = openSync(logFile, "a", 0o600);
    const child = spawn(SERVER_EXE, ["--socket", socket, ...args], {
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
      stdio: ["ignore", fd, fd],
    });
    closeSync(fd);
    const server = new ServerProcess(child, socket, logFile);
    const deadline = Date.now() + 30_000;
    const servingLines = () => readLog(logFile).filter((l) => l.msg === "serving" && l["socket"] === socket).length;
    const before = servingLines();
    while (servingLines() === before) {
      if (!server.running) {
        throw new Error(
          `${SERVER_EXE} exited (${JSON.stringify(server.exitStatus)}) before serving: ${readFileSync(logFile, "utf8")}`,
        );
      }
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`${SERVER_EXE} did not log "serving" within 30 s: ${readFileSync(logFile, "utf8")}`);
      }
      await sleep(25);
    }
    return server;
  }

  /** Sends `signal` and waits (bounded) for the exit. */
  async stop(
    signal: NodeJS.Signals = "SIGTERM",
    timeoutMs = 30_000,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.running) return this.exitStatus as { code: number | null; signal: NodeJS.Signals | null };
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    const status = await this.exited;
    clearTimeout(timer); // a pending timer would keep vitest's main process from exiting
    return status;
  }
}

/** Runs `exe` (a front end) with CNI_COMMAND=VERSION and returns its exit status and stdout. */
export function versionThrough(exe: string, socket: string): { status: number | null; stdout: string } {
  const r = spawnSync(exe, [], {
    env: { CNI_COMMAND: "VERSION", ACCELNET_CNI_SOCKET: socket },
    input: "",
    encoding: "utf8",
    timeout: 30_000,
  });
  return { status: r.status, stdout: r.stdout };
}
