// Debian's dpdk-testpmd in the lab guest (packed into the initramfs by
// test/lab/src/initramfs.ts, with the igb VF and virtio PMDs): the DPDK
// workload a pod runs on what accelnet gave it. It runs non-interactively,
// forwarding and printing port statistics every second, until it has printed
// them `statsRounds` times; then SIGINT, on which testpmd stops its ports and
// exits 0 ("Bye..."), as it does under `kubectl delete pod`.
import { spawn } from "node:child_process";
import path from "node:path";
import { repoRoot } from "./prelude.js";

export const testpmdPath = "/usr/bin/dpdk-testpmd";
const podExec = path.join(repoRoot, "test/lab/guest/pod-exec.sh");

/**
 * EAL options every run shares. One vCPU: lcores 0 (main) and 1 (forwarding)
 * both on CPU 0. --in-memory: no files under /var/run/dpdk, as in a pod with a
 * read-only root; --no-telemetry: no socket either. IOVA as VA: the guest has
 * an IOMMU (and a pod no /proc/self/pagemap).
 */
export const ealBase = ["--lcores=0@0,1@0", "--in-memory", "--no-telemetry", "--iova-mode=va", "--log-level=pmd,info"];

/** testpmd's own options: io forwarding on one port to itself, a small mbuf pool, stats every second. */
export const appBase = [
  "--nb-cores=1",
  "--port-topology=loop",
  "--total-num-mbufs=2048",
  "--tx-first",
  "--stats-period=1",
];

export interface TestpmdRun {
  code: number | null;
  signal: string | null;
  output: string;
  /** "Port N: MAC" lines testpmd prints when it starts a port. */
  ports: { port: number; mac: string }[];
  /** The TX-packets counters of the last statistics block of port 0. */
  txPackets: number | null;
  /** The RX-packets counters of the last statistics block of port 0. */
  rxPackets: number | null;
  /** The PMD driver names testpmd's EAL probed ("Probe PCI driver: net_e1000_igb_vf"). */
  probedDrivers: string[];
}

export interface TestpmdOptions {
  /** Run in this pod network namespace (a name under /run/netns), in a /dev holding only `devices`. */
  pod?: { netns: string; devices: string[] };
  /** Stop after this many statistics blocks (default 2); null: run until stop() (or the timeout). */
  statsRounds?: number | null;
  timeoutMs?: number;
}

/** A testpmd still running: its output so far, and stop() (SIGINT, then the parsed run). */
export interface RunningTestpmd {
  output(): string;
  stop(): Promise<TestpmdRun>;
  done: Promise<TestpmdRun>;
}

/** The counter `name` ("RX-packets", "TX-packets") of the last statistics block in `output`. */
export function lastCounter(output: string, name: "RX-packets" | "TX-packets"): number | null {
  const values = [...output.matchAll(new RegExp(`${name}:\\s+(\\d+)`, "g"))].map((m) => Number(m[1]));
  return values.at(-1) ?? null;
}

/** Runs dpdk-testpmd with EAL options `eal` (after ealBase) and app options `app` (after appBase). */
export async function runTestpmd(
  eal: readonly string[],
  app: readonly string[] = [],
  options: TestpmdOptions = {},
): Promise<TestpmdRun> {
  return startTestpmd(eal, app, options).done;
}

/** Starts dpdk-testpmd as runTestpmd does, without waiting for it. */
export function startTestpmd(
  eal: readonly string[],
  app: readonly string[] = [],
  options: TestpmdOptions = {},
): RunningTestpmd {
  const testpmd = [testpmdPath, ...ealBase, ...eal, "--", ...appBase, ...app];
  const argv =
    options.pod === undefined
      ? testpmd
      : ["ip", "netns", "exec", options.pod.netns, "sh", podExec, ...options.pod.devices, "--", ...testpmd];
  const rounds = options.statsRounds === undefined ? 2 : options.statsRounds;
  const timeoutMs = options.timeoutMs ?? 90_000;
  const [file, ...args] = argv as [string, ...string[]];
  const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let interrupted = false;
  const onData = (chunk: string): void => {
    output += chunk;
    const blocks = output.split("NIC statistics for port").length - 1;
    if (!interrupted && rounds !== null && blocks >= rounds) interrupt();
  };
  const interrupt = (): void => {
    interrupted = true;
    child.kill("SIGINT");
  };
  child.stdout.setEncoding("utf8").on("data", onData);
  child.stderr.setEncoding("utf8").on("data", onData);
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const done = new Promise<[number | null, string | null]>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (c, s) => resolve([c, s]));
  })
    .finally(() => clearTimeout(timer))
    .then(([code, signal]) => parseRun(code, signal, output));
  return {
    output: () => output,
    stop: () => {
      if (!interrupted && child.exitCode === null) interrupt();
      return done;
    },
    done,
  };
}

function parseRun(code: number | null, signal: string | null, output: string): TestpmdRun {
  const ports = [...output.matchAll(/^Port (\d+): ([0-9A-F]{2}(?::[0-9A-F]{2}){5})$/gim)].map((m) => ({
    port: Number(m[1]),
    mac: (m[2] ?? "").toLowerCase(),
  }));
  const probedDrivers = [...output.matchAll(/Probe PCI driver: (\S+)/g)].map((m) => m[1] ?? "");
  return {
    code,
    signal,
    output,
    ports,
    txPackets: lastCounter(output, "TX-packets"),
    rxPackets: lastCounter(output, "RX-packets"),
    probedDrivers,
  };
}

/**
 * EAL options for testpmd on a vhost-user socket through virtio-user, as a DPDK pod on an OVS-DPDK node runs
 * it: testpmd creates `socketPath` and listens (server=1) and the switch connects to it (OVS's
 * dpdkvhostuserclient, its recommended mode). -m 64: 64 MiB of hugepages taken at start (the switch maps
 * them all at connection time); --single-file-segments: one memfd per segment list, since vhost-user passes
 * at most 8 memory regions.
 */
export function vhostUserEal(socketPath: string, mac: string): string[] {
  return [
    "--no-pci",
    "--single-file-segments",
    "-m",
    "64",
    `--vdev=net_virtio_user0,path=${socketPath},server=1,queues=1,queue_size=256,mac=${mac}`,
  ];
}

/** The last statistics block of a run and how it ended (for a reader of a pair's log). */
export function testpmdTail(run: TestpmdRun, lines = 24): string {
  return run.output.trimEnd().split("\n").slice(-lines).join("\n");
}

/** The lines of a run worth showing a reader: EAL's probe, the port MACs, statistics, the exit. */
export function testpmdHighlights(run: TestpmdRun): string[] {
  return run.output
    .split("\n")
    .filter((line) =>
      /Probe PCI driver|^Port \d+:|TX-packets|RX-packets|Bye|virtio_user|Link status|Error|error/.test(line),
    )
    .slice(0, 30);
}

export interface TestpmdPair {
  sender: TestpmdRun;
  receiver: TestpmdRun;
  /** From starting the receiver to the receiver's statistics showing `minPackets`, in ms. */
  elapsedMs: number;
}

/**
 * Two testpmds on two vhost-user sockets of one switch, each in its own pod: the receiver (rxonly) starts
 * first, then the sender (txonly); both are stopped once the receiver's port statistics count
 * `minPackets` received packets (or after `timeoutMs`), after `whileRunning` (for reading the switch's
 * counters while its vhost-user devices are up). Both runs are returned for the caller to judge.
 */
export async function runTestpmdPair(
  sender: { netns: string; socketPath: string; mac: string },
  receiver: { netns: string; socketPath: string; mac: string },
  {
    minPackets = 64,
    timeoutMs = 150_000,
    whileRunning = async (): Promise<void> => {},
  }: { minPackets?: number; timeoutMs?: number; whileRunning?: () => Promise<void> } = {},
): Promise<TestpmdPair> {
  const started = performance.now();
  const options = (netns: string): TestpmdOptions => ({
    pod: { netns, devices: [] },
    statsRounds: null,
    timeoutMs: timeoutMs + 30_000,
  });
  const rx = startTestpmd(
    vhostUserEal(receiver.socketPath, receiver.mac),
    ["--forward-mode=rxonly"],
    options(receiver.netns),
  );
  const tx = startTestpmd(
    vhostUserEal(sender.socketPath, sender.mac),
    ["--forward-mode=txonly"],
    options(sender.netns),
  );
  const deadline = Date.now() + timeoutMs;
  while ((lastCounter(rx.output(), "RX-packets") ?? 0) < minPackets && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const elapsedMs = Math.round(performance.now() - started);
  await whileRunning().catch(async (error: unknown) => {
    await Promise.all([tx.stop(), rx.stop()]);
    throw error;
  });
  const senderRun = await tx.stop();
  const receiverRun = await rx.stop();
  return { sender: senderRun, receiver: receiverRun, elapsedMs };
}
