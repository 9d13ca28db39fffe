// The wire format between the thick front end and the server (native/FRONTEND.md, "Request" and
// "Response"). A request is decoded as its bytes arrive, and refused as malformed as soon as its header
// says something no front end sends (a length over the limit, a variable outside CNI_* and ACCELNET_*),
// so an oversized frame is never buffered.
import { MAX_STDIN_BYTES } from "../skel/dispatch.js";

export const MAGIC = Buffer.from("ACNCNI1\0", "latin1");
export const MAX_ENV_BYTES = 64 * 1024;
export const MAX_STDOUT_BYTES = 16 * 1024 * 1024;
export const MAX_STDERR_BYTES = 1024 * 1024;

export interface Request {
  env: Record<string, string>;
  stdin: Buffer;
}

export interface Response {
  status: number;
  stdout: Buffer;
  stderr: Buffer;
}

/** A frame no front end sends: the connection is closed without an answer. */
export class MalformedFrame extends Error {
  override readonly name = "MalformedFrame";
}

const NAME = /^(CNI_|ACCELNET_)[A-Za-z0-9_]*$/;

function decodeEnv(block: Buffer): Record<string, string> {
  const env: Record<string, string> = {};
  if (block.length === 0) return env;
  if (block[block.length - 1] !== 0) throw new MalformedFrame("env block does not end with NUL");
  for (const entry of block.subarray(0, -1).toString("utf8").split("\0")) {
    const eq = entry.indexOf("=");
    const name = eq < 0 ? entry : entry.slice(0, eq);
    if (eq < 0 || !NAME.test(name))
      throw new MalformedFrame(`env entry "${name.slice(0, 64)}" is not CNI_*=... or ACCELNET_*=...`);
    if (Object.hasOwn(env, name)) throw new MalformedFrame(`env variable ${name} appears twice`);
    env[name] = entry.slice(eq + 1);
  }
  return env;
}

/**
 * Collects one request from chunks. push() returns the request once it is complete (bytes after it are
 * ignored: the front end half-closes), null while more is needed; it throws MalformedFrame.
 */
export class RequestDecoder {
  private chunks: Buffer[] = [];
  private size = 0;
  private envLength: number | null = null;
  private stdinLength: number | null = null;

  push(chunk: Buffer): Request | null {
    this.chunks.push(chunk);
    this.size += chunk.length;
    const head = Buffer.concat(this.chunks);
    this.chunks = [head];
    if (head.length >= MAGIC.length && !head.subarray(0, MAGIC.length).equals(MAGIC)) {
      throw new MalformedFrame("bad magic");
    }
    if (this.envLength === null && head.length >= 12) {
      this.envLength = head.readUInt32LE(8);
      if (this.envLength > MAX_ENV_BYTES) throw new MalformedFrame(`env block of ${this.envLength} bytes`);
    }
    if (this.envLength === null) return null;
    const stdinAt = 12 + this.envLength + 4;
    if (this.stdinLength === null && head.length >= stdinAt) {
      this.stdinLength = head.readUInt32LE(stdinAt - 4);
      if (this.stdinLength > MAX_STDIN_BYTES) throw new MalformedFrame(`stdin of ${this.stdinLength} bytes`);
    }
    if (this.stdinLength === null || head.length < stdinAt + this.stdinLength) return null;
    return {
      env: decodeEnv(head.subarray(12, 12 + this.envLength)),
      stdin: Buffer.from(head.subarray(stdinAt, stdinAt + this.stdinLength)),
    };
  }

  /** How many bytes arrived so far (for the log of a frame that never completed). */
  get received(): number {
    return this.size;
  }
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

export function encodeResponse(r: Response): Buffer {
  return Buffer.concat([MAGIC, u32(r.status), u32(r.stdout.length), r.stdout, u32(r.stderr.length), r.stderr]);
}

/** The request side, for clients (tests, benchmarks): the env is filtered as the front end filters it. */
export function encodeRequest(env: Readonly<Record<string, string | undefined>>, stdin: Buffer | string): Buffer {
  const entries = Object.entries(env)
    .filter((e): e is [string, string] => e[1] !== undefined && NAME.test(e[0]))
    .map(([k, v]) => `${k}=${v}\0`)
    .join("");
  const envBlock = Buffer.from(entries, "utf8");
  const body = typeof stdin === "string" ? Buffer.from(stdin, "utf8") : stdin;
  return Buffer.concat([MAGIC, u32(envBlock.length), envBlock, u32(body.length), body]);
}

/** Decodes a whole response (clients); throws on anything short or malformed. */
export function decodeResponse(b: Buffer): Response {
  if (b.length < 20 || !b.subarray(0, 8).equals(MAGIC)) throw new Error(`bad response (${b.length} bytes)`);
  const status = b.readUInt32LE(8);
  const outLen = b.readUInt32LE(12);
  if (b.length < 16 + outLen + 4) throw new Error("short response");
  const errLen = b.readUInt32LE(16 + outLen);
  if (b.length !== 20 + outLen + errLen) throw new Error("response length mismatch");
  return { status, stdout: b.subarray(16, 16 + outLen), stderr: b.subarray(20 + outLen) };
}
