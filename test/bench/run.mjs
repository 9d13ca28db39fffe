#!/usr/bin/env node
// Benchmark: accelnet vs the reference macvlan plugin (Debian's containernetworking-plugins), side by side
// in one run, same machine, same config, same host-local IPAM:
//   - ADD+DEL of one macvlan attachment: median and p90 wall time, peak RSS, and the ratio
//   - startup: `VERSION` wall time
//   - the start-up share of the address library (ip-cidr with ip-address): the time to load and
//     evaluate its esbuild bundle in a fresh node process, as the accelnet bundle loads it at start
// Prints a table; asserts nothing. Needs root (network namespaces) and a prior `npm run build`.
//
// Usage: node test/bench/run.mjs [--iterations N]
import { execFileSync } from "node:child_process";
import { build } from "esbuild";
import { mkdtempSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const iterArg = process.argv.indexOf("--iterations");
const iterations = iterArg > 0 ? Number(process.argv[iterArg + 1]) : 40;
const cniPath = "/usr/lib/cni";
const plugins = [
  { label: "accelnet", exe: join(root, "dist/accelnet") },
  { label: "reference macvlan", exe: join(cniPath, "macvlan") },
];
const netns = "acnbench-ns";
const master = "acnbench-m0";
// /run, not /tmp: accelnet refuses a state dir below a directory others can write (1777).
const work = mkdtempSync(join("/run", "accelnet-bench-"));
const runstat = join(work, "runstat");

function sh(file, argv) {
  execFileSync(file, argv, { stdio: ["ignore", "ignore", "inherit"] });
}

function setup() {
  if (process.getuid?.() !== 0) throw new Error("The benchmark needs root (network namespaces)");
  for (const p of plugins) if (!existsSync(p.exe)) throw new Error(`Cannot find "${p.exe}": run npm run build`);
  sh("gcc", ["-O2", "-Wall", "-Wextra", "-Werror", "-o", runstat, join(root, "test/bench/runstat.c")]);
  cleanup();
  sh("ip", ["netns", "add", netns]);
  sh("ip", ["link", "add", master, "type", "veth", "peer", "name", `${master}p`]);
  sh("ip", ["link", "set", master, "up"]);
  sh("ip", ["link", "set", `${master}p`, "up"]);
}

function cleanup() {
  try {
    sh("ip", ["netns", "del", netns]);
  } catch {
    /* not there */
  }
  try {
    sh("ip", ["link", "del", master]);
  } catch {
    /* not there */
  }
}

function runOne(exe, command, conf, containerId) {
  const stdinFile = join(work, "stdin.json");
  writeFileSync(stdinFile, JSON.stringify(conf));
  const env = {
    PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
    CNI_COMMAND: command,
    CNI_CONTAINERID: containerId,
    CNI_NETNS: `/run/netns/${netns}`,
    CNI_IFNAME: "net1",
    CNI_PATH: cniPath,
    // accelnet's state dir comes from the runtime's environment; the reference plugin ignores it.
    ACCELNET_STATE_DIR: join(work, "state"),
  };
  // runstat writes the plugin's stdout to ours and its own JSON line last on stderr.
  const out = execFileSync("/bin/sh", ["-c", '"$0" "$@" 2>&1 1>/dev/null | tail -n 1', runstat, stdinFile, exe], {
    env,
    encoding: "utf8",
  });
  const stat = JSON.parse(out.trim());
  if (stat.exit !== 0) throw new Error(`${exe} ${command} exited ${stat.exit}`);
  return stat;
}

function stats(values) {
  const s = [...values].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { median: at(0.5), p90: at(0.9), max: s[s.length - 1] };
}

// A binary that was just written (our build's output) sits in the page cache as large folios, and a
// process mapping it is charged the whole folios: about 20 MB more peak RSS than the same binary read
// back from disk. Both executables are evicted first so they are measured from the same cache state.
function evictFromPageCache(file) {
  sh("sync", [file]);
  sh("dd", [`if=${file}`, "iflag=nocache", "count=0", "status=none"]);
}

function bench() {
  const results = [];
  for (const p of plugins) evictFromPageCache(p.exe);
  for (const p of plugins) {
    const dataDir = join(work, `ipam-${p.label.replace(/\W/g, "")}`);
    const conf = {
      cniVersion: "1.0.0",
      name: "bench",
      type: p.label === "accelnet" ? "accelnet" : "macvlan",
      master,
      mode: "bridge",
      ipam: { type: "host-local", subnet: "10.199.0.0/24", dataDir },
    };
    const walls = [];
    const rss = [];
    const versions = [];
    for (let i = 0; i < iterations + 3; i++) {
      const id = `bench${i}`;
      const add = runOne(p.exe, "ADD", conf, id);
      const del = runOne(p.exe, "DEL", conf, id);
      const ver = runOne(p.exe, "VERSION", { cniVersion: "1.0.0" }, id);
      if (i < 3) continue; // warm the page cache first
      walls.push((add.wallNs + del.wallNs) / 1e6);
      rss.push(Math.max(add.maxRssKb, del.maxRssKb) / 1024);
      versions.push(ver.wallNs / 1e6);
    }
    results.push({ label: p.label, addDel: stats(walls), rss: stats(rss), version: stats(versions) });
  }
  return results;
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

function print(results, addressLib) {
  const [ours, ref] = results;
  const fmt = (n) => n.toFixed(1).padStart(8);
  process.stdout.write(
    `\nBenchmark (${iterations} iterations each, macvlan bridge + host-local IPAM, cniVersion 1.0.0)\n`,
  );
  process.stdout.write(
    `${"plugin".padEnd(20)}${"ADD+DEL median ms".padStart(19)}${"p90 ms".padStart(9)}${"peak RSS MB".padStart(13)}${"VERSION median ms".padStart(19)}${"p90 ms".padStart(9)}\n`,
  );
  for (const r of results) {
    process.stdout.write(
      `${r.label.padEnd(20)}${fmt(r.addDel.median).padStart(19)}${fmt(r.addDel.p90)}${fmt(r.rss.max).padStart(13)}${fmt(r.version.median).padStart(19)}${fmt(r.version.p90)}\n`,
    );
  }
  process.stdout.write(
    `ratio accelnet/reference: ADD+DEL median ${(ours.addDel.median / ref.addDel.median).toFixed(2)}x, p90 ${(ours.addDel.p90 / ref.addDel.p90).toFixed(2)}x, peak RSS ${(ours.rss.max / ref.rss.max).toFixed(2)}x, VERSION ${(ours.version.median / ref.version.median).toFixed(2)}x\n`,
  );
  process.stdout.write(
    `address library (ip-cidr + ip-address) load at start: median ${addressLib.median.toFixed(2)} ms, p90 ${addressLib.p90.toFixed(2)} ms ` +
      `(${((addressLib.median / ours.version.median) * 100).toFixed(1)}% of accelnet's VERSION median)\n`,
  );
}

try {
  setup();
  print(bench(), await addressLibraryLoad());
} finally {
  cleanup();
  rmSync(work, { recursive: true, force: true });
}
