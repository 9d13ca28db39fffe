#!/usr/bin/env node
// The resident CNI server on its own (before the C front end is merged): its RSS idle and after 100
// requests, and the latency of VERSION and of a macvlan + host-local ADD+DEL through it, with the
// contract-only Node client (test/tools/cni-server-client.mjs) in this process, next to the standalone
// plugin run as a runtime runs it (one process per call). Prints numbers; asserts nothing. Root, and a
// prior `npm run build`. The standalone path is STANDALONE below (dist/accelnet-standalone once the
// front end is merged).
//
// Usage: node test/bench/cni-server.mjs [--iterations N]
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { callServer } from "../tools/cni-server-client.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const SERVER = join(root, "dist/accelnet-cni-server");
const STANDALONE = join(root, "dist/accelnet-standalone");
const iterArg = process.argv.indexOf("--iterations");
const iterations = iterArg > 0 ? Number(process.argv[iterArg + 1]) : 30;
const work = mkdtempSync(join("/run", "accelnet-srvbench-"));
const socket = join(work, "run", "cni", "server.sock");
const netns = `acnsb${process.pid}`;
const master = `acnsb${process.pid}m`;

const ip = (...args) => execFileSync("ip", args, { stdio: ["ignore", "ignore", "inherit"] });

function rssKb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m === null ? NaN : Number(m[1]);
}

function stats(ms) {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { median: at(0.5), p90: at(0.9) };
}

function standalone(env, stdin) {
  const started = process.hrtime.bigint();
  return new Promise((done, fail) => {
    const child = spawn(STANDALONE, [], { env, stdio: ["pipe", "ignore", "ignore"] });
    child.on("error", fail);
    child.stdin.end(stdin);
    child.on("close", (code) => {
      if (code !== 0) fail(new Error(`standalone ${env.CNI_COMMAND} exited ${code}`));
      else done(Number(process.hrtime.bigint() - started) / 1e6);
    });
  });
}

async function main() {
  ip("netns", "add", netns);
  ip("link", "add", master, "type", "veth", "peer", "name", `${master}p`);
  ip("link", "set", master, "up");
  const server = spawn(SERVER, ["--socket", socket, "--log-level", "warn"], { stdio: ["ignore", "ignore", "inherit"] });
  try {
    for (let i = 0; i < 100; i++) {
      try {
        await callServer(socket, { CNI_COMMAND: "VERSION" }, "{}");
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    await new Promise((r) => setTimeout(r, 1000));
    const idle = rssKb(server.pid);
    const conf = JSON.stringify({
      cniVersion: "1.1.0",
      name: "benchnet",
      type: "accelnet",
      master,
      ipam: { type: "host-local", subnet: "10.83.0.0/16", dataDir: join(work, "ipam") },
    });
    const env = (command) => ({
      PATH: "/usr/bin:/bin",
      ACCELNET_STATE_DIR: join(work, "state"),
      CNI_PATH: "/usr/lib/cni",
      CNI_COMMAND: command,
      CNI_CONTAINERID: "bench1",
      CNI_NETNS: `/run/netns/${netns}`,
      CNI_IFNAME: "net1",
    });
    const rows = [];
    const measure = async (label, fn) => {
      await fn(); // warm-up
      const ms = [];
      for (let i = 0; i < iterations; i++) ms.push(await fn());
      const { median, p90 } = stats(ms);
      rows.push(
        `${label.padEnd(44)} median ${median.toFixed(1).padStart(7)} ms   p90 ${p90.toFixed(1).padStart(7)} ms`,
      );
    };
    const viaServer = async (command) => {
      const r = await callServer(socket, env(command), conf);
      if (r.status !== 0) throw new Error(`server ${command}: ${r.stdout}`);
      return r.ms;
    };
    await measure(
      "VERSION  server (in-process client)",
      async () => (await callServer(socket, { CNI_COMMAND: "VERSION" }, "{}")).ms,
    );
    await measure("VERSION  standalone (one process)", () => standalone({ CNI_COMMAND: "VERSION" }, "{}"));
    await measure(
      "ADD+DEL  server (in-process client)",
      async () => (await viaServer("ADD")) + (await viaServer("DEL")),
    );
    await measure(
      "ADD+DEL  standalone (one process each)",
      async () => (await standalone(env("ADD"), conf)) + (await standalone(env("DEL"), conf)),
    );
    // the server has answered 2 + 2 * (iterations + 1) + ... requests; top up to 100 past the idle reading
    const served = 2 * (iterations + 1) + 2 * 2 * (iterations + 1);
    for (let i = served; i < 100; i++) await callServer(socket, { CNI_COMMAND: "VERSION" }, "{}");
    const after = rssKb(server.pid);
    console.log(`accelnet CNI server (${iterations} iterations)`);
    for (const r of rows) console.log(`  ${r}`);
    console.log(
      `  server RSS idle ${(idle / 1024).toFixed(1)} MiB, after ${Math.max(served, 100)} requests ${(after / 1024).toFixed(1)} MiB`,
    );
  } finally {
    server.kill("SIGTERM");
    await new Promise((r) => server.on("exit", r));
    try {
      ip("netns", "del", netns);
    } catch {
      /* gone */
    }
    try {
      ip("link", "del", master);
    } catch {
      /* gone */
    }
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
