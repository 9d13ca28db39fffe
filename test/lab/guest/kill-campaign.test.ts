// A kill -9 campaign at real moments (not only the fault hook) on the lab's SR-IOV and vDPA devices,
// through the packaged plugin (dist/accelnet, one process per call, real host-local): per mode, one
// uninterrupted ADD and DEL measure the call, then each iteration starts an ADD and SIGKILLs its whole
// process group (plugin, helper, IPAM) after a delay drawn uniformly over 0..that ADD's duration, so
// kills land in every phase, inside helper execs too; half the time it then starts a DEL and kills that
// as well; then DEL (retried as a runtime retries, at most 3 times) and GC, and the node is compared
// field by field with the snapshot from before the campaign: links (name, MAC, MTU, altnames, admin
// state, addresses) in the host and the pod, the PF's VF settings, PCI and vdpa driver bindings, vdpa
// config, /run/netns, every file in accelnet's state dir (no records, owner markers, locks or *.tmp),
// host-local's reservations and the device-info files.
// Seeded: ACCELNET_LAB_KILL_SEED (passed into the guest by run.mjs) replays a run's draws (each delay
// as a fraction of the measured call, and whether a DEL is killed); without it a fresh seed is drawn
// and printed. A failure names the seed, mode, iteration and delays.
import { spawnSync } from "node:child_process";
import { randomInt } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ipJson } from "./cni.js";
import { requireCommands } from "./helper.js";
import { runPlugin, settled, type KillableRun } from "./kill-run.js";
import {
  cleanupAll,
  cniPath,
  createNetns,
  createVdpa,
  createVfs,
  helperPath,
  inLab,
  listVfs,
  onCleanup,
  PF,
  pciDriver,
  pfNetdev,
  rebindPci,
  rebindVdpa,
  sh,
  sysfsWrite,
  vdpaDriver,
  virtioNetdev,
  waitFor,
  type VdpaDevice,
  type Vf,
} from "./prelude.js";

/** Iterations per mode, and the most wall time a mode's iterations may take (TCG is slow; CI runs this). */
const ITERATIONS = 12;
const MODE_BUDGET_MS = 70_000;
const DEL_ATTEMPTS = 3;

const seedEnv = process.env.ACCELNET_LAB_KILL_SEED;
const seed = seedEnv !== undefined && seedEnv !== "" ? Number(seedEnv) : randomInt(0, 2 ** 32);

/** mulberry32: a small seeded generator; one per mode, so a mode's draws do not depend on the others'. */
function generator(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

interface AddrInfo {
  local: string;
  prefixlen: number;
}
interface IpAddrLink {
  ifname: string;
  address: string;
  mtu: number;
  flags: string[];
  altnames?: string[];
  addr_info?: AddrInfo[];
}

/** Links of the host (no netns) or a named netns: name → MAC, MTU, admin state, altnames, addresses. */
async function links(prefix: string, netns?: string): Promise<Record<string, string>> {
  const args = netns === undefined ? ["addr", "show"] : ["-n", netns, "addr", "show"];
  const out: Record<string, string> = {};
  for (const l of await ipJson<IpAddrLink[]>(...args)) {
    out[`${prefix} ${l.ifname}`] = JSON.stringify({
      mac: l.address,
      mtu: l.mtu,
      up: l.flags.includes("UP"),
      altnames: [...(l.altnames ?? [])].sort(),
      addrs: (l.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`).sort(),
    });
  }
  return out;
}

/** Every file under `dir` (relative path → content, or "" when `withContent` says no); directories end in "/". */
function tree(prefix: string, dir: string, withContent: (name: string) => boolean): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    if (!existsSync(path.join(dir, rel))) return;
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const file = path.join(dir, rel, name);
      if (statSync(file).isDirectory()) {
        out[`${prefix} ${rel}${name}/`] = "";
        walk(`${rel}${name}/`);
      } else out[`${prefix} ${rel}${name}`] = withContent(name) ? readFileSync(file, "utf8") : "";
    }
  };
  walk("");
  return out;
}

interface VfInfo {
  vf: number;
  [key: string]: unknown;
}

/** "before → after" for every field that differs. */
function diff(before: Record<string, string>, after: Record<string, string>): string[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return keys
    .filter((k) => before[k] !== after[k])
    .map((k) => `${k}: ${before[k] ?? "(absent)"} → ${after[k] ?? "(absent)"}`);
}

describe.skipIf(!inLab)("lab: kill -9 campaign on SR-IOV and vDPA (dist/accelnet, host-local)", () => {
  let pf = "";
  let vfs: Vf[] = [];
  let vhost: VdpaDevice;
  let virtio: VdpaDevice;
  let dir = "";
  const pod = "kill-pod";

  beforeAll(async () => {
    await requireCommands("netns-create", "netns-delete", "link-move", "vf-set", "vdpa-show", "vhost-vdpa-info");
    process.stdout.write(`kill campaign seed ${seed} (replay: ACCELNET_LAB_KILL_SEED=${seed})\n`);
    pf = pfNetdev();
    // No IPv6 on the PF: its link-local address, and a SLAAC address from the router advertisements of
    // QEMU's user network, would appear some time after it came up, in the middle of the comparisons.
    const disableIpv6 = `/proc/sys/net/ipv6/conf/${pf}/disable_ipv6`;
    sysfsWrite(disableIpv6, "1");
    onCleanup(`IPv6 back on ${pf}`, () => sysfsWrite(disableIpv6, "0"));
    await sh(["ip", "link", "set", "dev", pf, "up"]); // igb takes max_tx_rate only with the PF up
    vfs = await createVfs(2);
    const dpdkVf = vfs[1] as Vf;
    rebindPci(dpdkVf.addr, "vfio-pci");
    onCleanup(`rebind ${dpdkVf.addr} to igbvf`, () => rebindPci(dpdkVf.addr, "igbvf"));
    await waitFor("vfio-pci binding", () => (pciDriver(dpdkVf.addr) === "vfio-pci" ? true : undefined));
    await createNetns(pod);
    vhost = await createVdpa("kill-vdpa-vh", "02:00:00:00:58:01", 1450);
    virtio = await createVdpa("kill-vdpa-vi", "02:00:00:00:58:02", 1500);
    rebindVdpa(virtio.name, "virtio_vdpa");
    onCleanup(`rebind ${virtio.name} to vhost_vdpa`, () => rebindVdpa(virtio.name, "vhost_vdpa"));
    await waitFor(`netdev of ${virtio.name}`, () => virtioNetdev(virtio.name));
    dir = mkdtempSync("/run/acn-kill-"); // /run: root 0755 (accelnet refuses a state dir under /tmp, 1777)
  }, 300_000);
  afterAll(cleanupAll, 120_000);

  const stateDir = () => path.join(dir, "state");
  const ipamDir = () => path.join(dir, "ipam");
  const devinfoDir = () => path.join(dir, "devinfo");

  /** The node as an admin reads it, without accelnet: one string per field. */
  async function snapshot(): Promise<Record<string, string>> {
    const [pfLink] = await ipJson<{ vfinfo_list?: VfInfo[] }[]>("-d", "link", "show", "dev", pf);
    const vfFields = Object.fromEntries((pfLink?.vfinfo_list ?? []).map((v) => [`vf ${v.vf}`, JSON.stringify(v)]));
    const drivers = Object.fromEntries(
      [PF, ...listVfs().map((v) => v.addr)].map((addr) => [`pci ${addr} driver`, String(pciDriver(addr))]),
    );
    const vdpa: Record<string, string> = {};
    for (const dev of [vhost, virtio]) {
      const config = JSON.parse((await sh(["vdpa", "-j", "dev", "config", "show", dev.name])).stdout) as {
        config: Record<string, { mac?: string; mtu?: number }>;
      };
      const c = config.config[dev.name];
      vdpa[`vdpa ${dev.name}`] = JSON.stringify({ driver: vdpaDriver(dev.name), mac: c?.mac, mtu: c?.mtu });
    }
    return {
      ...(await links("host link")),
      ...(await links("pod link", pod)),
      ...vfFields,
      ...drivers,
      ...vdpa,
      "/run/netns": readdirSync("/run/netns").sort().join(" "),
      ...tree("state", stateDir(), () => true),
      // host-local's files by name (a reservation is a file named by its address); its lock and
      // last_reserved_ip files change content with every ADD.
      ...tree("ipam", ipamDir(), () => false),
      ...tree("devinfo", devinfoDir(), () => true),
    };
  }

  interface Mode {
    name: string;
    containerID: string;
    conf: () => Record<string, unknown>;
  }

  const ipam = () => ({
    type: "host-local",
    // A pool of one address: a reservation that is not released fails the next ADD (and shows in the diff).
    ranges: [[{ subnet: "10.58.0.0/24", rangeStart: "10.58.0.2", rangeEnd: "10.58.0.2", gateway: "10.58.0.1" }]],
    routes: [{ dst: "0.0.0.0/0" }],
    dataDir: ipamDir(),
  });
  const base = (containerID: string, extra: Record<string, unknown>) => ({
    cniVersion: "1.1.0",
    name: "labkill",
    type: "accelnet",
    ipam: ipam(),
    runtimeConfig: { CNIDeviceInfoFile: path.join(devinfoDir(), `${containerID}.json`) },
    ...extra,
  });
  const modes: Mode[] = [
    {
      name: "SR-IOV kernel (igbvf netdev into the pod through a temporary netns)",
      containerID: "kill-sriov-kernel",
      conf() {
        return base(this.containerID, {
          deviceID: (vfs[0] as Vf).addr,
          mac: "02:00:00:5b:00:01",
          vlan: 100,
          vlanQoS: 3,
          spoofchk: "off",
          trust: "on",
          max_tx_rate: 100,
          mtu: 1400,
        });
      },
    },
    {
      name: "SR-IOV DPDK (vfio-pci VF: VF settings and IPAM only)",
      containerID: "kill-sriov-dpdk",
      conf() {
        return base(this.containerID, { deviceID: (vfs[1] as Vf).addr, vlan: 300, spoofchk: "off" });
      },
    },
    {
      name: "vDPA virtio (virtio_vdpa netdev into the pod through a temporary netns)",
      containerID: "kill-vdpa-virtio",
      conf() {
        return base(this.containerID, { deviceID: virtio.name, vdpaDriver: "virtio", mtu: 1400 });
      },
    },
    {
      name: "vDPA vhost (vhost_vdpa char device)",
      containerID: "kill-vdpa-vhost",
      conf() {
        return base(this.containerID, { deviceID: vhost.name, vdpaDriver: "vhost" });
      },
    },
  ];

  const env = (command: string, mode: Mode): Record<string, string> => ({
    PATH: "/usr/sbin:/usr/bin",
    CNI_COMMAND: command,
    CNI_CONTAINERID: mode.containerID,
    CNI_NETNS: `/run/netns/${pod}`,
    CNI_IFNAME: "net1",
    CNI_PATH: cniPath,
    ACCELNET_STATE_DIR: stateDir(),
    ACCELNET_DEVINFO_DIR: dir,
    ACCELNET_HELPER: helperPath,
    // No CNI server in this guest: the front end execs accelnet-standalone in place (its pid, its group).
    ACCELNET_CNI_SOCKET: "/run/accelnet-lab-no-server/server.sock",
  });
  const gcEnv = (mode: Mode) => ({ ...env("GC", mode), CNI_CONTAINERID: "", CNI_NETNS: "", CNI_IFNAME: "" });
  const outcome = (r: KillableRun) => (r.signal === "SIGKILL" ? "killed" : `exit ${r.code}`);
  const failed = (r: KillableRun) => `${outcome(r)} ${JSON.stringify(r.out)} ${r.stderr.slice(-2000)}`;

  test("the comparison can fail: an empty /run/netns file, a *.tmp in the state dir and a VF netdev's MTU show in the diff", async () => {
    const before = await snapshot();
    const netdev = (vfs[0] as Vf).netdev;
    const [link] = await ipJson<{ mtu: number }[]>("link", "show", "dev", netdev);
    const leftNetns = "/run/netns/acn-selfcheck";
    const leftTmp = path.join(stateDir(), "selfcheck.tmp");
    mkdirSync(stateDir(), { recursive: true, mode: 0o700 });
    writeFileSync(leftNetns, "", { mode: 0 });
    writeFileSync(leftTmp, "x");
    await sh(["ip", "link", "set", "dev", netdev, "mtu", String((link?.mtu ?? 1500) - 100)]);
    try {
      const keys = diff(before, await snapshot()).map((d) => d.slice(0, d.indexOf(":")));
      expect(keys).toEqual(["/run/netns", `host link ${netdev}`, "state selfcheck.tmp"]);
    } finally {
      rmSync(leftNetns, { force: true });
      rmSync(leftTmp, { force: true });
      await sh(["ip", "link", "set", "dev", netdev, "mtu", String(link?.mtu ?? 1500)]);
    }
    expect(diff(before, await snapshot())).toEqual([]);
  });

  test("empty lock temporary files (a kill between their open and their write): GC removes one whose writer, named by the pid in its name, is dead, and keeps one of a live writer", async () => {
    const mode = modes[0] as Mode;
    const locks = path.join(stateDir(), "locks");
    mkdirSync(locks, { recursive: true, mode: 0o700 });
    const deadPid = spawnSync("true").pid;
    const dead = path.join(locks, `attachment@selfcheck@net1.lock.0123456789abcdef.${deadPid}.tmp`);
    const live = path.join(locks, `attachment@selfcheck@net1.lock.fedcba9876543210.${process.pid}.tmp`);
    for (const file of [dead, live]) writeFileSync(file, "", { mode: 0o600 });
    try {
      const gc = await runPlugin(gcEnv(mode), JSON.stringify({ ...mode.conf(), "cni.dev/valid-attachments": [] }));
      expect(gc.code, failed(gc)).toBe(0);
      expect({ dead: existsSync(dead), live: existsSync(live) }).toEqual({ dead: false, live: true });
    } finally {
      for (const file of [dead, live]) rmSync(file, { force: true });
    }
  });

  const timings: string[] = [];

  test.each(modes.map((m, i) => [m.name, i] as const))(
    "%s: ADD and DEL killed at random moments, then DEL and GC, leave the node as before",
    async (_name, index) => {
      const mode = modes[index] as Mode;
      const stdin = () => JSON.stringify(mode.conf());
      const gcStdin = () => JSON.stringify({ ...mode.conf(), "cni.dev/valid-attachments": [] });
      const random = generator(seed + index * 0x9e3779b9);

      // One uninterrupted ADD and DEL: their durations are the kill windows, and host-local's and
      // accelnet's directories exist in the "before" snapshot as after any attachment came and went.
      const add0 = await runPlugin(env("ADD", mode), stdin());
      expect(add0.code, failed(add0)).toBe(0);
      const del0 = await runPlugin(env("DEL", mode), stdin());
      expect(del0.code, failed(del0)).toBe(0);
      const before = await snapshot();

      const started = performance.now();
      const seen = { iterations: 0, addKilled: 0, delKilled: 0, delRetried: 0, delLeftForGc: 0 };
      for (let i = 0; i < ITERATIONS && performance.now() - started < MODE_BUDGET_MS; i++) {
        const addKillMs = Math.floor(random() * add0.ms);
        const killDel = random() < 0.5;
        const delKillMs = Math.floor(random() * del0.ms);
        const what = [
          `seed ${seed} (ACCELNET_LAB_KILL_SEED=${seed}), ${mode.name}, iteration ${i}:`,
          `ADD killed at ${addKillMs} of ${add0.ms} ms`,
          killDel ? `, DEL killed at ${delKillMs} of ${del0.ms} ms` : "",
        ].join(" ");
        const add = await runPlugin(env("ADD", mode), stdin(), addKillMs);
        await settled(add.token);
        if (add.signal === "SIGKILL") seen.addKilled++;
        else expect(add.code, `${what}: ADD that was not killed: ${failed(add)}`).toBe(0);
        let delRun = "";
        if (killDel) {
          const del = await runPlugin(env("DEL", mode), stdin(), delKillMs);
          await settled(del.token);
          delRun = `, killed DEL ${outcome(del)}`;
          if (del.signal === "SIGKILL") seen.delKilled++;
        }
        let del: KillableRun | undefined;
        const delFailures: string[] = [];
        for (let attempt = 0; attempt < DEL_ATTEMPTS; attempt++) {
          del = await runPlugin(env("DEL", mode), stdin());
          if (del.code === 0) break;
          delFailures.push(failed(del));
        }
        if (delFailures.length > 0) seen.delRetried++;
        expect(del?.code, `${what}: DEL failed ${DEL_ATTEMPTS} times:\n${delFailures.join("\n")}`).toBe(0);
        const afterDel = diff(before, await snapshot());
        if (afterDel.length > 0) seen.delLeftForGc++;
        const gc = await runPlugin(gcEnv(mode), gcStdin());
        expect(gc.code, `${what}: GC ${failed(gc)}`).toBe(0);
        const left = diff(before, await snapshot());
        process.stdout.write(
          `${mode.containerID} #${i}: ADD kill at ${addKillMs}/${add0.ms} ms → ${outcome(add)}${delRun}` +
            `${delFailures.length > 0 ? `, DEL retried ${delFailures.length}×` : ""}` +
            `${afterDel.length > 0 ? `, after DEL alone: ${afterDel.join("; ")}` : ""}` +
            `${left.length > 0 ? `, LEFT: ${left.join("; ")}` : ""}\n`,
        );
        expect(left, `${what}: the node differs from before (after DEL alone: ${afterDel.length} fields)`).toEqual([]);
        seen.iterations++;
      }
      const ms = Math.round(performance.now() - started);
      timings.push(`${mode.containerID}: ${JSON.stringify(seen)} in ${ms} ms (ADD ${add0.ms} ms, DEL ${del0.ms} ms)`);
      process.stdout.write(`kill campaign ${timings.at(-1)}\n`);
      expect(seen.iterations).toBeGreaterThan(0);
    },
    600_000,
  );
});
