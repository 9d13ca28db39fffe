// Step 2a: the guest's kernel modules. Dependencies are resolved on the host
// with kmod against the extracted tree; the guest only runs busybox insmod,
// which cannot read .ko.xz, so the set is decompressed here.
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { CacheKey } from "./hash.js";
import { log, run, runToFile } from "./exec.js";
import { cacheDir } from "./paths.js";
import { publish, scratchPath } from "./publish.js";

/** What the guest loads at boot, in this order (dependencies are added before each). */
export const guestModules = [
  "9pnet_virtio",
  "9p",
  "igb",
  "igbvf",
  "vfio-pci",
  "vfio_iommu_type1",
  "vdpa",
  "vhost_vdpa",
  "virtio_vdpa",
  "virtio_net",
  "vduse",
  "macvlan",
  "veth",
  "8021q",
  // The tap device of an OVS netdev bridge's local port (the OVS-DPDK fixture, guest/ovs.ts).
  "tun",
  // netdevsim's only dependency; netdevsim itself is built out of tree.
  "psample",
];

export interface ModuleSet {
  /** Root of a tree holding lib/modules/RELEASE/... (decompressed). */
  root: string;
  /** Paths relative to `root`, in load order. */
  loadOrder: string[];
  key: string;
}

/** Writes modules.dep into a freshly extracted kernel tree (the package ships none). */
export async function depmod(kernelTree: string, release: string): Promise<void> {
  await run(["depmod", "-b", kernelTree, release]);
}

/** `modprobe --show-depends` lists `insmod PATH` lines, dependencies first. */
async function resolveOrder(kernelTree: string, release: string, names: readonly string[]): Promise<string[]> {
  const order: string[] = [];
  for (const name of names) {
    const { stdout } = await run(["modprobe", "-d", kernelTree, "-S", release, "--show-depends", name]);
    for (const line of stdout.split("\n")) {
      const match = /^insmod (\S+)/.exec(line);
      if (match?.[1] === undefined) continue;
      const relative = path.relative(kernelTree, match[1]);
      if (!order.includes(relative)) order.push(relative);
    }
  }
  return order;
}

/** `kernelTree` must have been through depmod (see setup.ts). */
export async function buildModuleSet(kernelTree: string, release: string): Promise<ModuleSet> {
  const compressed = await resolveOrder(kernelTree, release, guestModules);
  const key = new CacheKey().value("release", release).value("order", compressed.join("\n"));
  for (const file of compressed) await key.file(file, path.join(kernelTree, file));
  const digest = key.digest();
  const root = path.join(cacheDir, `modules-${digest}`);
  const loadOrder = compressed.map((file) => file.replace(/\.xz$/, ""));
  const orderFile = path.join(root, "load-order");
  if (existsSync(orderFile)) {
    return { root, loadOrder: (await readFile(orderFile, "utf8")).trim().split("\n"), key: digest };
  }
  const scratch = scratchPath(root);
  await rm(scratch, { recursive: true, force: true });
  try {
    for (const [index, file] of compressed.entries()) {
      const target = path.join(scratch, loadOrder[index] ?? file);
      await mkdir(path.dirname(target), { recursive: true });
      await decompress(path.join(kernelTree, file), target);
    }
    await writeFile(path.join(scratch, "load-order"), `${loadOrder.join("\n")}\n`);
    await publish(scratch, root, (dir) => existsSync(path.join(dir, "load-order")));
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  log(`module set: ${loadOrder.length} modules`);
  return { root, loadOrder, key: digest };
}

async function decompress(source: string, target: string): Promise<void> {
  if (source.endsWith(".xz")) await runToFile(["xz", "-dc", "--", source], target);
  else await writeFile(target, await readFile(source));
}
