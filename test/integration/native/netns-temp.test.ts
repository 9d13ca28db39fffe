// accelnet-helper netns-create / netns-delete (ASan/UBSan build) against the real /run/netns: the
// temporary netns the SR-IOV and vDPA modes move a netdev through. Checked with iproute2 and the
// kernel's own views (stat, /proc/<pid>/ns, mountinfo), not with the helper alone.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { afterEach, describe, expect, it } from "vitest";

import { cmd } from "../../../native/client/index.js";
import {
  addNetns,
  delNetns,
  failure,
  HELPER_ASAN,
  ip,
  isRoot,
  linkNames,
  netnsPath,
  rawHelper,
  tag,
  useSanitizedClient,
} from "./_netns.js";

const t = tag();
const PREFIX = `acn-tmpns-${t}`;

function netnsList(): string[] {
  return ip("netns", "list")
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => n !== "");
}

/** The filesystem type mounted at a path, from the mount table of process @pid. */
function mountAt(pid: number | "self", path: string): { fstype: string; optional: string } | undefined {
  for (const line of readFileSync(`/proc/${pid}/mountinfo`, "utf8").split("\n")) {
    const [left, right] = line.split(" - ");
    const f = left?.split(" ") ?? [];
    if (f[4] !== path) continue;
    return { fstype: right?.split(" ")[0] ?? "", optional: f.slice(6).join(" ") };
  }
  return undefined;
}

describe.skipIf(!isRoot)("accelnet-helper netns-create and netns-delete (needs root)", () => {
  const client = useSanitizedClient();
  const made: string[] = [];
  let n = 0;

  /** A fresh unique name in /run/netns, removed after each test whatever happened. */
  function fresh(): { name: string; path: string } {
    const name = `${PREFIX}-${n++}`;
    made.push(name);
    return { name, path: netnsPath(name) };
  }

  afterEach(() => {
    for (const name of made.splice(0)) {
      const path = netnsPath(name);
      spawnSync("umount", ["-l", path]);
      rmSync(path, { force: true, recursive: true });
    }
  });

  it("netns-create makes a new network namespace at the path, usable with ip -n, and the helper stays in its own", async () => {
    const { name, path } = fresh();
    const before = hostLinks();
    const [created, after] = await client.run([cmd.netnsCreate({ path }), cmd.linkList({})]);
    const hostAfter = hostLinks();

    expect(created.netns.path).toBe(path);
    expect(created.netns.inode).toBe(statSync(path).ino);
    expect(created.netns.inode).not.toBe(statSync("/proc/self/ns/net").ino);
    expect(mountAt("self", path)?.fstype).toBe("nsfs");
    expect(netnsList()).toContain(name);
    const [checked] = await client.run([cmd.netnsCheck({ path })]);
    expect(checked.netns.inode).toBe(created.netns.inode);
    // A new netns holds only a loopback that is down; the helper's link-list after the create saw the host.
    expect(linkNames(name)).toEqual(["lo"]);
    ip("-n", name, "link", "set", "lo", "up");
    const [lo] = JSON.parse(ip("-n", name, "-j", "link", "show", "lo")) as { flags: string[] }[];
    expect(lo?.flags).toContain("UP");
    const seen = new Map(after.links.map((l) => [l.name, l.index]));
    const stable = [...before].filter(([k, v]) => hostAfter.get(k) === v);
    expect(stable.length).toBeGreaterThan(0);
    for (const [linkName, index] of stable) expect(seen.get(linkName)).toBe(index);
    expect(after.links.find((l) => l.name === "lo")?.up).toBe(true);
  });

  it("netns-create of a taken name fails with EEXIST and leaves the first namespace untouched", async () => {
    const { name, path } = fresh();
    const [first] = await client.run([cmd.netnsCreate({ path })]);
    ip("-n", name, "link", "add", `tn${t}a`, "type", "veth", "peer", "name", `tn${t}b`);

    const e = await failure(client.run([cmd.netnsCreate({ path })]));
    expect(e).toMatchObject({ exitCode: 1, op: "open O_CREAT|O_EXCL", object: path, errname: "EEXIST" });
    expect(statSync(path).ino).toBe(first.netns.inode);
    expect(linkNames(name)).toEqual(["lo", `tn${t}a`, `tn${t}b`]);
    // A file someone else left there is not reused either.
    const other = fresh();
    writeFileSync(other.path, "not ours");
    const e2 = await failure(client.run([cmd.netnsCreate({ path: other.path })]));
    expect(e2.errname).toBe("EEXIST");
    expect(readFileSync(other.path, "utf8")).toBe("not ours");
  });

  it("link-move moves a veth end into the temporary netns with a new name and back", async () => {
    const { name, path } = fresh();
    const src = `${PREFIX}-src`;
    const veth = `tm${t}a`;
    try {
      const srcPath = addNetns(src);
      ip("-n", src, "link", "add", veth, "type", "veth", "peer", "name", `tm${t}b`);
      await client.run([cmd.netnsCreate({ path })]);

      const [moved] = await client.run([cmd.linkMove({ netns: srcPath, name: veth, to: path, newname: "net1" })]);
      expect(moved.link).toMatchObject({ name: "net1", kind: "veth" });
      expect(linkNames(name)).toEqual(["lo", "net1"]);
      expect(linkNames(src)).not.toContain(veth);

      const [back] = await client.run([cmd.linkMove({ netns: path, name: "net1", to: srcPath, newname: veth })]);
      expect(back.link.name).toBe(veth);
      expect(linkNames(src)).toContain(veth);
      expect(linkNames(name)).toEqual(["lo"]);
    } finally {
      delNetns(src);
    }
  });

  it("netns-delete unmounts and removes it; a second delete fails with ENOENT", async () => {
    const { name, path } = fresh();
    await client.run([cmd.netnsCreate({ path })]);

    const [deleted] = await client.run([cmd.netnsDelete({ path })]);
    expect(deleted).toEqual({});
    expect(existsSync(path)).toBe(false);
    expect(mountAt("self", path)).toBeUndefined();
    expect(netnsList()).not.toContain(name);

    const e = await failure(client.run([cmd.netnsDelete({ path })]));
    expect(e).toMatchObject({ exitCode: 1, op: "stat", object: path, errname: "ENOENT" });
  });

  it("netns-delete also removes a netns made by ip netns add", async () => {
    const { name, path } = fresh();
    addNetns(name);
    await client.run([cmd.netnsDelete({ path })]);
    expect(netnsList()).not.toContain(name);
    expect(existsSync(path)).toBe(false);
  });

  it("netns-delete refuses what is not a network namespace mount with EINVAL and leaves it", async () => {
    const file = fresh();
    writeFileSync(file.path, "keep me");
    const e = await failure(client.run([cmd.netnsDelete({ path: file.path })]));
    expect(e).toMatchObject({ exitCode: 1, op: "verify netns", object: file.path, errname: "EINVAL" });
    expect(e.message).toContain("is a regular file, not a network namespace mount");
    expect(readFileSync(file.path, "utf8")).toBe("keep me");

    const dir = fresh();
    mkdirSync(dir.path);
    expect((await failure(client.run([cmd.netnsDelete({ path: dir.path })]))).errname).toBe("EINVAL");
    expect(statSync(dir.path).isDirectory()).toBe(true);

    // An nsfs mount of another namespace type (uts) is refused too and stays mounted.
    const uts = fresh();
    writeFileSync(uts.path, "");
    expect(spawnSync("mount", ["--bind", "/proc/self/ns/uts", uts.path]).status).toBe(0);
    const e3 = await failure(client.run([cmd.netnsDelete({ path: uts.path })]));
    expect(e3).toMatchObject({ op: "verify netns", errname: "EINVAL" });
    expect(e3.message).toContain("is a uts namespace");
    expect(mountAt("self", uts.path)?.fstype).toBe("nsfs");
  });

  it("netns-delete removes the empty mode-0000 file an interrupted netns-create leaves, and no other file", async () => {
    // netns-create opens the file O_CREAT|O_EXCL with mode 0 and binds the netns onto it afterwards; a
    // helper killed in between leaves exactly this.
    const left = fresh();
    closeSync(openSync(left.path, "wx", 0o000));
    expect(statSync(left.path).mode & 0o7777).toBe(0);
    await client.run([cmd.netnsDelete({ path: left.path })]);
    expect(existsSync(left.path)).toBe(false);

    // An empty file with any permission bit, or one with content, is someone else's: refused, kept.
    const other = fresh();
    writeFileSync(other.path, "", { mode: 0o600 });
    const e = await failure(client.run([cmd.netnsDelete({ path: other.path })]));
    expect(e).toMatchObject({ op: "verify netns", errname: "EINVAL" });
    expect(existsSync(other.path)).toBe(true);
  });

  it("refuses paths outside /run/netns and bad names with exit 2, creating and deleting nothing", () => {
    const long = `${PREFIX}-${"x".repeat(65 - PREFIX.length - 1)}`;
    expect(long).toHaveLength(65);
    const bad = [
      [`/tmp/${PREFIX}-out`, `/tmp/${PREFIX}-out`],
      [`/run/netns/../${PREFIX}-up`, `/run/${PREFIX}-up`],
      [`/run/netns/${PREFIX}-dir/b`, `/run/netns/${PREFIX}-dir`],
      [`/run/netns/${long}`, `/run/netns/${long}`],
      [`/run/netns/${PREFIX} sp`, `/run/netns/${PREFIX} sp`],
      [`/run/netns/${PREFIX}:c`, `/run/netns/${PREFIX}:c`],
      [`/run/netns/${PREFIX}\u00e9`, `/run/netns/${PREFIX}\u00e9`],
      [`/run/netns//${PREFIX}-2`, `/run/netns/${PREFIX}-2`],
      [`/var/run/netns/${PREFIX}-var`, `/run/netns/${PREFIX}-var`],
      ["/run/netns/..", "/run/netns/.."],
      ["/run/netns/", "/run/netns/"],
      ["relative", "relative"],
    ] as const;
    for (const [path, effect] of bad) {
      for (const command of ["netns-create", "netns-delete"]) {
        const { status, reply } = rawHelper(command, `path=${path}`);
        expect(status, `${command} ${path}`).toBe(2);
        expect(reply.error).toMatchObject({ index: 0, cmd: command, op: "parse", object: "path", errname: "EINVAL" });
        expect(reply.error?.message).toContain(`${command}: invalid path "${path}"`);
        if (effect.startsWith(`/run/netns/${PREFIX}`) || effect.startsWith(`/tmp/${PREFIX}`)) {
          expect(existsSync(effect), effect).toBe(false);
        }
      }
    }
    expect(existsSync(`/run/${PREFIX}-up`)).toBe(false);
    // A bad command later in the batch: the create before it does not run either.
    const { name, path } = fresh();
    const { status } = rawHelper("netns-create", `path=${path}`, "--", "netns-delete", "path=/tmp/x");
    expect(status).toBe(2);
    expect(existsSync(path)).toBe(false);
    expect(netnsList()).not.toContain(name);
  });

  it("the netns mount propagates to a mount namespace created before it, and so does its removal", async () => {
    const { path } = fresh();
    const child: ChildProcess = spawn("unshare", ["--mount", "--propagation", "slave", "sleep", "60"], {
      stdio: "ignore",
    });
    try {
      const pid = child.pid;
      if (pid === undefined) throw new Error("Cannot start unshare");
      const self = readlinkSync("/proc/self/ns/mnt");
      for (let i = 0; i < 200 && readlinkSync(`/proc/${pid}/ns/mnt`) === self; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(readlinkSync(`/proc/${pid}/ns/mnt`)).not.toBe(self);

      await client.run([cmd.netnsCreate({ path })]);
      expect(mountAt(pid, path)?.fstype).toBe("nsfs");
      await client.run([cmd.netnsDelete({ path })]);
      expect(mountAt(pid, path)).toBeUndefined();
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("netns-create makes /run/netns (0755 whatever the umask) a shared mount point when it is not one", () => {
    // In a private mount namespace with an empty tmpfs on /run, so the host's /run/netns is not touched.
    const name = `${PREFIX}-priv`;
    const script = [
      "set -e",
      "mount -t tmpfs acn-test /run",
      "umask 077",
      '"$0" netns-create path=/run/netns/"$1" >/dev/null',
      "stat -c %a /run/netns",
      // The host's /run/netns is still listed, hidden under the tmpfs: ours is the last (top) mount there.
      "findmnt -n -o PROPAGATION /run/netns | tail -n 1",
      'findmnt -n -o FSTYPE /run/netns/"$1"',
      '"$0" netns-delete path=/run/netns/"$1" >/dev/null',
      'test ! -e /run/netns/"$1" && echo gone',
    ].join("\n");
    const r = spawnSync("unshare", ["--mount", "--propagation", "private", "sh", "-c", script, HELPER_ASAN, name], {
      encoding: "utf8",
    });
    expect(r.stderr).toBe("");
    expect(r.stdout.split("\n")).toEqual(["755", "shared", "nsfs", "gone", ""]);
    expect(existsSync(netnsPath(name))).toBe(false);
  });
});

/** The host's links (name -> ifindex) as iproute2 sees them. */
function hostLinks(): Map<string, number> {
  const out = JSON.parse(ip("-j", "link", "show")) as { ifname: string; ifindex: number }[];
  return new Map(out.map((l) => [l.ifname, l.ifindex]));
}
