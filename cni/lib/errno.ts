// The one place where errno values become CNI codes (deno std _map_error style).
// Both helper errors (NativeError.errname) and Node fs errors (err.code) go through here.
import { NativeError } from "../../native/client/index.js";
import { CniCode, CniError, errorCode, errorMessage } from "./errors.js";

const retryable = new Set(["EBUSY", "EAGAIN", "EWOULDBLOCK", "EINTR"]);
const ioFailure = new Set(["EIO", "ENOSPC", "EROFS", "EDQUOT", "EMFILE", "ENFILE", "EACCES", "EPERM", "ENAMETOOLONG"]);

/** The CNI code for an errno name coming from the kernel (via the helper). */
export function codeForKernelErrno(errname: string | null): number {
  if (errname !== null && retryable.has(errname)) return CniCode.TryAgainLater;
  return CniCode.KernelOperationFailed;
}

/** The CNI code for a Node fs error (state dir, locks, log file). */
export function codeForFsError(err: unknown): number {
  const code = errorCode(err);
  if (code !== undefined && retryable.has(code)) return CniCode.TryAgainLater;
  if (code !== undefined && ioFailure.has(code)) return CniCode.IoFailure;
  return CniCode.IoFailure;
}

/**
 * Wraps a helper failure as a CniError "Cannot <action> "<object>": <cause>".
 * `object` always comes from the input, never from the failed result.
 * - exit 2 (argument rejected by the helper before anything ran): the value came from the config -> 7
 * - no errno (spawn failure, crash, timeout, unreadable reply): 101
 * - kernel errno: see codeForKernelErrno
 */
export function cniErrorFromNative(err: unknown, action: string, object: string): CniError {
  const msg = `Cannot ${action} "${object}": ${causeText(err)}`;
  if (err instanceof NativeError) {
    if (err.exitCode === 2) return new CniError(CniCode.InvalidConfig, msg, { cause: err });
    if (err.errname === null) return new CniError(CniCode.HelperFailed, msg, { cause: err });
    return new CniError(codeForKernelErrno(err.errname), msg, { cause: err });
  }
  if (err instanceof CniError) return new CniError(err.code, msg, { details: err.details, cause: err });
  return new CniError(CniCode.HelperFailed, msg, { cause: err });
}

/** The kernel's words for a helper error: "<errno text>[: <extack>]", else the error message. */
export function causeText(err: unknown): string {
  if (err instanceof NativeError && err.errno !== null) {
    const text = err.message.replace(/^Cannot [^"]*"[^"]*": /, "");
    return text;
  }
  return errorMessage(err);
}

/** True when a helper error says the object (link, netns) does not exist. */
export function isNotFound(err: unknown): boolean {
  return (
    err instanceof NativeError && (err.errname === "ENODEV" || err.errname === "ENOENT" || err.errname === "ENXIO")
  );
}
