// The helper-backed BatchRunner for discovery: native/client's NativeClient,
// the only code allowed to spawn the helper.
import { createNativeClient } from "../../native/client/index.js";
import type { BatchRunner } from "./inventory-source.js";

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
