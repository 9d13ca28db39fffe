// Who is at the other end of a connected Unix socket: the helper's `peer-cred` (PROTOCOL.md), with the
// socket handed to the helper as its fd 3 (spawn dups a net.Socket's descriptor into the child). Node
// has no SO_PEERCRED of its own. One exec per connection, like every helper batch.
import { spawn } from "node:child_process";
import type { Socket } from "node:net";

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

const TIMEOUT_MS = 5_000;
const MAX_REPLY_BYTES = 64 * 1024;

function parseReply(stdout: string): PeerCred | string {
  let reply: unknown;
  try {
    reply = JSON.parse(stdout);
  } catch {
    return `reply is not JSON: ${stdout.slice(0, 200)}`;
  }
  const r = reply as { ok?: unknown; results?: unknown; error?: { message?: unknown } };
  if (r.ok !== true) return `helper refused: ${typeof r.error?.message === "string" ? r.error.message : stdout}`;
  const peer = Array.isArray(r.results) ? (r.results[0] as { peer?: Record<string, unknown> }).peer : undefined;
  const { pid, uid, gid } = peer ?? {};
  if (typeof pid !== "number" || typeof uid !== "number" || typeof gid !== "number") {
    return `reply has no peer: ${stdout.slice(0, 200)}`;
  }
  return { pid, uid, gid };
}

/** The peer's credentials; rejects (with the reason) when the helper cannot tell. */
export function peerCred(helperPath: string, socket: Socket): Promise<PeerCred> {
  return new Promise((resolve, reject) => {
    const child = spawn(helperPath, ["peer-cred", "fd=3"], { stdio: ["ignore", "pipe", "ignore", socket] });
    const out: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => child.kill("SIGKILL"), TIMEOUT_MS);
    child.stdout?.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REPLY_BYTES) child.kill("SIGKILL");
      else out.push(chunk);
    });
    child.on("error", (cause) => {
      clearTimeout(timer);
      reject(new Error(`Cannot run helper "${helperPath}" peer-cred: ${cause.message}`, { cause }));
    });
    child.on("close", (exitCode, signal) => {
      clearTimeout(timer);
      const parsed = parseReply(Buffer.concat(out).toString("utf8"));
      if (typeof parsed !== "string") resolve(parsed);
      else reject(new Error(`helper peer-cred (exit ${exitCode ?? signal}): ${parsed}`));
    });
  });
}
