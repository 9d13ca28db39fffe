// accelnet-helper (ASan/UBSan build) with raw argv: bad input is refused with
// exit 2 before anything runs, the message names command, key, valid set and
// value, and nothing is left behind in the namespaces.
import { spawnSync } from "node:child_process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { addNetns, delNetns, HELPER_ASAN, ip, isRoot, linkNames, requireHelper, tag } from "./_netns.js";

const t = tag();
const HOST = `nhv-h-${t}`;
const POD = `nhv-p-${t}`;
const MASTER = `nhv${t}m`;
const PEER = `nhv${t}n`;

interface Reply {
  ok: boolean;
  results: unknown[];
  error?: {
    index: number | null;
    cmd: string | null;
    op: string;
    object: string;
    errno: number;
    errname: string;
    message: string;
  };
}

const SANITIZERS = {
  ASAN_OPTIONS: "halt_on_error=1:exitcode=86:detect_leaks=1",
  UBSAN_OPTIONS: "halt_on_error=1:print_stacktrace=1",
};

/** Runs the helper with argv as given; sanitizer reports on stderr fail the test. */
function helper(...argv: string[]): { status: number | null; reply: Reply } {
  const r = spawnSync(HELPER_ASAN, argv, { encoding: "utf8", env: { ...process.env, ...SANITIZERS } });
  expect(r.stderr).not.toMatch(/Sanitizer|runtime error/);
  expect(r.stderr).toBe("");
  return { status: r.status, reply: JSON.parse(r.stdout) as Reply };
}

describe.skipIf(!isRoot)("accelnet-helper argument validation (needs root)", () => {
  let hostNs = "";
  let podNs = "";
  const macvlan = (...over: string[]) => {
    const args = new Map<string, string>([
      ["netns", podNs],
      ["master", MASTER],
      ["master-netns", hostNs],
      ["name", "vtmp0"],
      ["mode", "bridge"],
    ]);
    for (const kv of over) {
      const i = kv.indexOf("=");
      args.set(kv.slice(0, i), kv.slice(i + 1));
    }
    return ["macvlan-add", ...[...args].map(([k, v]) => `${k}=${v}`)];
  };

  beforeAll(() => {
    requireHelper();
    hostNs = addNetns(HOST);
    podNs = addNetns(POD);
    ip("-n", HOST, "link", "add", MASTER, "type", "veth", "peer", "name", PEER);
  });

  afterEach(() => {
    for (const name of linkNames(POD)) if (name !== "lo") ip("-n", POD, "link", "del", name);
  });

  afterAll(() => {
    delNetns(POD);
    delNetns(HOST);
  });

  /** Asserts exit 2, op parse, the key as object, and that the pod netns is untouched. */
  function refused(argv: string[], object: string, message?: RegExp | string): Reply["error"] {
    const { status, reply } = helper(...argv);
    expect(status).toBe(2);
    expect(reply.ok).toBe(false);
    expect(reply.results).toEqual([]);
    expect(reply.error).toMatchObject({ op: "parse", object });
    if (message !== undefined)
      expect(reply.error?.message).toEqual(typeof message === "string" ? message : expect.stringMatching(message));
    expect(linkNames(POD)).toEqual(["lo"]);
    return reply.error;
  }

  it("a valid macvlan-add exits 0 (the baseline the refusals below differ from)", () => {
    const { status, reply } = helper(...macvlan());
    expect(status).toBe(0);
    expect(reply.ok).toBe(true);
    expect(linkNames(POD)).toEqual(["lo", "vtmp0"]);
  });

  it.each([
    ["16 bytes", "abcdefghijklmnop"],
    ["a slash", "a/b"],
    ["a colon", "eth0:1"],
    ["a space", "a b"],
    ["a tab", "a\tb"],
    ["dot", "."],
    ["dot-dot", ".."],
    ["empty", ""],
    ["non-ASCII", "ethé"],
  ])("refuses an interface name with %s", (_what, name) => {
    refused(
      macvlan(`name=${name}`),
      "name",
      /^macvlan-add: invalid name ".*": interface names are 1-15 printable ASCII bytes without '\/', ':' or whitespace, and not "\." or "\.\."$/,
    );
  });

  it("accepts a 15-byte interface name", () => {
    expect(helper(...macvlan("name=abcdefghijklmno")).status).toBe(0);
  });

  it.each([
    ["a regular file", "/etc/passwd", "EINVAL", "is not a namespace file"],
    ["a mount namespace", "/proc/self/ns/mnt", "EINVAL", "is a mount namespace, not a network namespace"],
    ["a relative path", "run/netns/x", "EINVAL", "must be an absolute path"],
    ["a .. component", "/run/netns/../netns/x", "EINVAL", 'must not contain ".." components'],
    ["a missing path", "/run/netns/nhv-missing", "ENOENT", "does not exist"],
    ["a directory", "/run/netns", "EINVAL", "is not a namespace file"],
    ["a device node", "/dev/null", "EINVAL", "is not a namespace file"],
  ])("refuses a netns that is %s", (_what, path, errname, why) => {
    const e = refused(macvlan(`netns=${path}`), "netns", `macvlan-add: invalid netns "${path}": ${why}`);
    expect(e?.errname).toBe(errname);
  });

  it("refuses a bad master-netns and a bad netns-check path", () => {
    refused(macvlan("master-netns=/proc/self/ns/uts"), "master-netns", /is a uts namespace/);
    refused(["netns-check", "path=/etc/passwd"], "path", /is not a namespace file/);
  });

  it.each(["67", "65536", "0", "-1", "1500x", "", "1e3", "99999999999"])("refuses mtu %j", (mtu) => {
    refused(macvlan(`mtu=${mtu}`), "mtu", `macvlan-add: invalid mtu "${mtu}": expected an integer in 68-65535`);
  });

  it("accepts mtu 68 (the minimum)", () => {
    expect(helper(...macvlan("mtu=68")).status).toBe(0);
  });

  it.each([
    ["multicast", "03:00:00:00:00:01", "is a multicast address, not unicast"],
    ["broadcast", "ff:ff:ff:ff:ff:ff", "is a multicast address, not unicast"],
    ["zero", "00:00:00:00:00:00", "is all zero"],
    ["short", "02:00:00:00:00", "expected xx:xx:xx:xx:xx:xx in hex"],
    ["dashes", "02-00-00-00-00-01", "expected xx:xx:xx:xx:xx:xx in hex"],
    ["non-hex", "02:00:00:00:00:zz", "expected xx:xx:xx:xx:xx:xx in hex"],
    ["long", "02:00:00:00:00:01:02", "expected xx:xx:xx:xx:xx:xx in hex"],
  ])("refuses a %s MAC", (_what, mac, why) => {
    refused(macvlan(`mac=${mac}`), "mac", `macvlan-add: invalid mac "${mac}": ${why}`);
  });

  it.each([
    "10.0.0.1",
    "10.0.0.1/33",
    "fd00::1/129",
    "10.0.0.1/-1",
    "abc/24",
    "10.0.0.256/24",
    "10.0.0.1/24/1",
    "",
    "/24",
    "10.0.0.1/",
  ])("refuses addr %j", (addr) => {
    refused(
      ["addr-add", `netns=${podNs}`, "name=lo", `addr=${addr}`],
      "addr",
      /expected an IPv4 or IPv6 address with a prefix length/,
    );
  });

  it("refuses a route whose dst has host bits set, naming the network", () => {
    refused(
      ["route-add", `netns=${podNs}`, "dst=10.1.2.3/16"],
      "dst",
      'route-add: invalid dst "10.1.2.3/16": host bits are set (the network is "10.1.0.0/16")',
    );
  });

  it("refuses a gateway of another family than dst", () => {
    refused(
      ["route-add", `netns=${podNs}`, "dst=10.1.0.0/16", "gw=fd00::1"],
      "gw",
      'route-add: gw "fd00::1" is IPv6 but dst "10.1.0.0/16" is IPv4',
    );
  });

  it("refuses unknown, duplicate and missing keys, naming command, key, valid set and value", () => {
    refused(
      ["link-show", "name=lo", "colour=blue"],
      "colour",
      'link-show: unknown key "colour" (value "blue"); valid keys: netns, name, addrs, routes, vfs',
    );
    refused(["link-show", "name=lo", "name=eth0"], "name", 'link-show: duplicate key "name" (values "lo" and "eth0")');
    refused(
      ["macvlan-add", `netns=${podNs}`, `master=${MASTER}`, "mode=bridge"],
      "name",
      'macvlan-add: missing required key "name"; required keys: netns, name, master, mode',
    );
    refused(["link-show", "name"], "name", /^link-show: expected KEY=VALUE, got "name"; valid keys: /);
  });

  it.each([
    [
      "mode",
      macvlanArgs("mode=bridged"),
      'macvlan-add: invalid mode "bridged"; valid: bridge, private, vepa, passthru, source',
    ],
    ["family", ["addr-list", "family=5"], 'addr-list: invalid family "5"; valid: 4, 6'],
    [
      "scope",
      ["route-add", "dst=10.0.0.0/8", "scope=site"],
      'route-add: invalid scope "site"; valid: link, universe, host',
    ],
    [
      "key",
      ["sysctl-set", "name=lo", "key=forwarding", "value=1"],
      'sysctl-set: invalid key "forwarding"; valid: arp_notify, ndisc_notify',
    ],
    ["value", ["sysctl-set", "name=lo", "key=arp_notify", "value=2"], 'sysctl-set: invalid value "2"; valid: 0, 1'],
    ["addrs", ["link-show", "name=lo", "addrs=yes"], 'link-show: invalid addrs "yes"; valid: 0, 1'],
    ["table", ["route-list", "table=0"], 'route-list: invalid table "0": expected an integer in 1-4294967295'],
  ])("refuses an enumerated %s outside its set", (key, argv, message) => {
    refused(argv, key, message);
  });

  it.each([
    [
      "name",
      ["vdpa-dev-add", "name=a/b", "mgmtdev=vduse"],
      /^vdpa-dev-add: invalid name "a\/b": vdpa device names are 1-31 /,
    ],
    ["name", ["vdpa-dev-add", `name=${"v".repeat(32)}`, "mgmtdev=vduse"], /vdpa device names are 1-31/],
    [
      "mgmtdev",
      ["vdpa-dev-add", "name=v0", "mgmtdev=pci/00:02.1"],
      'vdpa-dev-add: invalid mgmtdev "pci/00:02.1": a pci management device is named by its PCI address dddd:bb:dd.f in lowercase hex',
    ],
    [
      "mgmtdev",
      ["vdpa-dev-add", "name=v0", "mgmtdev=../../sys"],
      "vdpa-dev-add: invalid mgmtdev \"../../sys\": the bus before '/' must be 1-31 bytes of [a-z0-9_-]",
    ],
    [
      "mgmtdev",
      ["vdpa-dev-add", "name=v0", "mgmtdev=vd use"],
      'vdpa-dev-add: invalid mgmtdev "vd use": expected BUS/DEV or DEV, DEV 1-63 bytes of [A-Za-z0-9_.:-] (like pci/0000:00:02.1 or vduse)',
    ],
    [
      "mac",
      ["vdpa-dev-add", "name=v0", "mgmtdev=vduse", "mac=01:00:5e:00:00:01"],
      /is a multicast address, not unicast$/,
    ],
    ["mac", ["vdpa-dev-add", "name=v0", "mgmtdev=vduse", "mac=00:00:00:00:00:00"], /is all zero$/],
    [
      "mtu",
      ["vdpa-dev-add", "name=v0", "mgmtdev=vduse", "mtu=67"],
      'vdpa-dev-add: invalid mtu "67": expected an integer in 68-65535',
    ],
    [
      "max_vqp",
      ["vdpa-dev-add", "name=v0", "mgmtdev=vduse", "max_vqp=0"],
      'vdpa-dev-add: invalid max_vqp "0": expected an integer in 1-32768',
    ],
    [
      "max_vqp",
      ["vdpa-dev-add", "name=v0", "mgmtdev=vduse", "max_vqp=32769"],
      'vdpa-dev-add: invalid max_vqp "32769": expected an integer in 1-32768',
    ],
    [
      "mgmtdev",
      ["vdpa-dev-add", "name=v0"],
      'vdpa-dev-add: missing required key "mgmtdev"; required keys: name, mgmtdev',
    ],
    ["dev", ["vdpa-dev-del", "dev=../vdpa0"], /^vdpa-dev-del: invalid dev "\.\.\/vdpa0": vdpa device names/],
    ["addr", ["pci-reprobe", "addr=0000:00:12.0/../x"], /^pci-reprobe: invalid addr ".*": expected a PCI address/],
    ["vdpa", ["vdpa-mgmtdev-list", "vdpa=1"], /^vdpa-mgmtdev-list: unknown key "vdpa" \(value "1"\); valid keys: $/],
  ])("refuses a bad node-setup %s (nothing sent to the kernel)", (key, argv, message) => {
    refused(argv, key, message);
  });

  it("peer-cred refuses fd 0-2 (the helper's own stdio) and reports ENOTSOCK for a descriptor that is no socket", () => {
    refused(["peer-cred", "fd=2"], "fd", 'peer-cred: invalid fd "2": expected an integer in 3-2147483647');
    refused(["peer-cred"], "fd", 'peer-cred: missing required key "fd"; required keys: fd');
    // fd 3 is not open in the helper run here: the kernel's EBADF, named
    const r = helper("peer-cred", "fd=3");
    expect(r.status).toBe(1);
    expect(r.reply.error).toMatchObject({
      cmd: "peer-cred",
      op: "getsockopt(SO_DOMAIN)",
      errname: "EBADF",
      object: "3",
    });
  });

  it("refuses sysctl-set on all or default (they would change every interface)", () => {
    refused(["sysctl-set", "name=all", "key=arp_notify", "value=1"], "name", /only per-interface settings/);
    refused(["sysctl-set", "name=default", "key=ndisc_notify", "value=1"], "name", /only per-interface settings/);
  });

  it("refuses an unknown command, listing the valid ones", () => {
    const e = refused(
      ["link-frobnicate", "name=lo"],
      "link-frobnicate",
      /^unknown command "link-frobnicate"; valid: netns-check, link-show, /,
    );
    expect(e?.index).toBe(0);
  });

  it("refuses bad globals, empty commands and an empty batch", () => {
    expect(refused(["--sysfs-root=relative", "link-list"], "--sysfs-root=relative")?.index).toBe(null);
    expect(refused(["--bogus", "link-list"], "--bogus")?.index).toBe(null);
    expect(refused(["link-list", "--"], "--")?.index).toBe(1);
    expect(refused(["link-list", "--", "--", "link-list"], "--")?.index).toBe(1);
    expect(refused([], "")?.message).toBe("no command given");
  });

  it("validates the whole batch before running any command", () => {
    const e = refused([...macvlan(), "--", "link-show", `netns=${podNs}`, "name=bad/name"], "name");
    expect(e).toMatchObject({ index: 1, cmd: "link-show" });
    // refused() already checked that the first command's macvlan was not created.
  });

  it("exit codes: 0 ok, 1 failed command with the completed results, 2 invalid arguments", () => {
    expect(helper("link-show", `netns=${podNs}`, "name=lo").status).toBe(0);
    const failed = helper("link-show", `netns=${podNs}`, "name=lo", "--", "link-show", `netns=${podNs}`, "name=nope0");
    expect(failed.status).toBe(1);
    expect(failed.reply.results).toHaveLength(1);
    expect(failed.reply.error).toMatchObject({
      index: 1,
      cmd: "link-show",
      op: "RTM_GETLINK",
      object: "nope0",
      errname: "ENODEV",
    });
    expect(helper("link-show", "name=").status).toBe(2);
  });

  it("--version lists the commands and takes no command", () => {
    const { status, reply } = helper("--version");
    expect(status).toBe(0);
    expect(reply).toMatchObject({ ok: true, version: expect.stringMatching(/^\d+\.\d+\.\d+$/) as unknown });
    expect((reply as unknown as { commands: string[] }).commands).toContain("macvlan-add");
    expect(helper("--version", "link-list").status).toBe(2);
  });
});

function macvlanArgs(...extra: string[]): string[] {
  return ["macvlan-add", "netns=/proc/self/ns/net", "master=lo", "name=x", ...extra];
}
