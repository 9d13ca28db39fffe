// The walk to a directory root acts in, on real directories: every ancestor from "/" is checked
// (owner, mode, symlink), and nothing is created below one that fails. Needs root for chown (CI is root).
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  fstatSync,
  lchownSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkTrustedDir, fdPath, openTrustedDir, UntrustedPathError } from "../../../../cni/lib/trusted-dir.js";

const NOBODY = 65534;

function refusal(fn: () => unknown): UntrustedPathError {
  try {
    fn();
  } catch (err) {
    if (err instanceof UntrustedPathError) return err;
    throw err;
  }
  throw new Error("expected an UntrustedPathError, got none");
}

describe("openTrustedDir()", () => {
  let base: string;
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), "acn-walk-"));
    chmodSync(base, 0o755);
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it("returns a handle to the directory itself, checked from / down", () => {
    mkdirSync(join(base, "a", "b"), { recursive: true });
    const fd = openTrustedDir(join(base, "a", "b"));
    try {
      expect(fstatSync(fd).ino).toBe(statSync(join(base, "a", "b")).ino);
    } finally {
      closeSync(fd);
    }
  });

  it("the handle stays on the directory checked even when its name is renamed away afterwards", () => {
    mkdirSync(join(base, "d"));
    const fd = openTrustedDir(join(base, "d"));
    try {
      renameSync(join(base, "d"), join(base, "moved"));
      mkdirSync(join(base, "d"));
      writeFileSync(fdPath(fd, "f"), "x");
      expect(existsSync(join(base, "moved", "f"))).toBe(true);
      expect(existsSync(join(base, "d", "f"))).toBe(false);
    } finally {
      closeSync(fd);
    }
  });

  it.each([
    ["group-writable", 0o775, "has mode 0775: group or others can write to it"],
    ["other-writable", 0o757, "has mode 0757: group or others can write to it"],
    ["sticky and world-writable (like /tmp)", 0o1777, "has mode 1777: group or others can write to it"],
    [
      "sticky and group-writable (like Debian's /var/log/postgresql)",
      0o1775,
      "has mode 1775: group or others can write to it",
    ],
  ])("refuses a path with a %s ancestor, and creates nothing below it", (_name, mode, why) => {
    const ancestor = join(base, "anc");
    mkdirSync(join(ancestor, "state"), { recursive: true });
    chmodSync(ancestor, mode);
    const err = refusal(() => openTrustedDir(join(ancestor, "state", "new"), [], { create: { mode: 0o700 } }));
    expect(err.message).toBe(`"${ancestor}" ${why}`);
    expect(existsSync(join(ancestor, "state", "new"))).toBe(false);
  });

  it("refuses a path with an ancestor owned by another user (nobody), though mode 0755", () => {
    const ancestor = join(base, "anc");
    mkdirSync(join(ancestor, "state"), { recursive: true, mode: 0o755 });
    chownSync(ancestor, NOBODY, NOBODY);
    const err = refusal(() => openTrustedDir(join(ancestor, "state")));
    expect(err.message).toBe(`"${ancestor}" is owned by uid ${NOBODY}, not root`);
  });

  it("refuses a directory owned by nobody below the path (the config's part) as well", () => {
    mkdirSync(join(base, "root", "sub"), { recursive: true });
    chownSync(join(base, "root", "sub"), NOBODY, NOBODY);
    const err = refusal(() => openTrustedDir(join(base, "root"), ["sub"]));
    expect(err.message).toBe(`"${join(base, "root", "sub")}" is owned by uid ${NOBODY}, not root`);
  });

  it("refuses a symlinked ancestor that nobody owns, even to a good directory", () => {
    mkdirSync(join(base, "real", "state"), { recursive: true });
    symlinkSync(join(base, "real"), join(base, "link"));
    lchownSync(join(base, "link"), NOBODY, NOBODY);
    const err = refusal(() => openTrustedDir(join(base, "link", "state")));
    expect(err.message).toBe(`"${join(base, "link")}" is a symbolic link owned by uid ${NOBODY}, not root`);
  });

  it("follows a root-owned symlinked ancestor in a trusted directory (/var/run -> /run), checking its target", () => {
    mkdirSync(join(base, "run", "devinfo"), { recursive: true });
    symlinkSync("run", join(base, "varrun")); // relative, as /var/run -> ../run
    const fd = openTrustedDir(join(base, "varrun", "devinfo"));
    try {
      expect(fstatSync(fd).ino).toBe(statSync(join(base, "run", "devinfo")).ino);
    } finally {
      closeSync(fd);
    }
    // ... and refuses when the target is not trusted
    chmodSync(join(base, "run"), 0o777);
    expect(refusal(() => openTrustedDir(join(base, "varrun", "devinfo"))).message).toBe(
      `"${join(base, "run")}" has mode 0777: group or others can write to it`,
    );
  });

  it("refuses a symlink as the directory itself or anywhere below it, even root's", () => {
    mkdirSync(join(base, "real"));
    symlinkSync(join(base, "real"), join(base, "state"));
    expect(refusal(() => openTrustedDir(join(base, "state"))).message).toBe(
      `"${join(base, "state")}" is a symbolic link`,
    );
    mkdirSync(join(base, "root"));
    symlinkSync(join(base, "real"), join(base, "root", "sub"));
    expect(refusal(() => openTrustedDir(join(base, "root"), ["sub"])).message).toBe(
      `"${join(base, "root", "sub")}" is a symbolic link`,
    );
  });

  it("refuses a file on the way, and names below the path that are not plain names", () => {
    writeFileSync(join(base, "file"), "");
    expect(refusal(() => openTrustedDir(join(base, "file", "x"))).message).toBe(
      `"${join(base, "file")}" is not a directory`,
    );
    mkdirSync(join(base, "root"));
    for (const bad of ["..", ".", "a/b", ""]) {
      expect(refusal(() => openTrustedDir(join(base, "root"), [bad])).why).toBe("is not a plain name");
    }
  });

  it("creates missing directories one at a time after checking each parent: the last with the mode, others 0755", () => {
    checkTrustedDir(join(base, "x", "y"), ["z"], { create: { mode: 0o700 } });
    expect(statSync(join(base, "x")).mode & 0o7777).toBe(0o755);
    expect(statSync(join(base, "x", "y")).mode & 0o7777).toBe(0o755);
    expect(statSync(join(base, "x", "y", "z")).mode & 0o7777).toBe(0o700);
  });

  it("without `create`, a missing directory is the fs error ENOENT", () => {
    expect(() => openTrustedDir(join(base, "missing"))).toThrow(expect.objectContaining({ code: "ENOENT" }));
  });
});
