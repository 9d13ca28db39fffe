// native/client/helper.ts against the real helper binary (no root needed):
// argv building, reply parsing, NativeError fields and message, timeouts.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { fakeScript } from "../_fake.js";
import { cmd, type Command } from "../../../../native/client/commands.js";
import { createNativeClient, helperArgv, NativeError } from "../../../../native/client/helper.js";

const HELPER = fileURLToPath(new URL("../../../../dist/native/accelnet-helper", import.meta.url));

async function failure(p: Promise<unknown>): Promise<NativeError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof NativeError) return e;
    throw e;
  }
  throw new Error("Expected the helper to fail");
}

describe("native client", () => {
  let dir = "";
  const fake = (name: string, body: string): string => fakeScript(dir, name, body);

  beforeAll(() => {
    if (!existsSync(HELPER)) throw new Error(`Cannot find "${HELPER}": run "make -C native" first`);
    dir = mkdtempSync(join(tmpdir(), "acn-client-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const client = createNativeClient({ helperPath: HELPER });

  it("helperArgv() puts globals first and separates commands with --", () => {
    expect(
      helperArgv({ sysfsRoot: "/tmp/sys", devRoot: "/tmp/dev" }, [cmd.linkList({}), cmd.linkShow({ name: "lo" })]),
    ).toEqual(["--sysfs-root=/tmp/sys", "--dev-root=/tmp/dev", "link-list", "--", "link-show", "name=lo"]);
  });

  it("the helper answers --version with its command list", () => {
    const reply = JSON.parse(execFileSync(HELPER, ["--version"], { encoding: "utf8" })) as {
      ok: boolean;
      version: string;
      commands: string[];
    };
    expect(reply.ok).toBe(true);
    expect(reply.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(reply.commands).toEqual(expect.arrayContaining(["link-show", "macvlan-add", "sysctl-set"]));
  });

  it("run() resolves with one typed result per command of the batch", async () => {
    const [shown, list] = await client.run([cmd.linkShow({ name: "lo", addrs: true }), cmd.linkList({})]);
    expect(shown.link).toMatchObject({ index: 1, name: "lo", up: true, kind: null, vfs: [] });
    expect(shown.addrs).toEqual(
      expect.arrayContaining([expect.objectContaining({ address: "127.0.0.1", prefixlen: 8 })]),
    );
    expect(list.links.map((l) => l.name)).toContain("lo");
  });

  it("run() rejects a failed command with the helper's fields and the completed results", async () => {
    const argv = ["link-show", "name=lo", "--", "link-show", "name=acn-nope0"];
    const e = await failure(client.run([cmd.linkShow({ name: "lo" }), cmd.linkShow({ name: "acn-nope0" })]));
    expect(e).toBeInstanceOf(NativeError);
    expect(e).toMatchObject({
      name: "NativeError",
      argv,
      exitCode: 1,
      signal: null,
      timedOut: false,
      stderr: "",
      index: 1,
      cmd: "link-show",
      op: "RTM_GETLINK",
      object: "acn-nope0",
      errno: 19,
      errname: "ENODEV",
      extack: null,
      attr: null,
    });
    expect(e.message).toBe('Cannot link-show "acn-nope0": No such device');
    expect(e.completed).toHaveLength(1);
    expect(e.completed[0]).toMatchObject({ link: { name: "lo" } });
  });

  it("run() rejects invalid arguments with exit code 2 and the validation message", async () => {
    const e = await failure(client.run([cmd.linkShow({ name: "lo" }), cmd.linkSetMtu({ name: "lo", mtu: 67 })]));
    expect(e).toMatchObject({
      exitCode: 2,
      index: 1,
      cmd: "link-set-mtu",
      op: "parse",
      object: "mtu",
      errname: "EINVAL",
    });
    expect(e.completed).toEqual([]);
    expect(e.message).toBe(
      'Cannot link-set-mtu "mtu": link-set-mtu: invalid mtu "67": expected an integer in 68-65535',
    );
  });

  it("run() rejects an unknown command", async () => {
    const bogus: Command<unknown> = { name: "link-frob", args: [] };
    const e = await failure(client.run([bogus]));
    expect(e).toMatchObject({ exitCode: 2, cmd: "link-frob", object: "link-frob", op: "parse" });
  });

  it("run() passes sysfsRoot and devRoot as globals the helper validates", async () => {
    const bad = createNativeClient({ helperPath: HELPER, sysfsRoot: "relative/sys" });
    const e = await failure(bad.run([cmd.linkList({})]));
    expect(e).toMatchObject({ exitCode: 2, index: null, cmd: null, object: "--sysfs-root=relative/sys" });
    const good = createNativeClient({ helperPath: HELPER, sysfsRoot: dir, devRoot: dir });
    const [list] = await good.run([cmd.linkList({})]);
    expect(list.links.length).toBeGreaterThan(0);
  });

  it("run() kills a helper that exceeds timeoutMs and says so", async () => {
    const slow = createNativeClient({ helperPath: fake("slow", "exec sleep 10"), timeoutMs: 200 });
    const started = Date.now();
    const e = await failure(slow.run([cmd.linkList({})]));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(e).toMatchObject({ timedOut: true, signal: "SIGKILL", exitCode: null });
    expect(e.message).toMatch(
      /^Cannot run helper ".*slow": timed out \(\d+ ms, state S( in \w+)?, \d+ ms on a CPU, \d+ ms waiting for one\)$/,
    );
  });

  it("run() rejects a reply that is not JSON, keeping stderr and the parse error as cause", async () => {
    const e = await failure(
      createNativeClient({ helperPath: fake("garbage", "echo oops >&2; echo not-json; exit 3") }).run([
        cmd.linkList({}),
      ]),
    );
    expect(e).toMatchObject({ exitCode: 3, stderr: "oops\n", timedOut: false });
    expect(e.message).toMatch(/^Cannot parse reply of helper ".*garbage" \(exit code 3\): not JSON$/);
    expect(e.cause).toBeInstanceOf(SyntaxError);
  });

  it("run() rejects an ok reply whose result count does not match the batch", async () => {
    const e = await failure(
      createNativeClient({ helperPath: fake("short", `echo '{"ok":true,"results":[]}'`) }).run([cmd.linkList({})]),
    );
    expect(e.message).toMatch(/ok with exit code 0 and 0 of 1 results$/);
  });

  it("run() reports the extack text after the errno text", async () => {
    const reply =
      '{"ok":false,"results":[],"error":{"index":0,"cmd":"route-add","op":"RTM_NEWROUTE","object":"10.0.0.0/8",' +
      '"errno":101,"errname":"ENETUNREACH","message":"Network is unreachable","extack":"Nexthop has invalid gateway",' +
      '"attr":"RTA_GATEWAY"}}';
    const e = await failure(
      createNativeClient({ helperPath: fake("extack", `echo '${reply}'; exit 1`) }).run([
        cmd.routeAdd({ dst: "10.0.0.0/8" }),
      ]),
    );
    expect(e).toMatchObject({ extack: "Nexthop has invalid gateway", attr: "RTA_GATEWAY", errno: 101 });
    expect(e.message).toBe('Cannot route-add "10.0.0.0/8": Network is unreachable: Nexthop has invalid gateway');
  });

  it("run() wraps a helper that cannot be started, with the spawn error as cause", async () => {
    const missing = join(dir, "does-not-exist");
    const e = await failure(createNativeClient({ helperPath: missing }).run([cmd.linkList({})]));
    expect(e.message).toMatch(/^Cannot run helper ".*does-not-exist": spawn .* ENOENT$/);
    expect((e.cause as NodeJS.ErrnoException).code).toBe("ENOENT");
    expect(e.exitCode).toBe(null);
  });
});
