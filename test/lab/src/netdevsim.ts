// Step 2b: netdevsim, which Debian does not ship. It is built out of tree from
// linux-source against the pinned headers and kbuild, so it matches the guest
// kernel exactly; the guest kernel does not enforce module signatures.
import { existsSync } from "node:fs";
import { mkdir, readdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { CacheKey } from "./hash.js";
import { log, run } from "./exec.js";
import { cacheDir } from "./paths.js";
import { scratchPath } from "./publish.js";

export interface NetdevsimBuild {
  /** The stripped module. */
  ko: string;
  /** Modules netdevsim needs, by name (from its modinfo). */
  depends: string[];
  key: string;
}

export async function buildNetdevsim(
  sourceTree: string,
  headersTree: string,
  release: string,
  inputsKey: string,
): Promise<NetdevsimBuild> {
  const flags = ["CONFIG_NETDEVSIM=m", "CONFIG_DEBUG_INFO_BTF_MODULES="];
  const key = new CacheKey().value("inputs", inputsKey).value("flags", flags.join(" ")).digest();
  const outDir = path.join(cacheDir, `netdevsim-${key}`);
  const ko = path.join(outDir, "netdevsim.ko");
  if (!existsSync(ko)) {
    const srcDir = path.join(sourceTree, "usr", "src");
    const tarball = (await readdir(srcDir)).find((name) => /^linux-source-.*\.tar\.xz$/.test(name));
    if (tarball === undefined) throw new Error(`no linux-source tarball in ${srcDir}`);
    const work = scratchPath(path.join(cacheDir, "netdevsim-work"));
    await rm(work, { recursive: true, force: true });
    await mkdir(work, { recursive: true });
    const member = `${tarball.replace(/\.tar\.xz$/, "")}/drivers/net/netdevsim`;
    await run(["tar", "-xJf", path.join(srcDir, tarball), "-C", work, member]);
    // Debian's per-flavour Makefile includes the common one by absolute
    // /usr/src path; pass the common Makefile explicitly so the extracted
    // tree works where it is.
    const headers = path.join(headersTree, "usr", "src", `linux-headers-${release}`);
    const common = path.join(headersTree, "usr", "src", `linux-headers-${release.replace(/-amd64$/, "-common")}`);
    const moduleDir = path.join(work, member);
    await run([
      "make",
      "-C",
      headers,
      "-f",
      path.join(common, "Makefile"),
      `M=${moduleDir}`,
      ...flags,
      "-j2",
      "modules",
    ]);
    await mkdir(outDir, { recursive: true });
    await run(["strip", "--strip-debug", "-o", scratchPath(ko), path.join(moduleDir, "netdevsim.ko")]);
    await rename(scratchPath(ko), ko);
    await rm(work, { recursive: true, force: true });
    log("built netdevsim.ko");
  }
  const { stdout } = await run(["modinfo", "-F", "depends", ko]);
  const depends = stdout.trim().split(",").filter(Boolean);
  return { ko, depends, key };
}
