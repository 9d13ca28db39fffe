// Step 1 of the lab build: the pinned Debian inputs. QEMU is installed into
// the host from bookworm-backports; the kernel and Open vSwitch packages are
// only downloaded into the cache and extracted there, never installed (an
// installed openvswitch-switch would start its daemons on the host).
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { sha256File } from "./hash.js";
import { publish, scratchPath } from "./publish.js";
import { log, run } from "./exec.js";
import { cacheDir, debCacheDir, lockFile } from "./paths.js";

export interface PinnedDeb {
  role: "image" | "headers" | "source" | "ovs";
  name: string;
  version: string;
  sha256: string;
}

export interface PackageLock {
  aptSource: { file: string; uri: string; suite: string };
  kernelRelease: string;
  host: { name: string; version: string }[];
  debs: PinnedDeb[];
}

/** Host tools the build uses; any bookworm version will do (their bytes feed the cache keys). */
const hostTools = [
  "busybox-static",
  "dash",
  "iproute2",
  "kmod",
  "gcc",
  "make",
  "libc6-dev",
  "xz-utils",
  "binutils",
  "libelf1",
  // The real IPAM plugins (host-local, static) that guest tests delegate to; packed into the initramfs.
  "containernetworking-plugins",
  // dpdk-testpmd and the PMD plugins packed into the initramfs: the DPDK workload of the guest tests.
  "dpdk-dev",
  "librte-net-e1000-23",
  "librte-net-virtio23",
  "librte-mempool-ring23",
  // The shared libraries of Open vSwitch (the pinned "ovs" debs), packed next to its binaries.
  "libbpf1",
  "libcap-ng0",
  "libnuma1",
  "libssl3",
  "libunbound8",
  "libxdp1",
  "librte-vhost23",
];

const aptOptions = ["-o", "DPkg::Lock::Timeout=300", "-o", "APT::Sandbox::User=root"];

export async function readLock(): Promise<PackageLock> {
  return JSON.parse(await readFile(lockFile, "utf8")) as PackageLock;
}

async function installedVersion(name: string): Promise<string | null> {
  const result = await run(["dpkg-query", "-W", "-f", "${db:Status-Abbrev}${Version}", name], { allowFailure: true });
  if (result.code !== 0 || !result.stdout.startsWith("ii ")) return null;
  return result.stdout.slice(3).trim();
}

async function ensureAptSource(lock: PackageLock): Promise<boolean> {
  const { file, uri, suite } = lock.aptSource;
  const wanted = [
    "# Added by accelnet test/lab: QEMU with igb SR-IOV comes from here.",
    "Types: deb",
    `URIs: ${uri}`,
    `Suites: ${suite}`,
    "Components: main",
    "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg",
    "",
  ].join("\n");
  const current = existsSync(file) ? await readFile(file, "utf8") : null;
  if (current === wanted) return false;
  await writeFile(file, wanted);
  log(`wrote apt source ${file}`);
  return true;
}

let aptUpdated = false;
async function aptUpdate(): Promise<void> {
  if (aptUpdated) return;
  log("apt-get update");
  await run(["apt-get", ...aptOptions, "update"]);
  aptUpdated = true;
}

/**
 * Installs `specs`; with `targetRelease`, their dependencies come from that suite too: a pinned
 * backports QEMU depends on exact versions of qemu-system-common/-data and a newer seabios, which
 * apt would otherwise look for in the base release (and refuse as held broken packages).
 */
async function aptInstall(specs: string[], targetRelease?: string): Promise<void> {
  log(`apt-get install ${targetRelease === undefined ? "" : `-t ${targetRelease} `}${specs.join(" ")}`);
  const target = targetRelease === undefined ? [] : ["-t", targetRelease];
  await run(
    ["apt-get", ...aptOptions, "install", "-y", "--no-install-recommends", "--allow-downgrades", ...target, ...specs],
    { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } },
  );
}

async function aptInstallOrUpdateAndRetry(specs: string[], lock: PackageLock, targetRelease?: string): Promise<void> {
  if (specs.length === 0) return;
  try {
    await aptInstall(specs, targetRelease);
  } catch {
    await aptUpdate();
    await aptInstall(specs, targetRelease).catch((error: unknown) => {
      throw new Error(
        `cannot install ${specs.join(", ")} (pinned in ${lockFile}; is ${lock.aptSource.suite} reachable?): ${String(error)}`,
      );
    });
  }
}

/** Installs the pinned QEMU and the host build tools that are missing. */
export async function ensureHostPackages(lock: PackageLock): Promise<void> {
  if (await ensureAptSource(lock)) await aptUpdate();
  const pinned: string[] = [];
  for (const pin of lock.host) {
    if ((await installedVersion(pin.name)) !== pin.version) pinned.push(`${pin.name}=${pin.version}`);
  }
  const tools: string[] = [];
  for (const tool of hostTools) {
    if ((await installedVersion(tool)) === null) tools.push(tool);
  }
  await aptInstallOrUpdateAndRetry(pinned, lock, lock.aptSource.suite);
  await aptInstallOrUpdateAndRetry(tools, lock);
}

export function debPath(deb: PinnedDeb): string {
  return path.join(debCacheDir, `${deb.name}_${deb.version.replaceAll(":", "%3a")}.deb`);
}

/**
 * Makes the pinned .deb available in the cache: the cached copy when its hash
 * matches, otherwise `apt-get download` of the exact version. Fails naming the
 * package and version when neither works.
 */
export async function fetchDeb(deb: PinnedDeb): Promise<string> {
  const target = debPath(deb);
  if (existsSync(target)) {
    const sum = await sha256File(target);
    if (sum === deb.sha256) return target;
    log(`cached ${path.basename(target)} has sha256 ${sum}, expected ${deb.sha256}: downloading again`);
    await rm(target);
  }
  await mkdir(debCacheDir, { recursive: true });
  const scratch = await mkdtemp(path.join(debCacheDir, ".download-"));
  try {
    const spec = `${deb.name}=${deb.version}`;
    let result = await run(["apt-get", ...aptOptions, "download", spec], { cwd: scratch, allowFailure: true });
    if (result.code !== 0) {
      await aptUpdate();
      result = await run(["apt-get", ...aptOptions, "download", spec], { cwd: scratch, allowFailure: true });
    }
    const files = await readdir(scratch);
    const file = files[0];
    if (result.code !== 0 || file === undefined) {
      throw new Error(
        `lab package ${deb.name} version ${deb.version} is neither in the apt mirror nor cached in ${debCacheDir}` +
          ` (pinned in ${lockFile}): ${result.stderr.trim().split("\n").slice(-2).join(" ")}`,
      );
    }
    const sum = await sha256File(path.join(scratch, file));
    if (sum !== deb.sha256) {
      throw new Error(`downloaded ${deb.name} ${deb.version} has sha256 ${sum}, but ${lockFile} pins ${deb.sha256}`);
    }
    await rename(path.join(scratch, file), target);
    log(`downloaded ${deb.name} ${deb.version}`);
    return target;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Extracts a set of .debs into one directory tree (headers and kbuild must
 * share a root: their symlinks are relative), then runs `finish` on it before
 * publishing. Keyed by the .debs' hashes.
 */
export async function extractTree(
  name: string,
  debs: PinnedDeb[],
  finish?: (root: string) => Promise<void>,
): Promise<string> {
  const key = debs.map((deb) => deb.sha256.slice(0, 12)).join("-");
  const root = path.join(cacheDir, "trees", `${name}-${key}`);
  const stampName = ".accelnet-extracted";
  const complete = (dir: string): boolean => existsSync(path.join(dir, stampName));
  if (complete(root)) return root;
  const scratch = scratchPath(root);
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  try {
    for (const deb of debs) {
      await run(["dpkg-deb", "-x", await fetchDeb(deb), scratch]);
    }
    await finish?.(scratch);
    await writeFile(path.join(scratch, stampName), `${debs.map((deb) => `${deb.name}=${deb.version}`).join("\n")}\n`);
    await publish(scratch, root, complete);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  log(`extracted ${name} tree`);
  return root;
}

export function debsWithRole(lock: PackageLock, role: PinnedDeb["role"]): PinnedDeb[] {
  return lock.debs.filter((deb) => deb.role === role);
}
