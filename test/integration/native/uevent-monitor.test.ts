// accelnet-helper uevent-monitor (ASan/UBSan build) against real kernel uevents on
// this machine, through native/client's watchUevents: veth pairs created and deleted
// in the host netns give net add/remove uevents, and writing "change" to a real PCI
// device's sysfs `uevent` file gives a synthetic pci change uevent (harmless: no
// driver acts on it). Also: refused inside a batch, ends on stdin EOF and on SIGTERM.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readlinkSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { watchUevents, type Uevent, type UeventMessage } from "../../../native/client/index.js";
import { HELPER_ASAN, ip, isRoot, removeDir, requireHelper, sanitize, sanitizerReports, tag } from "./_netns.js";

const HANG_MS = 15_000;
const PCI_DEVICES = "/sys/bus/pci/devices";

/** Collects a monitor's messages and lets a test wait for one. */
function collect(includeVirtual: boolean) {
  const messages: UeventMessage[] = [];
  const watch = watchUevents({ helperPath: HELPER_ASAN, includeVirtual }, (m) => messages.push(m));
  const events = (): Uevent[] => messages.flatMap((m) => (m.type === "event" ? [m.event] : []));
  async function waitFor<T>(what: string, probe: () => T | undefined): Promise<T> {
    const deadline = Date.now() + HANG_MS;
    for (;;) {
      const v = probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`no ${what} within ${HANG_MS} ms; got ${JSON.stringify(messages)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  const ready = () => waitFor("ready line", () => (messages.some((m) => m.type === "ready") ? true : undefined));
  return { watch, messages, events, waitFor, ready };
}

/** Runs the helper with stdin as a pipe the test controls; resolves with stdout lines and the exit. */
function runMonitor(args: string[]) {
  const child = spawn(HELPER_ASAN, args, { stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
  const exit = new Promise<{ code: number | null; signal: string | null; lines: unknown[] }>((resolve) =>
    child.on("close", (code, signal) =>
      resolve({
        code,
        signal,
        lines: out
          .split("\n")
          .filter((l) => l !== "")
          .map((l) => JSON.parse(l) as unknown),
      }),
    ),
  );
  const ready = async (): Promise<void> => {
    const deadline = Date.now() + HANG_MS;
    while (!out.includes('{"ready":true}\n')) {
      if (Date.now() > deadline) throw new Error(`no ready line; stdout: ${out}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return { child, exit, ready };
}

describe.skipIf(!isRoot)("accelnet-helper uevent-monitor on real uevents (needs root)", () => {
  const t = tag();
  const A = `nue${t}a`;
  const B = `nue${t}b`;
  let san: { dir: string };

  beforeAll(() => {
    requireHelper();
    san = sanitize();
  });
  afterEach(() => {
    spawnSync("ip", ["link", "del", A]);
    expect(sanitizerReports(san.dir)).toBe("");
  });
  afterAll(() => removeDir(san.dir));

  it("watchUevents() reports a veth pair's net add and remove uevents with virtual=1, and none without", async () => {
    const withVirtual = collect(true);
    const plain = collect(false);
    try {
      await Promise.all([withVirtual.ready(), plain.ready()]);
      ip("link", "add", A, "type", "veth", "peer", "name", B);
      ip("link", "del", A); // deletes the peer too
      const ours = (): Uevent[] => withVirtual.events().filter((e) => e.interface === A || e.interface === B);
      await withVirtual.waitFor("both remove events", () => (ours().length >= 4 ? true : undefined));
      const line = (action: "add" | "remove", name: string): Uevent => ({
        action,
        subsystem: "net",
        devpath: `/devices/virtual/net/${name}`,
        driver: null,
        interface: name,
        pciSlot: null,
      });
      // The kernel creates the peer first; the order within a pair is the kernel's business.
      expect(ours().slice(0, 2)).toEqual(expect.arrayContaining([line("add", A), line("add", B)]));
      expect(ours().slice(2)).toEqual(expect.arrayContaining([line("remove", A), line("remove", B)]));
      expect(ours()).toHaveLength(4);
      // Only the five subsystems come through: never the veth's "queues" children.
      expect(
        withVirtual.events().every((e) => ["pci", "net", "vdpa", "vhost-vdpa", "vfio"].includes(e.subsystem)),
      ).toBe(true);
      // Without virtual=1, virtual netdevs are filtered in C.
      expect(plain.events().filter((e) => e.devpath.startsWith("/devices/virtual/"))).toEqual([]);
    } finally {
      withVirtual.watch.close();
      plain.watch.close();
    }
    expect(await withVirtual.watch.exited).toBeNull();
    expect(await plain.watch.exited).toBeNull();
  });

  it("watchUevents() reports a veth's carrier and operstate changes (rtnetlink, no uevent) with virtual=1, only changes, and none without", async () => {
    const withVirtual = collect(true);
    const plain = collect(false);
    try {
      await Promise.all([withVirtual.ready(), plain.ready()]);
      ip("link", "add", A, "type", "veth", "peer", "name", B);
      ip("link", "set", A, "up");
      ip("link", "set", B, "up");
      const ofA = (m: UeventMessage[]): string[] =>
        m.flatMap((x) =>
          x.type === "link" && x.link.interface === A ? [`${x.link.action} ${x.link.carrier}/${x.link.operstate}`] : [],
        );
      await withVirtual.waitFor("A up with carrier", () =>
        ofA(withVirtual.messages).includes("change true/up") ? true : undefined,
      );
      const before = ofA(withVirtual.messages).length;
      ip("link", "set", A, "mtu", "1400"); // a notification without a carrier or operstate change
      ip("link", "set", B, "down"); // A loses carrier
      await withVirtual.waitFor("A without carrier", () =>
        ofA(withVirtual.messages).includes("change false/lowerlayerdown") ? true : undefined,
      );
      ip("link", "del", A);
      await withVirtual.waitFor("A removed", () =>
        ofA(withVirtual.messages).some((l) => l.startsWith("remove")) ? true : undefined,
      );
      // The MTU change raised RTM_NEWLINK but is no carrier change: not reported (A stayed true/up
      // until B went down). Deleting sets A down first, then removes it.
      const after = ofA(withVirtual.messages).slice(before);
      expect(after[0]).toBe("change false/lowerlayerdown");
      expect(after).not.toContain("change true/up");
      expect(after.at(-1)).toMatch(/^remove /);
      const link = withVirtual.messages.find((m) => m.type === "link" && m.link.interface === A);
      expect(link).toMatchObject({ type: "link", link: { ifindex: expect.any(Number) as number } });
      // Without virtual=1, a veth's changes are filtered in C.
      expect(
        plain.messages.filter((m) => m.type === "link" && (m.link.interface === A || m.link.interface === B)),
      ).toEqual([]);
    } finally {
      withVirtual.watch.close();
      plain.watch.close();
    }
    expect(await withVirtual.watch.exited).toBeNull();
    expect(await plain.watch.exited).toBeNull();
  });

  const pciDevice = existsSync(PCI_DEVICES) ? readdirSync(PCI_DEVICES).sort()[0] : undefined;
  it.skipIf(pciDevice === undefined)(
    pciDevice === undefined
      ? "watchUevents() reports a synthetic pci change uevent (skipped: no PCI device on this machine)"
      : "watchUevents() reports a synthetic pci change uevent with the device's slot and driver",
    async () => {
      const addr = pciDevice!;
      const driverLink = join(PCI_DEVICES, addr, "driver");
      const driver = existsSync(driverLink) ? basename(readlinkSync(driverLink)) : null;
      const m = collect(false);
      try {
        await m.ready();
        writeFileSync(join(PCI_DEVICES, addr, "uevent"), "change");
        const ev = await m.waitFor("the pci change event", () =>
          m.events().find((e) => e.subsystem === "pci" && e.pciSlot === addr && e.action === "change"),
        );
        expect(ev.devpath).toMatch(new RegExp(`^/devices/.*/${addr.replace(/\./g, "\\.")}$`));
        expect(ev.driver).toBe(driver);
        expect(ev.interface).toBeNull();
      } finally {
        m.watch.close();
      }
      expect(await m.watch.exited).toBeNull();
    },
  );

  it("uevent-monitor exits 0 with the ok reply as its last line when stdin reaches EOF", async () => {
    const m = runMonitor(["uevent-monitor"]);
    await m.ready();
    m.child.stdin.end();
    const { code, lines } = await m.exit;
    expect(code).toBe(0);
    expect(lines[0]).toEqual({ ready: true });
    expect(lines.at(-1)).toEqual({ ok: true, results: [{}] });
  });

  it("uevent-monitor exits 0 on SIGTERM while its stdin stays open", async () => {
    const m = runMonitor(["uevent-monitor", "virtual=1"]);
    await m.ready();
    m.child.kill("SIGTERM");
    const { code, signal, lines } = await m.exit;
    expect([code, signal]).toEqual([0, null]);
    expect(lines.at(-1)).toEqual({ ok: true, results: [{}] });
    m.child.stdin.end();
  });
});

describe("accelnet-helper uevent-monitor arguments (no root needed)", () => {
  beforeAll(() => requireHelper());

  const run = (args: string[]) => {
    const r = spawnSync(HELPER_ASAN, args, { encoding: "utf8", input: "" });
    return { code: r.status, reply: JSON.parse(r.stdout) as { ok: boolean; results: unknown[]; error?: object } };
  };

  it("is refused inside a batch with exit 2, before anything runs", () => {
    for (const [args, index] of [
      [["uevent-monitor", "--", "link-list"], 0],
      [["link-list", "--", "uevent-monitor"], 1],
    ] as const) {
      const { code, reply } = run([...args]);
      expect(code).toBe(2);
      expect(reply).toEqual({
        ok: false,
        results: [],
        error: {
          index,
          cmd: "uevent-monitor",
          op: "parse",
          object: "uevent-monitor",
          errno: 22,
          errname: "EINVAL",
          message:
            "uevent-monitor streams events until stdin closes and must be the only command of its invocation " +
            "(batch of 2 commands)",
        },
      });
    }
  });

  it("refuses an invalid virtual value and unknown keys with exit 2", () => {
    const bad = run(["uevent-monitor", "virtual=yes"]);
    expect(bad.code).toBe(2);
    expect(bad.reply.error).toMatchObject({
      object: "virtual",
      message: 'uevent-monitor: invalid virtual "yes"; valid: 0, 1',
    });
    const unknown = run(["uevent-monitor", "name=eth0"]);
    expect(unknown.code).toBe(2);
    expect(unknown.reply.error).toMatchObject({ object: "name" });
  });
});
