import { defineConfig } from "vitest/config";
import base from "./vitest.config.js";

// The thick run (test/ci.sh runs it after the host suites): the suites that exec the packaged plugin, once
// more, through the C front end and a real dist/accelnet-cni-server that the globalSetup starts on a
// private socket (test/integration/thick/cni-under-test.ts). Left out, and why:
//   - test/integration/cni/macvlan-kill.test.ts: its kill -9 campaign kills the process the runtime
//     runs and waits for that process's descendants; in thick mode the request lives on in the server,
//     which it cannot wait for. The thick counterpart (the server killed mid-ADD, then DEL and GC) is
//     test/integration/thick/failures.test.ts, which the host run runs; served.test.ts repeats its 64
//     concurrent ADDs and DELs through the server.
//   - test/integration/cni/attacks.test.ts: it attacks the standalone's own files (helper extraction,
//     state dir swaps) as root runs it; the server's root-only socket is tested in failures.test.ts.
// (Not mergeConfig: it would append these lists to the host run's include and exclude.)
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ["test/differential/macvlan.test.ts", "test/fuzz/fuzz.test.ts", "test/integration/thick/served.test.ts"],
    exclude: ["node_modules/**", "dist/**"],
    globalSetup: ["test/integration/thick/global-setup.ts"],
    env: { ...base.test?.env, ACCELNET_TEST_THICK: "1" },
  },
});
