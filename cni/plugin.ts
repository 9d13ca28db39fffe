// What every accelnet CNI request runs with, in the standalone executable (main.ts) and in the resident
// server (server/main.ts) alike: the mode table and the helper client. One definition, so both paths
// run the same dispatcher with the same modes and dependencies.
import { createNativeClient } from "../native/client/index.js";
import type { ProcessRunner } from "../native/client/run-process.js";
import { processDeps, resolveHelperPath } from "./lib/helper-path.js";
import { defaultRegistry, modeFuncs } from "./modes/index.js";
import type { Env } from "./skel/env.js";
import type { CniFuncs, PluginDeps } from "./skel/types.js";

export const ABOUT = "CNI accelnet plugin (macvlan, SR-IOV, vDPA, vhost-user)";

/**
 * The helper is resolved per request from the request's environment (ACCELNET_HELPER, state dir).
 * `runProcess` starts the helper batches and IPAM plugins: Node's spawn when undefined (the standalone
 * plugin), the resident spawner in the server (native/client/spawner.ts).
 */
export function makePluginDeps(runProcess?: ProcessRunner): PluginDeps {
  return {
    native: (stateDir: string, env: Env) =>
      createNativeClient({
        helperPath: resolveHelperPath(stateDir, { ...processDeps, env }),
        ...(runProcess === undefined ? {} : { runner: runProcess }),
      }),
    runProcess,
  };
}

export const pluginDeps: PluginDeps = makePluginDeps();

export function pluginFuncs(): CniFuncs {
  return modeFuncs(defaultRegistry());
}
