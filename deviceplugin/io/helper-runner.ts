// The helper-backed pieces of discovery: the BatchRunner (native/client's
// NativeClient) and the uevent hint source (native/client's watchUevents), the
// only code allowed to spawn the helper.
import { createNativeClient, watchUevents } from "../../native/client/index.js";
import type { BatchRunner } from "./inventory-source.js";
import { UeventHintSource } from "./uevent-hints.js";

export interface HelperRunnerOptions {
  readonly helperPath: string;
  readonly sysfsRoot: string;
  readonly devRoot: string;
}

export function createHelperRunner(o: HelperRunnerOptions): BatchRunner {
  const client = createNativeClient({
    helperPath: o.helperPath,
    sysfsRoot: o.sysfsRoot,
    devRoot: o.devRoot,
    timeoutMs: 10_000,
  });
  return { run: (cmds) => client.run(cmds) };
}

/** Kernel uevents from the helper's uevent-monitor as rescan hints. */
export function ueventHintSource(helperPath: string): UeventHintSource {
  return new UeventHintSource({ startMonitor: (onMessage) => watchUevents({ helperPath }, onMessage) });
}
