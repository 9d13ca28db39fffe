// vhost-user attachments on the lab's OVS-DPDK (guest/ovs.ts; ovs-dpdk.test.ts proves the switch without
// accelnet): dist/accelnet ADDs two vhostuser attachments for two pod netns on a netdev bridge, over
// OVSDB on ovsdb-server's socket; two dpdk-testpmd open the socketPaths of the results (virtio-user,
// server=1: OVS is the client) and packets sent by one are received by the other through OVS-DPDK. DEL
// leaves no accelnet port in OVS's database and no socket dir. The refusals (bridge missing, bridge not
// netdev, socket dir taken, OVS not running) leave no port, no dir and no state.
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { StateStore } from "../../../cni/lib/state.js";
import { runCniProcess, type CniRun } from "./cluster.js";
import { cniPath, cleanupAll, createNetns, inLab, onCleanup } from "./prelude.js";
import { addBridge, ovsDbSocket, startOvsDpdk, type OvsDpdk } from "./ovs.js";
import { runTestpmdPair, testpmdTail } from "./testpmd.js";

const stateDir = "/run/accelnet-lab-state";
const socketBase = "/run/accelnet/vhost-user";
const ipamDataDir = "/run/accelnet-lab-ipam";

interface PodRef {
  netns: string;
  uid: string;
  containerId: string;
}

function newPod(netns: string): PodRef {
  return { netns, uid: randomUUID(), containerId: `ctr-${randomUUID().replaceAll("-", "")}` };
}

function netConf(bridge: string, extra: Record<string, unknown> = {}) {
  return {
    cniVersion: "1.1.0",
    name: "ovs-net",
    type: "accelnet",
    accelnetMode: "vhostuser",
    bridge,
    socketMode: "client",
    ipam: { type: "host-local", dataDir: ipamDataDir, ranges: [[{ subnet: "10.77.0.0/24" }]] },
    ...extra,
  };
}

/** dist/accelnet once, as a runtime runs it: CNI_* and the runtime's ACCELNET_* env, the config on stdin. */
function cni(command: "ADD" | "DEL" | "CHECK", pod: PodRef, conf: object): Promise<CniRun> {
  const env = {
    PATH: "/usr/sbin:/usr/bin",
    CNI_COMMAND: command,
    CNI_CONTAINERID: pod.containerId,
    CNI_NETNS: `/run/netns/${pod.netns}`,
    CNI_IFNAME: "net1",
    CNI_PATH: cniPath,
    CNI_ARGS: `IgnoreUnknown=true;K8S_POD_NAMESPACE=lab;K8S_POD_NAME=${pod.netns};K8S_POD_UID=${pod.uid}`,
    ACCELNET_STATE_DIR: stateDir,
    ACCELNET_OVSDB_SOCKET: ovsDbSocket,
    ACCELNET_VHOSTUSER_DIR: socketBase,
  };
  return runCniProcess(env, conf);
}

/** Ports and Interfaces in OVS's database that accelnet marked as its own (an external_ids key of accelnet's). */
async function accelnetRows(ovs: OvsDpdk): Promise<string[]> {
  const rows: string[] = [];
  for (const table of ["Port", "Interface"]) {
    const json = JSON.parse(await ovs.vsctl("--format=json", "--columns=name,external_ids", "list", table)) as {
      data: [string, ["map", [string, string][]]][];
    };
    for (const [name, [, ids]] of json.data) {
      if (ids.some(([key]) => key.includes("accelnet"))) rows.push(`${table} ${name}`);
    }
  }
  return rows;
}

async function portsOf(ovs: OvsDpdk, bridge: string): Promise<string[]> {
  const out = await ovs.vsctl("list-ports", bridge);
  return out === "" ? [] : out.split("\n");
}

function states(): unknown[] {
  return existsSync(stateDir) ? new StateStore(stateDir).list().states : [];
}

function podDirs(): string[] {
  return existsSync(socketBase) ? readdirSync(socketBase) : [];
}

describe.skipIf(!inLab)("lab: vhost-user attachments on OVS-DPDK (dist/accelnet, OVSDB, testpmd)", () => {
  let ovs: OvsDpdk;
  const bridge = "br-dpdk";
  const systemBridge = "br-system";

  beforeAll(async () => {
    ovs = await startOvsDpdk();
    console.log(`OVS start: ${JSON.stringify(ovs.timings)}`);
    await addBridge(ovs, bridge, "netdev");
    await addBridge(ovs, systemBridge, "system");
    for (const dir of [stateDir, ipamDataDir]) {
      onCleanup(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
    }
    onCleanup(`remove ${socketBase}`, () => rmSync("/run/accelnet", { recursive: true, force: true }));
  }, 240_000);
  afterAll(cleanupAll, 120_000);

  test("ADD plugs two pods into the netdev bridge, their testpmds exchange packets, DEL removes ports and dirs", async () => {
    const pods = [newPod("vhu-pod-a"), newPod("vhu-pod-b")];
    const macs = ["02:00:00:0b:00:01", "02:00:00:0b:00:02"];
    const results: { socketPath: string; mac: string; ms: number; result: unknown }[] = [];
    for (const [index, pod] of pods.entries()) {
      await createNetns(pod.netns);
      const add = await cni("ADD", pod, netConf(bridge, { mac: macs[index] }));
      expect(add.code, `${JSON.stringify(add.out)}\n${add.stderr}`).toBe(0);
      const iface = (add.out?.interfaces as { name: string; mac: string; socketPath: string }[])[0]!;
      expect(iface.name).toBe("net1");
      expect(iface.mac).toBe(macs[index]);
      expect(iface.socketPath).toBe(`${socketBase}/${pod.uid}/net1/socket`);
      expect((add.out?.ips as { address: string }[])[0]?.address).toMatch(/^10\.77\.0\.\d+\/24$/);
      results.push({ socketPath: iface.socketPath, mac: iface.mac, ms: add.ms, result: add.out });
    }
    console.log(`ADD: ${results.map((r) => `${r.ms} ms`).join(", ")}`);

    const ports = await portsOf(ovs, bridge);
    expect(ports).toHaveLength(2);
    const servers: string[] = [];
    for (const port of ports) {
      expect(await ovs.vsctl("get", "Interface", port, "type")).toBe("dpdkvhostuserclient");
      servers.push((await ovs.vsctl("get", "Interface", port, "options:vhost-server-path")).replaceAll('"', ""));
    }
    expect(servers.sort()).toEqual(results.map((r) => r.socketPath).sort());
    expect((await accelnetRows(ovs)).length).toBeGreaterThanOrEqual(2);
    for (const [index, pod] of pods.entries()) {
      const conf = { ...netConf(bridge, { mac: macs[index] }), prevResult: results[index]!.result };
      const check = await cni("CHECK", pod, conf);
      expect(check.code, `${JSON.stringify(check.out)}\n${check.stderr}`).toBe(0);
    }

    const [a, b] = results as [(typeof results)[0], (typeof results)[0]];
    const pair = await runTestpmdPair(
      { netns: pods[0]!.netns, socketPath: a.socketPath, mac: a.mac },
      { netns: pods[1]!.netns, socketPath: b.socketPath, mac: b.mac },
      { minPackets: 64 },
    );
    console.log(
      `testpmd pair: ${pair.elapsedMs} ms to 64 packets received; sender TX-packets ${pair.sender.txPackets},` +
        ` receiver RX-packets ${pair.receiver.rxPackets}`,
    );
    console.log(`receiver:\n${testpmdTail(pair.receiver)}`);
    const why = `${pair.receiver.output.slice(-2000)}\n---\n${ovs.vswitchdLog()}`;
    expect(pair.sender.code, pair.sender.output.slice(-2000)).toBe(0);
    expect(pair.receiver.code, why).toBe(0);
    expect(pair.sender.txPackets ?? 0).toBeGreaterThan(0);
    expect(pair.receiver.rxPackets ?? 0, why).toBeGreaterThanOrEqual(64);

    const delMs: number[] = [];
    for (const [index, pod] of pods.entries()) {
      const del = await cni("DEL", pod, netConf(bridge, { mac: macs[index] }));
      expect(del.code, `${JSON.stringify(del.out)}\n${del.stderr}`).toBe(0);
      delMs.push(del.ms);
      expect(existsSync(path.dirname(results[index]!.socketPath))).toBe(false);
    }
    console.log(`DEL: ${delMs.map((ms) => `${ms} ms`).join(", ")}`);
    expect(await portsOf(ovs, bridge)).toEqual([]);
    expect(await accelnetRows(ovs)).toEqual([]);
    expect(podDirs()).toEqual([]);
    expect(states()).toEqual([]);
    // DEL again (the runtime retries): nothing to do, success.
    expect((await cni("DEL", pods[0]!, netConf(bridge))).code).toBe(0);
  }, 420_000);

  /** ADD is refused with a CNI error whose msg matches `message`; nothing of it is left; DEL succeeds. */
  async function expectRefused(pod: PodRef, conf: object, message: RegExp, ovsUp = true): Promise<void> {
    const portsBefore = ovsUp ? await portsOf(ovs, bridge) : [];
    const add = await cni("ADD", pod, conf);
    console.log(`refused ADD (${add.ms} ms): ${JSON.stringify(add.out)}`);
    expect(add.code).not.toBe(0);
    expect(typeof add.out?.code).toBe("number");
    expect(String(add.out?.msg)).toMatch(message);
    if (ovsUp) {
      expect(await portsOf(ovs, bridge)).toEqual(portsBefore);
      expect(await accelnetRows(ovs)).toEqual([]);
    }
    expect(states()).toEqual([]);
    const del = await cni("DEL", pod, conf);
    expect(del.code, `${JSON.stringify(del.out)}\n${del.stderr}`).toBe(0);
    expect(states()).toEqual([]);
  }

  test("a bridge OVS does not have: refused naming it, nothing left", async () => {
    const pod = newPod("vhu-pod-nobr");
    await createNetns(pod.netns);
    await expectRefused(pod, netConf("br-missing"), /br-missing/);
    expect(podDirs()).toEqual([]);
  }, 60_000);

  test("a bridge that is not datapath_type=netdev (a system bridge): refused naming netdev, nothing left", async () => {
    const pod = newPod("vhu-pod-sys");
    await createNetns(pod.netns);
    await expectRefused(pod, netConf(systemBridge), /netdev/);
    expect(await portsOf(ovs, systemBridge)).toEqual([]);
    expect(podDirs()).toEqual([]);
  }, 60_000);

  test("a socket dir that exists already: refused, the dir left as it was, no port", async () => {
    const pod = newPod("vhu-pod-taken");
    await createNetns(pod.netns);
    const taken = `${socketBase}/${pod.uid}/net1`;
    mkdirSync(taken, { recursive: true, mode: 0o755 });
    await expectRefused(pod, netConf(bridge), /exists/);
    expect(existsSync(taken)).toBe(true);
    rmSync(`${socketBase}/${pod.uid}`, { recursive: true });
  }, 60_000);

  test("OVS not running (ovsdb-server stopped): refused naming its socket, nothing left", async () => {
    await ovs.stopDatabase();
    const pod = newPod("vhu-pod-noovs");
    await createNetns(pod.netns);
    await expectRefused(pod, netConf(bridge), new RegExp(ovsDbSocket.replaceAll(".", "\\.")), false);
    expect(podDirs()).toEqual([]);
  }, 60_000);
});
