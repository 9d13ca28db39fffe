// Test-only fault injection: with ACCELNET_TEST_FAULT=<step> in the plugin's environment, ADD throws
// right after the named step succeeded, so tests can prove that rollback (and DEL or GC after it)
// leaves the host as it was after every step. Each mode documents its step names; an unknown name
// simply never fires. Production environments never set the variable.
import { CniCode, CniError } from "./errors.js";

export const FAULT_ENV = "ACCELNET_TEST_FAULT";

/** A fault point: throws when `step` is the configured fault. */
export function faultPoint(env: Readonly<Record<string, string | undefined>>, step: string): void {
  if (env[FAULT_ENV] === step) {
    throw new CniError(CniCode.Internal, `Cannot continue ADD: test fault injected after step "${step}"`);
  }
}
