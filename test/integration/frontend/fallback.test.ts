// The front end with no CNI server to talk to (native/FRONTEND.md "When the front end falls back"): the
// socket missing, stale (a crashed server's file, nobody listening), a regular file, or served by a
// non-root process; then it becomes accelnet-standalone with the same env and stdin, and answers
// exactly as the standalone does: VERSION, the bad-input errors, and a real macvlan ADD/DEL in a netns
// with host-local. Runs the ASan/UBSan build; the non-root server and netns cases need root.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NOBODY } from "../attacker.js";
import { Fixture, havePlugins } from "../cni/netns-fixture.js";
import { built, isRoot, makeBinDir, run, STANDALONE, FRONTEND } from "./_frontend.js";

const haveSetpriv = spawnSync("setpriv", ["--version"]).status === 0;
const VERSION_STDIN = '{"cniVersion":"1.0.0"}';

/** The first ELF program header of type PT_INTERP (3), i.e. whether the file is dynamically linked. */
function hasInterpreter(file: string): boolean {
  const elf = readFileSync(file);
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) if (elf.readUInt32LE(phoff + i * phentsize) === 3) return true;
  return false;
}

describe.skipIf(!built)(
  `front end fallback to accelnet-standalone${built ? "" : " (skipped: npm run build first)"}`,
  () => {
    let bin: ReturnType<typeof makeBinDir>;
    let standaloneVersion: { status: number | null; stdout: string };

    beforeAll(async () => {
      bin = makeBinDir();
      const r = await run(STANDALONE, { CNI_COMMAND: "VERSION" }, VERSION_STDIN);
      standaloneVersion = { status: r.status, stdout: r.stdout.toString() };
      expect(JSON.parse(standaloneVersion.stdout)).toHaveProperty("supportedVersions");
    });
    afterAll(() => bin.cleanup());

    it("dist/accelnet is a static executable of at most 1 MiB", () => {
      expect(readFileSync(FRONTEND).length).toBeLessThanOrEqual(1 << 20);
      expect(readFileSync(FRONTEND).subarray(0, 4).toString("latin1")).toBe("\x7fELF");
      expect(hasInterpreter(FRONTEND)).toBe(false);
    });

    async function expectStandaloneVersion(socket: string) {
      const r = await run(bin.exe, { CNI_COMMAND: "VERSION", ACCELNET_CNI_SOCKET: socket }, VERSION_STDIN);
      expect({ status: r.status, stdout: r.stdout.toString() }).toEqual(standaloneVersion);
      return r;
    }

    it("socket path missing (no such file, no such directory): the standalone answers VERSION", async () => {
      await expectStandaloneVersion(join(bin.dir, "none.sock"));
      await expectStandaloneVersion(join(bin.dir, "no-dir", "server.sock"));
      const r = await expectStandaloneVersion(join(bin.dir, "bin", "accelnet", "server.sock")); // ENOTDIR
      expect(r.stderr.toString()).toBe(""); // no server is the normal case: nothing said
    });

    it("a stale socket (its server was killed, the file stayed): the standalone answers VERSION", async () => {
      const path = join(bin.dir, "stale.sock");
      const script = `require("node:net").createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, "SIGKILL"))`;
      spawnSync(process.execPath, ["-e", script]);
      expect(existsSync(path)).toBe(true);
      await expectStandaloneVersion(path);
    });

    it("the path is a regular file: the standalone answers VERSION", async () => {
      const path = join(bin.dir, "file.sock");
      writeFileSync(path, "not a socket");
      await expectStandaloneVersion(path);
    });

    it("argv after argv[0] reaches the standalone, which still runs no script named there", async () => {
      const script = join(bin.dir, "inject.cjs");
      const marker = join(bin.dir, "injected");
      writeFileSync(script, `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "ran");\n`);
      const env = { CNI_COMMAND: "VERSION", ACCELNET_CNI_SOCKET: join(bin.dir, "none.sock") };
      const r = await run(bin.exe, env, VERSION_STDIN, [script]);
      expect(r.stdout.toString()).toBe(standaloneVersion.stdout);
      expect(existsSync(marker)).toBe(false);
    });

    describe.skipIf(!isRoot || !haveSetpriv)("a socket served by a non-root process", () => {
      it("is not talked to: nothing is sent, the standalone answers, stderr says why", async () => {
        const dir = join(bin.dir, "nobody");
        mkdirSync(dir, { mode: 0o755 });
        chownSync(dir, NOBODY, NOBODY);
        const path = join(dir, "server.sock");
        // Counts the bytes each connection sends and answers a success the front end must not relay.
        const script = join(dir, "server.cjs");
        writeFileSync(
          script,
          `const net = require("node:net");
const ok = Buffer.concat([Buffer.from("ACNCNI1\\0"), Buffer.alloc(4), Buffer.from([6, 0, 0, 0]), Buffer.from("owned\\n"), Buffer.alloc(4)]);
net.createServer({ allowHalfOpen: true }, (s) => {
  let n = 0;
  s.on("data", (c) => (n += c.length));
  s.on("error", () => {});
  s.on("close", () => process.stdout.write("conn " + n + "\\n"));
  s.write(ok);
}).listen(${JSON.stringify(path)}, () => process.stdout.write("listening\\n"));
`,
        );
        chmodSync(script, 0o644);
        const child = spawn(
          "setpriv",
          [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "--", process.execPath, script],
          {
            stdio: ["ignore", "pipe", "inherit"],
          },
        );
        let out = "";
        const seen = (text: string) =>
          new Promise<void>((done) => {
            const check = () => (out.includes(text) ? done() : undefined);
            child.stdout.on("data", (c: Buffer) => {
              out += c.toString();
              check();
            });
            check();
          });
        try {
          await seen("listening");
          const r = await expectStandaloneVersion(path);
          expect(r.stderr.toString()).toMatch(/ignoring CNI server ".*server\.sock": it runs as uid 65534, not root/);
          await seen("conn ");
          expect(out).toContain("conn 0\n");
        } finally {
          child.kill("SIGKILL");
        }
      });
    });

    describe("bad input: the same stdout and exit status as the standalone plugin", () => {
      const socket = () => join(bin.dir, "none.sock");
      const addEnv = {
        CNI_COMMAND: "ADD",
        CNI_CONTAINERID: "c1",
        CNI_NETNS: "/run/netns/acn-fe-none",
        CNI_IFNAME: "net1",
        CNI_PATH: "/usr/lib/cni",
        ACCELNET_STATE_DIR: "/run/acn-fe-unused",
      };
      const cases: [string, Record<string, string>, string][] = [
        ["empty stdin", addEnv, ""],
        ["truncated JSON", addEnv, '{"cniVersion":"1.0.0","name":"n","type":"accelnet","mas'],
        ["malformed JSON", addEnv, "{cniVersion: 1.0.0}"],
        ["a JSON array", addEnv, "[1,2]"],
        ["CNI_COMMAND missing", { ...addEnv, CNI_COMMAND: "" }, '{"cniVersion":"1.0.0","name":"n"}'],
        ["an unknown CNI_COMMAND", { ...addEnv, CNI_COMMAND: "FROB" }, '{"cniVersion":"1.0.0","name":"n"}'],
        [
          "CNI_CONTAINERID and CNI_NETNS missing",
          { CNI_COMMAND: "ADD", CNI_IFNAME: "net1", CNI_PATH: "/usr/lib/cni" },
          '{"cniVersion":"0.4.0","name":"n","type":"accelnet","master":"eth0"}',
        ],
        ["an unsupported cniVersion", addEnv, '{"cniVersion":"9.9.9","name":"n","type":"accelnet"}'],
      ];
      it.each(cases)("%s", async (_what, env, stdin) => {
        const full = { ...env, PATH: "/usr/bin:/bin" };
        const ours = await run(bin.exe, { ...full, ACCELNET_CNI_SOCKET: socket() }, stdin);
        const theirs = await run(STANDALONE, full, stdin);
        expect(ours.stdout.toString()).toBe(theirs.stdout.toString());
        expect(ours.status).toBe(theirs.status);
        expect(ours.stderr.toString()).toBe(theirs.stderr.toString());
      });

      it("stdin larger than 1 MiB: code 7 with the exact message, in the request's cniVersion", async () => {
        const pad = "a".repeat(1 << 20);
        const r = await run(
          bin.exe,
          { ...addEnv, ACCELNET_CNI_SOCKET: socket() },
          `{"cniVersion":"0.3.1","p":"${pad}"}`,
        );
        expect(r.status).toBe(1);
        expect(r.stdout.toString()).toBe(
          '{"cniVersion":"0.3.1","code":7,"msg":"Cannot read stdin: larger than 1048576 bytes"}\n',
        );
        const noVersion = await run(bin.exe, { ...addEnv, ACCELNET_CNI_SOCKET: socket() }, Buffer.alloc((1 << 20) + 1));
        expect(noVersion.stdout.toString()).toBe(
          '{"cniVersion":"1.1.0","code":7,"msg":"Cannot read stdin: larger than 1048576 bytes"}\n',
        );
      });
    });

    it("no standalone next to the front end: code 5 naming the path, exit 1", async () => {
      const alone = makeBinDir();
      try {
        spawnSync("rm", ["-f", join(alone.dir, "bin", "accelnet-standalone")]);
        const r = await run(alone.exe, { CNI_COMMAND: "VERSION", ACCELNET_CNI_SOCKET: join(alone.dir, "x") }, "{}");
        expect(r.status).toBe(1);
        expect(JSON.parse(r.stdout.toString())).toEqual({
          cniVersion: "1.1.0",
          code: 5,
          msg: `Cannot run the standalone plugin "${join(alone.dir, "bin", "accelnet-standalone")}": No such file or directory (install it next to the accelnet front end)`,
        });
      } finally {
        alone.cleanup();
      }
    });

    describe.skipIf(!isRoot || !havePlugins)(
      "a real macvlan attachment through the fallback (netns, host-local)",
      () => {
        const fx = new Fixture();
        afterAll(() => fx.cleanup());

        it("ADD creates it with an address, CHECK passes, DEL removes it and releases the address", async () => {
          const netns = fx.netns("p");
          const master = fx.master("m");
          const dataDir = join(fx.dir, "ipam");
          const conf = JSON.stringify({
            cniVersion: "1.1.0",
            name: "fenet",
            type: "accelnet",
            master,
            ipam: { type: "host-local", subnet: "10.78.0.0/24", dataDir },
          });
          const env = (command: string) => ({
            PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
            ACCELNET_CNI_SOCKET: join(bin.dir, "none.sock"),
            ACCELNET_STATE_DIR: join(fx.dir, "state"),
            CNI_COMMAND: command,
            CNI_CONTAINERID: "fe1",
            CNI_NETNS: netns,
            CNI_IFNAME: "net1",
            CNI_PATH: "/usr/lib/cni",
          });
          const add = await run(bin.exe, env("ADD"), conf);
          expect(add.status, add.stdout.toString()).toBe(0);
          const result = JSON.parse(add.stdout.toString()) as { ips: { address: string }[] };
          expect(result.ips[0]?.address).toMatch(/^10\.78\.0\.\d+\/24$/);
          const links = fx.linksIn(netns);
          expect(links.map((l) => [l.ifname, l.linkinfo?.info_kind])).toEqual([["net1", "macvlan"]]);
          expect(links[0]?.addr_info.map((a) => `${a.local}/${a.prefixlen}`)).toContain(result.ips[0]?.address);
          expect(fx.reservedIps(dataDir, "fenet")).toHaveLength(1);

          const check = await run(bin.exe, env("CHECK"), JSON.stringify({ ...JSON.parse(conf), prevResult: result }));
          expect(check.status, check.stdout.toString()).toBe(0);

          const del = await run(bin.exe, env("DEL"), conf);
          expect(del.status, del.stdout.toString()).toBe(0);
          expect(del.stdout.toString()).toBe("");
          expect(fx.linksIn(netns)).toEqual([]);
          expect(fx.reservedIps(dataDir, "fenet")).toEqual([]);
        });
      },
    );
  },
);
