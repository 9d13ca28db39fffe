// macvlan attachments with Debian's host-local through the packaged CNI server, in real network
// namespaces, with the state in the same state dir the standalone plugin uses: ADD/CHECK/DEL, DEL
// through the other path (one truth), 32 concurrent ADDs at bound 4, a hung IPAM timing out with code
// 11 while others succeed, and the server killed with SIGKILL mid-ADD, then DEL/GC through the
// standalone plugin leaving nothing behind.
import { mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Fixture, havePlugins, isAttachmentFile, isRoot } from "./netns-fixture.js";
import { runStandalone, haveServer, ServerProcess } from "./server-fixture.js";

const ready = isRoot && havePlugins && haveServer;

/** Every file under `dir` (relative paths), directories left out. */
function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    let names: string[];
    try {
      names = readdirSync(join(dir, rel));
    } catch {
      return;
    }
    for (const n of names) {
      if (statSync(join(dir, rel, n)).isDirectory()) walk(join(rel, n));
      else out.push(join(rel, n));
    }
  };
  walk("");
  return out.sort();
}

describe.skipIf(!ready)("CNI server: macvlan + host-local attachments (packaged, real netns)", () => {
  let fx: Fixture;
  let master: string;
  let ipamDir: string;
  let stateDir: string;
  let bin: string;
  let socket: string;
  let server: ServerProcess | undefined;

  beforeEach(() => {
    fx = new Fixture();
    master = fx.master("m0");
    ipamDir = join(fx.dir, "ipam");
    stateDir = join(fx.dir, "state");
    bin = join(fx.dir, "bin");
    mkdirSync(bin);
    socket = join(fx.dir, "run", "cni", "server.sock");
    server = undefined;
  });
  afterEach(async () => {
    await server?.stop("SIGKILL");
    fx.cleanup();
  });

  const conf = (ipam: Record<string, unknown> = {}) =>
    JSON.stringify({
      cniVersion: "1.1.0",
      name: "srvnet",
      type: "accelnet",
      master,
      ipam: { type: "host-local", subnet: "10.81.0.0/16", dataDir: ipamDir, ...ipam },
    });
  const env = (command: string, id: string, netns: string) => ({
    PATH: "/usr/bin:/bin",
    ACCELNET_STATE_DIR: stateDir,
    CNI_PATH: `/usr/lib/cni:${bin}`,
    CNI_COMMAND: command,
    CNI_CONTAINERID: id,
    CNI_NETNS: netns,
    CNI_IFNAME: "net1",
  });
  const gcEnv = () => ({ ...env("GC", "", ""), CNI_CONTAINERID: "", CNI_NETNS: "", CNI_IFNAME: "" });
  const nothingLeft = (pods: string[]) => {
    for (const p of pods) expect(fx.linksIn(p), p).toEqual([]);
    expect(fx.reservedIps(ipamDir, "srvnet")).toEqual([]);
    expect(files(stateDir).filter(isAttachmentFile)).toEqual([]);
  };

  it("ADD, CHECK and DEL through the server; a DEL through the standalone plugin of the server's ADD, and back", async () => {
    server = await ServerProcess.start(socket);
    const pod = fx.netns("pod");
    const add = await server.call(env("ADD", "s1", pod), conf());
    expect(add.code, add.stdout).toBe(0);
    const ips = add.out?.["ips"] as { address: string }[];
    expect(ips.map((a) => a.address)).toEqual([expect.stringMatching(/^10\.81\.\d+\.\d+\/16$/)]);
    expect(fx.linksIn(pod).map((l) => [l.ifname, l.linkinfo?.info_kind])).toEqual([["net1", "macvlan"]]);
    expect(files(stateDir).filter((f) => f.startsWith("attachments/"))).toHaveLength(1);
    const prev = JSON.parse(conf()) as Record<string, unknown>;
    const check = await server.call(env("CHECK", "s1", pod), JSON.stringify({ ...prev, prevResult: add.out }));
    expect(check).toMatchObject({ code: 0, stdout: "" });
    // the server's attachment, removed by the standalone plugin: the state dir is the one truth
    const del = await runStandalone(env("DEL", "s1", pod), conf());
    expect(del).toMatchObject({ code: 0, stdout: "" });
    nothingLeft([pod]);

    const add2 = await runStandalone(env("ADD", "s2", pod), conf());
    expect(add2.code, add2.stdout).toBe(0);
    const check2 = await server.call(env("CHECK", "s2", pod), JSON.stringify({ ...prev, prevResult: add2.out }));
    expect(check2).toMatchObject({ code: 0, stdout: "" });
    const del2 = await server.call(env("DEL", "s2", pod), conf());
    expect(del2).toMatchObject({ code: 0, stdout: "" });
    nothingLeft([pod]);
    expect(server.requests().map((l) => [l["command"], l["containerID"], l["ifname"], l["exit"]])).toEqual([
      ["ADD", "s1", "net1", 0],
      ["CHECK", "s1", "net1", 0],
      ["CHECK", "s2", "net1", 0],
      ["DEL", "s2", "net1", 0],
    ]);
  });

  it("32 concurrent ADDs at bound 4 all succeed, never more than 4 in flight; then 32 DELs", async () => {
    server = await ServerProcess.start(socket, ["--max-concurrent", "4"]);
    const pods = Array.from({ length: 32 }, (_, i) => fx.netns(`p${i}`));
    const adds = await Promise.all(pods.map((p, i) => server!.call(env("ADD", `c${i}`, p), conf())));
    expect(adds.filter((a) => a.code !== 0).map((a) => a.stdout)).toEqual([]);
    expect(new Set(fx.reservedIps(ipamDir, "srvnet")).size).toBe(32);
    const inFlight = server.requests().map((l) => Number(l["inFlight"]));
    expect(inFlight).toHaveLength(32);
    expect(Math.max(...inFlight)).toBe(4);
    expect(server.requests().some((l) => Number(l["queuedMs"]) > 0)).toBe(true);
    const dels = await Promise.all(pods.map((p, i) => server!.call(env("DEL", `c${i}`, p), conf())));
    expect(dels.filter((d) => d.code !== 0).map((d) => d.stdout)).toEqual([]);
    nothingLeft(pods);
  }, 300_000);

  it("a request whose IPAM hangs is answered with code 11 at the timeout while others succeed", async () => {
    // ADD hangs 8 s, then fails (DEL succeeds at once); the server's timeout is 2 s
    const script = '#!/bin/sh\nif [ "$CNI_COMMAND" = ADD ]; then sleep 8; exit 1; fi\nexit 0\n';
    writeFileSync(join(bin, "hang-ipam"), script, { mode: 0o755 });
    server = await ServerProcess.start(socket, ["--max-concurrent", "4", "--request-timeout", "2"]);
    const hungPod = fx.netns("hung");
    const pods = Array.from({ length: 4 }, (_, i) => fx.netns(`ok${i}`));
    const hung = server.call(env("ADD", "hung", hungPod), conf({ type: "hang-ipam" }));
    const others = await Promise.all(pods.map((p, i) => server!.call(env("ADD", `ok${i}`, p), conf())));
    expect(others.map((o) => o.code)).toEqual([0, 0, 0, 0]);
    const answer = await hung;
    expect(answer.code).toBe(1);
    expect(answer.out).toMatchObject({
      cniVersion: "1.1.0",
      code: 11,
      msg: "accelnet CNI server: ADD did not finish within 2000 ms; try again",
    });
    expect(answer.ms).toBeLessThan(6000);
    // the timed-out ADD ends on its own (IPAM fails, ADD undoes itself); the runtime's DEL then succeeds
    await expect
      .poll(() => server?.log.find((l) => l.msg === "request finished after its timeout"), { timeout: 20_000 })
      .toMatchObject({ containerID: "hung", timedOut: true });
    expect(fx.linksIn(hungPod)).toEqual([]);
    expect((await server.call(env("DEL", "hung", hungPod), conf({ type: "hang-ipam" }))).code).toBe(0);
    const dels = await Promise.all(pods.map((p, i) => server!.call(env("DEL", `ok${i}`, p), conf())));
    expect(dels.map((d) => d.code)).toEqual([0, 0, 0, 0]);
    expect(server.child.exitCode).toBeNull();
    nothingLeft([hungPod, ...pods]);
  }, 120_000);

  it("SIGKILL of the server in the middle of ADDs: DEL and GC through the standalone plugin restore everything", async () => {
    const pods = Array.from({ length: 8 }, (_, i) => fx.netns(`k${i}`));
    // one full round first, so the directories exist before as after
    server = await ServerProcess.start(socket);
    expect((await server.call(env("ADD", "warm", pods[0] ?? ""), conf())).code).toBe(0);
    expect((await server.call(env("DEL", "warm", pods[0] ?? ""), conf())).code).toBe(0);
    let dropped = 0;
    for (const killAfter of [40, 150, 400]) {
      const calls = pods.map((p, i) =>
        server!.call(env("ADD", `k${i}`, p), conf()).catch((err: unknown) => ({ dropped: String(err) })),
      );
      await new Promise((r) => setTimeout(r, killAfter));
      await server.stop("SIGKILL");
      const outcomes = await Promise.all(calls);
      // a dropped request has no answer at all (the front end turns that into code 11), never half a result
      for (const o of outcomes) if ("dropped" in o) expect(o.dropped).toContain("no answer");
      dropped += outcomes.filter((o) => "dropped" in o).length;
      // what the killed server had started (helper, host-local) ends on its own
      await new Promise((r) => setTimeout(r, 1500));
      for (const [i, p] of pods.entries()) {
        const del = await runStandalone(env("DEL", `k${i}`, p), conf());
        expect(del, `DEL k${i} after a kill at ${killAfter} ms`).toMatchObject({ code: 0, stdout: "" });
      }
      const gc = await runStandalone(
        gcEnv(),
        JSON.stringify({ ...JSON.parse(conf()), "cni.dev/valid-attachments": [] }),
      );
      expect(gc).toMatchObject({ code: 0, stdout: "" });
      nothingLeft(pods);
      server = await ServerProcess.start(socket);
    }
    // the kills did land in the middle of requests
    expect(dropped).toBeGreaterThan(0);
  }, 300_000);
});
