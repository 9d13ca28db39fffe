#!/usr/bin/env node
// Benchmark: accelnet vs the reference macvlan plugin (Debian's containernetworking-plugins), side by side
// in one run, same machine, same config, same host-local IPAM. Each row is labelled:
//   reference   /usr/lib/cni/macvlan (Go)
//   thick       dist/accelnet, the C front end, handing the request to dist/accelnet-cni-server, which this
//               bench starts on a private socket (ACCELNET_CNI_SOCKET). The front end runs from a bin dir
//               of its own, without accelnet-standalone next to it, so a request the server did not serve
//               fails instead of quietly being measured as the fallback.
//   standalone  the Node plugin: through the front end's fallback (no server answering), and
//               dist/accelnet-standalone exec'd directly; `--baseline FILE` adds another build (e.g. the
//               dist/accelnet of before thick mode) as a row of its own.
// Sections:
//   - ADD+DEL of one macvlan attachment: median and p90 wall time, peak RSS of the process the runtime
//     execs (for thick: the front end alone; the server's own RSS is printed below), VERSION time
//   - N concurrent ADDs then N concurrent DELs on one master (a netns each): wall time of each wave and the
//     sum of the calls' peak RSS
//   - the start-up share of the address library (ip-cidr with ip-address) in a fresh node process
// Prints tables and the issue's targets next to the ratios; asserts nothing. A row whose executable is
// not built is skipped with the reason printed. Needs root (network namespaces) and `npm run build`.
//
// Usage: node test/bench/run.mjs [--iterations N] [--concurrent N] [--baseline FILE]
import { execFileSync, spawn } from "node:child_process";
import { build } from "esbuild";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const iterations = Number(arg("--iterations", 40));
const concurrent = Number(arg("--concurrent", 64)); // 0 leaves the concurrent section out
const baseline = arg("--baseline", undefined);
const cniPath = "/usr/lib/cni";
const dist = join(root, "dist");
const frontEnd = join(dist, "accelnet");
const standaloneExe = join(dist, "accelnet-standalone");
const serverExe = join(dist, "accelnet-cni-server");
const tag = Math.random().toString(16).slice(2, 6);
const netns = `acnb${tag}`;
const master = `acnb${tag}m`;
// /run, not /tmp: accelnet refuses a state dir below a directory others can write (1777). mkdtemp makes
// it 0700, root's: the server's socket dir must be root-only.
const work = mkdtempSync(join("/run", "accelnet-bench-"));
const runstat = join(work, "runstat");
const serverSocket = join(work, "cni", "server.sock");
const serverLog = join(work, "server.log");
let server; // { child, pid }

// Targets from issue 11, printed next to the numbers.
const TARGET_TIME = 1.0;
const AIM_TIME = 0.8;
const TARGET_RSS_MB = 5;
const TARGET_FRONT_END_MB = 1;

function sh(file, argv) {
  execFileSync(file, argv, { stdio: ["ignore", "ignore", "inherit"] });
}

/** The rows, in the order they are measured; `skip` says why a row cannot run on this build. */
function variants() {
  const thickBuild = existsSync(standaloneExe); // after the rename, dist/accelnet is the front end
  const rows = [{ label: "reference", name: "Go macvlan", exe: join(cniPath, "macvlan"), type: "macvlan", env: {} }];
  const thickBin = join(work, "thick-bin");
  rows.push({
    label: "thick",
    name: "front end + server",
    exe: join(thickBin, "accelnet"),
    type: "accelnet",
    env: { ACCELNET_CNI_SOCKET: serverSocket },
    skip: !thickBuild
      ? `${standaloneExe} missing: this build's dist/accelnet is the Node plugin (before thick mode)`
      : !existsSync(serverExe)
        ? `${serverExe} missing: the CNI server is not built`
        : undefined,
    prepare: () => {
      mkdirSync(thickBin, { mode: 0o755 });
      copyFileSync(frontEnd, join(thickBin, "accelnet"));
      chmodSync(join(thickBin, "accelnet"), 0o755);
    },
  });
  rows.push({
    label: "standalone",
    name: "front end fallback",
    exe: frontEnd,
    type: "accelnet",
    // A socket path that does not exist: the front end execs accelnet-standalone next to it.
    env: { ACCELNET_CNI_SOCKET: join(work, "no-server", "server.sock") },
    skip: thickBuild ? undefined : `${standaloneExe} missing: no front end in this build (before thick mode)`,
  });
  rows.push({
    label: "standalone",
    name: thickBuild ? "accelnet-standalone" : "dist/accelnet (Node)",
    exe: thickBuild ? standaloneExe : frontEnd,
    type: "accelnet",
    env: {},
  });
  if (baseline !== undefined) {
    rows.push({
      label: "standalone",
      name: `baseline ${baseline.split("/").pop()}`,
      exe: resolve(baseline),
      type: "accelnet",
      env: {},
    });
  }
  for (const r of rows) {
    if (r.skip === undefined && r.prepare === undefined && !existsSync(r.exe))
      r.skip = `${r.exe} missing: run npm run build`;
  }
  return rows;
}

function setup() {
  if (process.getuid?.() !== 0) throw new Error("The benchmark needs root (network namespaces)");
  sh("gcc", ["-O2", "-Wall", "-Wextra", "-Werror", "-o", runstat, join(root, "test/bench/runstat.c")]);
  sh("ip", ["netns", "add", netns]);
  sh("ip", ["link", "add", master, "type", "veth", "peer", "name", `${master}p`]);
  sh("ip", ["link", "set", master, "up"]);
  sh("ip", ["link", "set", `${master}p`, "up"]);
  for (let i = 0; i < concurrent; i++) sh("ip", ["netns", "add", `${netns}c${i}`]);
}

function cleanup() {
  const quiet = (file, argv) => {
    try {
      execFileSync(file, argv, { stdio: "ignore" });
    } catch {
      /* not there */
    }
  };
  quiet("ip", ["netns", "del", netns]);
  for (let i = 0; i < concurrent; i++) quiet("ip", ["netns", "del", `${netns}c${i}`]);
  quiet("ip", ["link", "del", master]);
}

/** Starts the CNI server on the private socket and waits until a VERSION through the front end is served. */
async function startServer(row) {
  const log = [];
  const child = spawn(serverExe, ["--socket", serverSocket], {
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", ACCELNET_CNI_SOCKET: serverSocket },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.on("data", (c) => log.push(c));
  child.stderr.on("data", (c) => log.push(c));
  let exited;
  child.on("exit", (code, signal) => (exited = `exited ${code ?? signal}`));
  server = { child, pid: child.pid, log };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exited !== undefined) throw new Error(`${serverExe} ${exited}: ${Buffer.concat(log).toString()}`);
    if (existsSync(serverSocket)) {
      try {
        execFileSync(row.exe, [], { env: { CNI_COMMAND: "VERSION", ...row.env }, stdio: ["ignore", "pipe", "pipe"] });
        return;
      } catch {
        /* not answering yet */
      }
    }
    if (Date.now() > deadline) throw new Error(`${serverExe} did not answer on ${serverSocket} within 20 s`);
    await sleep(100);
  }
}

async function stopServer() {
  if (server === undefined) return;
  writeFileSync(serverLog, Buffer.concat(server.log));
  const gone = new Promise((done) => server.child.once("close", done));
  server.child.kill("SIGTERM");
  await Promise.race([gone, sleep(10_000)]);
  server.child.kill("SIGKILL");
  server = undefined;
}

/** The server's peak and current RSS in MB (VmHWM, VmRSS), or undefined. */
function serverRss() {
  if (server === undefined) return undefined;
  const status = readFileSync(`/proc/${server.pid}/status`, "utf8");
  const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { hwm: kb("VmHWM") / 1024, rss: kb("VmRSS") / 1024 };
}

function envFor(row, command, containerId, nsPath, stateDir) {
  return {
    PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
    CNI_COMMAND: command,
    CNI_CONTAINERID: containerId,
    CNI_NETNS: nsPath,
    CNI_IFNAME: "net1",
    CNI_PATH: cniPath,
    // accelnet's state dir comes from the runtime's environment; the reference plugin ignores it.
    ACCELNET_STATE_DIR: stateDir,
    ...row.env,
  };
}

function runOne(row, command, conf, containerId, stateDir) {
  const stdinFile = join(work, "stdin.json");
  writeFileSync(stdinFile, JSON.stringify(conf));
  // runstat writes the plugin's stdout to ours and its own JSON line last on stderr.
  const out = execFileSync("/bin/sh", ["-c", '"$0" "$@" 2>&1 1>/dev/null | tail -n 1', runstat, stdinFile, row.exe], {
    env: envFor(row, command, containerId, `/run/netns/${netns}`, stateDir),
    encoding: "utf8",
  });
  const stat = JSON.parse(out.trim());
  if (stat.exit !== 0) throw new Error(`${row.label} ${row.name}: ${command} exited ${stat.exit}`);
  return stat;
}

/** One call under runstat, asynchronously: { exit, wallNs, maxRssKb, stdout }. */
function runAsync(row, command, conf, i, stateDir, stdinFile) {
  return new Promise((done, fail) => {
    const child = spawn(runstat, [stdinFile, row.exe], {
      env: envFor(row, command, `c${i}`, `/run/netns/${netns}c${i}`, stateDir),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (err += c));
    child.on("error", fail);
    child.on("close", () => {
      const last = err.trim().split("\n").pop() ?? "";
      try {
        done({ ...JSON.parse(last), stdout: out });
      } catch {
        fail(new Error(`runstat said: ${err}`));
      }
    });
  });
}

function stats(values) {
  const s = [...values].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { median: at(0.5), p90: at(0.9), max: s[s.length - 1] };
}

// A binary that was just written (our build's output) sits in the page cache as large folios, and a
// process mapping it is charged the whole folios: about 20 MB more peak RSS than the same binary read
// back from disk. Every executable is evicted first so all are measured from the same cache state.
function evictFromPageCache(file) {
  sh("sync", [file]);
  sh("dd", [`if=${file}`, "iflag=nocache", "count=0", "status=none"]);
}

function confFor(row, dataDir) {
  return {
    cniVersion: "1.0.0",
    name: "bench",
    type: row.type,
    master,
    mode: "bridge",
    ipam: { type: "host-local", subnet: "10.199.0.0/16", dataDir },
  };
}

// The rows take turns, one ADD+DEL+VERSION each per round, so a change in the shared machine's load
// between rows does not show up as a difference between them.
function single(rows) {
  const live = rows.map((row, index) => ({
    row,
    conf: confFor(row, join(work, `ipam-${index}`)),
    stateDir: join(work, `state-${index}`),
    walls: [],
    rss: [],
    versions: [],
  }));
  for (let i = 0; i < iterations + 3; i++) {
    const id = `bench${i}`;
    for (const m of live) {
      const add = runOne(m.row, "ADD", m.conf, id, m.stateDir);
      const del = runOne(m.row, "DEL", m.conf, id, m.stateDir);
      const ver = runOne(m.row, "VERSION", { cniVersion: "1.0.0" }, id, m.stateDir);
      if (i < 3) continue; // warm the page cache first
      m.walls.push((add.wallNs + del.wallNs) / 1e6);
      m.rss.push(Math.max(add.maxRssKb, del.maxRssKb) / 1024);
      m.versions.push(ver.wallNs / 1e6);
    }
  }
  for (const m of live) m.row.single = { addDel: stats(m.walls), rss: stats(m.rss), version: stats(m.versions) };
}

async function wave(row, command, conf, stateDir, stdinFile) {
  const started = process.hrtime.bigint();
  const runs = await Promise.all(
    Array.from({ length: concurrent }, (_, i) => runAsync(row, command, conf, i, stateDir, stdinFile)),
  );
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const failed = runs.filter((r) => r.exit !== 0);
  return {
    wallMs,
    rssSumMb: runs.reduce((sum, r) => sum + r.maxRssKb, 0) / 1024,
    failed: failed.length,
    example: failed[0]?.stdout.trim(),
  };
}

async function concurrentWaves(row, index) {
  const conf = confFor(row, join(work, `ipam-conc-${index}`));
  const stdinFile = join(work, `conc-${index}.json`);
  writeFileSync(stdinFile, JSON.stringify(conf));
  const stateDir = join(work, `state-conc-${index}`);
  const add = await wave(row, "ADD", conf, stateDir, stdinFile);
  const del = await wave(row, "DEL", conf, stateDir, stdinFile);
  return { add, del };
}

/** Median and p90 ms to require() the esbuild CJS bundle of ip-cidr in a fresh node, `iterations` times. */
async function addressLibraryLoad() {
  const bundle = join(work, "ip-cidr.cjs");
  await build({
    stdin: { contents: 'import IPCIDR from "ip-cidr"; module.exports = IPCIDR;', resolveDir: root },
    bundle: true,
    platform: "node",
    format: "cjs",
    outfile: bundle,
    logLevel: "error",
  });
  const probe = `const t = process.hrtime.bigint(); require(${JSON.stringify(bundle)}); process.stdout.write(String(Number(process.hrtime.bigint() - t) / 1e6));`;
  const ms = [];
  for (let i = 0; i < iterations + 3; i++) {
    const out = execFileSync(process.execPath, ["-e", probe], { encoding: "utf8" });
    if (i >= 3) ms.push(Number(out));
  }
  return stats(ms);
}

const out = (line = "") => process.stdout.write(`${line}\n`);
const f1 = (n, w = 8) => (Number.isFinite(n) ? n.toFixed(1) : "-").padStart(w);
const ratio = (a, b) => `${(a / b).toFixed(2)}x`;
const rowName = (r) => `${r.label.padEnd(11)}${r.name.padEnd(26)}`;

function printSingle(rows) {
  const ref = rows.find((r) => r.label === "reference" && r.single !== undefined)?.single;
  out(`\nADD+DEL of one attachment (${iterations} iterations each, macvlan bridge + host-local, cniVersion 1.0.0)`);
  out(
    `${"row".padEnd(37)}${"median ms".padStart(10)}${"p90 ms".padStart(9)}${"x ref".padStart(8)}${"p90 x".padStart(8)}` +
      `${"peak RSS MB".padStart(13)}${"x ref".padStart(8)}${"VERSION ms".padStart(12)}`,
  );
  for (const r of rows) {
    if (r.skip !== undefined) {
      out(`${rowName(r)}skipped: ${r.skip}`);
      continue;
    }
    const s = r.single;
    out(
      `${rowName(r)}${f1(s.addDel.median, 10)}${f1(s.addDel.p90, 9)}${ratio(s.addDel.median, ref.addDel.median).padStart(8)}` +
        `${ratio(s.addDel.p90, ref.addDel.p90).padStart(8)}${f1(s.rss.max, 13)}${ratio(s.rss.max, ref.rss.max).padStart(8)}` +
        `${f1(s.version.median, 12)}`,
    );
  }
  const thick = rows.find((r) => r.label === "thick");
  if (thick?.single !== undefined) {
    const t = thick.single;
    const size = statSync(frontEnd).size / 1e6;
    const ok = (b) => (b ? "met" : "MISSED");
    out(
      `targets (issue 11), thick: time <= ${TARGET_TIME.toFixed(1)}x the reference (aim ${AIM_TIME}x): ` +
        `${ratio(t.addDel.median, ref.addDel.median)} ${ok(t.addDel.median <= TARGET_TIME * ref.addDel.median)}; ` +
        `peak RSS per invocation <= ${TARGET_RSS_MB} MB: ${t.rss.max.toFixed(1)} MB ${ok(t.rss.max <= TARGET_RSS_MB)}; ` +
        `front end file <= ${TARGET_FRONT_END_MB} MB: ${size.toFixed(3)} MB ${ok(size <= TARGET_FRONT_END_MB)}`,
    );
    if (thick.serverRss !== undefined) {
      out(
        `thick: the server (${serverExe.split("/").pop()}, ${(statSync(serverExe).size / 1e6).toFixed(0)} MB file) after this section: ` +
          `peak RSS ${thick.serverRss.hwm.toFixed(1)} MB, RSS now ${thick.serverRss.rss.toFixed(1)} MB (once per node, not per invocation)`,
      );
    }
  }
  const standalones = rows.filter((r) => r.label === "standalone" && r.single !== undefined);
  if (standalones.length > 1) {
    const [first, ...rest] = standalones;
    out(
      `target (issue 11), standalone no slower than before: ${rest.map((r) => `${first.name} / ${r.name} ${ratio(first.single.addDel.median, r.single.addDel.median)}`).join(", ")}`,
    );
  }
}

function printConcurrent(rows) {
  const ref = rows.find((r) => r.label === "reference" && r.conc !== undefined)?.conc;
  out(`\n${concurrent} concurrent ADDs, then ${concurrent} concurrent DELs, one master, a netns each, host-local`);
  out(
    `${"row".padEnd(37)}${"ADD wall ms".padStart(12)}${"x ref".padStart(8)}${"DEL wall ms".padStart(12)}${"x ref".padStart(8)}` +
      `${"sum peak RSS MB".padStart(17)}${"x ref".padStart(8)}${"failed".padStart(8)}`,
  );
  for (const r of rows) {
    if (r.conc === undefined) {
      out(`${rowName(r)}skipped: ${r.skip ?? "one standalone row is enough here"}`);
      continue;
    }
    const c = r.conc;
    const rss = Math.max(c.add.rssSumMb, c.del.rssSumMb);
    const refRss = Math.max(ref.add.rssSumMb, ref.del.rssSumMb);
    out(
      `${rowName(r)}${f1(c.add.wallMs, 12)}${ratio(c.add.wallMs, ref.add.wallMs).padStart(8)}${f1(c.del.wallMs, 12)}` +
        `${ratio(c.del.wallMs, ref.del.wallMs).padStart(8)}${f1(rss, 17)}${ratio(rss, refRss).padStart(8)}` +
        `${String(c.add.failed + c.del.failed).padStart(8)}`,
    );
    if (c.add.example ?? c.del.example) out(`  e.g. ${c.add.example ?? c.del.example}`);
  }
  const thick = rows.find((r) => r.label === "thick");
  if (thick?.concServerRss !== undefined) {
    out(
      `thick: the server after the waves: peak RSS ${thick.concServerRss.hwm.toFixed(1)} MB (one process, not in the sum)`,
    );
  }
}

try {
  cleanup();
  setup();
  const rows = variants();
  for (const r of rows) if (r.skip === undefined) r.prepare?.();
  for (const r of rows) if (r.skip === undefined) evictFromPageCache(r.exe);
  out(
    `accelnet benchmark, ${new Date().toISOString()}, ${process.version}; rows labelled thick, standalone, reference`,
  );
  const runnable = rows.filter((r) => r.skip === undefined);
  const thick = runnable.find((r) => r.label === "thick");
  if (thick !== undefined) await startServer(thick);
  single(runnable);
  if (thick !== undefined) thick.serverRss = serverRss();
  // The concurrent waves: reference, thick and the standalone the runtime would run (the first).
  for (const [i, r] of concurrent > 0 ? runnable.entries() : []) {
    if (r.label === "standalone" && runnable.some((o) => o.label === "standalone" && o.conc !== undefined)) continue;
    r.conc = await concurrentWaves(r, i);
    if (r.label === "thick") r.concServerRss = serverRss();
  }
  await stopServer();
  printSingle(rows);
  if (concurrent > 0) printConcurrent(rows);
  const addressLib = await addressLibraryLoad();
  const node = rows.find((r) => r.label === "standalone" && r.single !== undefined);
  out(
    `\naddress library (ip-cidr + ip-address) load at start: median ${addressLib.median.toFixed(2)} ms, p90 ${addressLib.p90.toFixed(2)} ms` +
      (node
        ? ` (${((addressLib.median / node.single.version.median) * 100).toFixed(1)}% of ${node.name}'s VERSION median)`
        : ""),
  );
} finally {
  await stopServer();
  cleanup();
  rmSync(work, { recursive: true, force: true });
}
