// The `accelnet` CNI plugin: the mode table handed to the dispatcher. Nothing else happens here.
// No top-level await: the packaged executable is a CommonJS bundle.
import { createNativeClient } from "../native/client/index.js";
import { processDeps, resolveHelperPath } from "./lib/helper-path.js";
import { defaultRegistry, modeFuncs } from "./modes/index.js";
import { dispatch } from "./skel/dispatch.js";
import type { Env } from "./skel/env.js";

const about = "CNI accelnet plugin (macvlan, SR-IOV, vDPA, vhost-user)";

const deps = {
  native: (stateDir: string, env: Env) =>
    createNativeClient({ helperPath: resolveHelperPath(stateDir, { ...processDeps, env }) }),
};

void dispatch(
  { env: process.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
  modeFuncs(defaultRegistry()),
  deps,
  about,
).then((code) => {
  process.exitCode = code;
});
