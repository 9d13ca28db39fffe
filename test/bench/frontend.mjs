#!/usr/bin/env node
// Benchmark: what the thick-mode front end (dist/accelnet, native/FRONTEND.md) costs by itself. Side by
// side in one run, `VERSION` (no kernel work, so only start-up and the hand-over are measured):
//   - standalone: dist/accelnet-standalone run directly (the Node SEA)
//   - fallback:   dist/accelnet with no server at its socket, so it execs accelnet-standalone
//   - thick:      dist/accelnet against a minimal in-process server that answers at once (the front
//                 end's own cost: read stdin, connect, check the peer, send, read the answer, write it)
// Each row: median and p90 wall time and the peak RSS of the process the runtime execs (ru_maxrss from
// test/bench/runstat.c, which covers the exec'd standalone in the fallback row); plus the front end's
// file size. Prints a table; asserts nothing. After `npm run build`; root only for the page-cache
// eviction (dd iflag=nocache works for anyone on a file they can read).
//
// Usage: node test/bench/frontend.mjs [--iterations N]
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const iterArg = process.argv.indexOf("--iterations");
const iterations = iterArg > 0 ? Number(process.argv[iterArg + 1]) : 30;
const frontend = join(root, "dist/accelnet");
const standalone = join(root, "dist/accelnet-standalone");
const work = mkdtempSync(join(tmpdir(), "accelnet-bench-fe-"));
const runstat = join(work, "runstat");
const stdinFile = join(work, "stdin.json");
const run = promisify(execFile);

const VERSION_REPLY =
  '{"cniVersion":"1.1.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}\n';

function answer(stdout) {
  const out = Buffer.from(stdout);
  const head = Buffer.alloc(20);
  Buffer.from("ACNCNI1\0", "latin1").copy(head);
  head.writeUInt32LE(0, 8);
  head.writeUInt32LE(out.length, 12);
  return Buffer.concat([head.subarray(0, 16), out, Buffer.alloc(4)]);
}

/** Answers every request with the standalone's VERSION reply, once the front end half-closed. */
function startServer(path) {
  const reply = answer(VERSION_REPLY);
  const server = createServer({ allowHalfOpen: true }, (sock) => {
    sock.on("error", () => undefined);
    sock.on("data", () => undefined);
    sock.on("end", () => sock.end(reply));
  });
  return new Promise((done) => server.listen(path, () => done(server)));
}

async function runOne(exe, socket) {
  const env = { PATH: "/usr/bin:/bin", CNI_COMMAND: "VERSION", ACCELNET_CNI_SOCKET: socket };
  // runstat prints the program's stdout on ours and its own JSON line last on stderr.
  const { stdout, stderr } = await run(runstat, [stdinFile, exe], { env, encoding: "utf8" });
  const stat = JSON.parse(stderr.trim().split("\n").pop());
  if (stat.exit !== 0 || !stdout.includes("supportedVersions")) throw new Error(`${exe} VERSION: ${stdout}`);
  return stat;
}

function stats(values) {
  const s = [...values].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { median: at(0.5), p90: at(0.9), max: s[s.length - 1] };
}

function evictFromPageCache(file) {
  execFileSync("sync", [file]);
  execFileSync("dd", [`if=${file}`, "iflag=nocache", "count=0", "status=none"]);
}

async function main() {
  for (const f of [frontend, standalone]) if (!existsSync(f)) throw new Error(`Cannot find "${f}": run npm run build`);
  execFileSync("gcc", ["-O2", "-Wall", "-Wextra", "-Werror", "-o", runstat, join(root, "test/bench/runstat.c")]);
  writeFileSync(stdinFile, '{"cniVersion":"1.1.0"}');
  for (const f of [frontend, standalone]) evictFromPageCache(f);
  const socket = join(work, "server.sock");
  const server = await startServer(socket);
  const rows = [
    { label: "standalone", exe: standalone, socket: join(work, "none.sock") },
    { label: "fallback", exe: frontend, socket: join(work, "none.sock") },
    { label: "thick", exe: frontend, socket },
  ];
  const samples = new Map(rows.map((r) => [r.label, { wall: [], rss: [] }]));
  try {
    // interleaved, so a change in the machine's load hits every row alike
    for (let i = 0; i < iterations + 3; i++) {
      for (const r of rows) {
        const stat = await runOne(r.exe, r.socket);
        if (i < 3) continue; // warm the page cache first
        samples.get(r.label).wall.push(stat.wallNs / 1e6);
        samples.get(r.label).rss.push(stat.maxRssKb / 1024);
      }
    }
  } finally {
    server.close();
  }
  const fmt = (n, w = 9) => n.toFixed(2).padStart(w);
  process.stdout.write(
    `\nFront end benchmark: VERSION, ${iterations} iterations each; dist/accelnet is ${statSync(frontend).size} bytes\n`,
  );
  process.stdout.write(
    `${"row".padEnd(12)}${"median ms".padStart(10)}${"p90 ms".padStart(9)}${"peak RSS MB".padStart(13)}\n`,
  );
  const result = {};
  for (const r of rows) {
    const s = samples.get(r.label);
    result[r.label] = { wall: stats(s.wall), rss: stats(s.rss) };
    const w = result[r.label].wall;
    process.stdout.write(`${r.label.padEnd(12)}${fmt(w.median, 10)}${fmt(w.p90)}${fmt(result[r.label].rss.max, 13)}\n`);
  }
  const { standalone: sa, fallback: fb, thick } = result;
  process.stdout.write(
    `fallback/standalone: median ${(fb.wall.median / sa.wall.median).toFixed(2)}x (+${(fb.wall.median - sa.wall.median).toFixed(2)} ms), ` +
      `peak RSS ${(fb.rss.max / sa.rss.max).toFixed(2)}x; thick/standalone: median ${(thick.wall.median / sa.wall.median).toFixed(3)}x, ` +
      `peak RSS ${(thick.rss.max / sa.rss.max).toFixed(3)}x\n`,
  );
}

try {
  await main();
} finally {
  rmSync(work, { recursive: true, force: true });
}
