import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execPlugin } from "../../../../cni/lib/exec.js";

describe("execPlugin()", () => {
  let dir: string;
  let plugin: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "acn-exec-"));
    plugin = join(dir, "plugin");
    writeFileSync(plugin, '#!/bin/sh\nread line\necho "$line/$FOO/${HOME:-nohome}"\necho err >&2\nexit 3\n');
    chmodSync(plugin, 0o755);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("passes exactly the given env and stdin and collects stdout, stderr and the exit code", async () => {
    const out = await execPlugin({ path: plugin, env: { FOO: "bar", UNSET: undefined }, stdin: "hello\n" });
    expect(out).toEqual({ stdout: "hello/bar/nohome\n", stderr: "err\n", exitCode: 3, signal: null, timedOut: false });
  });

  it("reports a timeout", async () => {
    const slow = join(dir, "slow");
    writeFileSync(slow, "#!/bin/sh\nexec sleep 5\n");
    chmodSync(slow, 0o755);
    const out = await execPlugin({ path: slow, env: {}, stdin: "", timeoutMs: 100 });
    expect(out).toMatchObject({ timedOut: true, signal: "SIGKILL", exitCode: null });
  });

  it("on a timeout kills the plugin's whole process group, not only the plugin", async () => {
    // The plugin starts a grandchild (a chain of delegated plugins, a hung helper) that records its pid.
    const chain = join(dir, "chain");
    const pidFile = join(dir, "grandchild.pid");
    writeFileSync(
      chain,
      `#!/bin/sh
sleep 30 </dev/null >/dev/null 2>&1 &
echo $! > ${pidFile}
wait
`,
    );
    chmodSync(chain, 0o755);
    const out = await execPlugin({ path: chain, env: {}, stdin: "", timeoutMs: 300 });
    expect(out.timedOut).toBe(true);
    const grandchild = Number(readFileSync(pidFile, "utf8"));
    expect(grandchild).toBeGreaterThan(0);
    await expect.poll(() => isAlive(grandchild), { timeout: 2000 }).toBe(false);
  });

  it("rejects when the executable cannot be started", async () => {
    await expect(execPlugin({ path: join(dir, "missing"), env: {}, stdin: "" })).rejects.toMatchObject({
      code: "ENOENT",
    });
  });
});

/** Whether `pid` is a live process (a zombie counts as gone: it was killed, its parent not yet done). */
function isAlive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}
