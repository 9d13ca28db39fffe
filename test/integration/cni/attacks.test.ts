// Issue 9 section 1, as an attacker would try it: the packaged dist/accelnet (the front end, copied with
// dist/accelnet-standalone into a CNI bin dir of their own, so the helper comes from the standalone's
// embedded asset, as in a deployment; no CNI server runs, so every call is the fallback) runs as root, while a
// local non-root user (nobody, through setpriv) races rename and symlink swaps in a loop against
// repeated ADD and DEL, or a tenant's config points accelnet at itself. Root must never execute,
// create or append anything outside its place, and no accelnet process may outlive a call.
// ACCELNET_EXE runs the same tests against another build (e.g. an older one, to see them fail);
// ACCELNET_STANDALONE names the standalone copied next to it.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deviceInfoContent, restoreDeviceInfo, writeDeviceInfo } from "../../../cni/lib/device-info.js";
import { silentLogger } from "../../../cni/lib/log.js";
import { NOBODY, startAttacker, startExchanger } from "../attacker.js";
import { Fixture, isRoot } from "./netns-fixture.js";

const dist = resolve("dist/accelnet");
const asset = resolve("dist/native/accelnet-helper");
const source = process.env["ACCELNET_EXE"] ?? dist;
const standalone = process.env["ACCELNET_STANDALONE"] ?? resolve("dist/accelnet-standalone");
const haveSetpriv = spawnSync("setpriv", ["--version"]).status === 0;
const ready = isRoot && existsSync(source) && existsSync(standalone) && existsSync(asset) && haveSetpriv;
const why = !isRoot ? "needs root" : !haveSetpriv ? "needs setpriv (util-linux)" : "run npm run build first";
const ROUNDS = 10; // ADD+DEL pairs per race: each run of the executable takes about a second here

interface Outcome {
  status: number | null;
  json: { code?: number; msg?: string } | null;
  stderr: string;
}

describe.skipIf(!ready)(
  `attacks on the packaged accelnet${ready ? "" : ` (skipped: ${why})`}`,
  { timeout: 180_000 },
  () => {
    const fx = new Fixture();
    let base: string;
    let bin: string;
    let exe: string;
    let netns: string;
    let master: string;

    beforeAll(() => {
      base = mkdtempSync(join(tmpdir(), "acn-attack-"));
      chmodSync(base, 0o755);
      bin = join(base, "bin");
      mkdirSync(bin, { mode: 0o755 });
      exe = join(bin, "accelnet");
      copyFileSync(source, exe); // no helper in the bin dir: it is extracted from the asset
      chmodSync(exe, 0o755);
      copyFileSync(standalone, join(bin, "accelnet-standalone"));
      chmodSync(join(bin, "accelnet-standalone"), 0o755);
      netns = fx.netns("p");
      master = fx.master("m");
    });
    afterAll(() => {
      fx.cleanup();
      rmSync(base, { recursive: true, force: true });
    });

    function cni(command: string, conf: object, env: Record<string, string>, id = "ctr"): Outcome {
      const res = spawnSync(exe, [], {
        input: JSON.stringify(conf),
        timeout: 30_000,
        env: {
          PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
          CNI_COMMAND: command,
          CNI_CONTAINERID: id,
          CNI_NETNS: netns,
          CNI_IFNAME: "net1",
          CNI_PATH: `${bin}:/usr/lib/cni`,
          ...env,
        },
      });
      const out = res.stdout.toString().trim();
      return {
        status: res.status,
        json: out === "" ? null : (JSON.parse(out) as Outcome["json"]),
        stderr: res.stderr.toString(),
      };
    }

    const conf = (extra: object = {}) => ({ cniVersion: "1.0.0", name: "atk", type: "accelnet", master, ...extra });

    it("a non-root owner of a state dir's ancestor, swapping directories, never gets a program run as root", async () => {
      // nobody owns att/; the state dir below it is root's and 0700, as the old check wanted.
      const att = join(base, "att");
      mkdirSync(att, { mode: 0o755 });
      chownSync(att, NOBODY, NOBODY);
      const state = join(att, "state");
      mkdirSync(state, { mode: 0o700 });
      // The attacker's look-alike: bin/accelnet-helper-<hash of the public asset>, a script that marks.
      const pwned = join(base, "pwned");
      const hash = createHash("sha256").update(readFileSync(asset)).digest("hex").slice(0, 16);
      const evil = join(att, "evil");
      mkdirSync(join(evil, "bin"), { recursive: true });
      const fake = join(evil, "bin", `accelnet-helper-${hash}`);
      writeFileSync(fake, `#!/bin/sh\necho root ran me > ${pwned}\n`, { mode: 0o755 });
      chownSync(evil, NOBODY, NOBODY);
      chownSync(join(evil, "bin"), NOBODY, NOBODY);
      chownSync(fake, NOBODY, NOBODY);
      const attacker = startExchanger(state, evil); // atomic swaps: one of the two is always there
      const outcomes: Outcome[] = [];
      try {
        for (let i = 0; i < ROUNDS; i++) {
          outcomes.push(cni("ADD", conf(), { ACCELNET_STATE_DIR: state }, `swap${i}`));
          outcomes.push(cni("DEL", conf(), { ACCELNET_STATE_DIR: state }, `swap${i}`));
        }
      } finally {
        expect(await attacker.stop()).toBeGreaterThan(100);
      }
      expect(existsSync(pwned)).toBe(false);
      for (const o of outcomes) {
        expect(o.json).toMatchObject({
          code: 5,
          msg: expect.stringContaining(`"${att}" is owned by uid ${NOBODY}, not root`) as string,
        });
      }
      // The same layout with a root-owned ancestor works: the refusal is the ancestor's.
      rmSync(att, { recursive: true, force: true });
      mkdirSync(join(att, "state"), { recursive: true, mode: 0o700 });
      chmodSync(att, 0o755);
      expect(cni("ADD", conf(), { ACCELNET_STATE_DIR: state }, "good")).toMatchObject({ status: 0 });
      expect(cni("DEL", conf(), { ACCELNET_STATE_DIR: state }, "good")).toMatchObject({ status: 0, json: null });
      expect(readdirSync(join(state, "bin"))).toEqual([`accelnet-helper-${hash}`]);
    });

    it("a group-writable, sticky log dir parent (like /var/log/postgresql) raced with symlinks: root creates no file anywhere", async () => {
      // pg/ is root:nogroup 1775, nobody is in nogroup; the node's log dir is pg/accelnet.
      const pg = join(base, "pg");
      mkdirSync(pg);
      chownSync(pg, 0, NOBODY);
      chmodSync(pg, 0o1775);
      const logDir = join(pg, "accelnet");
      const secret = join(base, "secret"); // root-only: no file may appear here
      mkdirSync(secret, { mode: 0o700 });
      const decoy = join(pg, "decoy");
      const attacker = startAttacker([
        { op: "mkdir", path: decoy },
        { op: "rename", from: decoy, to: logDir }, // a real directory (nobody's) for a check to pass
        { op: "rename", from: logDir, to: decoy },
        { op: "symlink", target: secret, path: logDir }, // ... and the symlink for the open to follow
        { op: "unlink", path: logDir },
      ]);
      const outcomes: Outcome[] = [];
      try {
        for (let i = 0; i < ROUNDS; i++) {
          const logFile = i % 2 === 0 ? "net1.log" : join(logDir, "net1.log");
          outcomes.push(
            cni(
              "ADD",
              conf({ logFile }),
              { ACCELNET_STATE_DIR: join(base, "st-log"), ACCELNET_LOG_DIR: logDir },
              `log${i}`,
            ),
          );
          outcomes.push(
            cni(
              "DEL",
              conf({ logFile }),
              { ACCELNET_STATE_DIR: join(base, "st-log"), ACCELNET_LOG_DIR: logDir },
              `log${i}`,
            ),
          );
        }
      } finally {
        expect(await attacker.stop()).toBeGreaterThan(100);
      }
      expect(readdirSync(secret)).toEqual([]);
      expect(existsSync(join(decoy, "net1.log"))).toBe(false);
      // Logging went to stderr with the reason; the attachments themselves were made and removed.
      for (const o of outcomes) {
        expect(o.status).toBe(0);
        expect(o.stderr).toMatch(
          /Cannot open log file .*(has mode 1775|owned by uid 65534|symbolic link|ENOENT|not a directory)/,
        );
      }
    });

    it("a tenant's logFile cannot name another file under /var/log (code 7), even one that exists", () => {
      for (const logFile of ["/var/log/auth.log", "../auth.log", "/var/log/accelnet/../dpkg.log"]) {
        const o = cni("ADD", conf({ logFile }), { ACCELNET_STATE_DIR: join(base, "st-name") }, "name");
        expect(o.json).toMatchObject({
          code: 7,
          msg: expect.stringContaining('Cannot use config field "logFile"') as string,
        });
      }
    });

    describe("a config that makes accelnet its own IPAM plugin", () => {
      // every way to name the running executable: its name, a hard link, a wrapper script (another inode)
      beforeAll(() => {
        linkSync(exe, join(bin, "alias"));
        writeFileSync(join(bin, "wrapper"), `#!/bin/sh\nexec ${exe}\n`, { mode: 0o755 });
      });

      function accelnetProcesses(): number[] {
        const pids: number[] = [];
        for (const entry of readdirSync("/proc")) {
          if (!/^\d+$/.test(entry)) continue;
          try {
            // the front end, or the standalone it became
            const running = readlinkSync(`/proc/${entry}/exe`);
            if (running === exe || running === join(bin, "accelnet-standalone")) pids.push(Number(entry));
          } catch {
            // gone, or a kernel thread
          }
        }
        return pids;
      }

      it.each(["accelnet", "alias", "wrapper"])(
        "ipam.type %j: ADD, CHECK, STATUS and GC refuse (7; STATUS 50), DEL succeeds, nothing and no accelnet remains",
        (type) => {
          const env = { ACCELNET_STATE_DIR: join(base, "st-self") };
          const c = conf({ cniVersion: "1.1.0", ipam: { type } });
          const started = Date.now();
          for (const command of ["ADD", "CHECK", "STATUS", "GC"]) {
            const prevResult = { cniVersion: "1.1.0", interfaces: [{ name: "net1", sandbox: netns }], ips: [] };
            const extra = command === "CHECK" ? { prevResult } : {};
            const gc = command === "GC" ? { "cni.dev/valid-attachments": [] } : {};
            const o = cni(command, { ...c, ...extra, ...gc }, env, `self-${type}`);
            expect(o.status, `${command}: ${JSON.stringify(o.json)}`).toBe(1);
            // STATUS answers in its own terms (50, "cannot serve ADD"), naming the same refusal
            expect(o.json).toMatchObject({ code: command === "STATUS" ? 50 : 7 });
            expect(o.json?.msg).toMatch(/is accelnet itself|ACCELNET_DELEGATED is set/);
          }
          expect(cni("DEL", c, env, `self-${type}`)).toMatchObject({ status: 0, json: null });
          expect(Date.now() - started).toBeLessThan(20_000);
          expect(accelnetProcesses()).toEqual([]);
          expect(fx.linksIn(netns)).toEqual([]);
        },
      );
    });
  },
);

describe.skipIf(!isRoot || !haveSetpriv)("device info files against a non-root attacker", () => {
  const pci = { type: "pci" as const, pci: { "pci-address": "0000:00:12.0" } };
  let base: string;
  beforeAll(() => {
    base = mkdtempSync(join(tmpdir(), "acn-attack-devinfo-"));
    chmodSync(base, 0o755);
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it("a directory nobody owns, swapped with a symlink in a loop: ADD and DEL never write or remove through it", async () => {
    const root = join(base, "devinfo");
    mkdirSync(root, { mode: 0o755 });
    const pod = join(root, "pod");
    mkdirSync(pod, { mode: 0o755 });
    chownSync(pod, NOBODY, NOBODY);
    const victim = join(base, "victim"); // root's: x.json there must stay as it is
    mkdirSync(victim, { mode: 0o700 });
    writeFileSync(join(victim, "x.json"), "root's own");
    const hold = join(root, "hold");
    const attacker = startAttacker([
      { op: "rename", from: pod, to: hold },
      { op: "symlink", target: victim, path: pod },
      { op: "unlink", path: pod },
      { op: "rename", from: hold, to: pod },
    ]);
    const env = { ACCELNET_DEVINFO_DIR: root };
    let refused = 0;
    try {
      for (let i = 0; i < 200; i++) {
        try {
          restoreDeviceInfo(writeDeviceInfo(join(pod, "x.json"), pci, env), silentLogger);
        } catch (err) {
          expect(err).toMatchObject({ code: 7 });
          refused++;
        }
        // DEL of an ADD made before the directory changed hands: the record names the same path
        restoreDeviceInfo({ path: join(pod, "x.json"), previous: null, root }, silentLogger);
        restoreDeviceInfo({ path: join(pod, "x.json"), previous: deviceInfoContent(pci, null), root }, silentLogger);
      }
    } finally {
      expect(await attacker.stop()).toBeGreaterThan(100);
    }
    expect(refused).toBe(200);
    expect(readdirSync(victim)).toEqual(["x.json"]);
    expect(readFileSync(join(victim, "x.json"), "utf8")).toBe("root's own");
  });
});
