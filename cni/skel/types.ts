// The request a mode receives, and the function table the dispatcher calls (libcni skel's CmdArgs and CNIFuncs).
import type { NativeClient } from "../../native/client/index.js";
import type { ProcessRunner } from "../../native/client/run-process.js";
import type { CniArgs } from "../lib/cni-args.js";
import type { Logger, LogSink } from "../lib/log.js";
import type { NetConf } from "../lib/netconf.js";
import type { Result } from "../lib/result.js";
import type { CniVersion } from "../lib/versions.js";
import type { CniEnv, Env } from "./env.js";

/** What the dispatcher needs from the outside world; tests replace parts of it. */
export interface PluginDeps {
  /** The helper client for this request (default: helper path resolved from env and the state dir, whose bin/ holds an extracted helper). */
  native(stateDir: string, env: Env): NativeClient;
  /** Who starts IPAM plugins (default: Node's spawn; the CNI server's resident spawner). */
  runProcess?: ProcessRunner | undefined;
  /** How long to wait for a busy lock before code 11 (default 10 s). */
  lockTimeoutMs?: number;
  /** This process's own netns (ADD into it is refused); default /proc/self/ns/net. */
  ownNetnsPath?: string;
}

export interface CniRequest extends CniEnv {
  /** The exact stdin bytes as text (handed unchanged to IPAM plugins). */
  stdin: string;
  conf: NetConf;
  cniVersion: CniVersion;
  cniArgs: CniArgs;
  env: Env;
  /** Where state, locks and owner markers live: from env ACCELNET_STATE_DIR only, checked (trusted-paths.ts). */
  stateDir: string;
  log: Logger;
  deps: PluginDeps;
}

export interface CniFuncs {
  add(req: CniRequest): Promise<Result>;
  del(req: CniRequest): Promise<void>;
  check(req: CniRequest): Promise<void>;
  gc(req: CniRequest): Promise<void>;
  status(req: CniRequest): Promise<void>;
}

export interface PluginIo {
  env: Env;
  stdin: string | Uint8Array | AsyncIterable<string | Uint8Array>;
  stdout: LogSink;
  stderr: LogSink;
}
