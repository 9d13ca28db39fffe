// The packaged CNI server (dist/accelnet-cni-server) as a test runs it: a process on a socket in the
// test's own directory, its JSON log lines collected, and the standalone plugin next to it, for tests
// that mix both paths. Requests go through test/tools/cni-server-client.mjs (written from the
// contract). The two executable paths below are the only thing to change when the front end is merged
// (thick-frontend renames today's dist/accelnet to dist/accelnet-standalone).
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { callServer } from "../../tools/cni-server-client.mjs";

export const SERVER = resolve("dist/accelnet-cni-server");
/** The standalone plugin (the Node SEA). After the front end lands: dist/accelnet-standalone. */
export const STANDALONE = resolve("dist/accelnet-standalone");
export const CLIENT = resolve("test/tools/cni-server-client.mjs");
export const haveServer = existsSync(SERVER) && existsSync(STANDALONE);

export type LogLine = Record<string, unknown> & { msg: string; level: string };

export interface CniReply {
  code: number | null;
  out: Record<string, unknown> | undefined;
  stdout: string;
  stderr: string;
  ms: number;
}

function parsed(stdout: string): Record<string, unknown> | undefined {
  if (stdout.trim() === "") return undefined;
  try {
    return JSON.parse(stdout) as Record<string, unknown>;
  } catch {
    return { unparsable: stdout };
  }
}

export class ServerProcess {
  readonly log: LogLine[] = [];
  private stderrTail = "";
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly child: ChildProcess,
    readonly socket: string,
  ) {
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      const lines = (this.stderrTail + chunk).split("\n");
      this.stderrTail = lines.pop() ?? "";
      for (const line of lines) {
        try {
          this.log.push(JSON.parse(line) as LogLine);
        } catch {
          this.log.push({ level: "raw", msg: line });
        }
      }
    });
    this.exited = new Promise((done) => child.on("exit", (code, signal) => done({ code, signal })));
  }

  /** Starts the server and waits for its "serving" line (or its exit, which rejects with its log). */
  static async start(socket: string, args: string[] = [], env: Record<string, string> = {}): Promise<ServerProcess> {
    const child = spawn(SERVER, ["--socket", socket, ...args], {
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    const server = new ServerProcess(child, socket);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (server.log.some((l) => l.msg === "serving")) return server;
      if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
        throw new Error(`server did not start: ${JSON.stringify(server.log)}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Runs the server expecting it to refuse to start: its exit code and log. */
  static async refusal(socket: string, args: string[] = []): Promise<{ code: number | null; log: LogLine[] }> {
    const child = spawn(SERVER, ["--socket", socket, ...args], { stdio: ["ignore", "ignore", "pipe"] });
    const server = new ServerProcess(child, socket);
    const { code } = await server.exited;
    await new Promise((r) => setImmediate(r));
    return { code, log: server.log };
  }

  async call(env: Record<string, string>, stdin: string): Promise<CniReply> {
    const r = await callServer(this.socket, env, stdin);
    return { code: r.status, out: parsed(r.stdout), stdout: r.stdout, stderr: r.stderr, ms: r.ms };
  }

  requests(): LogLine[] {
    return this.log.filter((l) => l.msg === "request");
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Sends `signal` and waits for the exit. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }

  exit(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exited;
  }
}

/** The standalone plugin, one process per call as a runtime runs it. */
export function runStandalone(env: Record<string, string>, stdin: string): Promise<CniReply> {
  const started = process.hrtime.bigint();
  return new Promise((done, fail) => {
    const child = spawn(STANDALONE, [], { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", fail);
    child.stdin.end(stdin);
    child.on("close", (code) =>
      done({ code, out: parsed(stdout), stdout, stderr, ms: Number(process.hrtime.bigint() - started) / 1e6 }),
    );
  });
}
