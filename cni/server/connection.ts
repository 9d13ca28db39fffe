// One connection: who is calling (SO_PEERCRED through the helper: root only), the request frame, a
// slot, the dispatcher, the response, one log line. Nothing that happens on one connection reaches
// another: a refused peer or a malformed or incomplete frame is closed without an answer, a client
// that goes away early only loses its own answer.
import type { Socket } from "node:net";
import { CniCode } from "../lib/errors.js";
import { DELEGATED_ENV } from "../lib/ipam.js";
import { errorResponse, tryAgain } from "./cni-reply.js";
import { encodeResponse, MalformedFrame, RequestDecoder, type Request, type Response } from "./frame.js";
import type { Logger } from "./log.js";
import { runRequest, type Plugin } from "./run-request.js";
import type { Release, Slots } from "./slots.js";

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

export interface ConnectionContext {
  plugin: Plugin;
  slots: Slots;
  log: Logger;
  requestTimeoutMs: number;
  /** How long a client may take to send its whole frame. */
  frameTimeoutMs: number;
  peerCred(socket: Socket): Promise<PeerCred>;
}

/** Reads one request frame; rejects with MalformedFrame, or an Error for an early end or a timeout. */
function readRequest(socket: Socket, timeoutMs: number): Promise<Request> {
  return new Promise((resolve, reject) => {
    const decoder = new RequestDecoder();
    const done = (fn: () => void) => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("close", onEnd);
      socket.pause();
      fn();
    };
    const timer = setTimeout(
      () => done(() => reject(new Error(`frame incomplete after ${timeoutMs} ms (${decoder.received} bytes)`))),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      try {
        const req = decoder.push(chunk);
        if (req !== null) done(() => resolve(req));
      } catch (err) {
        done(() => reject(err instanceof Error ? err : new Error(String(err))));
      }
    };
    const onEnd = () => done(() => reject(new Error(`connection ended after ${decoder.received} bytes, mid-frame`)));
    socket.on("data", onData);
    socket.once("end", onEnd);
    socket.once("close", onEnd);
  });
}

function requestFields(req: Request) {
  return {
    command: req.env["CNI_COMMAND"] ?? "",
    containerID: req.env["CNI_CONTAINERID"] ?? "",
    ifname: req.env["CNI_IFNAME"] ?? "",
  };
}

async function answer(ctx: ConnectionContext, req: Request, fields: Record<string, unknown>): Promise<Response> {
  // accelnet as its own IPAM plugin (ipam.ts) is refused at once: waiting for a slot its caller holds
  // would deadlock.
  const delegated = (req.env[DELEGATED_ENV] ?? "") !== "";
  let release: Release = () => undefined;
  if (!delegated) {
    const slot = ctx.slots.acquire();
    if (slot === "full") {
      fields["busy"] = true;
      return tryAgain(req.stdin, `accelnet CNI server is busy (${ctx.slots.queued} requests waiting); try again`);
    }
    const queuedAt = Date.now();
    release = await slot;
    fields["queuedMs"] = Date.now() - queuedAt;
    fields["inFlight"] = ctx.slots.inFlight;
  }
  let outcome;
  try {
    outcome = await runRequest(ctx.plugin, req, ctx.requestTimeoutMs);
  } catch (err) {
    release();
    return errorResponse(req.stdin, CniCode.Internal, `accelnet CNI server: ${String(err)}`);
  }
  if (outcome.timedOut) {
    fields["timedOut"] = true;
    const started = Date.now();
    void outcome.settled.then(() => {
      release();
      ctx.log.warn("request finished after its timeout", { ...fields, afterMs: Date.now() - started });
    });
  } else release();
  return outcome.response;
}

/** Serves one accepted connection; resolves when it is done (answered, refused or dropped). */
export async function serveConnection(ctx: ConnectionContext, socket: Socket): Promise<void> {
  const started = Date.now();
  socket.on("error", () => undefined); // a client gone early: nothing to tell it
  let peer: PeerCred;
  try {
    peer = await ctx.peerCred(socket);
  } catch (err) {
    ctx.log.error("connection refused: cannot read the peer's credentials", { error: err });
    socket.destroy();
    return;
  }
  if (peer.uid !== 0) {
    ctx.log.warn("connection refused: peer is not root", { ...peer });
    socket.destroy();
    return;
  }
  let req: Request;
  try {
    // Handing the socket to the helper stopped its reading (child_process does so for a shared handle).
    const reading = readRequest(socket, ctx.frameTimeoutMs);
    socket.resume();
    req = await reading;
  } catch (err) {
    const what = err instanceof MalformedFrame ? "malformed request" : "incomplete request";
    ctx.log.warn(`connection closed without an answer: ${what}`, { error: err, peerPid: peer.pid });
    socket.destroy();
    return;
  }
  const fields: Record<string, unknown> = { ...requestFields(req), peerPid: peer.pid };
  const response = await answer(ctx, req, fields);
  fields["exit"] = response.status;
  fields["durationMs"] = Date.now() - started;
  if (socket.destroyed) fields["clientGone"] = true;
  else socket.end(encodeResponse(response));
  ctx.log.info("request", fields);
}
