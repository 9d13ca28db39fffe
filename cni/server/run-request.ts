// One request through the plugin's dispatcher, as the standalone executable runs it: the forwarded
// environment is the whole environment, stdin the forwarded bytes, stdout and stderr collected.
// A request past its timeout is answered with code 11 at once; its dispatch goes on to its end in the
// background (a mode cannot be stopped half-way without leaving things behind), and `settled` tells
// when, so its slot stays taken until then.
import { CniCode, errorMessage } from "../lib/errors.js";
import { dispatch } from "../skel/dispatch.js";
import type { CniFuncs, PluginDeps } from "../skel/types.js";
import { errorResponse, tryAgain } from "./cni-reply.js";
import { Collector } from "./collector.js";
import { MAX_STDERR_BYTES, MAX_STDOUT_BYTES, type Request, type Response } from "./frame.js";

export interface Plugin {
  funcs: CniFuncs;
  deps: PluginDeps;
  about: string;
}

export interface Outcome {
  response: Response;
  timedOut: boolean;
  /** Resolves when the dispatch has ended (at once unless timedOut). */
  settled: Promise<void>;
}

function collected(stdin: Buffer, status: number, stdout: Collector, stderr: Collector): Response {
  if (stdout.overflowed) {
    return errorResponse(stdin, CniCode.Internal, `accelnet CNI server: result larger than ${MAX_STDOUT_BYTES} bytes`);
  }
  const err = stderr.bytes();
  const note = stderr.overflowed ? Buffer.from(`[stderr cut at ${MAX_STDERR_BYTES} bytes]\n`) : Buffer.alloc(0);
  return {
    status,
    stdout: stdout.bytes(),
    stderr: Buffer.concat([err.subarray(0, MAX_STDERR_BYTES - note.length), note]),
  };
}

export async function runRequest(plugin: Plugin, req: Request, timeoutMs: number): Promise<Outcome> {
  const stdout = new Collector(MAX_STDOUT_BYTES);
  const stderr = new Collector(MAX_STDERR_BYTES);
  const running = dispatch({ env: req.env, stdin: req.stdin, stdout, stderr }, plugin.funcs, plugin.deps, plugin.about)
    .then((status) => collected(req.stdin, status, stdout, stderr))
    // dispatch() turns every error into a CNI error; this is for a bug in the collectors themselves
    .catch((err: unknown) => errorResponse(req.stdin, CniCode.Internal, errorMessage(err)));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  const first = await Promise.race([running, timeout]);
  clearTimeout(timer);
  const settled = running.then(() => undefined);
  if (first !== "timeout") return { response: first, timedOut: false, settled };
  const command = req.env["CNI_COMMAND"] ?? "";
  const msg = `accelnet CNI server: ${command} did not finish within ${timeoutMs} ms; try again`;
  return { response: tryAgain(req.stdin, msg), timedOut: true, settled };
}
