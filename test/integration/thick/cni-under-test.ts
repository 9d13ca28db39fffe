// Which executable the suites that run the packaged plugin exec, and the environment they add to each
// call, in the two ways accelnet runs on a node:
//   - fallback (default): dist/accelnet, the front end, with ACCELNET_CNI_SOCKET naming a socket that does
//     not exist, so it execs dist/accelnet-standalone next to it even on a machine where a real server runs;
//   - thick (ACCELNET_TEST_THICK=1, vitest.thick.config.ts): a copy of the front end alone in a bin dir
//     of its own, talking to the dist/accelnet-cni-server that thick/global-setup.ts started. No
//     accelnet-standalone lies next to that copy, so a request the server did not serve fails the test
//     instead of quietly passing through the fallback.
import { resolve } from "node:path";

export const THICK = process.env["ACCELNET_TEST_THICK"] === "1";

function fromSetup(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === "")
    throw new Error(`ACCELNET_TEST_THICK=1 but ${name} is unset: run with vitest.thick.config.ts`);
  return v;
}

/** The file a runtime would exec as `accelnet`. */
export const CNI_EXE = THICK ? fromSetup("ACCELNET_TEST_FRONT_END") : resolve("dist/accelnet");

/** A socket path under a directory that does not exist: connect fails with ENOENT, the front end falls back. */
export const NO_SERVER_SOCKET = "/run/accelnet-test-no-server/server.sock";

/** What the suites add to each call's environment. */
export function cniTestEnv(): Record<string, string> {
  return { ACCELNET_CNI_SOCKET: THICK ? fromSetup("ACCELNET_TEST_CNI_SOCKET") : NO_SERVER_SOCKET };
}

/** How the suites name the way they run, in their titles. */
export const CNI_MODE = THICK ? "thick: front end + server" : "front end fallback";
