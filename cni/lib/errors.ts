// Every CNI error code accelnet returns, in one place.
//
// Codes 1-11 and 50/51 are the CNI spec 1.1.0 well-known codes. 100 and up are
// accelnet's own (the spec reserves 100+ for plugins). 999 is for bugs only:
// the dispatcher turns any non-CniError into 999 and keeps its message.
//
// | code | name                    | when                                                                 |
// | ---- | ----------------------- | -------------------------------------------------------------------- |
// | 1    | IncompatibleVersion     | cniVersion not supported, or too old for CHECK (<0.4.0)/GC/STATUS (<1.1.0) |
// | 2    | UnsupportedField        | a config field accelnet knows but cannot honour                       |
// | 3    | UnknownContainer        | CNI_NETNS does not exist on ADD/CHECK                                 |
// | 4    | InvalidEnvironment      | a CNI_* variable is missing or malformed (ifname, containerID, netns), |
// |      |                         | or ACCELNET_STATE_DIR/LOG_DIR/DEVINFO_DIR is not an absolute path     |
// | 5    | IoFailure               | state dir, lock or log file cannot be read or written; the state dir  |
// |      |                         | (or its bin/) is not root's, is group/other-writable or a symlink     |
// | 6    | DecodingFailure         | stdin is not a JSON object, cniVersion is not a string                |
// | 7    | InvalidConfig           | a config field has a wrong type or value; mode not available; a       |
// |      |                         | `stateDir`, or a logFile/CNIDeviceInfoFile outside its place (trusted-paths.ts) |
// | 11   | TryAgainLater           | a lock could not be taken in time; the kernel said EBUSY/EAGAIN       |
// | 50   | PluginNotAvailable      | STATUS: state dir not writable, helper not runnable, master missing   |
// | 51   | LimitedConnectivity     | STATUS: passed through from the IPAM plugin                           |
// | 100  | KernelOperationFailed   | the helper reported a kernel error with no better code                |
// | 101  | HelperFailed            | the helper could not be run, crashed, timed out or replied garbage    |
// | 102  | IpamFailed              | the IPAM plugin failed without a CNI error of its own, or returned no IPs |
// | 103  | CheckMismatch           | CHECK: the attachment differs from prevResult or the config           |
// | 104  | InterfaceExists         | ADD: CNI_IFNAME already exists in the pod netns (vhostuser: its       |
// |      |                         | socket dir exists)                                                     |
// | 105  | OvsdbFailed             | vhostuser: ovsdb-server unreachable, timed out or refused a           |
// |      |                         | transaction; ovs-vswitchd could not configure the port                |
// | 999  | Internal                | a bug                                                                 |
//
// IPAM plugins' own CNI errors pass through with their code (an IPAM plugin's 999 is its bug, not ours).

export const CniCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodingFailure: 6,
  InvalidConfig: 7,
  TryAgainLater: 11,
  PluginNotAvailable: 50,
  LimitedConnectivity: 51,
  KernelOperationFailed: 100,
  HelperFailed: 101,
  IpamFailed: 102,
  CheckMismatch: 103,
  InterfaceExists: 104,
  OvsdbFailed: 105,
  Internal: 999,
} as const;

export type CniCodeValue = (typeof CniCode)[keyof typeof CniCode];

/** A CNI error: printed as `{cniVersion, code, msg, details}` by the dispatcher, untouched. */
export class CniError extends Error {
  readonly code: number;
  readonly details: string;

  constructor(code: number, msg: string, options?: { details?: string; cause?: unknown }) {
    super(msg, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CniError";
    this.code = code;
    this.details = options?.details ?? "";
  }
}

/** The message of any thrown value (narrowing `unknown` happens here, grpc-js error.ts style). */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The Node `code` property (`ENOENT`, `EEXIST`...) of a thrown value, if any. */
export function errorCode(err: unknown): string | undefined {
  if (typeof err === "object" && err !== null && "code" in err) {
    const code = err.code;
    if (typeof code === "string") return code;
  }
  return undefined;
}
