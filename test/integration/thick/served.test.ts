// The thick run's own check (vitest.thick.config.ts only; the host run leaves it out): the suites of
// this run really went through the server global-setup.ts started, not through the fallback. The front
// end they exec has no accelnet-standalone next to it, and the server logs every request it answered
// with its container ID. Then 64 concurrent ADDs and 64 concurrent DELs on one master through the
// server, each one found in its log.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Fixture, havePlugins, isRoot } from "../cni/netns-fixture.js";
import { runPackaged } from "../cni/packaged-run.js";
import { CNI_EXE, THICK } from "./cni-under-test.js";
import { servedRequests } from "./server-process.js";

const ready = THICK && isRoot && havePlugins;

describe.skipIf(!ready)("thick run: requests are served by the CNI server", () => {
  const logFile = process.env["ACCELNET_TEST_SERVER_LOG"] ?? "";
  const serverPid = Number(process.env["ACCELNET_TEST_SERVER_PID"]);
  let fx: Fixture;
  beforeEach(() => {
    fx = new Fixture();
  });
  afterEach(() => fx.cleanup());

  it("the front end has no standalone to fall back to, and the server is the setup's, alive", () => {
    expect(existsSync(join(dirname(CNI_EXE), "accelnet-standalone"))).toBe(false);
    expect(existsSync(`/proc/${serverPid}`)).toBe(true);
    expect(servedRequests(logFile).length).toBeGreaterThan(0);
  });

  it("64 concurrent ADDs then 64 concurrent DELs on one master: all succeed, each in the server's log", async () => {
    const n = 64;
    const master = fx.master("m0");
    const pods = Array.from({ length: n }, (_, i) => fx.netns(`p${i}`));
    const ipamDir = join(fx.dir, "ipam");
    const stdin = JSON.stringify({
      cniVersion: "1.1.0",
      name: "thicknet",
      type: "accelnet",
      master,
      ipam: { type: "host-local", subnet: "10.77.0.0/16", dataDir: ipamDir },
    });
    const call = (command: string, i: number) =>
      runPackaged(
        {
          PATH: process.env["PATH"] ?? "/usr/bin:/bin",
          ACCELNET_STATE_DIR: join(fx.dir, "state"),
          CNI_PATH: "/usr/lib/cni",
          CNI_COMMAND: command,
          CNI_CONTAINERID: `${fx.prefix}-${i}`,
          CNI_NETNS: pods[i] as string,
          CNI_IFNAME: "net1",
        },
        stdin,
      );
    const adds = await Promise.all(pods.map((_, i) => call("ADD", i)));
    for (const [i, r] of adds.entries()) expect(r.code, `ADD ${i}: ${r.stdout}`).toBe(0);
    const dels = await Promise.all(pods.map((_, i) => call("DEL", i)));
    for (const [i, r] of dels.entries()) expect(r.code, `DEL ${i}: ${r.stdout}`).toBe(0);

    const ours = servedRequests(logFile).filter((l) => l.containerID?.startsWith(`${fx.prefix}-`) === true);
    const seen = (command: string) =>
      new Set(ours.filter((l) => l.command === command && l.exit === 0).map((l) => l.containerID));
    expect(seen("ADD").size).toBe(n);
    expect(seen("DEL").size).toBe(n);
    for (const pod of pods) expect(fx.linksIn(pod)).toEqual([]);
    expect(fx.reservedIps(ipamDir, "thicknet")).toEqual([]);
  }, 240_000);
});
