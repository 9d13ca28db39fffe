// kill -9 of the packaged plugin at real moments on the lab's devices: for SR-IOV kernel mode (igbvf),
// SR-IOV DPDK mode (vfio-pci), vDPA virtio and vDPA vhost (VDUSE), one ADD and one DEL are timed first;
// then ADDs are SIGKILLed at delays spread across the measured ADD (followed by DEL and GC, as a runtime
// does after a failed ADD), and DELs after a completed ADD are SIGKILLed across the measured DEL
// (followed by DEL again and GC). After each, the node is compared field by field with the snapshot
// taken before: host and pod links (name, MAC, MTU, flags, altnames, parent device, addresses), the PF's
// VF settings, PCI and vdpa drivers, vdpa devices and their config space, network namespaces, every
// file under accelnet's state dir (attachment records, owner markers, locks, temporary files),
// host-local's reservations and the device-info files.
// The plugin is run as a runtime runs it: dist/accelnet (the front end; no CNI server here, so it execs
// dist/accelnet-standalone in the same process), one process per call, config on stdin. The pid killed
// is the plugin; its helper dies with it (PR_SET_PDEATHSIG). host-local, which runs in its own process
// group and outlives it, is waited for before the next call, so that call does not race an orphan.
// The delays come from a seeded PRNG; the seed is printed, and ACCELNET_LAB_KILL_SEED on the host
// (passed into the guest by the runner) replays a run. Bounded: a few kills per mode within a budget.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  PF,
  cleanupAll,
  createNetns,
  createVdpa,
  createVfs,
  inLab,
  listVfs,
  onCleanup,
  pciDriver,
  pfNetdev,
  rebindPci,
  rebindVdpa,
  repoRoot,
  sh,
  sysfsRead,
  vdpaDriver,
  vhostVdpaChardev,
  virtioNetdev,
  waitFor,
  type VdpaDevice,
  type Vf,
} from "./prelude.js";

const PLUGIN = path.join(repoRoot, "dist/accelnet");
/** A socket that does not exist: the front end falls back to accelnet-standalone. */
const NO_SERVER_SOCKET = "/run/accelnet-lab-no-server/server.sock";
const TOKEN_VAR = "ACN_LAB_KILL_TOKEN";
const POD_NETNS = "kill-pod";
const CONTAINER = "kill-ctr";
/** Kills per mode, in this order (so a budget cut still leaves both kinds). */
const PLAN = ["ADD", "ADD", "DEL", "ADD", "ADD", "DEL"] as const;
/** Wall time per mode for the kills (measurement aside); an iteration that would not fit is not started. */
const MODE_BUDGET_MS = 100_000;

const SEED = Number(process.env["ACCELNET_LAB_KILL_SEED"] ?? Math.floor(Math.random() * 2 ** 31));

/** mulberry32: a small seeded PRNG, so a failing run's delays can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------- the plugin, as a runtime runs it

interface PluginRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: Record<string, unknown> | undefined;
  stderr: string;
  ms: number;
  token: string;
}

function runPlugin(env: Record<string, string>, stdin: string, killAfterMs?: number): Promise<PluginRun> {
  const token = randomBytes(8).toString("hex");
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(PLUGIN, [], { env: { ...env, [TOKEN_VAR]: token }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    child.once("error", reject);
    child.stdin.on("error", () => undefined); // killed before it read stdin
    child.stdin.end(stdin);
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), killAfterMs);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      let out: Record<string, unknown> | undefined;
      try {
        out = stdout.trim() === "" ? undefined : (JSON.parse(stdout) as Record<string, unknown>);
      } catch {
        out = { unparsable: stdout };
      }
      resolve({ code, signal, out, stderr, ms: Math.round(performance.now() - started), token });
    });
  });
}

/** Pids whose environment carries the run's token (the plugin's children: helper, IPAM). */
function runningWith(token: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, "latin1").includes(`${TOKEN_VAR}=${token}`)) pids.push(Number(name));
    } catch {
      // gone
    }
  }
  return pids;
}

async function settled(token: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (runningWith(token).length > 0) {
    if (Date.now() > deadline) throw new Error(`processes of run ${token} still running after ${timeoutMs} ms`);
    await sleep(50);
  }
}

// ---------------------------------------------------------------- the node, field by field

async function ipJson<T>(...args: string[]): Promise<T> {
  return JSON.parse((await sh(["ip", "-j", ...args])).stdout) as T;
}

type Json = Record<string, unknown>;

/** A link's identity and settings (counters, queue and operational fields aside). */
function linkFields(l: Json) {
  const info = l["linkinfo"] as { info_kind?: string } | undefined;
  return {
    ifname: l["ifname"],
    address: l["address"],
    mtu: l["mtu"],
    flags: l["flags"],
    altnames: l["altnames"] ?? [],
    parent: [l["parentbus"] ?? null, l["parentdev"] ?? null],
    kind: info?.info_kind ?? null,
    vfs: l["vfinfo_list"] ?? null,
  };
}

async function linksOf(netns: string | null) {
  const ns = netns === null ? [] : ["-n", netns];
  const links = await ipJson<Json[]>(...ns, "-d", "link", "show");
  const addrs = await ipJson<{ ifname: string; addr_info: { local: string; prefixlen: number }[] }[]>(
    ...ns,
    "addr",
    "show",
  );
  const addrsOf = (name: unknown) =>
    (addrs.find((a) => a.ifname === name)?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`).sort();
  return Object.fromEntries(links.map((l) => [String(l["ifname"]), { ...linkFields(l), addrs: addrsOf(l["ifname"]) }]));
}

/** Every entry under `dir` (directories end in "/"), with the content of files when `content`. */
function tree(dir: string, content: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    let names: string[];
    try {
      names = readdirSync(path.join(dir, rel)).sort();
    } catch {
      return;
    }
    for (const n of names) {
      const p = path.join(dir, rel, n);
      if (statSync(p).isDirectory()) {
        out[`${rel}${n}/`] = "";
        walk(`${rel}${n}/`);
      } else out[`${rel}${n}`] = content ? readFileSync(p, "utf8") : "";
    }
  };
  walk("");
  return out;
}

async function vdpaDevices() {
  const bus = "/sys/bus/vdpa/devices";
  const names = existsSync(bus) ? readdirSync(bus).sort() : [];
  const devices: Record<string, unknown> = {};
  for (const name of names) {
    const { stdout } = await sh(["vdpa", "-j", "dev", "config", "show", name]);
    devices[name] = {
      driver: vdpaDriver(name),
      chardev: vhostVdpaChardev(name) ?? null,
      netdev: virtioNetdev(name) ?? null,
      config: (JSON.parse(stdout) as { config?: Json }).config?.[name] ?? null,
    };
  }
  return devices;
}

interface Dirs {
  stateDir: string;
  ipamDir: string;
  devinfoDir: string;
}

async function snapshotNode(dirs: Dirs) {
  return {
    hostLinks: await linksOf(null),
    podLinks: await linksOf(POD_NETNS),
    netns: existsSync("/run/netns") ? readdirSync("/run/netns").sort() : [],
    pci: {
      numVfs: sysfsRead(`/sys/bus/pci/devices/${PF}/sriov_numvfs`),
      pfDriver: pciDriver(PF),
      vfs: listVfs().map((vf) => `${vf.addr} ${pciDriver(vf.addr) ?? "none"}`),
    },
    vdpa: await vdpaDevices(),
    state: tree(dirs.stateDir, true),
    ipam: Object.keys(tree(dirs.ipamDir, false)),
    devinfo: Object.keys(tree(dirs.devinfoDir, false)),
  };
}

// ---------------------------------------------------------------- the campaign

interface Mode {
  name: string;
  conf: () => Json;
}

describe.skipIf(!inLab)("lab: kill -9 of the packaged accelnet during ADD and DEL, then DEL and GC", () => {
  let dir = "";
  let dirs: Dirs;
  let vfs: Vf[] = [];
  let vhost: VdpaDevice;
  let virtio: VdpaDevice;

  beforeAll(async () => {
    await sh(["ip", "link", "set", "dev", pfNetdev(), "up"]); // igb takes max_tx_rate only with the PF up
    vfs = await createVfs(2);
    const dpdkVf = vfs[1] as Vf;
    rebindPci(dpdkVf.addr, "vfio-pci");
    onCleanup(`rebind ${dpdkVf.addr} to igbvf`, () => rebindPci(dpdkVf.addr, "igbvf"));
    await waitFor("vfio-pci binding", () => (pciDriver(dpdkVf.addr) === "vfio-pci" ? true : undefined));
    await createNetns(POD_NETNS);
    vhost = await createVdpa("kill-vdpa-vh", "02:00:00:00:58:01", 1450);
    virtio = await createVdpa("kill-vdpa-vi", "02:00:00:00:58:02", 1500);
    rebindVdpa(virtio.name, "virtio_vdpa");
    onCleanup(`rebind ${virtio.name} to vhost_vdpa`, () => rebindVdpa(virtio.name, "vhost_vdpa"));
    await waitFor(`netdev of ${virtio.name}`, () => virtioNetdev(virtio.name));
    dir = mkdtempSync("/run/acn-kill-"); // /run: root 0755 (a state dir under /tmp, 1777, is refused)
    dirs = {
      stateDir: path.join(dir, "state"),
      ipamDir: path.join(dir, "ipam"),
      devinfoDir: path.join(dir, "devinfo"),
    };
    console.log(`kill campaign seed ${SEED} (ACCELNET_LAB_KILL_SEED=${SEED} replays it)`);
  });
  afterAll(cleanupAll);

  const base = (extra: Json): Json => ({
    cniVersion: "1.1.0",
    name: "labkill",
    type: "accelnet",
    // A pool of one address: a reservation left behind fails the next ADD as well as the comparison.
    ipam: {
      type: "host-local",
      ranges: [[{ subnet: "10.58.0.0/24", rangeStart: "10.58.0.2", rangeEnd: "10.58.0.2", gateway: "10.58.0.1" }]],
      routes: [{ dst: "0.0.0.0/0" }],
      dataDir: dirs.ipamDir,
    },
    runtimeConfig: { CNIDeviceInfoFile: path.join(dirs.devinfoDir, "kill.json") },
    ...extra,
  });

  const modes: Mode[] = [
    {
      name: "SR-IOV kernel mode (igbvf)",
      conf: () =>
        base({
          deviceID: (vfs[0] as Vf).addr,
          mac: "02:00:00:5a:00:01",
          vlan: 100,
          vlanQoS: 3,
          spoofchk: "off",
          trust: "on",
          max_tx_rate: 100,
          mtu: 1400,
        }),
    },
    {
      name: "SR-IOV DPDK mode (vfio-pci)",
      conf: () => base({ deviceID: (vfs[1] as Vf).addr, mac: "02:00:00:5a:00:02", vlan: 300, spoofchk: "off" }),
    },
    {
      name: "vDPA virtio",
      conf: () => base({ deviceID: virtio.name, vdpaDriver: "virtio", mac: "02:00:00:00:58:bb", mtu: 1400 }),
    },
    { name: "vDPA vhost", conf: () => base({ deviceID: vhost.name, vdpaDriver: "vhost" }) },
  ];

  const env = (command: string, extra: Record<string, string> = {}): Record<string, string> => ({
    PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
    CNI_COMMAND: command,
    CNI_CONTAINERID: CONTAINER,
    CNI_NETNS: `/run/netns/${POD_NETNS}`,
    CNI_IFNAME: "net1",
    CNI_PATH: "/usr/lib/cni",
    ACCELNET_STATE_DIR: dirs.stateDir,
    ACCELNET_DEVINFO_DIR: dir,
    ACCELNET_CNI_SOCKET: NO_SERVER_SOCKET,
    ...extra,
  });
  const call = (command: "ADD" | "DEL", conf: Json, killAfterMs?: number) =>
    runPlugin(env(command), JSON.stringify(conf), killAfterMs);
  const gc = (conf: Json) =>
    runPlugin(
      env("GC", { CNI_CONTAINERID: "", CNI_NETNS: "", CNI_IFNAME: "" }),
      JSON.stringify({ ...conf, "cni.dev/valid-attachments": [] }),
    );
  const verdict = (r: PluginRun) => ({ code: r.code, signal: r.signal, out: r.out });
  const ok = { code: 0, signal: null };

  test.each(modes.map((m, i) => [m.name, m, i] as const))(
    "%s: ADD or DEL killed at random moments, then DEL and GC, leaves the node as before, field by field",
    async (name, mode, index) => {
      const conf = mode.conf();
      const rng = prng(SEED + index);
      // Timing: the plugin's start-up (VERSION does no work), one ADD, one DEL and one GC. They also make
      // the directories (state, host-local's, device-info) exist in "before" as after any attachment.
      const version = await runPlugin(env("VERSION"), JSON.stringify({ cniVersion: "1.1.0" }));
      expect(version.code, version.stderr).toBe(0);
      const add0 = await call("ADD", conf);
      expect(verdict(add0), add0.stderr).toMatchObject({ code: 0 });
      const del0 = await call("DEL", conf);
      expect(verdict(del0), del0.stderr).toMatchObject({ ...ok, out: undefined });
      const gc0 = await gc(conf);
      expect(verdict(gc0), gc0.stderr).toMatchObject({ ...ok, out: undefined });
      const before = await snapshotNode(dirs);
      // Nothing of an attachment in the state dir (the IPAM version cache is kept across attachments).
      expect(Object.keys(before.state).filter((k) => !k.endsWith("/") && k !== "ipam-versions.json")).toEqual([]);
      expect(before.ipam.filter((f) => /^[0-9.]+$/.test(f.split("/").pop() ?? ""))).toEqual([]);
      expect(before.devinfo.filter((f) => !f.endsWith("/"))).toEqual([]);

      // Kills spread across the call: slot i of n covers [start-up, shortest duration seen] evenly (runs
      // vary under TCG; every ADD or DEL that finished un-killed shortens the window).
      const slots = { ADD: PLAN.filter((k) => k === "ADD").length, DEL: PLAN.filter((k) => k === "DEL").length };
      const shortest = { ADD: add0.ms, DEL: del0.ms };
      const used = { ADD: 0, DEL: 0 };
      const nextDelay = (kind: "ADD" | "DEL") => {
        const lo = Math.round(version.ms * 0.8);
        const hi = Math.max(lo + 1, Math.round(shortest[kind] * 0.9));
        return Math.round(lo + ((hi - lo) * (used[kind]++ + rng())) / slots[kind]);
      };
      const cost = { ADD: add0.ms + del0.ms + gc0.ms, DEL: 2 * add0.ms + del0.ms + gc0.ms };
      const rows: string[] = [];
      const started = Date.now();
      for (const kind of PLAN) {
        if (Date.now() - started + cost[kind] > MODE_BUDGET_MS) {
          rows.push(`${kind} kill not started: budget of ${MODE_BUDGET_MS} ms`);
          continue;
        }
        const delay = nextDelay(kind);
        const what = `${name}, seed ${SEED}: ${kind} killed at ${delay} ms (ADD ${add0.ms} ms, DEL ${del0.ms} ms)`;
        let killed: PluginRun;
        if (kind === "ADD") {
          killed = await call("ADD", conf, delay);
        } else {
          const add = await call("ADD", conf);
          expect(verdict(add), `${what}: the ADD before it; ${add.stderr}`).toMatchObject({ code: 0 });
          shortest.ADD = Math.min(shortest.ADD, add.ms);
          killed = await call("DEL", conf, delay);
        }
        await settled(killed.token);
        if (killed.signal === null) shortest[kind] = Math.min(shortest[kind], killed.ms);
        const del = await call("DEL", conf);
        expect(verdict(del), `${what}: DEL after it; ${del.stderr}`).toEqual({ ...ok, out: undefined });
        const after = await gc(conf);
        expect(verdict(after), `${what}: GC; ${after.stderr}`).toEqual({ ...ok, out: undefined });
        expect(await snapshotNode(dirs), what).toEqual(before);
        rows.push(
          `${kind} ${killed.signal === "SIGKILL" ? `killed at ${delay} ms` : `finished (exit ${killed.code}) before its kill at ${delay} ms`}: DEL ${del.ms} ms, GC ${after.ms} ms, node as before`,
        );
      }
      console.log(
        `kill campaign, ${name} (seed ${SEED}; start-up ${version.ms} ms, ADD ${add0.ms} ms, DEL ${del0.ms} ms, GC ${gc0.ms} ms):\n  ${rows.join("\n  ")}`,
      );
      expect(rows.filter((r) => r.includes("killed at")).length).toBeGreaterThanOrEqual(3);
    },
    360_000,
  );
});
