// Builds the VDUSE device tool (test/lab/vduse/*.c) like the helper: gcc
// with -Wall -Wextra -Werror, static, into dist/lab/. Rebuilt when a source
// file changes.
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { CacheKey } from "./hash.js";
import { log, run } from "./exec.js";
import { distLabDir, vduseSourceDir, vduseTool } from "./paths.js";
import { scratchPath } from "./publish.js";

// The helper's flags (native/Makefile), so the tool is held to the same standard.
export const vduseCflags = [
  "-std=gnu11",
  "-O2",
  "-Wall",
  "-Wextra",
  "-Werror",
  "-Wformat=2",
  "-Wshadow",
  "-Wstrict-prototypes",
  "-Wmissing-prototypes",
  "-Wvla",
  "-D_FORTIFY_SOURCE=2",
  "-fstack-protector-strong",
  "-static",
];

export async function buildVduseTool(): Promise<string> {
  const sources = (await readdir(vduseSourceDir)).filter((name) => /\.[ch]$/.test(name)).sort();
  const key = new CacheKey().value("cflags", vduseCflags.join(" "));
  for (const source of sources) await key.file(source, path.join(vduseSourceDir, source));
  const digest = key.digest();
  const stamp = `${vduseTool}.key`;
  if (existsSync(vduseTool) && existsSync(stamp) && (await readFile(stamp, "utf8")) === digest) return vduseTool;
  await mkdir(distLabDir, { recursive: true });
  const cFiles = sources.filter((name) => name.endsWith(".c")).map((name) => path.join(vduseSourceDir, name));
  await run(["gcc", ...vduseCflags, "-o", scratchPath(vduseTool), ...cFiles]);
  await rename(scratchPath(vduseTool), vduseTool);
  await writeFile(scratchPath(stamp), digest);
  await rename(scratchPath(stamp), stamp);
  log(`built ${path.relative(process.cwd(), vduseTool)}`);
  return vduseTool;
}
