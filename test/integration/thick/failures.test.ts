// Thick mode's failure cases end to end, through the real front end (dist/accelnet, with
// dist/accelnet-standalone next to it as on a node) and real dist/accelnet-cni-server processes on a
// private socket, in real netns with Debian's host-local:
//   - the server SIGKILLed in the middle of concurrent macvlan ADDs: every front end answers exactly one
//     JSON document (a result, or code 11 for a request the server dropped), then DEL of each attachment
//     (through the fallback: the server is gone) and GC restore the host exactly;
//   - a server restarted on the stale socket serves again;
//   - the server's spawner (native/client/spawner.ts) SIGKILLed mid-request: the server serves on;
//   - a rolling update (server A serving, A gets SIGTERM and drains, server B takes the socket) under a
//     loop of ADD/DEL pairs: not one call fails;
//   - a non-root client gets no service: nobody cannot reach the socket (the front end falls back and the
//     standalone refuses with a CNI error), and nobody holding CAP_DAC_OVERRIDE reaches it but is refused
//     by the server's SO_PEERCRED check (the front end answers code 11; nothing ran).
import { spawn } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NOBODY } from "../attacker.js";
import { Fixture, havePlugins, ipJson, isRoot, tree } from "../cni/netns-fixture.js";
import { FRONT_END, readLog, ServerProcess, servedRequests, thickBuilt } from "./server-process.js";

const ready = isRoot && havePlugins && thickBuilt;
const why = !isRoot ? "needs root" : !havePlugins ? "needs containernetworking-plugins" : "needs npm run build";

interface Call {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed: it must be exactly one JSON document whenever it is not empty. */
  json: Record<string, unknown> | undefined;
}

function run(argv: string[], env: Record<string, string>, stdin: string): Promise<Call> {
  const [file, ...args] = argv;
  return new Promise((done, fail) => {
    const child = spawn(file ?? "", args, { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", fail);
    child.stdin.on("error", () => undefined);
    child.stdin.end(stdin);
    child.on("close", (status, signal) => {
      let json: Record<string, unknown> | undefined;
      if (stdout.trim() !== "") json = JSON.parse(stdout) as Record<string, unknown>; // throws on two docs or half a doc
      done({ status, signal, stdout, stderr, json });
    });
  });
}

describe.skipIf(!ready)(
  `thick mode failures: real front end and server (${ready ? "root" : why})`,
  { timeout: 240_000 },
  () => {
    const fx = new Fixture();
    let base: string;
    let helper: string;
    let master: string;
    let n = 0; // distinct socket, state and IPAM dirs per test

    beforeAll(() => {
      base = mkdtempSync(join(tmpdir(), "acn-thickfail-")); // 0700, root's
      // A helper copy of our own: its path tells the processes of our requests from everyone else's.
      helper = join(base, "accelnet-helper");
      copyFileSync(resolve("dist/native/accelnet-helper"), helper);
      chmodSync(helper, 0o755);
      master = fx.master("m");
    });
    afterAll(() => {
      fx.cleanup();
      rmSync(base, { recursive: true, force: true });
    });

    function world() {
      n += 1;
      const dir = join(base, `w${n}`);
      return {
        socket: join(dir, "cni", "server.sock"),
        log: (name: string) => join(base, `w${n}-${name}.log`),
        stateDir: join(dir, "state"),
        ipamDir: join(dir, "ipam"),
        tag: `${fx.prefix}w${n}`,
      };
    }
    type World = ReturnType<typeof world>;

    const conf = (w: World, extra: Record<string, unknown> = {}) =>
      JSON.stringify({
        cniVersion: "1.1.0",
        name: "thickfail",
        type: "accelnet",
        master,
        ipam: { type: "host-local", subnet: "10.78.0.0/16", dataDir: w.ipamDir },
        ...extra,
      });
    const env = (w: World, command: string, id: string, netns: string): Record<string, string> => ({
      PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
      ACCELNET_STATE_DIR: w.stateDir,
      ACCELNET_HELPER: helper,
      ACCELNET_CNI_SOCKET: w.socket,
      CNI_PATH: "/usr/lib/cni",
      CNI_COMMAND: command,
      CNI_CONTAINERID: `${w.tag}-${id}`,
      CNI_NETNS: netns,
      CNI_IFNAME: "net1",
    });
    const cni = (w: World, command: string, id: string, netns: string, stdin = conf(w)) =>
      run([FRONT_END], env(w, command, id, netns), stdin);

    /** Processes still working for a request of `w` after its server died: our helper copy, or IPAM plugins. */
    function strays(w: World): number[] {
      const pids: number[] = [];
      for (const name of readdirSync("/proc")) {
        if (!/^\d+$/.test(name)) continue;
        try {
          if (readlinkSync(`/proc/${name}/exe`) === helper) pids.push(Number(name));
          else if (readFileSync(`/proc/${name}/environ`, "latin1").includes(`CNI_CONTAINERID=${w.tag}-`))
            pids.push(Number(name));
        } catch {
          // gone, or a kernel thread
        }
      }
      return pids;
    }
    async function settled(w: World): Promise<void> {
      const deadline = Date.now() + 60_000;
      while (strays(w).length > 0) {
        if (Date.now() > deadline)
          throw new Error(`processes of a killed server's requests still run: ${strays(w).join(" ")}`);
        await sleep(20);
      }
    }

    /** What an attachment can leave on the host and in the pods. */
    function snapshot(w: World, pods: string[]) {
      return {
        hostLinks: ipJson<{ ifname: string }[]>("link", "show")
          .map((l) => l.ifname)
          .filter((name) => name.startsWith(fx.prefix))
          .sort(),
        podLinks: pods.map((p) =>
          ipJson<{ ifname: string }[]>("-n", p.split("/").pop() ?? "", "link", "show").map((l) => l.ifname),
        ),
        // host-local's cursor (last_reserved_ip.N) moves with every ADD: its presence counts, not its value.
        ipam: tree(w.ipamDir, (name) => !name.startsWith("last_reserved_ip")),
        state: tree(w.stateDir),
      };
    }

    it(
      "the server SIGKILLed during 16 concurrent ADDs: one JSON document each (a result or code 11); " +
        "DEL through the fallback and GC restore links, reservations, state and locks",
      async () => {
        const w = world();
        const pods = Array.from({ length: 16 }, (_, i) => fx.netns(`k${n}x${i}`));
        // Warm up so the state dir holds what it keeps between attachments (e.g. the extracted helper).
        expect((await cni(w, "ADD", "warm", pods[0] as string)).status).toBe(0);
        expect((await cni(w, "DEL", "warm", pods[0] as string)).status).toBe(0);
        const before = snapshot(w, pods);

        const server = await ServerProcess.start(w.socket, w.log("a"), ["--max-concurrent", "4"]);
        let killedAfter = -1;
        let answered = 0;
        const adds = pods.map((pod, i) =>
          cni(w, "ADD", `c${i}`, pod).then((r) => {
            answered += 1;
            // The first answer means the others are queued or in flight: kill the server now.
            if (killedAfter < 0) {
              killedAfter = answered;
              server.child.kill("SIGKILL");
            }
            return r;
          }),
        );
        const results = await Promise.all(adds);
        await server.exited;
        await settled(w);

        const outcomes = results.map((r) => (r.status === 0 ? "ok" : r.json?.["code"]));
        for (const [i, r] of results.entries()) {
          expect(r.signal, `ADD c${i}`).toBeNull();
          expect(r.json, `ADD c${i}: ${r.stdout}`).toBeDefined();
          if (r.status === 0) expect(r.json?.["interfaces"], `ADD c${i}: ${r.stdout}`).toBeDefined();
          else
            expect({ status: r.status, code: r.json?.["code"] }, `ADD c${i}: ${r.stdout}`).toEqual({
              status: 1,
              code: 11,
            });
        }
        expect(outcomes).toContain("ok");
        expect(outcomes, "no request was in flight when the server died").toContain(11);
        console.log(
          `thick kill: ADD outcomes ${outcomes.join(" ")}; the server served ${servedRequests(w.log("a")).length} before SIGKILL`,
        );

        // The server is gone and its socket stale: DEL and GC run through the front end's fallback.
        const dels = await Promise.all(pods.map((pod, i) => cni(w, "DEL", `c${i}`, pod)));
        for (const [i, d] of dels.entries()) expect(d.status, `DEL c${i}: ${d.stdout}`).toBe(0);
        const gc = await run(
          [FRONT_END],
          { ...env(w, "GC", "gc", ""), CNI_CONTAINERID: "", CNI_NETNS: "", CNI_IFNAME: "" },
          conf(w, { "cni.dev/valid-attachments": [] }),
        );
        expect(gc.status, `GC: ${gc.stdout}`).toBe(0);
        expect(snapshot(w, pods)).toEqual(before);
      },
    );

    /** Children of `ppid` whose command line contains `word`. */
    function childrenOf(ppid: number, word = ""): number[] {
      const pids: number[] = [];
      for (const name of readdirSync("/proc")) {
        if (!/^\d+$/.test(name)) continue;
        try {
          const stat = readFileSync(`/proc/${name}/stat`, "utf8");
          const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
          if (parent === ppid && readFileSync(`/proc/${name}/cmdline`, "latin1").includes(word))
            pids.push(Number(name));
        } catch {
          // gone
        }
      }
      return pids;
    }

    it("the server's spawner SIGKILLed while it runs a request: the server lives on, starts a new one, and the next ADDs and DELs succeed", async () => {
      const w = world();
      const pods = Array.from({ length: 4 }, (_, i) => fx.netns(`s${n}x${i}`));
      const server = await ServerProcess.start(w.socket, w.log("a"));
      try {
        const [first] = childrenOf(server.pid, "spawner");
        expect(first, "the server runs a spawner").toBeDefined();
        const adds = pods.map((pod, i) => cni(w, "ADD", `s${i}`, pod));
        // mid-request: once the spawner has started a helper or an IPAM plugin for one of them
        // (A helper batch runs in a fork of the spawner for a few ms: the child seen is not looked up again.)
        const deadline = Date.now() + 20_000;
        let running = childrenOf(first as number);
        while (running.length === 0 && Date.now() < deadline) {
          await sleep(1);
          running = childrenOf(first as number);
        }
        expect(running.length, "the spawner ran a child").toBeGreaterThan(0);
        process.kill(first as number, "SIGKILL");
        const results = await Promise.all(adds);
        for (const [i, r] of results.entries()) {
          // a result, or a CNI error for the request whose child died with the spawner
          expect(r.json, `ADD s${i}: ${r.stdout}`).toBeDefined();
          if (r.status !== 0) expect(r.json?.["code"], `ADD s${i}: ${r.stdout}`).toBeTypeOf("number");
        }
        expect(server.running).toBe(true);
        expect(readLog(w.log("a")).some((l) => l.msg === "spawner died")).toBe(true);
        for (const [i, pod] of pods.entries()) {
          const del = await cni(w, "DEL", `s${i}`, pod);
          expect(del.status, `DEL s${i}: ${del.stdout}`).toBe(0);
        }
        for (const [i, pod] of pods.entries()) {
          const add = await cni(w, "ADD", `t${i}`, pod);
          expect(add.status, `ADD t${i}: ${add.stdout}`).toBe(0);
          const del = await cni(w, "DEL", `t${i}`, pod);
          expect(del.status, `DEL t${i}: ${del.stdout}`).toBe(0);
        }
        const [second] = childrenOf(server.pid, "spawner");
        expect(second, "a new spawner runs").toBeDefined();
        expect(second).not.toBe(first);
        const served = servedRequests(w.log("a")).filter((l) => l.containerID?.startsWith(`${w.tag}-t`));
        expect(served.map((l) => l.exit)).toEqual(Array(8).fill(0));
      } finally {
        await server.stop();
      }
    });

    it("a server restarted on the stale socket of a killed one serves the next ADD and DEL", async () => {
      const w = world();
      const pod = fx.netns(`r${n}`);
      const a = await ServerProcess.start(w.socket, w.log("a"));
      await a.stop("SIGKILL");
      const b = await ServerProcess.start(w.socket, w.log("b"));
      try {
        const add = await cni(w, "ADD", "r1", pod);
        expect(add.status, add.stdout).toBe(0);
        const del = await cni(w, "DEL", "r1", pod);
        expect(del.status, del.stdout).toBe(0);
        const served = servedRequests(w.log("b")).map((l) => `${l.command} ${l.containerID} ${l.exit}`);
        expect(served).toEqual([`ADD ${w.tag}-r1 0`, `DEL ${w.tag}-r1 0`]);
      } finally {
        await b.stop();
      }
    });

    it("rolling update: A serving, A gets SIGTERM and drains, B takes the socket; a loop of ADD/DEL pairs never fails", async () => {
      const w = world();
      const loops = 2;
      const pods = Array.from({ length: loops }, (_, i) => fx.netns(`u${n}x${i}`));
      const a = await ServerProcess.start(w.socket, w.log("a"));
      let b: ServerProcess | undefined;
      let stop = false;
      const failures: string[] = [];
      let pairs = 0;
      const loop = async (i: number) => {
        for (let k = 0; !stop; k++) {
          for (const command of ["ADD", "DEL"]) {
            const r = await cni(w, command, `l${i}-${k}`, pods[i] as string);
            if (r.status !== 0) failures.push(`${command} l${i}-${k}: ${r.status} ${r.stdout} ${r.stderr}`);
          }
          pairs += 1;
        }
      };
      const running = Array.from({ length: loops }, (_, i) => loop(i));
      const servedBy = (s: ServerProcess) => servedRequests(s.logFile).length;
      const waitFor = async (what: string, cond: () => boolean) => {
        const deadline = Date.now() + 120_000;
        while (!cond()) {
          if (Date.now() > deadline || failures.length > 0)
            throw new Error(`${what}; failures: ${failures.join("; ")}`);
          await sleep(20);
        }
      };
      try {
        await waitFor("A served no 6 requests", () => servedBy(a) >= 6);
        const aStopped = a.stop("SIGTERM");
        await waitFor("A did not unlink its socket", () =>
          readLog(a.logFile).some((l) => l.msg.startsWith("shutting down")),
        );
        b = await ServerProcess.start(w.socket, w.log("b"));
        const bServer = b;
        await waitFor("B served no 6 requests", () => servedBy(bServer) >= 6);
        expect(await aStopped).toEqual({ code: 0, signal: null });
      } finally {
        stop = true;
        await Promise.all(running);
        await b?.stop();
      }
      console.log(`thick rolling update: ${pairs} ADD/DEL pairs; A served ${servedBy(a)}, B ${b ? servedBy(b) : 0}`);
      expect(failures).toEqual([]);
      expect(servedRequests(a.logFile).every((l) => l.exit === 0)).toBe(true);
    });

    describe("a non-root client gets no service", () => {
      let w: World;
      let server: ServerProcess;
      let pod: string;
      beforeAll(async () => {
        w = world();
        pod = fx.netns(`n${n}`);
        server = await ServerProcess.start(w.socket, w.log("a"));
      });
      afterAll(() => server.stop());

      const asNobody = (caps: string[], command: string, id: string) =>
        run(
          ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", ...caps, "--", FRONT_END],
          env(w, command, id, pod),
          conf(w),
        );

      it("nobody cannot reach the socket: the front end falls back, the standalone answers a CNI error, nothing is served", async () => {
        const r = await asNobody([], "ADD", "nobody1");
        expect(r.signal).toBeNull();
        expect(r.status).not.toBe(0);
        expect(r.json?.["code"], r.stdout).toEqual(expect.any(Number));
        expect(r.json?.["msg"], r.stdout).toEqual(expect.any(String));
        expect(servedRequests(w.log("a"))).toEqual([]);
        expect(fx.linksIn(pod)).toEqual([]);
      });

      it("nobody with CAP_DAC_OVERRIDE reaches it: the server's SO_PEERCRED check refuses, the front end answers code 11", async () => {
        const caps = ["--inh-caps=+dac_override", "--ambient-caps=+dac_override"];
        const r = await asNobody(caps, "ADD", "nobody2");
        expect(r.signal).toBeNull();
        expect({ status: r.status, code: r.json?.["code"] }, r.stdout).toEqual({ status: 1, code: 11 });
        const refused = readLog(w.log("a")).filter((l) => l.msg === "connection refused: peer is not root");
        expect(refused.map((l) => l["uid"])).toEqual([Number(NOBODY)]);
        expect(servedRequests(w.log("a"))).toEqual([]);
        expect(fx.linksIn(pod)).toEqual([]);
      });
    });
  },
);
