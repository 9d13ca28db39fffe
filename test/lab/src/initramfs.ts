// Step 2c: the guest's initramfs, made from the host's own Debian binaries:
// busybox-static for the basics, dash as /bin/sh (busybox's shell would run
// its own `ip` applet ahead of PATH), iproute2's ip and vdpa, the shared
// libraries of those and of node (node itself is served over 9p), Debian's
// IPAM plugins host-local and static at /usr/lib/cni (guest tests delegate
// IPAM to them as the CNI does on a node), Debian's dpdk-testpmd with the PMD
// plugins the lab's devices need (the workload a pod runs on a vfio-pci VF or
// a vhost-vdpa device), Debian's Open vSwitch with DPDK (ovsdb-server,
// ovs-vswitchd-dpdk, the tools, the schema; from the pinned "ovs" debs), and
// the module set. The archive is cached by a hash over everything put into it.
import { existsSync } from "node:fs";
import { readdir, readFile, realpath, rename, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { writeCpio, type CpioEntry } from "./cpio.js";
import { CacheKey } from "./hash.js";
import { log, run } from "./exec.js";
import type { ModuleSet } from "./modules.js";
import type { NetdevsimBuild } from "./netdevsim.js";
import { cacheDir, guestCniDir, guestDir, guestNode, repoRoot } from "./paths.js";
import { scratchPath } from "./publish.js";

/**
 * Debian's DPDK (package dpdk-dev has dpdk-testpmd). Its EAL loads every
 * `.so` in the PMD plugin directory at start; only the plugins the lab's
 * devices need go into the guest's copy of that directory: the igb VF PMD
 * (net_e1000_igb_vf), virtio (virtio_user on /dev/vhost-vdpa-N) and the ring
 * mempool testpmd allocates its mbufs from. The buses and the rest are linked
 * into dpdk-testpmd (RUNPATH is the plugin directory) and come in as its
 * shared libraries.
 */
export const dpdkTestpmd = "/usr/bin/dpdk-testpmd";
const dpdkPmdDir = "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0";
const dpdkPlugins = ["librte_net_e1000.so", "librte_net_virtio.so", "librte_mempool_ring.so"];

/** Host binaries copied into the guest, by their path in the guest. */
const binaries: Record<string, string> = {
  "usr/bin/busybox": "/usr/bin/busybox",
  "usr/bin/dash": "/usr/bin/dash",
  "usr/sbin/ip": "/usr/bin/ip",
  "usr/sbin/vdpa": "/usr/sbin/vdpa",
  [dpdkTestpmd.slice(1)]: dpdkTestpmd,
};

/**
 * Open vSwitch from the extracted "ovs" debs (packages.lock), by their path in
 * the guest → their path in that tree. ovs-vswitchd is the DPDK build
 * (openvswitch-switch-dpdk), under the name the daemon has on a node; it loads
 * its DPDK PMD plugins from the same directory as dpdk-testpmd. Their shared
 * libraries are the host's (hostTools in packages.ts).
 */
const ovsBinaries: Record<string, string> = {
  "usr/sbin/ovsdb-server": "usr/sbin/ovsdb-server",
  "usr/sbin/ovs-vswitchd": "usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk",
  "usr/bin/ovsdb-tool": "usr/bin/ovsdb-tool",
  "usr/bin/ovsdb-client": "usr/bin/ovsdb-client",
  "usr/bin/ovs-vsctl": "usr/bin/ovs-vsctl",
  "usr/bin/ovs-appctl": "usr/bin/ovs-appctl",
  "usr/bin/ovs-ofctl": "usr/bin/ovs-ofctl",
};
/** The database schema ovsdb-tool creates the guest's conf.db from. */
const ovsSchema = "usr/share/openvswitch/vswitch.ovsschema";

/**
 * IPAM plugins from containernetworking-plugins, packed at the same path in
 * the guest. They are Go programs linked against libc (not static), so their
 * libraries go in too.
 */
const ipamPlugins = ["host-local", "static"];

/** Busybox applets the guest must not get: dash and iproute2 provide these. */
const replacedApplets = new Set(["sh", "ash", "ip", "ipneigh", "tc", "init", "linuxrc", "[["]);

/** Merged-/usr layout, as on Debian: /bin, /sbin, /lib, /lib64 point into /usr. */
const layout: CpioEntry[] = [
  ...["usr", "usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "dev", "proc", "sys", "tmp", "run", "etc", "root"].map(
    (dir): CpioEntry => ({ kind: "dir", path: dir }),
  ),
  { kind: "dir", path: "repo" },
  { kind: "dir", path: "results" },
  { kind: "dir", path: "var" },
  { kind: "symlink", path: "var/run", target: "/run" },
  { kind: "symlink", path: "bin", target: "usr/bin" },
  { kind: "symlink", path: "sbin", target: "usr/sbin" },
  { kind: "symlink", path: "lib", target: "usr/lib" },
  { kind: "symlink", path: "lib64", target: "usr/lib64" },
  { kind: "symlink", path: "usr/bin/sh", target: "dash" },
  { kind: "chardev", path: "dev/console", major: 5, minor: 1 },
  { kind: "chardev", path: "dev/null", major: 1, minor: 3, mode: 0o666 },
  { kind: "file", path: "etc/passwd", data: Buffer.from("root:x:0:0:root:/root:/bin/sh\n") },
  { kind: "file", path: "etc/group", data: Buffer.from("root:x:0:\n") },
  { kind: "file", path: "etc/hosts", data: Buffer.from("127.0.0.1 localhost\n::1 localhost\n") },
];

/** Where a host library lands in the merged-/usr guest: /lib/x → usr/lib/x. */
function guestLibraryPath(hostPath: string): string {
  return hostPath.startsWith("/usr/") ? hostPath.slice(1) : `usr${hostPath}`;
}

/** The shared libraries (and the loader) of dynamically linked executables; static ones need none. */
async function sharedLibraries(executables: readonly string[]): Promise<string[]> {
  const libraries = new Set<string>();
  for (const executable of executables) {
    const { code, stdout, stderr } = await run(["ldd", executable], { allowFailure: true });
    if (code !== 0) {
      if (/not a dynamic executable/.test(stdout + stderr)) continue;
      throw new Error(`ldd ${executable} failed (exit ${code}): ${(stderr || stdout).trim()}`);
    }
    for (const line of stdout.split("\n")) {
      const match = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
      if (match?.[1] !== undefined) libraries.add(match[1]);
    }
  }
  return [...libraries].sort();
}

/** Native Node addons in node_modules (vitest's bundler has one); their libraries must be in the guest too. */
async function nativeAddons(): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory() && depth < 4) await walk(full, depth + 1);
      else if (entry.isFile() && entry.name.endsWith(".node")) found.push(full);
    }
  };
  await walk(path.join(repoRoot, "node_modules"), 0);
  return found.sort();
}

export interface Initramfs {
  file: string;
  key: string;
  bytes: number;
}

export async function buildInitramfs(
  release: string,
  modules: ModuleSet,
  netdevsim: NetdevsimBuild,
  ovsTree: string,
): Promise<Initramfs> {
  const entries: CpioEntry[] = [...layout];
  const key = new CacheKey().value("release", release).value("modules", modules.key).value("netdevsim", netdevsim.key);

  const init = await readFile(path.join(guestDir, "init.sh"));
  entries.push({ kind: "file", path: "init", data: init, mode: 0o755 });
  key.bytes("init", init);

  for (const [guestPath, hostPath] of Object.entries(binaries)) {
    const data = await readFile(hostPath);
    entries.push({ kind: "file", path: guestPath, data, mode: 0o755 });
    key.bytes(guestPath, data);
  }
  const { stdout: appletList } = await run(["/usr/bin/busybox", "--list"]);
  for (const applet of appletList.trim().split("\n").sort()) {
    if (replacedApplets.has(applet) || applet === "busybox" || `usr/bin/${applet}` in binaries) continue;
    if (`usr/sbin/${applet}` in binaries) continue;
    entries.push({ kind: "symlink", path: `usr/bin/${applet}`, target: "busybox" });
  }

  entries.push({ kind: "dir", path: guestCniDir.slice(1) });
  const plugins = ipamPlugins.map((name) => path.join(guestCniDir, name));
  for (const plugin of plugins) {
    if (!existsSync(plugin)) throw new Error(`${plugin} is missing: install Debian's containernetworking-plugins`);
    const data = await readFile(plugin);
    entries.push({ kind: "file", path: plugin.slice(1), data, mode: 0o755 });
    key.bytes(plugin.slice(1), data);
  }

  entries.push({ kind: "dir", path: "usr/share" }, { kind: "dir", path: "usr/share/openvswitch" });
  const ovsFiles: Record<string, { source: string; mode: number }> = {
    [ovsSchema]: { source: ovsSchema, mode: 0o644 },
  };
  for (const [guestPath, treePath] of Object.entries(ovsBinaries))
    ovsFiles[guestPath] = { source: treePath, mode: 0o755 };
  for (const [guestPath, { source, mode }] of Object.entries(ovsFiles)) {
    const data = await readFile(path.join(ovsTree, source));
    entries.push({ kind: "file", path: guestPath, data, mode });
    key.bytes(guestPath, data);
  }

  const pmds = dpdkPlugins.map((name) => path.join(dpdkPmdDir, name));
  for (const pmd of pmds) {
    if (!existsSync(pmd)) throw new Error(`${pmd} is missing: install Debian's dpdk-dev`);
  }
  const libraries = await sharedLibraries([
    "/usr/bin/dash",
    "/usr/bin/ip",
    "/usr/sbin/vdpa",
    dpdkTestpmd,
    ...pmds,
    ...plugins,
    ...Object.values(ovsBinaries).map((treePath) => path.join(ovsTree, treePath)),
    guestNode,
    ...(await nativeAddons()),
  ]);
  const addedDirs = new Set<string>(["usr/lib", "usr/lib64"]);
  const addParents = (guestPath: string): void => {
    const missing: string[] = [];
    for (let dir = path.dirname(guestPath); !addedDirs.has(dir) && dir !== "."; dir = path.dirname(dir))
      missing.unshift(dir);
    for (const dir of missing) {
      entries.push({ kind: "dir", path: dir });
      addedDirs.add(dir);
    }
  };
  // The DPDK plugins go in under the `.so` name EAL's directory scan opens; their libraries are above.
  for (const library of [...libraries, ...pmds]) {
    const guestPath = guestLibraryPath(library);
    addParents(guestPath);
    const data = await readFile(await realpath(library));
    entries.push({ kind: "file", path: guestPath, data, mode: 0o755 });
    key.bytes(guestPath, data);
  }

  const moduleDir = `usr/lib/modules/${release}`;
  const loadOrder: string[] = [];
  for (const file of modules.loadOrder) {
    const relative = path.relative(`lib/modules/${release}`, file);
    loadOrder.push(relative);
    entries.push({
      kind: "file",
      path: `${moduleDir}/${relative}`,
      data: await readFile(path.join(modules.root, file)),
    });
  }
  loadOrder.push("extra/netdevsim.ko");
  entries.push({ kind: "file", path: `${moduleDir}/extra/netdevsim.ko`, data: await readFile(netdevsim.ko) });
  entries.push({
    kind: "file",
    path: `${moduleDir}/accelnet-load-order`,
    data: Buffer.from(`${loadOrder.join("\n")}\n`),
  });

  // Parent directories of the module files, in order, before their files.
  const moduleDirs = new Set<string>();
  for (const entry of entries) {
    if (!entry.path.startsWith(`${moduleDir}/`)) continue;
    for (let dir = path.dirname(entry.path); dir !== "usr/lib"; dir = path.dirname(dir)) moduleDirs.add(dir);
  }
  const dirEntries = [...moduleDirs].sort().map((dir): CpioEntry => ({ kind: "dir", path: dir }));
  const ordered = [...entries.slice(0, layout.length), ...dirEntries, ...entries.slice(layout.length)];

  const digest = key.digest();
  const file = path.join(cacheDir, `initramfs-${digest}.cpio`);
  if (!existsSync(file)) {
    const archive = writeCpio(ordered);
    await writeFile(scratchPath(file), archive);
    await rename(scratchPath(file), file);
    log(`initramfs: ${(archive.length / 1e6).toFixed(1)} MB, ${ordered.length} entries`);
  }
  const { size: bytes } = await stat(file);
  return { file, key: digest, bytes };
}
