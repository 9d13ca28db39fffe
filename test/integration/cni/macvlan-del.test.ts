// DEL always makes progress, in real network namespaces with the real helper (ASan build) and Debian's
// host-local: DEL of any config ADD refused, DEL by the netns and ifindex ADD recorded, IPAM's undo
// registered before its output is read, and input the runtime chokes on. Concurrency and kill -9 run
// the packaged executable, one process per call as a runtime does (macvlan-kill.test.ts).
// After each case nothing is left: links, host-local reservations, files in the state dir.
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { createNativeClient } from "../../../native/client/index.js";
import { defaultRegistry, modeFuncs } from "../../../cni/modes/index.js";
import { cniCaller } from "../../unit/cni/dispatch-harness.js";
import { haveHelper, HELPER, havePlugins, ip, isAttachmentFile, isRoot, useMacvlanWorld } from "./netns-fixture.js";

const ready = isRoot && haveHelper && havePlugins;

/** Every file (not directory) under `dir`, relative. */
function filesUnder(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const path = join(dir, n);
    return statSync(path).isDirectory() ? filesUnder(path).map((f) => `${n}/${f}`) : [n];
  });
}

describe.skipIf(!ready)("accelnet macvlan DEL always makes progress (real netns, host-local)", () => {
  const w = useMacvlanWorld();
  let binDir: string;
  beforeEach(() => {
    binDir = join(w.fx.dir, "bin");
    mkdirSync(binDir);
  });

  const confOf = (extra: Record<string, unknown> = {}) => ({
    cniVersion: "1.0.0",
    name: "macnet",
    type: "accelnet",
    master: w.master,
    ipam: { type: "host-local", subnet: "10.78.0.0/16", dataDir: w.ipamDir },
    ...extra,
  });
  const cni = cniCaller(() => ({
    funcs: modeFuncs(defaultRegistry()),
    deps: { native: () => createNativeClient({ helperPath: HELPER }), lockTimeoutMs: 10_000 },
    env: {
      PATH: process.env["PATH"],
      ACCELNET_STATE_DIR: w.stateDir,
      CNI_CONTAINERID: "c1",
      CNI_NETNS: w.pod,
      CNI_IFNAME: "net1",
      CNI_PATH: `${binDir}:/usr/lib/cni`,
    },
  }));
  const podLinks = (netns = w.pod) => w.fx.linksIn(netns).map((l) => l.ifname);
  const reserved = () => w.fx.reservedIps(w.ipamDir, "macnet");
  const expectNothingLeft = () => {
    expect(podLinks()).toEqual([]);
    expect(reserved()).toEqual([]);
    expect(filesUnder(w.stateDir).filter(isAttachmentFile)).toEqual([]);
  };

  describe("DEL succeeds for a config ADD refused (the reference macvlan's DEL does too)", () => {
    const deep = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;
    const table: [string, Record<string, string>, (c: Record<string, unknown>) => string, number][] = [
      ["a macvlan mode outside the four", {}, (c) => JSON.stringify({ ...c, mode: "Bridge" }), 7],
      ["mtu 1", {}, (c) => JSON.stringify({ ...c, mtu: 1 }), 7],
      ["mtu 67", {}, (c) => JSON.stringify({ ...c, mtu: 67 }), 7],
      ["a malformed mac", {}, (c) => JSON.stringify({ ...c, mac: "02:00:00:00:00" }), 7],
      ["CNI_ARGS MAC=zz:zz", { CNI_ARGS: "IgnoreUnknown=1;MAC=zz:zz" }, (c) => JSON.stringify(c), 7],
      ["an unknown accelnetMode", {}, (c) => JSON.stringify({ ...c, accelnetMode: "ipvlan" }), 7],
      ["a bad logLevel", {}, (c) => JSON.stringify({ ...c, logLevel: "loud" }), 7],
      ["an IPAM type with a slash", {}, (c) => JSON.stringify({ ...c, ipam: { type: "../host-local" } }), 7],
      ["dns of the wrong type", {}, (c) => JSON.stringify({ ...c, dns: { nameservers: "1.1.1.1" } }), 7],
      ["a lone UTF-16 surrogate in master", {}, (c) => JSON.stringify({ ...c, master: "eth\ud800" }), 7],
      ["a master name template", {}, (c) => JSON.stringify({ ...c, master: "eth%d" }), 7],
      // JSON.stringify overflowed when the config was rewritten for host-local's older version.
      ["a 6000-deep nested field", {}, (c) => JSON.stringify(c).replace(/}$/, `,"deep":${deep(6000)}}`), 7],
      ["CNI_IFNAME ñet (the helper refuses it)", { CNI_IFNAME: "ñet" }, (c) => JSON.stringify(c), 4],
      ["CNI_IFNAME net%d (a kernel name template)", { CNI_IFNAME: "net%d" }, (c) => JSON.stringify(c), 4],
    ];

    it.each(table)("%s: ADD refuses it, DEL succeeds, nothing left", async (_name, env, stdinOf, code) => {
      const stdin = stdinOf(confOf());
      const add = await cni("ADD", undefined, env, stdin);
      expect(add.out?.["code"], JSON.stringify(add.out)).toBe(code);
      expect(String(add.out?.["msg"])).toMatch(/^Cannot /);
      const del = await cni("DEL", undefined, env, stdin);
      expect(del, JSON.stringify(del.out)).toMatchObject({ code: 0, out: undefined });
      expect((await cni("DEL", undefined, { ...env, CNI_NETNS: "" }, stdin)).code).toBe(0);
      expectNothingLeft();
    });
  });

  it("DEL with CNI_NETNS unset, or another netns, removes the link from the netns ADD recorded", async () => {
    const other = w.fx.netns("other");
    const conf = confOf();
    for (const netnsAtDel of ["", other]) {
      const add = await cni("ADD", conf);
      expect(add.code, JSON.stringify(add.out)).toBe(0);
      expect(podLinks()).toEqual(["net1"]);
      // The other netns has a macvlan named like ours: DEL must not take it for the attachment's.
      ip("-n", other.split("/").pop() ?? "", "link", "add", "net1", "type", "veth", "peer", "name", "net1p");
      const del = await cni("DEL", conf, { CNI_NETNS: netnsAtDel });
      expect(del.code, JSON.stringify(del.out)).toBe(0);
      expect(podLinks()).toEqual([]);
      expect(podLinks(other).sort()).toEqual(["net1", "net1p"]);
      ip("-n", other.split("/").pop() ?? "", "link", "del", "net1");
    }
    expectNothingLeft();
  });

  it("DEL after the recorded netns path names a new netns leaves the new one's links alone", async () => {
    const conf = confOf();
    expect((await cni("ADD", conf)).code).toBe(0);
    w.fx.deleteNetns(w.pod);
    w.pod = w.fx.netns("pod"); // same path, another netns (another inode)
    ip("-n", w.pod.split("/").pop() ?? "", "link", "add", "net1", "type", "veth", "peer", "name", "net1p");
    expect((await cni("DEL", conf)).code).toBe(0);
    expect(podLinks().sort()).toEqual(["net1", "net1p"]);
    expect(reserved()).toEqual([]);
  });

  it("a link ADD renamed is undone by ifindex: DEL removes it after someone renamed it", async () => {
    const conf = confOf();
    expect((await cni("ADD", conf)).code).toBe(0);
    const ns = w.pod.split("/").pop() ?? "";
    ip("-n", ns, "link", "set", "net1", "down");
    ip("-n", ns, "link", "set", "net1", "name", "renamed0");
    expect((await cni("DEL", conf)).code).toBe(0);
    expectNothingLeft();
  });

  describe("IPAM DEL is the undo as soon as the plugin exits 0, before its output is parsed", () => {
    // A real host-local reservation, then output accelnet cannot use.
    const badIpam = (output: string) => {
      const path = join(binDir, "acn-bad-ipam");
      writeFileSync(
        path,
        `#!/bin/sh\nif [ "$CNI_COMMAND" = ADD ]; then /usr/lib/cni/host-local >/dev/null || exit 1; printf '%s' '${output}'; exit 0; fi\nexec /usr/lib/cni/host-local\n`,
      );
      chmodSync(path, 0o755);
    };
    it.each([
      ["not JSON", "this is not json"],
      ["empty", ""],
      ["wrong types", '{"cniVersion":"1.0.0","ips":"10.78.0.2"}'],
      ["no ips", '{"cniVersion":"1.0.0","ips":[]}'],
    ])("output %s: ADD 102 (or IPAM's), reservation released, nothing left", async (_name, output) => {
      badIpam(output);
      const conf = confOf({ ipam: { type: "acn-bad-ipam", subnet: "10.78.0.0/16", dataDir: w.ipamDir } });
      const add = await cni("ADD", conf);
      expect(add.out?.["code"], JSON.stringify(add.out)).toBe(102);
      expectNothingLeft();
    });
  });

  describe("IPAM beside the kernel work when it only books addresses, in the reference order otherwise", () => {
    // A wrapper IPAM plugin in binDir (first in CNI_PATH): it notes in `seen` what it finds of CNI_IFNAME
    // in CNI_NETNS, then runs the real host-local with the same stdin and environment.
    const seenFile = () => join(w.fx.dir, "seen");
    const seen = () => {
      try {
        return readFileSync(seenFile(), "utf8").trim().split("\n");
      } catch {
        return [];
      }
    };
    const wrapper = (name: string, probe: string) => {
      const path = join(binDir, name);
      const has = `nsenter --net="$CNI_NETNS" ip link show "$CNI_IFNAME" >/dev/null 2>&1`;
      writeFileSync(
        path,
        `#!/bin/sh\nhas() { ${has}; }\nlink() { if has; then echo present; else echo absent; fi; }\n${probe}\nexec /usr/lib/cni/host-local\n`,
      );
      chmodSync(path, 0o755);
    };
    const note = (what: string) => `echo "$CNI_COMMAND ${what}" >> ${seenFile()}`;

    it("host-local's DEL runs while the link goes: the link is gone before host-local has ended", async () => {
      // Waits up to 3 s for the link to go: it goes only if the removal does not wait for this DEL.
      wrapper(
        "host-local",
        `if [ "$CNI_COMMAND" = DEL ]; then i=0; while has && [ $i -lt 150 ]; do sleep 0.02; i=$((i+1)); done; ${note("$(link)")}; fi`,
      );
      expect((await cni("ADD", confOf())).code).toBe(0);
      expect(podLinks()).toEqual(["net1"]);
      expect((await cni("DEL", confOf())).code).toBe(0);
      expect(seen()).toEqual(["DEL absent"]);
      expectNothingLeft();
    });

    it("host-local's ADD beside a create that fails: its reservation is released, nothing is left", async () => {
      wrapper("host-local", note("ran"));
      ip("-n", w.pod.split("/").pop() ?? "", "link", "add", "net1", "type", "veth", "peer", "name", "net1p");
      try {
        const add = await cni("ADD", confOf());
        expect(add.out?.["code"], JSON.stringify(add.out)).toBe(104);
        // It ran beside the create (the create refuses before IPAM otherwise), and its undo ran.
        expect(seen()).toEqual(["ADD ran", "DEL ran"]);
        expect(reserved()).toEqual([]);
        expect(podLinks().sort()).toEqual(["net1", "net1p"]);
        expect(filesUnder(w.stateDir).filter(isAttachmentFile)).toEqual([]);
      } finally {
        ip("-n", w.pod.split("/").pop() ?? "", "link", "del", "net1");
      }
    });

    it("any other IPAM plugin (dhcp needs the link) sees the link at its ADD and still at its DEL", async () => {
      // The DEL probe waits 300 ms first: a removal running beside it would be over by then.
      wrapper("acn-link-ipam", `[ "$CNI_COMMAND" = DEL ] && sleep 0.3; ${note("$(link)")}`);
      const conf = confOf({ ipam: { type: "acn-link-ipam", subnet: "10.78.0.0/16", dataDir: w.ipamDir } });
      expect((await cni("ADD", conf)).code).toBe(0);
      expect((await cni("DEL", conf)).code).toBe(0);
      expect(seen()).toEqual(["ADD present", "DEL present"]);
      expectNothingLeft();
    });
  });
});
