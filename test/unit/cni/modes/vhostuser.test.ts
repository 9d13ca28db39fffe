// vhostuser mode through the dispatcher, against the fake ovsdb-server (real protocol on a Unix socket)
// standing in for ovsdb-server and ovs-vswitchd, with real socket dirs and the fake IPAM plugin.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseCniArgs } from "../../../../cni/lib/cni-args.js";
import { parseNetConf } from "../../../../cni/lib/netconf.js";
import { StateStore } from "../../../../cni/lib/state.js";
import { defaultRegistry, modeFuncs } from "../../../../cni/modes/index.js";
import { parseConf, portNameFor } from "../../../../cni/modes/vhostuser.js";
import { cniCaller } from "../dispatch-harness.js";
import { installFakeIpam } from "../fake-ipam.js";
import { FakeNative } from "../fake-native.js";
import { FakeOvsdb } from "../ovsdb/fake-ovsdb.js";

const POD_UID = "0f5c7d3e-1a2b-4c3d-8e9f-001122334455";
const PORT = portNameFor("c1", "net1");

describe("vhostuser parseConf()", () => {
  const parse = (raw: Record<string, unknown>) =>
    parseConf({ conf: parseNetConf({ name: "n", type: "accelnet", ...raw }), cniArgs: parseCniArgs("") });

  it("defaults to client mode, untagged, OVS's MTU, a generated MAC", () => {
    expect(parse({ bridge: "br-dpdk" })).toMatchObject({ bridge: "br-dpdk", socketMode: "client" });
    expect(parse({ bridge: "br-dpdk" }).vlan).toBeUndefined();
    expect(parse({ bridge: "br-dpdk", vlan: 100, mtu: 9000, socketMode: "server" })).toMatchObject({
      vlan: 100,
      mtu: 9000,
      socketMode: "server",
    });
  });

  it.each([
    [{}, 'Cannot use config field "bridge": missing (the OVS-DPDK bridge to attach to)'],
    [{ bridge: 7 }, 'Cannot use config field "bridge": expected a string, got number'],
    [
      { bridge: "br/x" },
      'Cannot use config field "bridge": "br/x" is not a bridge name: has characters the kernel or helper refuse (allowed: printable ASCII without space, "/" and ":")',
    ],
    [{ bridge: "b", socketMode: "both" }, 'Cannot use config field "socketMode": "both" is not one of client, server'],
    [{ bridge: "b", vlan: 4095 }, 'Cannot use config field "vlan": 4095 is out of range [0, 4094]'],
    [{ bridge: "b", mtu: 40 }, 'Cannot use config field "mtu": 40 is below the minimum 68'],
    [
      { bridge: "b", mac: "01:00:00:00:00:01" },
      'Cannot use config field "mac": "01:00:00:00:00:01" is a multicast address',
    ],
  ])("rejects %j with code 7 naming the field", (raw, msg) => {
    expect(() => parse(raw)).toThrow(expect.objectContaining({ code: 7, message: msg }));
  });

  it("names ports from container ID and ifname only: 15 characters, distinct per attachment", () => {
    expect(PORT).toMatch(/^vhu[0-9a-f]{12}$/);
    expect(portNameFor("c1", "net1")).toBe(PORT);
    expect(new Set([PORT, portNameFor("c1", "net2"), portNameFor("c2", "net1"), portNameFor("c1n", "et1")]).size).toBe(
      4,
    );
  });
});

describe("vhostuser mode through the dispatcher (fake ovsdb-server)", () => {
  let dir: string;
  let fake: FakeOvsdb;
  let netns: string;
  let ipamLog: string;
  const servers: Server[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "acn-vhu-"));
    netns = join(dir, "netns");
    writeFileSync(netns, "");
    ipamLog = join(dir, "ipam.log");
    installFakeIpam(dir);
    fake = new FakeOvsdb(join(dir, "db.sock"));
    await fake.start();
    fake.addBridge("br-dpdk");
    fake.addBridge("br-kernel", "");
  });
  afterEach(async () => {
    await fake.stop();
    for (const s of servers.splice(0)) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = cniCaller(() => ({
    funcs: modeFuncs(defaultRegistry(), { isVdpaDevice: () => false }),
    deps: { native: () => new FakeNative(), lockTimeoutMs: 500 },
    env: {
      PATH: process.env["PATH"],
      ACCELNET_STATE_DIR: join(dir, "state"),
      ACCELNET_OVSDB_SOCKET: join(dir, "db.sock"),
      ACCELNET_OVSDB_TIMEOUT_MS: "1000",
      ACCELNET_VHOSTUSER_DIR: join(dir, "vhu"),
      ACCELNET_OVS_VHOST_SOCK_DIR: join(dir, "ovsrun"),
      ACCELNET_DEVINFO_DIR: join(dir, "devinfo"),
      CNI_CONTAINERID: "c1",
      CNI_NETNS: netns,
      CNI_IFNAME: "net1",
      CNI_PATH: dir,
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_UID=${POD_UID}`,
      FAKE_LOG: ipamLog,
    },
  }));
  /** The CNI error code on failure (the exit code is 1 for every error), 0 on success. */
  const call = async (...args: Parameters<typeof run>) => {
    const r = await run(...args);
    return { code: r.code === 0 ? 0 : (r.out?.["code"] as number), out: r.out };
  };
  const confOf = (extra: Record<string, unknown> = {}) => ({
    cniVersion: "1.1.0",
    name: "ovs-net",
    type: "accelnet",
    accelnetMode: "vhostuser",
    bridge: "br-dpdk",
    ...extra,
  });
  const sockDir = () => join(dir, "vhu", POD_UID, "net1");
  const state = () => new StateStore(join(dir, "state")).read("c1", "net1");
  const nothingLeft = () => {
    expect(state()).toBeNull();
    expect(fake.tables["Port"]?.size).toBe(0);
    expect(fake.tables["Interface"]?.size).toBe(0);
    expect(existsSync(sockDir())).toBe(false);
  };

  it("ADD (client mode) inserts Port + Interface on the bridge, makes the socket dir and returns socketPath", async () => {
    const { code, out } = await call(
      "ADD",
      confOf({ vlan: 100, mtu: 9000, mac: "02:00:00:00:00:aa", ipam: { type: "fake" } }),
    );
    expect(code, JSON.stringify(out)).toBe(0);
    const socketPath = join(sockDir(), "socket");
    expect(out).toEqual({
      cniVersion: "1.1.0",
      interfaces: [{ name: "net1", mac: "02:00:00:00:00:aa", sandbox: netns, socketPath }],
      ips: [{ interface: 0, address: "10.9.0.2/24", gateway: "10.9.0.1" }],
      routes: [{ dst: "0.0.0.0/0" }],
      dns: {},
    });
    const port = fake.row("Port", PORT);
    const iface = fake.row("Interface", PORT);
    expect(port).toMatchObject({ tag: 100 });
    expect(port?.["external_ids"]).toEqual([
      "map",
      [
        ["accelnet:attachment", "c1/net1"],
        ["accelnet:network", "ovs-net"],
        ["accelnet:container-id", "c1"],
        ["accelnet:ifname", "net1"],
      ],
    ]);
    expect(iface).toMatchObject({
      type: "dpdkvhostuserclient",
      options: ["map", [["vhost-server-path", socketPath]]],
      mtu_request: 9000,
    });
    const bridge = [...fake.tables["Bridge"]!.values()].find((b) => b["name"] === "br-dpdk");
    expect((bridge?.["ports"] as [string, unknown[]])[1]).toHaveLength(1);
    const st = statSync(sockDir());
    expect([st.isDirectory(), st.mode & 0o7777, st.uid]).toEqual([true, 0o755, process.getuid?.()]);
    expect(state()?.data).toMatchObject({ complete: true, portName: PORT, socketPath });
  });

  it("generates a locally administered MAC, and drops socketPath below 1.1.0", async () => {
    const { code, out } = await call("ADD", confOf({ cniVersion: "1.0.0" }));
    expect(code, JSON.stringify(out)).toBe(0);
    const [intf] = out?.["interfaces"] as Record<string, unknown>[];
    expect(intf?.["mac"]).toMatch(/^[0-9a-f][26ae](:[0-9a-f]{2}){5}$/);
    expect(intf?.["socketPath"]).toBeUndefined();
    expect(state()?.result.interfaces[0]?.socketPath).toBe(join(sockDir(), "socket"));
  });

  it("ADD (server mode) adds a dpdkvhostuser port and links ovs-vswitchd's socket into the dir", async () => {
    mkdirSync(join(dir, "ovsrun"), { mode: 0o755 });
    const ovsSocket = join(dir, "ovsrun", PORT);
    const server = createServer();
    servers.push(server);
    await new Promise<void>((r) => server.listen(ovsSocket, r));
    const { code, out } = await call("ADD", confOf({ socketMode: "server" }));
    expect(code, JSON.stringify(out)).toBe(0);
    expect(fake.row("Interface", PORT)).toMatchObject({ type: "dpdkvhostuser" });
    expect(fake.row("Interface", PORT)?.["options"]).toBeUndefined();
    const linked = lstatSync(join(sockDir(), "socket"));
    expect(linked.isSocket()).toBe(true);
    expect(linked.ino).toBe(lstatSync(ovsSocket).ino);
  });

  it("writes a vhost-user Device Information file (mode is the application's role) and DEL removes it", async () => {
    const info = join(dir, "devinfo", "net1.json");
    const { code } = await call("ADD", confOf({ runtimeConfig: { CNIDeviceInfoFile: info } }));
    expect(code).toBe(0);
    expect(JSON.parse(readFileSync(info, "utf8"))).toEqual({
      type: "vhost-user",
      version: "1.1.0",
      "vhost-user": { mode: "server", path: join(sockDir(), "socket") },
    });
    expect((await call("DEL", confOf({ runtimeConfig: { CNIDeviceInfoFile: info } }))).code).toBe(0);
    expect(existsSync(info)).toBe(false);
  });

  it("DEL removes the port and the socket dir; a second DEL succeeds", async () => {
    expect((await call("ADD", confOf({ ipam: { type: "fake" } }))).code).toBe(0);
    writeFileSync(join(sockDir(), "socket"), ""); // what the application made
    mkdirSync(join(sockDir(), "sub"));
    expect((await call("DEL", confOf({ ipam: { type: "fake" } }))).code).toBe(0);
    nothingLeft();
    expect(existsSync(join(dir, "vhu", POD_UID))).toBe(false);
    expect((await call("DEL", confOf({ ipam: { type: "fake" } }))).code).toBe(0);
  });

  it("DEL with OVS down fails naming what is left and keeps the state; DEL after OVS is back finishes", async () => {
    expect((await call("ADD", confOf())).code).toBe(0);
    await fake.stop();
    const down = await call("DEL", confOf());
    expect(down.code).toBe(105);
    expect(down.out?.["msg"]).toMatch(
      new RegExp(
        `Cannot delete OVS port "${PORT}" from bridge "br-dpdk": cannot connect to ovsdb-server .*; left: the port, socket dir ".*"; the state is kept`,
      ),
    );
    expect(state()).not.toBeNull();
    expect(existsSync(sockDir())).toBe(true);
    await fake.start();
    expect((await call("DEL", confOf())).code).toBe(0);
    nothingLeft();
  });

  it("DEL leaves a port of the same name that is not this attachment's", async () => {
    expect((await call("ADD", confOf())).code).toBe(0);
    const port = fake.row("Port", PORT)!;
    port["external_ids"] = ["map", [["accelnet:attachment", "other/net1"]]];
    expect((await call("DEL", confOf())).code).toBe(0);
    expect(fake.row("Port", PORT)).toBeDefined();
    expect(state()).toBeNull();
  });

  it.each([
    [{ bridge: "br-none" }, 7, 'Cannot use config field "bridge": there is no OVS bridge "br-none"'],
    [
      { bridge: "br-kernel" },
      7,
      'Cannot use config field "bridge": OVS bridge "br-kernel" has datapath_type ""; vhost-user ports need "netdev"',
    ],
  ])("refuses %j with code %i, leaving nothing", async (extra, code, msg) => {
    const r = await call("ADD", confOf(extra));
    expect(r.code).toBe(code);
    expect(r.out?.["msg"]).toContain(msg);
    nothingLeft();
  });

  it("refuses with 105 when ovsdb-server is not running, leaving nothing", async () => {
    await fake.stop();
    const r = await call("ADD", confOf());
    expect(r.code).toBe(105);
    expect(r.out?.["msg"]).toMatch(
      /Cannot attach vhost-user port to bridge "br-dpdk": cannot connect to ovsdb-server at ".*db.sock"/,
    );
    nothingLeft();
  });

  it("refuses a socket dir that exists (104), leaving it and everything else as it was", async () => {
    mkdirSync(sockDir(), { recursive: true, mode: 0o755 });
    writeFileSync(join(sockDir(), "socket"), "someone's");
    const r = await call("ADD", confOf());
    expect(r.code).toBe(104);
    expect(r.out?.["msg"]).toContain(`Cannot create socket dir "${sockDir()}": it exists and is not this attachment's`);
    expect(readFileSync(join(sockDir(), "socket"), "utf8")).toBe("someone's");
    expect(state()).toBeNull();
    expect(fake.tables["Port"]?.size).toBe(0);
  });

  it("undoes the port and the dir when ovs-vswitchd reports an error, and when IPAM fails", async () => {
    fake.opts.vswitchd = "error";
    const r = await call("ADD", confOf());
    expect(r.code).toBe(105);
    expect(r.out?.["msg"]).toContain(`ovs-vswitchd says: could not open network device (No such device)`);
    nothingLeft();
    fake.opts.vswitchd = "ofport";
    const ipam = await call("ADD", confOf({ ipam: { type: "fake" } }), { FAKE_FAIL: '{"code":11,"msg":"pool busy"}' });
    expect(ipam.code).toBe(11);
    nothingLeft();
  });

  it("times out when nothing configures the port (no ovs-vswitchd), leaving nothing", async () => {
    fake.opts.vswitchd = "none";
    const r = await call("ADD", confOf(), { ACCELNET_OVSDB_TIMEOUT_MS: "200" });
    expect(r.code).toBe(105);
    expect(r.out?.["msg"]).toContain(`ovs-vswitchd did not configure interface "${PORT}" in 200 ms (is it running?)`);
    nothingLeft();
  });

  it("refuses a K8S_POD_UID that is not a UUID (code 4)", async () => {
    const r = await call("ADD", confOf(), { CNI_ARGS: "K8S_POD_UID=../../etc" });
    expect(r.code).toBe(4);
    expect(r.out?.["msg"]).toBe('Cannot use CNI_ARGS K8S_POD_UID "../../etc": not a UUID');
    nothingLeft();
  });

  it("CHECK passes after ADD and reports a changed tag, MTU or a missing port (103)", async () => {
    const conf = confOf({ vlan: 100, mtu: 9000 });
    const { out } = await call("ADD", conf);
    const check = (c: Record<string, unknown> = conf) => call("CHECK", { ...c, prevResult: out });
    expect((await check()).code).toBe(0);
    fake.row("Port", PORT)!["tag"] = 200;
    expect((await check()).out?.["msg"]).toBe('Cannot check interface "net1": tag is 200, config says 100');
    fake.row("Port", PORT)!["tag"] = 100;
    expect((await check(confOf({ vlan: 100, mtu: 1500 }))).out?.["msg"]).toBe(
      'Cannot check interface "net1": mtu_request is 9000, config says 1500',
    );
    expect((await check(confOf({ vlan: 100, mtu: 9000, socketMode: "server" }))).out?.["msg"]).toMatch(
      /interface type is "dpdkvhostuserclient", socketMode "server" means "dpdkvhostuser"/,
    );
    const bridge = [...fake.tables["Bridge"]!.values()].find((b) => b["name"] === "br-dpdk")!;
    bridge["ports"] = ["set", []];
    fake.tables["Port"]!.clear();
    const gone = await check();
    expect(gone.code).toBe(103);
    expect(gone.out?.["msg"]).toBe(`Cannot check interface "net1": OVS has no port "${PORT}"`);
  });

  it("GC removes stale attachments and unrecorded accelnet ports of the network, nothing else", async () => {
    expect((await call("ADD", confOf())).code).toBe(0);
    const pod2 = { CNI_CONTAINERID: "c2", CNI_ARGS: "K8S_POD_UID=1f5c7d3e-1a2b-4c3d-8e9f-001122334455" };
    expect((await call("ADD", confOf(), pod2)).code).toBe(0);
    // An accelnet port of this network with no state (its state was lost), and one of another network.
    const { withOvsdb } = await import("../../../../cni/ovsdb/client.js");
    const { insertVhostPort, findBridge } = await import("../../../../cni/ovsdb/ports.js");
    await withOvsdb(fake.path, 1000, async (c) => {
      const bridgeUuid = (await findBridge(c, "br-dpdk"))!.uuid;
      const ids = (net: string, key: string) => ({ "accelnet:attachment": key, "accelnet:network": net });
      await insertVhostPort(c, {
        bridgeUuid,
        name: "vhuorphan000000",
        mode: "client",
        externalIds: ids("ovs-net", "c9/net1"),
      });
      await insertVhostPort(c, {
        bridgeUuid,
        name: "vhuother0000000",
        mode: "client",
        externalIds: ids("other-net", "c8/net1"),
      });
    });
    const gc = await call("GC", { ...confOf(), "cni.dev/valid-attachments": [{ containerID: "c2", ifname: "net1" }] });
    expect(gc.code, JSON.stringify(gc.out)).toBe(0);
    expect(fake.row("Port", PORT)).toBeUndefined();
    expect(fake.row("Port", portNameFor("c2", "net1"))).toBeDefined();
    expect(fake.row("Port", "vhuorphan000000")).toBeUndefined();
    expect(fake.row("Port", "vhuother0000000")).toBeDefined();
    expect(state()).toBeNull();
    expect(new StateStore(join(dir, "state")).read("c2", "net1")).not.toBeNull();
    expect(existsSync(sockDir())).toBe(false);
    expect(existsSync(join(dir, "vhu", "1f5c7d3e-1a2b-4c3d-8e9f-001122334455", "net1"))).toBe(true);
  });

  it("two sandboxes of one pod cannot share a socket dir: the second ADD is refused (104)", async () => {
    expect((await call("ADD", confOf())).code).toBe(0);
    const second = await call("ADD", confOf(), { CNI_CONTAINERID: "c2" });
    expect(second.code).toBe(104);
    expect(fake.row("Port", portNameFor("c2", "net1"))).toBeUndefined();
    expect(fake.row("Port", PORT)).toBeDefined();
  });

  it("without K8S_POD_UID the pod dir is named from the container ID's hash", async () => {
    const { code, out } = await call("ADD", confOf(), { CNI_ARGS: "" });
    expect(code).toBe(0);
    const [intf] = out?.["interfaces"] as Record<string, unknown>[];
    expect(intf?.["socketPath"]).toMatch(new RegExp(`^${join(dir, "vhu")}/c-[0-9a-f]{32}/net1/socket$`));
  });

  it("STATUS is ready with ovsdb-server and the netdev bridge, 50 otherwise", async () => {
    expect((await call("STATUS", confOf())).code).toBe(0);
    const kernel = await call("STATUS", confOf({ bridge: "br-kernel" }));
    expect(kernel.code).toBe(50);
    await fake.stop();
    const down = await call("STATUS", confOf());
    expect(down.code).toBe(50);
    expect(down.out?.["msg"]).toMatch(
      /Cannot serve ADD on network "ovs-net": Cannot reach ovsdb-server: cannot connect/,
    );
  });
});
