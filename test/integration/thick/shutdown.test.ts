// The server's shutdown order, in process and deterministic: clients that connected just before SIGTERM
// unlinked the socket wait in the listen backlog, not yet accepted; they are still served, not reset.
// (A rolling update hit this: the front end answered code 11 to a DEL that never reached the server.)
// Real pieces: the server class with the plugin's own dispatcher, the helper's SO_PEERCRED check, a Unix
// socket in a root-only directory, clients speaking the contract (test/tools/cni-server-client.mjs).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Spawner } from "../../../native/client/spawner.js";
import { ABOUT, pluginDeps, pluginFuncs } from "../../../cni/plugin.js";
import { createLogger } from "../../../cni/server/log.js";
import { CniServer } from "../../../cni/server/server.js";
import { Slots } from "../../../cni/server/slots.js";
import { exchange, parseResponse, requestFrame } from "../../tools/cni-server-client.mjs";
import { isRoot } from "../cni/netns-fixture.js";
import { thickBuilt } from "./server-process.js";

// The server's peer check as the packaged server makes it: through its resident spawner
// (native/client/spawner.ts), here the ASan/UBSan build of the helper. (Through the old per-connection
// `peer-cred` exec, which hands the socket to the child as its fd 3, the ASan helper dropped connections.)
const HELPER = join(process.cwd(), "dist/native/accelnet-helper-asan");
const ready = isRoot && thickBuilt;

describe.skipIf(!ready)(`CNI server shutdown (${ready ? "root" : "needs root and npm run build"})`, () => {
  let dir = "";
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("serves every connection queued on the listener when shutdown starts, then stops", async () => {
    dir = mkdtempSync(join(tmpdir(), "acn-shutdown-"));
    const troubles: string[] = [];
    const spawner = new Spawner({ helperPath: HELPER, log: (m) => troubles.push(m) });
    spawner.start();
    const socketPath = join(dir, "cni", "server.sock");
    const slots = new Slots(4, 64);
    const server = new CniServer(
      {
        plugin: { funcs: pluginFuncs(), deps: pluginDeps, about: ABOUT },
        slots,
        log: createLogger({ level: "error" }),
        requestTimeoutMs: 30_000,
        frameTimeoutMs: 10_000,
        peerCred: (socket) => spawner.peerCred(socket),
      },
      socketPath,
    );
    await server.start();
    const version = requestFrame({ CNI_COMMAND: "VERSION" }, '{"cniVersion":"1.1.0"}');
    // connect(2) runs inside exchange(), synchronously; the server accepts only when the event loop
    // turns, so all eight are in the backlog when shutdown() unlinks the socket in this same tick.
    const replies = Array.from({ length: 8 }, () => exchange(socketPath, version));
    const drained = server.shutdown(20_000, () => slots.idle());
    const answers = (await Promise.all(replies)).map((b: Buffer) => parseResponse(b));
    for (const a of answers) {
      expect(a.status).toBe(0);
      const about = JSON.parse(a.stdout) as { cniVersion?: string; supportedVersions?: string[] };
      expect(about.cniVersion).toBe("1.1.0");
      expect(about.supportedVersions).toContain("1.1.0");
    }
    expect(await drained).toBe(true);
    await expect(exchange(socketPath, version)).rejects.toMatchObject({ code: "ENOENT" });
    spawner.close();
    expect(troubles).toEqual([]);
  });
});
