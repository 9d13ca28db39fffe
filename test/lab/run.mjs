// CLI entry of the lab (plain JS so the host's Node runs it without a
// TypeScript loader): bundles src/cli.ts with esbuild into the cache and runs
// it. Usage: node test/lab/run.mjs [--parallel N] [--timeout S] FILE...
import { build } from "esbuild";
import { fileURLToPath, pathToFileURL } from "node:url";
import { rm } from "node:fs/promises";
import path from "node:path";

const labDir = path.dirname(fileURLToPath(import.meta.url));
// One bundle per process: two lab runs at once must not import a file the other is rewriting.
const bundle = path.join(labDir, "cache", `run.bundle.${process.pid}.mjs`);
await build({
  entryPoints: [path.join(labDir, "src", "cli.ts")],
  outfile: bundle,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  logLevel: "warning",
  // paths.ts locates the lab from import.meta.url; keep the bundle's
  // location meaning the same by resolving it from the source file instead.
  define: { "import.meta.url": JSON.stringify(pathToFileURL(path.join(labDir, "src", "paths.ts")).href) },
});
const { main } = await import(pathToFileURL(bundle).href).finally(() => rm(bundle, { force: true }));
process.exitCode = await main(process.argv.slice(2));
