// Open vSwitch with DPDK in the lab guest (Debian's openvswitch-switch-dpdk, packed into the initramfs
// by test/lab/src/initramfs.ts): the userspace switch of an OVS-DPDK node, which vhost-user attachments
// plug pods into. This is the tests' own fixture, not product code: it may use ovs-vsctl. It creates a
// fresh database with ovsdb-tool, runs ovsdb-server on the node's default socket and ovs-vswitchd with
// other_config:dpdk-init=true, and stops both (and removes their files) at the end.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { onCleanup, sh, waitFor } from "./prelude.js";

/** OVS's run directory as Debian builds it (/var/run is /run in the guest). */
export const ovsRunDir = "/run/openvswitch";
/** ovsdb-server's Unix socket, where a node's OVS has it (accelnet's default ACCELNET_OVSDB_SOCKET). */
export const ovsDbSocket = path.join(ovsRunDir, "db.sock");
const schema = "/usr/share/openvswitch/vswitch.ovsschema";

/**
 * DPDK's memory for ovs-vswitchd: 128 MiB of the guest's 384 MiB of hugepages (test/lab/src/qemu.ts),
 * enough for OVS's smallest shared mbuf pool (16384 mbufs for MTU 1500), and also its limit, so that
 * OVS shrinks its pool instead of taking the pages the testpmds need. --in-memory: no hugepage files
 * left behind when it exits. No PCI: the switch only has vhost-user ports here.
 */
const dpdkConfig = {
  "dpdk-init": "true",
  "dpdk-socket-mem": "128",
  "dpdk-socket-limit": "128",
  "dpdk-extra": "--in-memory --no-pci --no-telemetry --iova-mode=va",
};

export interface OvsDpdk {
  /** ovs-vsctl against this OVS; returns stdout without the final newline. */
  vsctl(...args: string[]): Promise<string>;
  /** The tail of ovs-vswitchd's log (for failure messages). */
  vswitchdLog(): string;
  /** Stops ovsdb-server alone (OVS "not running" for a client), as a crashed or stopped database. */
  stopDatabase(): Promise<void>;
  /** Stops ovs-vswitchd and ovsdb-server and removes their files; idempotent. */
  stop(): Promise<void>;
  /** How long each start step took, in ms. */
  timings: Record<string, number>;
}

async function vsctl(...args: string[]): Promise<string> {
  const { stdout } = await sh(["ovs-vsctl", `--db=unix:${ovsDbSocket}`, "--timeout=30", ...args]);
  return stdout.replace(/\n$/, "");
}

function daemon(argv: string[]): { child: ChildProcess; stderr: () => string; exited: Promise<void> } {
  const [file, ...args] = argv as [string, ...string[]];
  const child = spawn(file, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  return { child, stderr: () => stderr, exited };
}

async function terminate(proc: { child: ChildProcess; exited: Promise<void> }): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill("SIGTERM");
  const killer = setTimeout(() => proc.child.kill("SIGKILL"), 30_000);
  await proc.exited.finally(() => clearTimeout(killer));
}

/** Starts ovsdb-server and ovs-vswitchd with DPDK; registers their stop with the prelude's cleanup. */
export async function startOvsDpdk(): Promise<OvsDpdk> {
  if (existsSync(ovsDbSocket)) throw new Error(`${ovsDbSocket} exists: another OVS is running in this guest`);
  const timings: Record<string, number> = {};
  const work = mkdtempSync("/tmp/ovs-lab-");
  mkdirSync(ovsRunDir, { recursive: true, mode: 0o755 });
  const database = path.join(work, "conf.db");
  const vswitchdLogFile = path.join(work, "ovs-vswitchd.log");
  let started = performance.now();
  await sh(["ovsdb-tool", "create", database, schema]);
  const server = daemon([
    "ovsdb-server",
    database,
    `--remote=punix:${ovsDbSocket}`,
    `--unixctl=${path.join(ovsRunDir, "ovsdb-server.ctl")}`,
    `--log-file=${path.join(work, "ovsdb-server.log")}`,
    "--verbose=console:off",
  ]);
  let vswitchd: ReturnType<typeof daemon> | null = null;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (vswitchd !== null) await terminate(vswitchd);
    await terminate(server);
    rmSync(ovsRunDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  };
  onCleanup("stop OVS", stop);
  await waitFor(`ovsdb-server's socket ${ovsDbSocket} (stderr: ${server.stderr()})`, () =>
    existsSync(ovsDbSocket) ? true : undefined,
  );
  await vsctl("--no-wait", "init");
  await vsctl(
    "--no-wait",
    "set",
    "Open_vSwitch",
    ".",
    ...Object.entries(dpdkConfig).map(([key, value]) => `other_config:${key}="${value}"`),
  );
  timings["ovsdb-server"] = Math.round(performance.now() - started);

  started = performance.now();
  vswitchd = daemon([
    "ovs-vswitchd",
    `unix:${ovsDbSocket}`,
    `--unixctl=${path.join(ovsRunDir, "ovs-vswitchd.ctl")}`,
    `--log-file=${vswitchdLogFile}`,
    "--verbose=console:off",
  ]);
  const vswitchdLog = (): string =>
    existsSync(vswitchdLogFile) ? readFileSync(vswitchdLogFile, "utf8").split("\n").slice(-40).join("\n") : "";
  const running = vswitchd;
  try {
    // DPDK's EAL init under TCG takes tens of seconds; OVS writes dpdk_initialized when it is done.
    await waitForAsync(
      "ovs-vswitchd to initialise DPDK",
      async () => {
        if (running.child.exitCode !== null) throw new Error(`ovs-vswitchd exited: ${running.stderr()}`);
        return (await vsctl("get", "Open_vSwitch", ".", "dpdk_initialized")) === "true";
      },
      180_000,
    );
  } catch (error) {
    throw new Error(`${String(error)}\novs-vswitchd log:\n${vswitchdLog()}`);
  }
  timings["ovs-vswitchd with DPDK"] = Math.round(performance.now() - started);

  return {
    vsctl,
    vswitchdLog,
    stopDatabase: () => terminate(server),
    stop,
    timings,
  };
}

/** Polls the async `probe` every 500 ms until it returns true; throws naming `what` on timeout. */
export async function waitForAsync(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Adds bridge `name` with `datapathType` (netdev: OVS-DPDK's userspace datapath) and waits for it. */
export async function addBridge(ovs: OvsDpdk, name: string, datapathType: "netdev" | "system"): Promise<void> {
  // --no-wait for system: this guest has no openvswitch.ko, so ovs-vswitchd never finishes it (the row is
  // what a client reads).
  const wait = datapathType === "system" ? ["--no-wait"] : [];
  await ovs.vsctl(...wait, "add-br", name, "--", "set", "Bridge", name, `datapath_type=${datapathType}`);
}

/** Adds a dpdkvhostuserclient port: OVS connects to `socketPath`, which the application (testpmd) creates. */
export async function addVhostUserClientPort(
  ovs: OvsDpdk,
  bridge: string,
  port: string,
  socketPath: string,
): Promise<void> {
  await ovs.vsctl(
    "add-port",
    bridge,
    port,
    "--",
    "set",
    "Interface",
    port,
    "type=dpdkvhostuserclient",
    `options:vhost-server-path=${socketPath}`,
  );
}

/** An Interface column as ovs-vsctl prints it, e.g. statistics: {rx_packets=3, tx_packets=5, ...}. */
export async function interfaceStatistics(ovs: OvsDpdk, port: string): Promise<Record<string, number>> {
  const text = await ovs.vsctl("get", "Interface", port, "statistics");
  const stats: Record<string, number> = {};
  for (const match of text.matchAll(/(\w+)=(\d+)/g)) stats[match[1] ?? ""] = Number(match[2]);
  return stats;
}
