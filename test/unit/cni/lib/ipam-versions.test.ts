// The IPAM version cache: Debian's host-local and static (containernetworking-plugins 1.1.1, which
// refuse cniVersion 1.1.0) pay the fallback once per binary, a changed binary is asked again, a corrupt,
// untrusted or stale cache file is not believed. Execs are counted at the one place plugins are spawned.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { callIpam, type IpamCommand } from "../../../../cni/lib/ipam.js";
import { IPAM_VERSIONS_FILE, identityOf, stateDirVersionCache } from "../../../../cni/lib/ipam-versions.js";
import { silentLogger } from "../../../../cni/lib/log.js";

const execs = vi.hoisted(() => ({ commands: [] as string[] }));
vi.mock("../../../../cni/lib/exec.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../../../cni/lib/exec.js")>();
  return {
    ...real,
    execPlugin: (opts: Parameters<typeof real.execPlugin>[0]) => {
      execs.commands.push(
        `${String(opts.env["CNI_COMMAND"])} ${(JSON.parse(opts.stdin) as { cniVersion: string }).cniVersion}`,
      );
      return real.execPlugin(opts);
    },
  };
});

const DEBIAN_CNI = "/usr/lib/cni";

describe("IPAM version cache", () => {
  let dir: string;
  let stateDir: string;
  let dataDir: string;
  beforeEach(() => {
    // /run, not /tmp: the cache lives in a trusted state dir (nothing above it writable by others)
    dir = mkdtempSync("/run/acn-ipamv-");
    stateDir = join(dir, "state");
    dataDir = join(dir, "ipam-data");
    execs.commands = [];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const cachePath = () => join(stateDir, IPAM_VERSIONS_FILE);
  const ipamOf = (type: string) =>
    type === "host-local"
      ? { type, subnet: "10.77.0.0/24", dataDir }
      : { type, addresses: [{ address: "10.78.0.5/24", gateway: "10.78.0.1" }] };

  const call = async (type: string, command: IpamCommand, id: string, cniPath = DEBIAN_CNI, prevResult?: unknown) => {
    execs.commands = [];
    const conf = { cniVersion: "1.1.0", name: "cachenet", type: "accelnet", ipam: ipamOf(type), prevResult };
    const out = await callIpam(
      {
        type,
        command,
        stdin: JSON.stringify(conf),
        env: {
          PATH: process.env["PATH"],
          CNI_PATH: cniPath,
          CNI_CONTAINERID: id,
          CNI_IFNAME: "net1",
          CNI_NETNS: "/proc/self/ns/net",
        },
        log: silentLogger,
        versionCache: stateDirVersionCache(stateDir, silentLogger),
      },
      "1.1.0",
    );
    return { ...out, execs: [...execs.commands] };
  };

  it.each(["host-local", "static"])(
    "Debian's %s: the first ADD asks VERSION once, later ADDs and CHECKs run it once",
    async (type) => {
      const first = await call(type, "ADD", "c1");
      expect(first.execs).toEqual(["ADD 1.1.0", "VERSION 1.1.0", "ADD 1.0.0"]);
      expect(first.version).toBe("1.0.0");
      expect(first.result?.ips[0]?.address).toMatch(/^10\.7[78]\.0\.\d+\/24$/);
      const cached = JSON.parse(readFileSync(cachePath(), "utf8")) as { plugins: Record<string, unknown> };
      expect(cached.plugins[join(DEBIAN_CNI, type)]).toMatchObject({
        ...identityOf(statSync(join(DEBIAN_CNI, type), { bigint: true })),
        supportedVersions: ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0"],
      });
      expect(statSync(cachePath()).mode & 0o777).toBe(0o600);

      const second = await call(type, "ADD", "c2");
      expect(second.execs).toEqual(["ADD 1.0.0"]);
      expect(second.version).toBe("1.0.0");
      const prevResult = { cniVersion: "1.1.0", ips: second.result?.ips, routes: [], dns: {} };
      expect((await call(type, "CHECK", "c2", DEBIAN_CNI, prevResult)).execs).toEqual(["CHECK 1.0.0"]);
      expect((await call(type, "DEL", "c2")).execs).toEqual(["DEL 1.0.0"]);
      expect((await call(type, "DEL", "c1")).execs).toEqual(["DEL 1.0.0"]);
    },
  );

  it("a corrupt cache file is ignored and rewritten", async () => {
    mkdirSync(stateDir, { mode: 0o700 });
    writeFileSync(cachePath(), "{not json", { mode: 0o600 });
    expect((await call("host-local", "ADD", "c1")).execs).toEqual(["ADD 1.1.0", "VERSION 1.1.0", "ADD 1.0.0"]);
    expect(JSON.parse(readFileSync(cachePath(), "utf8"))).toMatchObject({ format: 1 });
    expect((await call("host-local", "ADD", "c2")).execs).toEqual(["ADD 1.0.0"]);
  });

  it("a cache file others can write is not believed", async () => {
    const id = identityOf(statSync(join(DEBIAN_CNI, "host-local"), { bigint: true }));
    const forged = { [join(DEBIAN_CNI, "host-local")]: { ...id, supportedVersions: ["0.3.1"] } };
    mkdirSync(stateDir, { mode: 0o700 });
    writeFileSync(cachePath(), JSON.stringify({ format: 1, plugins: forged }));
    chmodSync(cachePath(), 0o666);
    const out = await call("host-local", "ADD", "c1");
    expect(out.execs).toEqual(["ADD 1.1.0", "VERSION 1.1.0", "ADD 1.0.0"]);
    expect(out.version).toBe("1.0.0");
  });

  it("a cached answer the plugin contradicts (it refuses a version it listed) is dropped and asked again", async () => {
    const id = identityOf(statSync(join(DEBIAN_CNI, "host-local"), { bigint: true }));
    stateDirVersionCache(stateDir, silentLogger).store(join(DEBIAN_CNI, "host-local"), id, ["0.4.0", "1.1.0"]);
    const out = await call("host-local", "ADD", "c1");
    expect(out.execs).toEqual(["ADD 1.1.0", "VERSION 1.1.0", "ADD 1.0.0"]);
    expect(out.version).toBe("1.0.0");
    expect((await call("host-local", "ADD", "c2")).execs).toEqual(["ADD 1.0.0"]);
  });

  it("a plugin binary that changes between calls is asked again (the cache notices)", async () => {
    const bin = join(dir, "bin");
    mkdirSync(bin);
    const plugin = join(bin, "changing");
    // An "IPAM plugin" that takes versions up to `max` and logs nothing; ADD answers one address.
    const install = (versions: string[]) => {
      const max = versions.at(-1) as string;
      writeFileSync(
        plugin,
        `#!/bin/sh
input=$(cat)
case "$CNI_COMMAND" in
VERSION) echo '{"cniVersion":"${max}","supportedVersions":${JSON.stringify(versions)}}'; exit 0;;
esac
case "$input" in
*'"cniVersion":"${max}"'*) ;;
*) echo '{"code":1,"msg":"incompatible CNI versions"}'; exit 1;;
esac
[ "$CNI_COMMAND" = ADD ] && echo '{"cniVersion":"${max}","ips":[{"address":"10.79.0.2/24"}]}'
exit 0
`,
      );
      chmodSync(plugin, 0o755);
    };
    install(["0.4.0", "1.0.0"]);
    expect((await call("changing", "ADD", "c1", bin)).execs).toEqual(["ADD 1.1.0", "VERSION 1.1.0", "ADD 1.0.0"]);
    expect((await call("changing", "ADD", "c2", bin)).execs).toEqual(["ADD 1.0.0"]);

    install(["0.3.1", "0.4.0"]); // upgraded in place (well, downgraded): another size, mtime and ctime
    const after = await call("changing", "ADD", "c3", bin);
    expect(after.execs).toEqual(["ADD 1.1.0", "VERSION 1.1.0", "ADD 0.4.0"]);
    expect(after.version).toBe("0.4.0");
    expect((await call("changing", "CHECK", "c3", bin)).execs).toEqual(["CHECK 0.4.0"]);

    install(["0.4.0", "1.0.0", "1.1.0"]); // now it takes the request's version: tried first, no VERSION
    expect((await call("changing", "ADD", "c4", bin)).execs).toEqual(["ADD 1.1.0"]);
  });
});
