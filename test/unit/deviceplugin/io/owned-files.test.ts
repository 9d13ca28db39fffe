// OwnedFiles on a real temp dir: a file is removed only while it is the one we wrote.
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { OwnedFiles } from "../../../../deviceplugin/io/owned-files.js";

let dir = "";
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "acn-owned-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("OwnedFiles", () => {
  it("writes atomically with the mode, creating the dir, and leaves no temporary file", async () => {
    const files = new OwnedFiles();
    const path = join(dir, "sub", "a-device.json");
    await files.write(path, "one", 0o444);
    await files.write(path, "two", 0o444);
    expect(readFileSync(path, "utf8")).toBe("two");
    expect(lstatSync(path).mode & 0o777).toBe(0o444);
    expect(readdirSync(join(dir, "sub"))).toEqual(["a-device.json"]);
    await files.removeAll();
    expect(existsSync(path)).toBe(false);
  });

  it("leaves a file that another instance wrote at the same path since (rollout)", async () => {
    const old = new OwnedFiles();
    const path = join(dir, "a-device.json");
    await old.write(path, "old", 0o444);
    // The new instance writes its own file over ours, as OwnedFiles does: a new inode renamed into place.
    writeFileSync(join(dir, "new.tmp"), "new");
    renameSync(join(dir, "new.tmp"), path);
    await old.removeAll();
    expect(readFileSync(path, "utf8")).toBe("new");
    await old.remove(path); // forgotten: nothing happens
    expect(existsSync(path)).toBe(true);
  });

  it("replaces a symlink at the path instead of writing through it", async () => {
    const files = new OwnedFiles();
    const target = join(dir, "target");
    writeFileSync(target, "keep");
    const path = join(dir, "link-device.json");
    // A symlink at the final path is replaced by rename, never written through.
    symlinkSync(target, path);
    await files.write(path, "ours", 0o444);
    expect(readFileSync(target, "utf8")).toBe("keep");
    expect(lstatSync(path).isFile()).toBe(true);
  });
});
