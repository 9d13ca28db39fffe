import {
  chmodSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolveHelperPath, type HelperPathDeps } from "../../../../cni/lib/helper-path.js";

describe("resolveHelperPath()", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "acn-helper-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const deps = (over: Partial<HelperPathDeps>): HelperPathDeps => ({
    env: {},
    execPath: join(dir, "bin", "accelnet"),
    mainScript: undefined,
    isSea: () => true,
    asset: () => undefined,
    ...over,
  });
  const exe = (path: string) => {
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, "#!/bin/sh\n");
    chmodSync(path, 0o755);
  };

  it("prefers env ACCELNET_HELPER, resolved against the working directory", () => {
    expect(resolveHelperPath(dir, deps({ env: { ACCELNET_HELPER: "dist/native/accelnet-helper-asan" } }))).toBe(
      resolve("dist/native/accelnet-helper-asan"),
    );
  });

  it("uses accelnet-helper next to the single executable", () => {
    exe(join(dir, "bin", "accelnet-helper"));
    expect(resolveHelperPath(dir, deps({}))).toBe(join(dir, "bin", "accelnet-helper"));
  });

  it("outside a single executable, looks next to the main script, then in ../native", () => {
    exe(join(dir, "dist", "native", "accelnet-helper"));
    const d = deps({ isSea: () => false, mainScript: join(dir, "dist", "bundle", "cni.cjs") });
    expect(resolveHelperPath(dir, d)).toBe(join(dir, "dist", "bundle", "..", "native", "accelnet-helper"));
  });

  it("extracts the embedded asset once, mode 0700, named by its hash", () => {
    const bytes = new TextEncoder().encode("#!/bin/sh\necho helper\n");
    let reads = 0;
    const d = deps({
      asset: () => {
        reads++;
        return bytes.buffer.slice(0);
      },
    });
    const first = resolveHelperPath(dir, d);
    expect(first).toMatch(new RegExp(`^${dir}/bin/accelnet-helper-[0-9a-f]{16}$`));
    expect(statSync(first).mode & 0o777).toBe(0o700);
    expect(readFileSync(first, "utf8")).toBe("#!/bin/sh\necho helper\n");
    expect(resolveHelperPath(dir, d)).toBe(first);
    expect(reads).toBe(2);
  });

  describe("an extracted helper is executed only when it is what extraction left", () => {
    const bytes = new TextEncoder().encode("#!/bin/sh\necho helper\n");
    const d = () => deps({ asset: () => bytes.buffer.slice(0) });
    const content = "#!/bin/sh\necho helper\n";

    it.each([
      ["its mode was widened", (p: string) => chmodSync(p, 0o755)],
      ["it was truncated", (p: string) => writeFileSync(p, "#!/bin/sh\n")],
      ["it was replaced by a symlink", (p: string) => (rmSync(p), symlinkSync("/bin/sh", p))],
      ["a hard link to it exists", (p: string) => linkSync(p, `${p}.link`)],
    ])("re-extracts it atomically when %s", (_name, tamper) => {
      const first = resolveHelperPath(dir, d());
      tamper(first);
      const again = resolveHelperPath(dir, d());
      expect(again).toBe(first);
      expect(lstatSync(first).isFile()).toBe(true);
      expect(statSync(first).mode & 0o777).toBe(0o700);
      expect(readFileSync(first, "utf8")).toBe(content);
    });

    it("refuses with code 5, executing nothing, when a directory took its place", () => {
      const first = resolveHelperPath(dir, d());
      rmSync(first);
      mkdirSync(first);
      expect(() => resolveHelperPath(dir, d())).toThrow(
        expect.objectContaining({ code: 5, message: expect.stringMatching(/^Cannot extract helper /) as string }),
      );
    });

    it.each([
      [
        "the state dir",
        (s: string) => chmodSync(s, 0o777),
        (s: string) => `Cannot use helper dir "${join(s, "bin")}": "${s}" has mode 0777`,
      ],
      [
        "a directory above the state dir (sticky bit or not)",
        (s: string) => chmodSync(join(s, ".."), 0o1777),
        (s: string) => `Cannot use helper dir "${join(s, "bin")}": "${join(s, "..")}" has mode 1777`,
      ],
      [
        "its bin dir",
        (s: string) => (mkdirSync(join(s, "bin")), chmodSync(join(s, "bin"), 0o775)),
        (s: string) => `Cannot use helper dir "${join(s, "bin")}"`,
      ],
    ])("refuses to extract when %s is writable by others (code 5)", (_name, loosen, prefix) => {
      const state = join(dir, "state");
      mkdirSync(state, { mode: 0o700 });
      loosen(state);
      expect(() => resolveHelperPath(state, d())).toThrow(
        expect.objectContaining({ code: 5, message: expect.stringContaining(prefix(state)) as string }),
      );
    });
  });

  it("fails with code 101 when nothing is found", () => {
    expect(() => resolveHelperPath(dir, deps({}))).toThrow(
      expect.objectContaining({
        code: 101,
        message: `Cannot find helper "accelnet-helper": set ACCELNET_HELPER or install it next to "${join(dir, "bin", "accelnet")}"`,
      }),
    );
  });
});
