#!/usr/bin/env node
// Runs deviceplugin-idle.ts (the device plugin's idle cost at 1024 VFs): bundles it
// with esbuild into dist/bench/ (so import.meta.url and node_modules resolve as in
// the repo) and runs it with the given arguments. Needs a prior `npm run build`.
//   node test/bench/deviceplugin-idle.mjs [--seconds 120] [--rescan-interval-ms 60000]
import { build } from "esbuild";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const out = join(root, "dist/bench/deviceplugin-idle.mjs");
await build({
  entryPoints: [join(root, "test/bench/deviceplugin-idle.ts")],
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  packages: "external",
  outfile: out,
  logLevel: "warning",
});
await import(pathToFileURL(out).href);
