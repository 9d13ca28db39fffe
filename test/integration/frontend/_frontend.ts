// The thick-mode front end under test (native/frontend, native/FRONTEND.md): its ASan/UBSan build copied
// into a bin dir of its own as `accelnet`, with `accelnet-standalone` beside it (a symlink to the built
// SEA), as a node's /opt/cni/bin holds them; a run helper (async: the test server lives in this process);
// and a test server speaking the contract on a Unix socket, whose answer each test scripts.
import { spawn } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const FRONTEND_ASAN = resolve("dist/native/accelnet-frontend-asan");
export const FRONTEND = resolve("dist/accelnet");
export const STANDALONE = resolve("dist/accelnet-standalone");
export const built = existsSync(FRONTEND_ASAN) && existsSync(FRONTEND) && existsSync(STANDALONE);
export const isRoot = process.getuid?.() === 0;

export const MAGIC = Buffer.from("ACNCNI1\0", "latin1");

/** A bin dir holding the ASan front end as `accelnet` and the standalone beside it. */
export function makeBinDir(): { dir: string; exe: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "acn-fe-"));
  chmodSync(dir, 0o755);
  const bin = join(dir, "bin");
  mkdirSync(bin, { mode: 0o755 });
  const exe = join(bin, "accelnet");
  copyFileSync(FRONTEND_ASAN, exe);
  chmodSync(exe, 0o755);
  symlinkSync(STANDALONE, join(bin, "accelnet-standalone"));
  return { dir, exe, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Ran {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
}

const SANITIZERS = { ASAN_OPTIONS: "halt_on_error=1", UBSAN_OPTIONS: "halt_on_error=1:print_stacktrace=1" };

/** Runs `exe` with exactly `env` (plus the sanitizer options) and `stdin`, to its exit. */
export function run(exe: string, env: Record<string, string>, stdin: Buffer | string, argv: string[] = []) {
  return new Promise<Ran>((done, fail) => {
    const child = spawn(exe, argv, { env: { ...SANITIZERS, ...env }, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.stdin.on("error", () => undefined); // it stops reading at the limit
    child.on("error", fail);
    child.stdin.end(stdin);
    child.on("close", (status, signal) =>
      done({ status, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }),
    );
  });
}

/** A request as the server side decodes it. */
export interface Request {
  env: Record<string, string>;
  /** the env block's entries in the order sent */
  entries: string[];
  stdin: Buffer;
}

export function decodeRequest(raw: Buffer): Request {
  if (!raw.subarray(0, 8).equals(MAGIC)) throw new Error("bad request magic");
  const envLen = raw.readUInt32LE(8);
  const block = raw.subarray(12, 12 + envLen);
  const stdinLen = raw.readUInt32LE(12 + envLen);
  const stdin = raw.subarray(16 + envLen);
  if (stdin.length !== stdinLen) throw new Error(`stdin length ${stdinLen}, got ${stdin.length}`);
  const entries = block.toString("latin1").split("\0");
  if (entries.pop() !== "") throw new Error("env block does not end in NUL");
  const env: Record<string, string> = {};
  for (const e of entries) env[e.slice(0, e.indexOf("="))] = e.slice(e.indexOf("=") + 1);
  return { env, entries, stdin };
}

export function encodeResponse(status: number, stdout: Buffer | string, stderr: Buffer | string): Buffer {
  const out = Buffer.from(stdout);
  const err = Buffer.from(stderr);
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  };
  return Buffer.concat([MAGIC, u32(status), u32(out.length), out, u32(err.length), err]);
}

/**
 * A test server on `path`: for each connection, `answer` is called with the socket and, once the client
 * half-closed, the raw request (an `answer` that acts on connect gets `raw` undefined first).
 */
export interface TestServer {
  path: string;
  requests: Buffer[];
  connections: number;
  close(): Promise<void>;
}

export type Answer = (sock: Socket, raw: Buffer | undefined) => void;

export function startServer(path: string, answer: Answer): Promise<TestServer> {
  const sockets = new Set<Socket>();
  const state: TestServer = {
    path,
    requests: [],
    connections: 0,
    close: () =>
      new Promise((done) => {
        for (const s of sockets) s.destroy();
        server.close(() => done());
      }),
  };
  const server: Server = createServer({ allowHalfOpen: true }, (sock) => {
    state.connections++;
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    sock.on("error", () => undefined);
    const chunks: Buffer[] = [];
    answer(sock, undefined);
    sock.on("data", (c: Buffer) => chunks.push(c));
    sock.on("end", () => {
      const raw = Buffer.concat(chunks);
      state.requests.push(raw);
      answer(sock, raw);
    });
  });
  return new Promise((done, fail) => {
    server.once("error", fail);
    server.listen(path, () => done(state));
  });
}
