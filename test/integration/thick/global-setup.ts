// vitest globalSetup of the thick run (vitest.thick.config.ts): starts the real dist/accelnet-cni-server
// on a private socket in a root-only dir (under vitest.config.ts's trusted TMPDIR, not /tmp: the server
// refuses a socket dir others can reach), puts a copy of the front end alone in a bin dir (no
// accelnet-standalone next to it: a request the server does not serve fails), and hands both to the
// suites through ACCELNET_TEST_* variables (cni-under-test.ts). Throws, failing the run, unless the
// server answers a request through that front end. Teardown stops the server with SIGTERM and prints
// how many requests it served.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { trustedTmpDir } from "../../../vitest.config.js";
import { FRONT_END, readLog, ServerProcess, servedRequests, thickBuilt, versionThrough } from "./server-process.js";

export default async function setup(): Promise<() => Promise<void>> {
  if (process.getuid?.() !== 0) throw new Error("the thick run needs root (the CNI server serves only root)");
  if (!thickBuilt)
    throw new Error(
      "the thick run needs dist/accelnet, dist/accelnet-standalone and dist/accelnet-cni-server: npm run build",
    );
  const base = mkdtempSync(join(trustedTmpDir(), "acn-thick-")); // 0700, root's
  const bin = join(base, "bin");
  mkdirSync(bin, { mode: 0o755 });
  const frontEnd = join(bin, "accelnet");
  copyFileSync(FRONT_END, frontEnd);
  chmodSync(frontEnd, 0o755);
  const socket = join(base, "cni", "server.sock");
  const logFile = join(base, "server.log");
  const started = Date.now();
  const server = await ServerProcess.start(socket, logFile);
  const probe = versionThrough(frontEnd, socket);
  const served = servedRequests(logFile).filter((l) => l.command === "VERSION");
  if (probe.status !== 0 || served.length === 0) {
    await server.stop("SIGKILL");
    throw new Error(
      `the CNI server at ${socket} does not answer (front end exit ${probe.status}, stdout ${probe.stdout}, ${served.length} requests in its log)`,
    );
  }
  process.stdout.write(
    `thick run: dist/accelnet-cni-server pid ${server.pid} serving ${socket}, ready in ${Date.now() - started} ms\n`,
  );
  process.env["ACCELNET_TEST_CNI_SOCKET"] = socket;
  process.env["ACCELNET_TEST_FRONT_END"] = frontEnd;
  process.env["ACCELNET_TEST_SERVER_LOG"] = logFile;
  process.env["ACCELNET_TEST_SERVER_PID"] = String(server.pid);
  return async () => {
    const status = await server.stop("SIGTERM");
    const requests = servedRequests(logFile);
    process.stdout.write(
      `thick run: the server answered ${requests.length} requests (${requests.filter((r) => r.exit === 0).length} with exit 0), ` +
        `stopped with ${JSON.stringify(status)}\n`,
    );
    // The server starts its children through its spawner (native/client/spawner.ts): a spawner that
    // died, could not start or sent a request back to Node's spawn would have hidden here.
    const spawnerTrouble = readLog(logFile).filter(
      (l) => l.msg.startsWith("spawner ") || l.msg.includes("Node's spawn"),
    );
    rmSync(base, { recursive: true, force: true });
    if (spawnerTrouble.length > 0) throw new Error(`the server's spawner failed: ${JSON.stringify(spawnerTrouble)}`);
    if (status.code !== 0) throw new Error(`the CNI server did not stop cleanly on SIGTERM: ${JSON.stringify(status)}`);
  };
}
