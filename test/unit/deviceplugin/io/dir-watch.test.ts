// DirWatch on real directories (inotify): the watch follows the directory
// through deletion and re-creation, by the parent's events or by check().
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DirWatch } from "../../../../deviceplugin/io/dir-watch.js";

let root = "";
let watch: DirWatch | null = null;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "acn-dirwatch-"));
});
afterEach(() => {
  watch?.close();
  rmSync(root, { recursive: true, force: true });
});

async function until(pred: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("DirWatch", () => {
  it("reports files in the directory, then in the directory recreated at the same path", async () => {
    const dir = join(root, "device-plugins");
    mkdirSync(dir);
    const seen: (string | null)[] = [];
    watch = new DirWatch({
      dir,
      onChange: (f) => seen.push(f),
      onError: (p, e) => seen.push(`error ${p} ${e.message}`),
    });
    watch.start();
    writeFileSync(join(dir, "one.sock"), "");
    await until(() => seen.includes("one.sock"), "an event in the first dir");

    rmSync(dir, { recursive: true });
    await until(() => seen.includes(null), "the directory's removal");
    const at = seen.length;
    mkdirSync(dir);
    await until(() => seen.slice(at).includes(null), "the directory's re-creation");
    writeFileSync(join(dir, "kubelet.sock"), "");
    await until(() => seen.includes("kubelet.sock"), "an event in the recreated dir");
    expect(seen.filter((s) => typeof s === "string" && s.startsWith("error"))).toEqual([]);
  });

  it("check() notices a directory replaced behind its back (parent gone too)", () => {
    const parent = join(root, "kubelet");
    const dir = join(parent, "device-plugins");
    mkdirSync(dir, { recursive: true });
    let changes = 0;
    watch = new DirWatch({ dir, onChange: (f) => void (f === null && changes++), onError: () => undefined });
    watch.start();
    watch.check();
    expect(changes).toBe(0); // same inode: nothing to say
    rmSync(parent, { recursive: true });
    mkdirSync(dir, { recursive: true });
    watch.check();
    expect(changes).toBeGreaterThanOrEqual(1);
    const after = changes;
    watch.check();
    expect(changes).toBe(after); // re-established on the new inode
  });
});
