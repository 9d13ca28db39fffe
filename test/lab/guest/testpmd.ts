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
  /** The PMD driver names testpmd's EAL probed ("Probe PCI driver: net_e1000_igb_vf"). */
  probedDrivers: string[];
}

export interface TestpmdOptions {
  /** Run in this pod network namespace (a name under /run/netns), in a /dev holding only `devices`. */
  pod?: { netns: string; devices: string[] };
  statsRounds?: number;
  timeoutMs?: number;
}

/** Runs dpdk-testpmd with EAL options `eal` (after ealBase) and app options `app` (after appBase). */
export async function runTestpmd(
  eal: readonly string[],
  app: readonly string[] = [],
  options: TestpmdOptions = {},
): Promise<TestpmdRun> {
  const testpmd = [testpmdPath, ...ealBase, ...eal, "--", ...appBase, ...app];
  const argv =
    options.pod === undefined
      ? testpmd
      : ["ip", "netns", "exec", options.pod.netns, "sh", podExec, ...options.pod.devices, "--", ...testpmd];
  const rounds = options.statsRounds ?? 2;
  const timeoutMs = options.timeoutMs ?? 90_000;
  const [file, ...args] = argv as [string, ...string[]];
  const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let interrupted = false;
  const onData = (chunk: string): void => {
    output += chunk;
    const blocks = output.split("NIC statistics for port").length - 1;
    if (!interrupted && blocks >= rounds) {
      interrupted = true;
      child.kill("SIGINT");
    }
  };
  child.stdout.setEncoding("utf8").on("data", onData);
  child.stderr.setEncoding("utf8").on("data", onData);
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (c, s) => resolve([c, s]));
  }).finally(() => clearTimeout(timer));
  const ports = [...output.matchAll(/^Port (\d+): ([0-9A-F]{2}(?::[0-9A-F]{2}){5})$/gim)].map((m) => ({
    port: Number(m[1]),
    mac: (m[2] ?? "").toLowerCase(),
  }));
  const tx = [...output.matchAll(/TX-packets:\s+(\d+)/g)].map((m) => Number(m[1]));
  const probedDrivers = [...output.matchAll(/Probe PCI driver: (\S+)/g)].map((m) => m[1] ?? "");
  return { code, signal, output, ports, txPackets: tx.length > 0 ? (tx.at(-1) ?? null) : null, probedDrivers };
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
