#!/usr/bin/env node
// Benchmark: how many processes one CNI call starts, and what that costs in time. Standalone
// dist/accelnet, macvlan bridge on a veth master in a netns of its own, Debian's host-local at
// cniVersion 1.1.0 (which host-local 1.1.1 refuses: the IPAM version fallback's case).
//   - helper execs and IPAM plugin execs per ADD, CHECK and DEL, on a fresh state dir (first call of
//     each IPAM binary) and once more after it (the IPAM version cache warm)
//   - ADD+DEL wall time: median and p90 of N runs (the real helper, no counting wrapper)
// Counting: ACCELNET_HELPER and CNI_PATH point at small wrappers that append a line to a file and
// exec the real program. SR-IOV, DPDK and vDPA need the lab: test/lab/guest/sriov-igb.test.ts and
// vdpa-vduse.test.ts print the same counts ("round trips"), see test/lab/README.md.
// Prints a table; asserts nothing. Needs root and a prior `npm run build`.
//
// Usage: node test/bench/round-trips.mjs [--iterations N] [--accelnet PATH]... (each PATH is one row;
//        default dist/accelnet; a PATH's helper is the accelnet-helper next to it)
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const argValues = (flag) => process.argv.flatMap((a, i) => (a === flag ? [process.argv[i + 1]] : []));
const iterations = Number(argValues("--iterations")[0] ?? 30);
const exes = argValues("--accelnet").map((p) => resolve(p));
if (exes.length === 0) exes.push(join(root, "dist/accelnet"));
const netns = "acnrt-ns";
const master = "acnrt-m0";
const work = mkdtempSync(join("/run", "accelnet-rt-")); // /run: accelnet refuses a state dir below /tmp
const counts = join(work, "counts");

function sh(file, argv) {
  execFileSync(file, argv, { stdio: ["ignore", "ignore", "inherit"] });
}

function script(path, body) {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
}

function setup() {
  if (process.getuid?.() !== 0) throw new Error("The benchmark needs root (network namespaces)");
  for (const exe of exes) if (!existsSync(exe)) throw new Error(`Cannot find "${exe}": run npm run build`);
  cleanup();
  sh("ip", ["netns", "add", netns]);
  sh("ip", ["link", "add", master, "type", "veth", "peer", "name", `${master}p`]);
  sh("ip", ["link", "set", master, "up"]);
  // Counting wrappers: one line per exec ("helper" or "ipam <verb>"), then the real program.
  script(join(work, "count-helper"), `echo helper >> "${counts}"\nexec "$ACN_REAL_HELPER" "$@"`);
  mkdirSync(join(work, "cni"));
  script(join(work, "cni", "host-local"), `echo "ipam $CNI_COMMAND" >> "${counts}"\nexec /usr/lib/cni/host-local`);
}

function cleanup() {
  for (const argv of [
    ["netns", "del", netns],
    ["link", "del", master],
  ]) {
    try {
      sh("ip", argv);
    } catch {
      /* not there */
    }
  }
}

function confOf(dataDir) {
  return {
    cniVersion: "1.1.0",
    name: "roundtrips",
    type: "accelnet",
    master,
    mode: "bridge",
    ipam: { type: "host-local", subnet: "10.198.0.0/24", dataDir },
  };
}

function runOne(exe, command, conf, id, { counting, stateDir }) {
  const prevResult = command === "CHECK" ? conf.prevResult : undefined;
  const env = {
    PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
    CNI_COMMAND: command,
    CNI_CONTAINERID: id,
    CNI_NETNS: `/run/netns/${netns}`,
    CNI_IFNAME: "net1",
    CNI_PATH: counting ? join(work, "cni") : "/usr/lib/cni",
    ACCELNET_STATE_DIR: stateDir,
    ...(counting
      ? { ACCELNET_HELPER: join(work, "count-helper"), ACN_REAL_HELPER: join(dirname(exe), "accelnet-helper") }
      : {}),
  };
  const input = JSON.stringify(prevResult === undefined ? conf : { ...conf, prevResult });
  const start = process.hrtime.bigint();
  const out = execFileSync(exe, [], { env, input, encoding: "utf8", stdio: ["pipe", "pipe", "ignore"] });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  return { ms, out };
}

/** Helper and IPAM execs of `command` (the lines the wrappers wrote while it ran). */
function counted(exe, command, conf, id, stateDir) {
  writeFileSync(counts, "");
  const { out } = runOne(exe, command, conf, id, { counting: true, stateDir });
  const lines = readFileSync(counts, "utf8").split("\n").filter(Boolean);
  return {
    out,
    helper: lines.filter((l) => l === "helper").length,
    ipam: lines.filter((l) => l.startsWith("ipam")).length,
  };
}

function countRow(exe, label) {
  const stateDir = join(work, `state-${label}`);
  const conf = confOf(join(work, `ipam-${label}`));
  const row = {};
  for (const pass of ["first", "again"]) {
    const id = `rt-${label}-${pass}`;
    const add = counted(exe, "ADD", conf, id, stateDir);
    const check = counted(exe, "CHECK", { ...conf, prevResult: JSON.parse(add.out) }, id, stateDir);
    const del = counted(exe, "DEL", conf, id, stateDir);
    row[pass] = { add, check, del };
  }
  return row;
}

function timeRow(exe, label) {
  const stateDir = join(work, `state-time-${label}`);
  const conf = confOf(join(work, `ipam-time-${label}`));
  const ms = [];
  for (let i = 0; i < iterations + 3; i++) {
    const opts = { counting: false, stateDir };
    const add = runOne(exe, "ADD", conf, `rt-time-${i}`, opts);
    const del = runOne(exe, "DEL", conf, `rt-time-${i}`, opts);
    if (i >= 3) ms.push(add.ms + del.ms); // the first runs warm the page cache and the IPAM version cache
  }
  const s = ms.sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { median: at(0.5), p90: at(0.9) };
}

function print(rows) {
  const w = (s, n) => String(s).padStart(n);
  process.stdout.write(
    `\nRound trips per CNI call (standalone, macvlan bridge + host-local at cniVersion 1.1.0; ` +
      `"first" = fresh state dir, "again" = the next attachment)\n`,
  );
  process.stdout.write(
    `${"accelnet".padEnd(44)}${w("pass", 6)}${w("helper ADD", 12)}${w("CHECK", 7)}${w("DEL", 5)}` +
      `${w("IPAM ADD", 10)}${w("CHECK", 7)}${w("DEL", 5)}\n`,
  );
  for (const r of rows) {
    for (const pass of ["first", "again"]) {
      const c = r.counts[pass];
      process.stdout.write(
        `${r.exe.padEnd(44)}${w(pass, 6)}${w(c.add.helper, 12)}${w(c.check.helper, 7)}${w(c.del.helper, 5)}` +
          `${w(c.add.ipam, 10)}${w(c.check.ipam, 7)}${w(c.del.ipam, 5)}\n`,
      );
    }
  }
  process.stdout.write(`\nmacvlan ADD+DEL wall time, ${iterations} runs (no counting wrappers)\n`);
  for (const r of rows) {
    process.stdout.write(
      `${r.exe.padEnd(44)} median ${r.time.median.toFixed(1)} ms, p90 ${r.time.p90.toFixed(1)} ms\n`,
    );
  }
}

try {
  setup();
  const rows = exes.map((exe, i) => ({ exe, counts: countRow(exe, String(i)), time: { median: 0, p90: 0 } }));
  // Interleaved in rounds, so a busy moment of the machine does not fall on one binary only.
  const times = exes.map(() => []);
  for (let round = 0; round < 3; round++) exes.forEach((exe, i) => times[i].push(timeRow(exe, `${i}-${round}`)));
  rows.forEach((r, i) => {
    const med = times[i].map((t) => t.median).sort((a, b) => a - b);
    const p90 = times[i].map((t) => t.p90).sort((a, b) => a - b);
    r.time = { median: med[1], p90: p90[1] };
  });
  print(rows);
} finally {
  cleanup();
  rmSync(work, { recursive: true, force: true });
}
