// CNI errors the server itself answers with (busy, timed out, result too large), in the request's
// cniVersion when a simple scan of its stdin finds one, as the front end and the dispatcher do.
import { CniCode } from "../lib/errors.js";
import { scanCniVersion } from "../skel/dispatch.js";
import { LATEST_VERSION } from "../lib/versions.js";
import type { Response } from "./frame.js";

export function errorResponse(stdin: Buffer, code: number, msg: string): Response {
  const cniVersion = scanCniVersion(stdin) ?? LATEST_VERSION;
  return {
    status: 1,
    stdout: Buffer.from(`${JSON.stringify({ cniVersion, code, msg })}\n`),
    stderr: Buffer.alloc(0),
  };
}

/** Code 11: the runtime retries (DEL is idempotent; an ADD that failed gets its DEL). */
export function tryAgain(stdin: Buffer, msg: string): Response {
  return errorResponse(stdin, CniCode.TryAgainLater, msg);
}
