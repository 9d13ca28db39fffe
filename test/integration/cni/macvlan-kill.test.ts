// The packaged accelnet (dist/accelnet, one process per call as a runtime runs it) in real network
// namespaces with Debian's host-local: many concurrent ADDs on one master, and a kill -9 campaign that
// SIGKILLs ADD and DEL at random real moments (a random delay up to a little past a full call's time,
// not only at the fault hook), then runs DEL and GC and compares the host and the pod netns field by
// field with the snapshot from before: links, addresses, routes, host-local's data dir, and every file
// in accelnet's state dir (no state, locks, temporary files or owner markers left).
// Bounded for CI: ACN_KILL_ITERATIONS (default 24) and ACN_KILL_BUDGET_MS (default 150 s) run longer.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { havePlugins, ipJson, isAttachmentFile, isRoot, tree, useMacvlanWorld } from "./netns-fixture.js";
import { ACCELNET, runPackaged, settled } from "./packaged-run.js";

const ready = isRoot && havePlugins && existsSync(ACCELNET);
const ITERATIONS = Number(process.env["ACN_KILL_ITERATIONS"] ?? 24);
const BUDGET_MS = Number(process.env["ACN_KILL_BUDGET_MS"] ?? 150_000);

describe.skipIf(!ready)("packaged accelnet macvlan: concurrency and kill -9 (real netns, host-local)", () => {
  const w = useMacvlanWorld();

  const conf = () => ({
    cniVersion: "1.1.0",
    name: "killnet",
    type: "accelnet",
    master: w.master,
    ipam: { type: "host-local", subnet: "10.79.0.0/16", dataDir: w.ipamDir },
  });
  const env = (command: string, extra: Record<string, string> = {}) => ({
    PATH: process.env["PATH"] ?? "/usr/bin:/bin",
    ACCELNET_STATE_DIR: w.stateDir,
    CNI_PATH: "/usr/lib/cni",
    CNI_COMMAND: command,
    CNI_CONTAINERID: "k1",
    CNI_NETNS: w.pod,
    CNI_IFNAME: "net1",
    ...extra,
  });
  const stdin = () => JSON.stringify(conf());

  it("64 concurrent ADDs on one master all succeed, then 64 concurrent DELs", async () => {
    const n = 64;
    const pods = Array.from({ length: n }, (_, i) => w.fx.netns(`p${i}`));
    const call = (command: string, i: number) =>
      runPackaged(env(command, { CNI_CONTAINERID: `c${i}`, CNI_NETNS: pods[i] as string }), stdin());
    const adds = await Promise.all(pods.map((_, i) => call("ADD", i)));
    expect(adds.filter((a) => a.code !== 0).map((a) => a.out)).toEqual([]);
    expect(new Set(w.fx.reservedIps(w.ipamDir, "killnet")).size).toBe(n);
    for (const p of pods) expect(w.fx.linksIn(p).map((l) => l.ifname)).toEqual(["net1"]);
    const dels = await Promise.all(pods.map((_, i) => call("DEL", i)));
    expect(dels.filter((d) => d.code !== 0).map((d) => d.out)).toEqual([]);
    for (const p of pods) expect(w.fx.linksIn(p)).toEqual([]);
    expect(w.fx.reservedIps(w.ipamDir, "killnet")).toEqual([]);
    expect(Object.keys(tree(w.stateDir)).filter(isAttachmentFile)).toEqual([]);
  }, 600_000);

  it("kill -9 of ADD and DEL at random moments, then DEL and GC: host, netns and dirs as before", async () => {
    const ns = w.pod.split("/").pop() ?? "";
    const snapshot = () => ({
      // The fixture's host links, and any link in the host on our master (a leaked macvlan would be one).
      host: ipJson<Record<string, unknown>[]>("-d", "link", "show")
        .filter((l) => String(l["ifname"]).startsWith(w.fx.prefix) || l["link"] === w.master)
        .map(({ ifname, mtu, flags, address, operstate, linkinfo }) => ({
          ifname,
          mtu,
          flags,
          address,
          operstate,
          linkinfo,
        })),
      podLinks: ipJson<Record<string, unknown>[]>("-d", "-n", ns, "addr", "show").map(
        ({ ifname, mtu, flags, address, addr_info }) => ({ ifname, mtu, flags, address, addr_info }),
      ),
      podRoutes: ipJson("-n", ns, "route", "show"),
      // host-local's files: which exist (content of its own bookkeeping aside), and no reservation.
      ipam: Object.keys(tree(join(w.ipamDir, "killnet"), () => false)),
      state: tree(w.stateDir),
    });

    // A full ADD and DEL first: their durations set the kill window, and host-local's and accelnet's
    // directories exist in the "before" snapshot as they do after any attachment came and went.
    const add0 = await runPackaged(env("ADD"), stdin());
    expect(add0.code, JSON.stringify(add0.out)).toBe(0);
    const del0 = await runPackaged(env("DEL"), stdin());
    expect(del0.code, JSON.stringify(del0.out)).toBe(0);
    const before = snapshot();
    expect(before.ipam.filter((f) => /^[0-9.]+$/.test(f))).toEqual([]);
    expect(Object.keys(before.state).filter(isAttachmentFile)).toEqual([]);

    const started = Date.now();
    const seen = { addKilled: 0, addCompleted: 0, delKilled: 0, iterations: 0 };
    for (let i = 0; i < ITERATIONS && Date.now() - started < BUDGET_MS; i++) {
      const killAdd = Math.floor(Math.random() * add0.ms * 1.2);
      const add = await runPackaged(env("ADD"), stdin(), killAdd);
      await settled(add.token);
      if (add.signal === "SIGKILL") seen.addKilled++;
      else seen.addCompleted++;
      if (Math.random() < 0.5) {
        const del = await runPackaged(env("DEL"), stdin(), Math.floor(Math.random() * del0.ms * 1.2));
        await settled(del.token);
        if (del.signal === "SIGKILL") seen.delKilled++;
      }
      const del = await runPackaged(env("DEL"), stdin());
      expect(del, `iteration ${i}: ADD killed at ${killAdd} ms`).toMatchObject({ code: 0, out: undefined });
      const gc = await runPackaged(
        env("GC", { CNI_CONTAINERID: "", CNI_NETNS: "", CNI_IFNAME: "" }),
        JSON.stringify({ ...conf(), "cni.dev/valid-attachments": [] }),
      );
      expect(gc, `iteration ${i}`).toMatchObject({ code: 0, out: undefined });
      expect(snapshot(), `iteration ${i}: ADD killed at ${killAdd} ms`).toEqual(before);
      seen.iterations++;
    }
    console.log(`kill -9 campaign: ${JSON.stringify(seen)} (ADD ${add0.ms} ms, DEL ${del0.ms} ms)`);
    expect(seen.iterations).toBeGreaterThan(0);
  }, 900_000);
});
