// native/client/uevents.ts without root: line parsing, and watchUevents() against small
// stand-in helpers (shell scripts) for the ways a monitor ends. The real monitor on real
// uevents is test/integration/native/uevent-monitor.test.ts.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { fakeScript } from "../_fake.js";
import { NativeError } from "../../../../native/client/helper.js";
import { parseUeventLine, watchUevents, type UeventMessage } from "../../../../native/client/uevents.js";

const EVENT = {
  action: "bind",
  subsystem: "pci",
  devpath: "/devices/pci0000:00/0000:00:12.0",
  driver: "vfio-pci",
  interface: null,
  pciSlot: "0000:00:12.0",
};

const LINK = { action: "change", ifindex: 7, interface: "ens1f0", carrier: false, operstate: "lowerlayerdown" };

describe("parseUeventLine()", () => {
  it.each([
    ['{"ready":true}', { type: "ready" }],
    ['{"lost":true}', { type: "lost" }],
    ['{"ok":true,"results":[{}]}', { type: "reply" }],
    ['{"ok":false,"results":[],"error":{}}', { type: "reply" }],
    [JSON.stringify(EVENT), { type: "event", event: EVENT }],
    [JSON.stringify({ link: LINK }), { type: "link", link: LINK }],
    [
      JSON.stringify({ link: { ...LINK, action: "remove", interface: null, carrier: null, operstate: "unknown" } }),
      { type: "link", link: { ...LINK, action: "remove", interface: null, carrier: null, operstate: "unknown" } },
    ],
  ])("parses %s", (line, expected) => {
    expect(parseUeventLine(line)).toEqual(expected);
  });

  it.each([
    ["not json", "{"],
    ["an array", "[]"],
    ["an unknown action", JSON.stringify({ ...EVENT, action: "online" })],
    ["an unknown subsystem", JSON.stringify({ ...EVENT, subsystem: "queues" })],
    ["a numeric driver", JSON.stringify({ ...EVENT, driver: 1 })],
    ["a missing devpath", JSON.stringify({ ...EVENT, devpath: undefined })],
    ["ready that is not true", '{"ready":1}'],
    ["a link with an unknown action", JSON.stringify({ link: { ...LINK, action: "add" } })],
    ["a link with ifindex 0", JSON.stringify({ link: { ...LINK, ifindex: 0 } })],
    ["a link with a fractional ifindex", JSON.stringify({ link: { ...LINK, ifindex: 1.5 } })],
    ["a link with a string carrier", JSON.stringify({ link: { ...LINK, carrier: "1" } })],
    ["a link with an unknown operstate", JSON.stringify({ link: { ...LINK, operstate: "sideways" } })],
    ["a link that is not an object", '{"link":true}'],
  ])("refuses %s", (_what, line) => {
    expect(parseUeventLine(line)).toBeNull();
  });
});

describe("watchUevents()", () => {
  let dir = "";
  const fake = (name: string, body: string): string => fakeScript(dir, name, body);
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "acn-uevents-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("delivers lines in order and settles with null after close()", async () => {
    // Like the helper: lines, then wait for stdin EOF, then the ok reply.
    const helper = fake(
      "ok.sh",
      `echo '{"ready":true}'; echo '${JSON.stringify(EVENT)}'; echo '{"lost":true}'; cat >/dev/null; echo '{"ok":true,"results":[{}]}'`,
    );
    const got: UeventMessage[] = [];
    const w = watchUevents({ helperPath: helper }, (m) => got.push(m));
    while (got.length < 3) await new Promise((r) => setTimeout(r, 5));
    w.close();
    w.close(); // idempotent
    expect(await w.exited).toBeNull();
    expect(got).toEqual([{ type: "ready" }, { type: "event", event: EVENT }, { type: "lost" }]);
  });

  it("passes virtual=1 only when includeVirtual is set", async () => {
    const helper = fake("args.sh", `echo "{\\"ready\\":true,\\"argv\\":\\"$*\\"}" >&2; exit 3`);
    const plain = await watchUevents({ helperPath: helper }, () => undefined).exited;
    const virt = await watchUevents({ helperPath: helper, includeVirtual: true }, () => undefined).exited;
    expect(plain?.stderr).toContain('"argv":"uevent-monitor"');
    expect(virt?.stderr).toContain('"argv":"uevent-monitor virtual=1"');
  });

  it("settles with the helper's error when its last line is an error reply", async () => {
    const reply = {
      ok: false,
      results: [],
      error: {
        index: 0,
        cmd: "uevent-monitor",
        op: "bind",
        object: "uevent-monitor",
        errno: 1,
        errname: "EPERM",
        message: "Operation not permitted",
      },
    };
    const helper = fake("fail.sh", `echo '${JSON.stringify(reply)}'; exit 1`);
    const err = await watchUevents({ helperPath: helper }, () => undefined).exited;
    expect(err).toBeInstanceOf(NativeError);
    expect(err?.message).toBe('Cannot uevent-monitor "uevent-monitor": Operation not permitted');
    expect([err?.op, err?.errname, err?.exitCode]).toEqual(["bind", "EPERM", 1]);
  });

  it("settles with an error when the monitor ends without being closed", async () => {
    const helper = fake("ends.sh", `echo '{"ready":true}'; echo '{"ok":true,"results":[{}]}'`);
    const err = await watchUevents({ helperPath: helper }, () => undefined).exited;
    expect(err?.message).toBe(`uevent-monitor of helper "${helper}" ended unexpectedly (exit code 0)`);
  });

  it("kills the monitor and settles with an error on a line outside the protocol", async () => {
    const helper = fake("garbage.sh", `echo '{"ready":true}'; echo 'hello'; sleep 30`);
    const got: UeventMessage[] = [];
    const t0 = Date.now();
    const err = await watchUevents({ helperPath: helper }, (m) => got.push(m)).exited;
    expect(Date.now() - t0).toBeLessThan(20_000); // killed, not waited for
    expect(err?.message).toBe(`Cannot parse uevent-monitor output of helper "${helper}": unexpected line "hello"`);
    expect(err?.signal).toBe("SIGKILL");
    expect(got).toEqual([{ type: "ready" }]);
  });

  it("settles with an error when the helper cannot be started", async () => {
    const missing = join(dir, "missing");
    const err = await watchUevents({ helperPath: missing }, () => undefined).exited;
    expect(err?.message).toMatch(new RegExp(`^Cannot run helper "${missing}": spawn .* ENOENT$`));
  });
});
