// Cache entries are built under a private temporary name and then renamed
// into place, so two lab runs at once (two test runners, or a developer's CLI
// run beside CI) never see or delete each other's half-built entries.
import { existsSync } from "node:fs";
import { rename, rm } from "node:fs/promises";

/** A per-process temporary name next to `target`. */
export function scratchPath(target: string): string {
  return `${target}.tmp-${process.pid}`;
}

/**
 * Moves a finished `scratch` to `target`. When another run published the same
 * entry first, theirs is kept (entries are keyed by their inputs, so both are
 * equal) and ours is dropped. `complete` tells a finished entry from a stale,
 * interrupted one, which is replaced.
 */
export async function publish(scratch: string, target: string, complete: (target: string) => boolean): Promise<void> {
  if (existsSync(target) && !complete(target)) await rm(target, { recursive: true, force: true });
  try {
    await rename(scratch, target);
  } catch (error) {
    if (!complete(target)) throw error;
    await rm(scratch, { recursive: true, force: true });
  }
}
