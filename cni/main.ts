// The `accelnet` CNI plugin, standalone: one process per request, the runtime's env and stdin. The
// mode table and deps are plugin.ts's (shared with the resident server). Nothing else happens here.
// No top-level await: the packaged executable is a CommonJS bundle.
import { ABOUT, pluginDeps, pluginFuncs } from "./plugin.js";
import { dispatch } from "./skel/dispatch.js";

void dispatch(
  { env: process.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
  pluginFuncs(),
  pluginDeps,
  ABOUT,
).then((code) => {
  process.exitCode = code;
});
