// The CNI server's resident spawner (`accelnet-helper spawner`, PROTOCOL.md "Resident mode: spawner"):
// one small child of the server that forks the helper batches and IPAM plugins for it, and reads a
// connection's SO_PEERCRED without an exec. Why: each child_process.spawn() of the ~140 MB server
// blocks its event loop ~8-10 ms (fork copies its page tables), 7 times per ADD+DEL; a frame written
// to the spawner costs microseconds, and the spawner's own fork is cheap.
//
// One process, requests multiplexed by id. When it cannot be started, or dies, the server keeps
// working: a request that was never handed to it runs through `fallback` (Node's spawn) and the
// reason is logged; requests it was running fail with an error that says so (their children died
// with it: PR_SET_PDEATHSIG, so nothing is left running); the next request starts a new spawner.
// After a failed start, the spawner is not tried again for RETRY_MS.
import { spawn, type ChildProcess } from "node:child_process";
import { constants } from "node:os";
import type { Socket } from "node:net";
import { childTimeout, describeSchedule, type ChildTimeout } from "./child-timeout.js";
import type { PeerCred } from "./peer-cred.js";
import {
  DEFAULT_MAX_OUTPUT_BYTES,
  definedEnv,
  nodeRunProcess,
  type ProcessRunner,
  type RunOptions,
  type RunOutput,
} from "./run-process.js";

const T = { spawn: 1, kill: 2, peerCred: 3, started: 0x81, exited: 0x82, cred: 0x83, error: 0x84 } as const;
const F_SETSID = 1;
/** Run a helper batch in the forked spawner itself, without an exec (spawner.h ACN_SP_F_BATCH). */
const F_BATCH = 2;
const X_OUTPUT_CAP = 1;
/** native/src/spawner.h ACN_SP_FRAME_MAX: a longer request is run through the fallback instead. */
const FRAME_MAX = 4 << 20;
/** A reply is a frame of at most 16 MiB of output plus its fields. */
const REPLY_MAX = (16 << 20) + 4096;
const RETRY_MS = 5_000;
/**
 * How long the spawner may take to answer a request at all (started, cred or error). It answers as soon
 * as it has read one (a fork, or one pidfd_getfd), in well under a second even with 64 requests queued:
 * one that does not answer in this time is stuck, and everything sent to it would wait for ever.
 */
const ANSWER_MS = 10_000;

const signalNames = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));
const errnoNames = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

export interface SpawnerOptions {
  helperPath: string;
  /** Where restarts, fallbacks and the spawner's stderr are told. */
  log: (message: string, fields?: Record<string, unknown>) => void;
  /** Runs a request the spawner cannot take (default: Node's spawn). */
  fallback?: ProcessRunner;
  /** Reads the peer when the spawner cannot (default: none; the request fails). */
  peerCredFallback?: (socket: Socket) => Promise<PeerCred>;
  /** A spawner that leaves a request unanswered this long is killed and replaced (default ANSWER_MS). */
  answerMs?: number;
}

/** An `error` reply: the spawner's errno (ENOENT for a missing executable) and its text. */
export class SpawnerError extends Error {
  override readonly name = "SpawnerError";
  readonly errno: number;
  readonly code: string;
  constructor(message: string, errno: number) {
    super(message);
    this.errno = errno;
    this.code = errnoNames.get(errno) ?? `E${errno}`;
  }
}

interface Pending {
  onStarted(pid: number): void;
  onExited(r: { code: number; signal: number; capped: boolean; stdout: Buffer; stderr: Buffer }): void;
  onCred(c: PeerCred): void;
  onError(err: Error): void;
}

class Writer {
  private readonly parts: Buffer[] = [];
  u8(v: number): this {
    this.parts.push(Buffer.from([v]));
    return this;
  }
  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    this.parts.push(b);
    return this;
  }
  bytes(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  /** The payload written so far. */
  body(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** One request frame: u32 length (of what follows), u32 id, u8 type, payload (PROTOCOL.md). */
export function frame(id: number, type: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUInt32LE(payload.length + 5, 0);
  head.writeUInt32LE(id, 4);
  head.writeUInt8(type, 8);
  return Buffer.concat([head, payload]);
}

function hasNul(s: string): boolean {
  return s.includes("\0");
}

/**
 * The spawn request's payload, or null when it cannot be framed (a NUL in a string, too large).
 * `batch`: the executable is the spawner's own helper, so the spawner runs the batch in its fork.
 */
export function encodeSpawn(opts: RunOptions, batch = false): Buffer | null {
  // path, then argv (argv[0] is the path, as Node's spawn sets it), then the environment
  const args = [opts.path, ...(opts.args ?? [])];
  const env = Object.entries(definedEnv(opts.env)).map(([k, v]) => `${k}=${v}`);
  const all = [opts.path, ...args, ...env];
  if (all.some(hasNul)) return null;
  const strings = Buffer.from(all.map((s) => `${s}\0`).join(""), "utf8");
  const stdin = Buffer.from(opts.stdin ?? "", "utf8");
  const cap = Math.min(opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_MAX_OUTPUT_BYTES);
  const w = new Writer()
    .u8((opts.newSession === true ? F_SETSID : 0) | (batch ? F_BATCH : 0))
    .u32(cap)
    .u32(args.length)
    .u32(env.length)
    .u32(strings.length)
    .bytes(strings)
    .u32(stdin.length)
    .bytes(stdin);
  const payload = w.body();
  return payload.length + 5 > FRAME_MAX ? null : payload;
}

export class Spawner {
  private child: ChildProcess | undefined;
  private running = false; // the 'spawn' event came: requests written now may have run
  private readonly pending = new Map<number, Pending>();
  /** Requests sent and not answered yet, with the timer that kills a spawner stuck on them. */
  private readonly unanswered = new Map<number, NodeJS.Timeout>();
  private nextId = 1;
  private buffered: Buffer = Buffer.alloc(0);
  private retryAt = 0;
  private closed = false;
  readonly runProcess: ProcessRunner;

  constructor(private readonly opts: SpawnerOptions) {
    this.runProcess = (o) => this.run(o);
  }

  /** Starts the spawner now (else at the first request), so the first request does not wait for it. */
  start(): void {
    this.ensure();
  }

  /** Ends the spawner: stdin EOF, it kills what it runs and exits. */
  close(): void {
    this.closed = true;
    this.child?.stdin?.end();
  }

  /** The spawner's pid while one runs (tests kill it). */
  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  private ensure(): ChildProcess | undefined {
    if (this.child !== undefined) return this.child;
    if (this.closed || Date.now() < this.retryAt) return undefined;
    const child = spawn(this.opts.helperPath, ["spawner"], { stdio: ["pipe", "pipe", "pipe"] });
    this.child = child;
    this.running = false;
    this.buffered = Buffer.alloc(0);
    child.on("spawn", () => {
      this.running = true;
    });
    child.on("error", (err) => this.lost(child, err));
    child.on("exit", (code, signal) => this.lost(child, new Error(`exited with ${signal ?? `code ${code}`}`)));
    child.stdin?.on("error", () => undefined); // its exit says what happened
    child.stdout?.on("data", (chunk: Buffer) => this.onData(child, chunk));
    child.stderr?.on("data", (chunk: Buffer) =>
      this.opts.log("spawner stderr", { pid: child.pid, text: chunk.toString("utf8").trim() }),
    );
    return child;
  }

  /** The spawner is gone (or never started): what it held fails, or falls back when it never ran. */
  private lost(child: ChildProcess, err: Error): void {
    if (this.child !== child) return;
    const ran = this.running;
    this.child = undefined;
    this.running = false;
    if (!ran) this.retryAt = Date.now() + RETRY_MS;
    if (!this.closed || this.pending.size > 0) {
      this.opts.log(ran ? "spawner died" : "spawner cannot start", {
        pid: child.pid,
        error: err.message,
        inFlight: this.pending.size,
      });
    }
    const failed = [...this.pending.values()];
    this.pending.clear();
    for (const timer of this.unanswered.values()) clearTimeout(timer);
    this.unanswered.clear();
    const reason = ran
      ? new Error(`accelnet-helper spawner (pid ${child.pid}) ${err.message} while running this request`)
      : new SpawnerUnavailable(`accelnet-helper spawner cannot start: ${err.message}`);
    for (const p of failed) p.onError(reason);
  }

  private onData(child: ChildProcess, chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 4) {
      const len = this.buffered.readUInt32LE(0);
      if (len < 5 || len > REPLY_MAX) {
        this.opts.log("spawner reply malformed: restarting it", { length: len });
        child.kill("SIGKILL");
        return;
      }
      if (this.buffered.length < 4 + len) return;
      const frame = this.buffered.subarray(4, 4 + len);
      this.buffered = this.buffered.subarray(4 + len);
      this.onFrame(frame);
    }
  }

  private onFrame(f: Buffer): void {
    const id = f.readUInt32LE(0);
    const type = f.readUInt8(4);
    clearTimeout(this.unanswered.get(id));
    this.unanswered.delete(id);
    const p = this.pending.get(id);
    if (p === undefined) {
      if (type === T.error) this.opts.log("spawner refused a request", { id, error: errorText(f) });
      return;
    }
    try {
      if (type === T.started) p.onStarted(f.readUInt32LE(5));
      else if (type === T.cred) p.onCred({ pid: f.readUInt32LE(5), uid: f.readUInt32LE(9), gid: f.readUInt32LE(13) });
      else if (type === T.error) p.onError(new SpawnerError(errorText(f), f.readUInt32LE(5)));
      else if (type === T.exited) {
        const outLen = f.readUInt32LE(14);
        const stdout = f.subarray(18, 18 + outLen);
        const errLen = f.readUInt32LE(18 + outLen);
        const stderr = f.subarray(22 + outLen, 22 + outLen + errLen);
        p.onExited({
          code: f.readInt32LE(5),
          signal: f.readInt32LE(9),
          capped: (f[13]! & X_OUTPUT_CAP) !== 0,
          stdout,
          stderr,
        });
      }
    } catch (err) {
      // A frame shorter than its type needs (RangeError): that request fails, the others go on.
      p.onError(new Error(`accelnet-helper spawner sent a malformed reply: ${String(err)}`));
    }
  }

  private send(id: number, type: number, payload: Buffer, p: Pending): boolean {
    const child = this.ensure();
    if (child?.stdin === null || child === undefined) return false;
    this.pending.set(id, p);
    child.stdin.write(frame(id, type, payload));
    const answerMs = this.opts.answerMs ?? ANSWER_MS;
    const timer = setTimeout(() => {
      this.unanswered.delete(id);
      if (this.child !== child) return;
      // Its requests fail through lost() ("exited with SIGKILL while running this request"): the runtime
      // retries, and the next request starts a new spawner.
      this.opts.log("spawner did not answer: restarting it", { pid: child.pid, id, afterMs: answerMs });
      child.kill("SIGKILL");
    }, answerMs);
    timer.unref();
    this.unanswered.set(id, timer);
    return true;
  }

  private id(): number {
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffff_fffe ? 1 : this.nextId + 1;
    return id;
  }

  private async run(opts: RunOptions): Promise<RunOutput> {
    // A helper batch costs no exec: the spawner is that helper, and forks itself to run it.
    const payload = encodeSpawn(opts, opts.path === this.opts.helperPath);
    if (payload !== null) {
      try {
        return await this.runHere(opts, payload);
      } catch (err) {
        if (!(err instanceof SpawnerUnavailable)) throw err;
        this.opts.log("running through Node's spawn instead", { path: opts.path, reason: err.message });
      }
    }
    return (this.opts.fallback ?? nodeRunProcess)(opts);
  }

  private runHere(opts: RunOptions, payload: Buffer): Promise<RunOutput> {
    return new Promise((resolve, reject) => {
      const id = this.id();
      let timer: ChildTimeout | undefined;
      let timedOut = false;
      let timedOutAs: string | undefined;
      const began = Date.now();
      const done = () => {
        timer?.clear();
        this.pending.delete(id);
      };
      const sent = this.send(id, T.spawn, payload, {
        onStarted: (pid) => {
          timer = childTimeout(pid, opts.timeoutMs, (schedule) => {
            timedOut = true;
            timedOutAs = `${Date.now() - began} ms, ${describeSchedule(schedule)}`;
            this.kill(id, opts.newSession === true);
          });
        },
        onExited: (r) => {
          done();
          resolve({
            stdout: r.stdout.toString("utf8"),
            stderr: r.stderr.toString("utf8"),
            exitCode: r.signal === 0 ? r.code : null,
            signal: r.signal === 0 ? null : (signalNames.get(r.signal) ?? `SIG${r.signal}`),
            timedOut,
            ...(timedOutAs === undefined ? {} : { timedOutAs }),
          });
        },
        onCred: () => undefined,
        onError: (err) => {
          done();
          if (err instanceof SpawnerError) {
            // as Node's spawn says it: "spawn /path ENOENT"
            const e = Object.assign(new Error(`spawn ${opts.path} ${err.code}: ${err.message}`), {
              code: err.code,
              errno: -err.errno,
              syscall: "spawn",
            });
            reject(e);
          } else reject(err);
        },
      });
      if (!sent) reject(new SpawnerUnavailable("accelnet-helper spawner is not running"));
    });
  }

  private kill(target: number, group: boolean): void {
    const child = this.child;
    if (child?.stdin === undefined || child.stdin === null) return;
    const payload = new Writer()
      .u32(target)
      .u32(constants.signals.SIGKILL)
      .u8(group ? 1 : 0)
      .body();
    child.stdin.write(frame(this.id(), T.kill, payload));
  }

  /**
   * SO_PEERCRED of an accepted connection, read by the spawner through the server's own descriptor
   * (pidfd_getfd). Node has no public accessor for a socket's descriptor: `_handle.fd` is libuv's
   * (a pipe_wrap's) and is the kernel descriptor on Linux; without it, `peerCredFallback`. The answer
   * is used only if the socket was still open when it came: its descriptor closes only at destroy, so
   * the number cannot have been re-used for another connection in between.
   */
  peerCred(socket: Socket): Promise<PeerCred> {
    const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
    const fallback = () => {
      if (this.opts.peerCredFallback === undefined) throw new Error("the spawner cannot read the peer's credentials");
      return this.opts.peerCredFallback(socket);
    };
    if (typeof fd !== "number" || fd < 0) return Promise.resolve().then(fallback);
    return new Promise<PeerCred>((resolve, reject) => {
      const id = this.id();
      const sent = this.send(id, T.peerCred, new Writer().u32(fd).body(), {
        onStarted: () => undefined,
        onExited: () => undefined,
        onCred: (c) => {
          this.pending.delete(id);
          if (socket.destroyed) reject(new Error(`connection closed before its peer (fd ${fd}) was read`));
          else resolve(c);
        },
        onError: (err) => {
          this.pending.delete(id);
          reject(err);
        },
      });
      if (!sent) reject(new SpawnerUnavailable("accelnet-helper spawner is not running"));
    }).catch((err: unknown) => {
      if (!(err instanceof SpawnerUnavailable)) throw err;
      return fallback();
    });
  }
}

/** The spawner could not take the request: nothing of it ran, so another runner may. */
class SpawnerUnavailable extends Error {
  override readonly name = "SpawnerUnavailable";
}

function errorText(f: Buffer): string {
  if (f.length < 13) return "(short error reply)";
  const len = f.readUInt32LE(9);
  return f.subarray(13, 13 + len).toString("utf8");
}
