// vhostuser mode of the packaged dist/accelnet against a real ovsdb-server (Debian's openvswitch-switch)
// started privately: its own database file (ovsdb-tool create with the installed vswitch.ovsschema) and
// socket in a root-only temp dir. There is no OVS-DPDK here, so two stand-ins for ovs-vswitchd:
// - a test loop that plays its database part (fills ofport of new interfaces), so ADD, CHECK, DEL and
//   GC are proven at the database level;
// - the real, non-DPDK ovs-vswitchd in a private netns, which refuses dpdkvhostuserclient
//   ("Address family not supported by protocol"): ADD must report that and leave nothing.
// The lab (OVS-DPDK and testpmd) proves the packets. Prints ADD and DEL times.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withOvsdb, type OvsdbClient } from "../../../cni/ovsdb/client.js";
import { findPort } from "../../../cni/ovsdb/ports.js";
import { namedUuid, ovsSet, select } from "../../../cni/ovsdb/schema.js";
import { portNameFor } from "../../../cni/modes/vhostuser.js";
import { Fixture, isRoot } from "./netns-fixture.js";
import { ACCELNET, runPackaged } from "./packaged-run.js";

const SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema";
const haveOvs = existsSync(SCHEMA) && spawnSync("ovsdb-server", ["--version"]).status === 0;
const ready = isRoot && haveOvs && existsSync(ACCELNET);
const why = !isRoot ? "needs root" : !haveOvs ? "needs openvswitch-switch (test/setup.sh)" : "run npm run build first";
const POD = "3a0c0b7e-5d1f-4f0a-9e51-0123456789ab";

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

describe.skipIf(!ready)(
  `vhostuser against a real ovsdb-server${ready ? "" : ` (skipped: ${why})`}`,
  { timeout: 180_000 },
  () => {
    const fx = new Fixture();
    let base: string;
    let db: string;
    let netns: string;
    let server: ChildProcess | undefined;
    let vswitchd: ChildProcess | undefined;
    let standIn: { stop: boolean; done: Promise<void> } | undefined;

    const startServer = async () => {
      server = spawn(
        "ovsdb-server",
        [join(base, "conf.db"), `--remote=punix:${db}`, `--unixctl=${join(base, "ovsdb.ctl")}`, "--no-chdir"],
        {
          stdio: "ignore",
        },
      );
      for (let i = 0; i < 100 && !existsSync(db); i++) await sleep(20);
    };
    const stopServer = async () => {
      const s = server;
      server = undefined;
      if (s === undefined || s.exitCode !== null) return;
      const exited = new Promise((r) => s.once("exit", r));
      s.kill("SIGTERM");
      await exited;
      rmSync(db, { force: true });
    };
    const ovs = <T>(fn: (c: OvsdbClient) => Promise<T>) => withOvsdb(db, 2000, fn);

    /** ovs-vswitchd's database part: every interface without an ofport gets one. */
    const startStandIn = () => {
      const s = { stop: false, done: Promise.resolve() };
      s.done = (async () => {
        let next = 1;
        while (!s.stop) {
          await ovs(async (c) => {
            for (const row of await select(c, "Interface", [["ofport", "==", ovsSet([])]], ["_uuid"])) {
              await c.transact([
                { op: "update", table: "Interface", where: [["_uuid", "==", row["_uuid"]]], row: { ofport: next++ } },
              ]);
            }
          }).catch(() => undefined);
          await sleep(10);
        }
      })();
      standIn = s;
    };
    const stopStandIn = async () => {
      if (standIn === undefined) return;
      standIn.stop = true;
      await standIn.done;
      standIn = undefined;
    };

    const env = (over: Record<string, string> = {}) => ({
      PATH: process.env["PATH"] ?? "/usr/bin:/bin",
      ACCELNET_STATE_DIR: join(base, "state"),
      ACCELNET_OVSDB_SOCKET: db,
      ACCELNET_OVSDB_TIMEOUT_MS: "2000",
      ACCELNET_VHOSTUSER_DIR: join(base, "vhu"),
      CNI_PATH: "/usr/lib/cni",
      CNI_NETNS: netns,
      CNI_IFNAME: "net1",
      CNI_CONTAINERID: "c1",
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_UID=${POD}`,
      ...over,
    });
    const conf = (extra: Record<string, unknown> = {}) => ({
      cniVersion: "1.1.0",
      name: "ovs-net",
      type: "accelnet",
      accelnetMode: "vhostuser",
      bridge: "br-dpdk",
      vlan: 100,
      mtu: 1500,
      ipam: { type: "host-local", subnet: "10.77.0.0/24", dataDir: join(base, "ipam") },
      ...extra,
    });
    const cni = async (command: string, c: Record<string, unknown>, over: Record<string, string> = {}) => {
      const r = await runPackaged({ ...env(over), CNI_COMMAND: command }, JSON.stringify(c));
      return { code: r.code === 0 ? 0 : (r.out?.["code"] as number | undefined), out: r.out, ms: r.ms };
    };
    const accelnetPortNames = () =>
      ovs(async (c) =>
        (await select(c, "Port", [], ["name", "external_ids"]))
          .filter((r) => JSON.stringify(r["external_ids"]).includes("accelnet:attachment"))
          .map((r) => r["name"]),
      );
    const sockDir = (pod = POD, ifname = "net1") => join(base, "vhu", pod, ifname);

    beforeAll(async () => {
      base = mkdtempSync(join(tmpdir(), "acn-ovs-"));
      db = join(base, "db.sock");
      netns = fx.netns("vhu");
      const created = spawnSync("ovsdb-tool", ["create", join(base, "conf.db"), SCHEMA]);
      expect(created.status, created.stderr.toString()).toBe(0);
      await startServer();
      // What ovs-vsctl init and add-br would write: the root row and two bridges, one of each datapath.
      await ovs((c) =>
        c.transact([
          { op: "insert", table: "Bridge", row: { name: "br-dpdk", datapath_type: "netdev" }, "uuid-name": "b1" },
          { op: "insert", table: "Bridge", row: { name: "br-sys", datapath_type: "system" }, "uuid-name": "b2" },
          { op: "insert", table: "Open_vSwitch", row: { bridges: ovsSet([namedUuid("b1"), namedUuid("b2")]) } },
        ]),
      );
    });
    afterAll(async () => {
      await stopStandIn();
      vswitchd?.kill("SIGTERM");
      await stopServer();
      fx.cleanup();
      rmSync(base, { recursive: true, force: true });
    });

    it("ADD inserts the port on the bridge and makes the socket dir; CHECK passes; DEL removes both; DEL again succeeds", async () => {
      startStandIn();
      const add = await cni("ADD", conf());
      expect(add.code, JSON.stringify(add.out)).toBe(0);
      const socketPath = join(sockDir(), "socket");
      expect((add.out?.["interfaces"] as Record<string, unknown>[])[0]).toMatchObject({
        name: "net1",
        sandbox: netns,
        socketPath,
      });
      expect(add.out?.["ips"]).toEqual([{ interface: 0, address: "10.77.0.2/24", gateway: "10.77.0.1" }]);
      const port = await ovs((c) => findPort(c, portNameFor("c1", "net1")));
      expect(port).toMatchObject({
        bridge: "br-dpdk",
        tag: 100,
        externalIds: { "accelnet:attachment": "c1/net1", "accelnet:network": "ovs-net" },
      });
      expect(port?.iface).toMatchObject({
        type: "dpdkvhostuserclient",
        options: { "vhost-server-path": socketPath },
        mtuRequest: 1500,
      });
      expect(statSync(sockDir()).isDirectory()).toBe(true);

      expect((await cni("CHECK", { ...conf(), prevResult: add.out })).code).toBe(0);
      const changed = await cni("CHECK", { ...conf({ vlan: 200 }), prevResult: add.out });
      expect(changed.code).toBe(103);

      expect((await cni("DEL", conf())).code).toBe(0);
      expect(await accelnetPortNames()).toEqual([]);
      expect(existsSync(sockDir())).toBe(false);
      expect((await cni("DEL", conf())).code).toBe(0);
    });

    it.each([
      [{ bridge: "br-none" }, {}, 7, 'there is no OVS bridge "br-none"'],
      [{ bridge: "br-sys" }, {}, 7, 'OVS bridge "br-sys" has datapath_type "system"'],
      [{}, { ACCELNET_OVSDB_SOCKET: "/run/accelnet-no-such-ovs/db.sock" }, 105, "cannot connect to ovsdb-server"],
      [{ vlan: "100" }, {}, 7, 'Cannot use config field "vlan": expected an integer, got string'],
    ])("ADD %j %j fails with %i, leaving nothing", async (extra, over, code, msg) => {
      const r = await cni("ADD", conf(extra), over);
      expect(r.code).toBe(code);
      expect(String(r.out?.["msg"])).toContain(msg);
      expect(await accelnetPortNames()).toEqual([]);
      expect(existsSync(sockDir())).toBe(false);
      expect((await cni("DEL", conf(extra), over)).code).toBe(0);
    });

    it("ADD refuses a socket dir that is taken (104), leaving it and the database as they were", async () => {
      mkdirSync(sockDir(), { recursive: true, mode: 0o755 });
      writeFileSync(join(sockDir(), "mine"), "");
      const r = await cni("ADD", conf());
      expect(r.code).toBe(104);
      expect(existsSync(join(sockDir(), "mine"))).toBe(true);
      expect(await accelnetPortNames()).toEqual([]);
      rmSync(join(base, "vhu", POD), { recursive: true });
    });

    it("DEL with ovsdb-server down fails (105) and keeps the state; DEL after it is back finishes", async () => {
      expect((await cni("ADD", conf())).code).toBe(0);
      await stopStandIn();
      await stopServer();
      const down = await cni("DEL", conf());
      expect(down.code).toBe(105);
      expect(String(down.out?.["msg"])).toContain("the state is kept for the next DEL or GC");
      expect(existsSync(sockDir())).toBe(true);
      await startServer();
      startStandIn();
      expect((await cni("DEL", conf())).code).toBe(0);
      expect(await accelnetPortNames()).toEqual([]);
      expect(existsSync(sockDir())).toBe(false);
    });

    it("GC removes the port, socket dir and addresses of attachments no longer valid", async () => {
      const pod2 = "4a0c0b7e-5d1f-4f0a-9e51-0123456789ab";
      expect((await cni("ADD", conf())).code).toBe(0);
      expect(
        (await cni("ADD", conf(), { CNI_CONTAINERID: "c2", CNI_ARGS: `IgnoreUnknown=1;K8S_POD_UID=${pod2}` })).code,
      ).toBe(0);
      const gc = await cni("GC", { ...conf(), "cni.dev/valid-attachments": [{ containerID: "c2", ifname: "net1" }] });
      expect(gc.code, JSON.stringify(gc.out)).toBe(0);
      expect(await accelnetPortNames()).toEqual([portNameFor("c2", "net1")]);
      expect(existsSync(sockDir())).toBe(false);
      expect(existsSync(sockDir(pod2))).toBe(true);
      expect(fx.reservedIps(join(base, "ipam"), "ovs-net")).toHaveLength(1); // c1's address was released
      expect(
        (await cni("DEL", conf(), { CNI_CONTAINERID: "c2", CNI_ARGS: `IgnoreUnknown=1;K8S_POD_UID=${pod2}` })).code,
      ).toBe(0);
      expect(await accelnetPortNames()).toEqual([]);
    });

    it("STATUS is ready with ovsdb-server, 50 without it", async () => {
      expect((await cni("STATUS", conf())).code).toBe(0);
      expect((await cni("STATUS", conf(), { ACCELNET_OVSDB_SOCKET: "/run/accelnet-no-such-ovs/db.sock" })).code).toBe(
        50,
      );
    });

    it("prints ADD and DEL times (10 pairs)", async () => {
      const adds: number[] = [];
      const dels: number[] = [];
      for (let i = 0; i < 10; i++) {
        const a = await cni("ADD", conf());
        expect(a.code).toBe(0);
        adds.push(a.ms);
        const d = await cni("DEL", conf());
        expect(d.code).toBe(0);
        dels.push(d.ms);
      }
      console.log(
        `vhostuser against ovsdb-server: ADD median ${median(adds)} ms (min ${Math.min(...adds)}), DEL median ${median(dels)} ms (min ${Math.min(...dels)})`,
      );
    });

    it("with the real (non-DPDK) ovs-vswitchd, ADD reports its error and leaves nothing", async () => {
      await stopStandIn();
      mkdirSync(join(base, "ovsrun"), { mode: 0o700 });
      // A private netns (unshare -n): the netdev datapath's tap devices never reach the host.
      vswitchd = spawn(
        "unshare",
        ["-n", "ovs-vswitchd", `unix:${db}`, `--unixctl=${join(base, "vswitchd.ctl")}`, "--no-chdir"],
        {
          stdio: "ignore",
          env: { ...process.env, OVS_RUNDIR: join(base, "ovsrun"), OVS_LOGDIR: join(base, "ovsrun") },
        },
      );
      await sleep(1000);
      const r = await cni("ADD", conf());
      expect(r.code).toBe(105);
      expect(String(r.out?.["msg"])).toContain("ovs-vswitchd says: could not open network device");
      expect(String(r.out?.["msg"])).toContain("Address family not supported by protocol");
      expect(await accelnetPortNames()).toEqual([]);
      expect(existsSync(sockDir())).toBe(false);
      const exited = new Promise((res) => vswitchd?.once("exit", res));
      vswitchd.kill("SIGTERM");
      await exited;
      vswitchd = undefined;
    });
  },
);
