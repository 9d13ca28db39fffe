#!/usr/bin/env node
// A client of the accelnet CNI server written from the contract alone (native/FRONTEND.md), without the
// server's code: for tests and benchmarks until the C front end is merged, and as a stand-in for it in
// places where a test needs an executable (a client run as another uid, a "copy of the front end" named
// as an IPAM plugin). Run as a program it behaves as the front end does minus the fallback: env CNI_*
// and ACCELNET_* and stdin to $ACCELNET_CNI_SOCKET, the server's stdout, stderr and exit status back.
// Exit 111: cannot connect (message on stderr); 112: the connection ended without a whole answer.
import { connect } from "node:net";
import { pathToFileURL } from "node:url";

const MAGIC = Buffer.from("ACNCNI1\0", "latin1");

function u32(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

/** The request frame: only CNI_* and ACCELNET_* variables, as the front end sends them. */
export function requestFrame(env, stdin) {
  const block = Object.entries(env)
    .filter(([k, v]) => v !== undefined && (k.startsWith("CNI_") || k.startsWith("ACCELNET_")))
    .map(([k, v]) => `${k}=${v}\0`)
    .join("");
  const envBytes = Buffer.from(block, "utf8");
  const body = Buffer.isBuffer(stdin) ? stdin : Buffer.from(stdin, "utf8");
  return Buffer.concat([MAGIC, u32(envBytes.length), envBytes, u32(body.length), body]);
}

/** Parses a whole response; throws on a short or malformed one. */
export function parseResponse(b) {
  if (b.length < 20 || !b.subarray(0, 8).equals(MAGIC)) throw new Error(`no answer (${b.length} bytes)`);
  const status = b.readUInt32LE(8);
  const outLen = b.readUInt32LE(12);
  if (b.length < 20 + outLen) throw new Error("short answer");
  const errLen = b.readUInt32LE(16 + outLen);
  if (b.length !== 20 + outLen + errLen) throw new Error("answer length mismatch");
  return {
    status,
    stdout: b.subarray(16, 16 + outLen).toString("utf8"),
    stderr: b.subarray(20 + outLen).toString("utf8"),
  };
}

/**
 * Sends raw bytes, half-closes, collects everything until the server closes. Resolves with the bytes
 * (empty when the server closed without answering); rejects when it cannot connect.
 */
export function exchange(socketPath, bytes) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let connected = false;
    const s = connect(socketPath, () => {
      connected = true;
      s.end(bytes);
    });
    s.on("data", (c) => chunks.push(c));
    s.on("error", (err) => {
      if (!connected) reject(err);
    });
    s.on("close", () => {
      if (connected) resolve(Buffer.concat(chunks));
    });
  });
}

/** One CNI call through the server: { status, stdout, stderr, ms }. */
export async function callServer(socketPath, env, stdin) {
  const started = process.hrtime.bigint();
  const reply = await exchange(socketPath, requestFrame(env, stdin));
  const res = parseResponse(reply);
  return { ...res, ms: Number(process.hrtime.bigint() - started) / 1e6 };
}

async function main() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  const socketPath = process.env.ACCELNET_CNI_SOCKET || "/run/accelnet/cni/server.sock";
  let reply;
  try {
    reply = await exchange(socketPath, requestFrame(process.env, Buffer.concat(chunks)));
  } catch (err) {
    process.stderr.write(`cni-server-client: cannot connect to ${socketPath}: ${err.code ?? err.message}\n`);
    return 111;
  }
  let res;
  try {
    res = parseResponse(reply);
  } catch (err) {
    process.stderr.write(`cni-server-client: ${err.message}\n`);
    return 112;
  }
  process.stderr.write(res.stderr);
  process.stdout.write(res.stdout);
  return res.status;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then((code) => {
    process.exitCode = code;
  });
}
