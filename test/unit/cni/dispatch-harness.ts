// Runs the whole plugin in-process through the dispatcher, as a runtime would run the executable:
// env, stdin, captured stdout and stderr. Shared by the mode unit tests and the netns integration tests.
import { dispatch } from "../../../cni/skel/dispatch.js";
import type { CniFuncs, PluginDeps } from "../../../cni/skel/types.js";

export type TestEnv = Record<string, string | undefined>;

export interface CniRun {
  /** The exit code dispatch() returned. */
  code: number;
  /** stdout parsed (the result or the error), undefined when nothing was printed. */
  out: Record<string, unknown> | undefined;
  stderr: string;
}

export interface CniSetup {
  funcs: CniFuncs;
  deps: PluginDeps;
  /** The environment every call starts from (CNI_*, ACCELNET_STATE_DIR...); a call's own env goes over it. */
  env: TestEnv;
}

export async function runCni(setup: CniSetup, env: TestEnv, stdin: string): Promise<CniRun> {
  let stdout = "";
  let stderr = "";
  const code = await dispatch(
    {
      env: { ...setup.env, ...env },
      stdin,
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
    },
    setup.funcs,
    setup.deps,
    "test",
  );
  return { code, out: stdout === "" ? undefined : (JSON.parse(stdout) as Record<string, unknown>), stderr };
}

/**
 * `cni(command, conf, env?, stdin?)` for a test file: `setup` runs at every call, so it may read what
 * beforeEach prepared. `stdin` replaces JSON.stringify(conf) (malformed input).
 */
export function cniCaller(setup: () => CniSetup) {
  return (command: string, conf: unknown, env: TestEnv = {}, stdin?: string): Promise<CniRun> =>
    runCni(setup(), { CNI_COMMAND: command, ...env }, stdin ?? JSON.stringify(conf));
}
