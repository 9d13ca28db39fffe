#!/usr/bin/env node
// Benchmark: N concurrent ADDs of the packaged accelnet on one macvlan master (one process per call, as a
// runtime runs them; a netns each; Debian's host-local), then N concurrent DELs, side by side with the
// reference macvlan plugin. Prints failures (must be 0), wall time of each wave and per-call p50/p90/max;
// asserts nothing. Needs root and a prior `npm run build`.
//
// Usage: node test/bench/concurrent.mjs [--count N] (default 256)
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const countArg = process.argv.indexOf("--count");
const count = countArg > 0 ? Number(process.argv[countArg + 1]) : 256;
const tag = Math.random().toString(16).slice(2, 7);
const master = `acnc${tag}m`;
// accelnet refuses a state dir below a directory others can write (/tmp is 1777): a root-only base.
const base = "/var/lib/accelnet-test";
mkdirSync(base, { recursive: true, mode: 0o755 });
const work = mkdtempSync(join(base, "concurrent-"));
const plugins = [
  { label: "accelnet", exe: join(root, "dist/accelnet") },
  { label: "reference macvlan", exe: "/usr/lib/cni/macvlan" },
];

const ip = (...args) => execFileSync("ip", args, { stdio: ["ignore", "ignore", "inherit"] });
const netnsName = (i) => `acnc${tag}-${i}`;

function call(exe, command, i, conf) {
  const started = process.hrtime.bigint();
  return new Promise((done) => {
    const child = spawn(exe, [], {
      env: {
        PATH: process.env.PATH,
        ACCELNET_STATE_DIR: join(work, "state"),
        CNI_COMMAND: command,
        CNI_CONTAINERID: `c${i}`,
        CNI_NETNS: `/run/netns/${netnsName(i)}`,
        CNI_IFNAME: "net1",
        CNI_PATH: "/usr/lib/cni",
      },
    });
    let out = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.resume();
    child.on("close", (code) => done({ code, out, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
    child.stdin.end(JSON.stringify(conf));
  });
}

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function wave(plugin, command, conf) {
  const started = Date.now();
  const runs = await Promise.all(Array.from({ length: count }, (_, i) => call(plugin.exe, command, i, conf)));
  const failed = runs.filter((r) => r.code !== 0);
  const ms = runs.map((r) => r.ms);
  const p = (x) => x.toFixed(0).padStart(6);
  console.log(
    `${plugin.label.padEnd(18)} ${command.padEnd(4)} failed ${String(failed.length).padStart(3)}/${count}` +
      `  wall ${p(Date.now() - started)} ms  p50 ${p(pct(ms, 50))}  p90 ${p(pct(ms, 90))}  max ${p(Math.max(...ms))}`,
  );
  // Failures by kind (code and message with its numbers and names masked), most common first.
  const kinds = new Map();
  for (const f of failed) {
    let kind = `exit ${f.code}, no JSON`;
    try {
      const { code, msg } = JSON.parse(f.out);
      kind = `code ${code}: ${String(msg)
        .replace(/"[^"]*"/g, '"…"')
        .replace(/\d+/g, "N")}`;
    } catch {
      // not a CNI error document: the exit code says it
    }
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  for (const [kind, n] of [...kinds].sort((a, b) => b[1] - a[1]).slice(0, 4)) console.log(`  ${n} x ${kind}`);
  for (const f of failed.slice(0, 2)) console.log(`  e.g. ${f.out.trim()}`);
}

try {
  ip("link", "add", master, "type", "veth", "peer", "name", `${master}p`);
  ip("link", "set", master, "up");
  for (let i = 0; i < count; i++) ip("netns", "add", netnsName(i));
  console.log(`${count} concurrent calls per wave, one master, host-local; ${process.argv0} ${process.version}`);
  for (const plugin of plugins) {
    if (!existsSync(plugin.exe)) {
      console.log(`${plugin.label}: ${plugin.exe} missing, skipped`);
      continue;
    }
    const conf = {
      cniVersion: "1.0.0",
      name: `conc${tag}`,
      type: "macvlan",
      master,
      ipam: { type: "host-local", subnet: "10.80.0.0/16", dataDir: join(work, "ipam") },
    };
    await wave(plugin, "ADD", conf);
    await wave(plugin, "DEL", conf);
  }
} finally {
  for (let i = 0; i < count; i++) {
    try {
      ip("netns", "del", netnsName(i));
    } catch {
      // not created
    }
  }
  try {
    ip("link", "del", master);
  } catch {
    // not created
  }
  rmSync(work, { recursive: true, force: true });
}
