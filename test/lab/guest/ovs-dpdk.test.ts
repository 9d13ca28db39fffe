// The lab's OVS-DPDK, before accelnet is involved: Debian's openvswitch-switch-dpdk runs in the guest
// (guest/ovs.ts: ovsdb-server, ovs-vswitchd with dpdk-init), a netdev bridge takes two
// dpdkvhostuserclient ports made with ovs-vsctl, and two dpdk-testpmd in two pod netns, each the
// vhost-user server of one port through virtio-user, exchange packets through the switch (the bridge's
// NORMAL flow floods and learns). vhostuser-ovs.test.ts relies on all of it.
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { cleanupAll, createNetns, inLab, onCleanup } from "./prelude.js";
import {
  addBridge,
  addVhostUserClientPort,
  interfaceStatistics,
  startOvsDpdk,
  waitForAsync,
  type OvsDpdk,
} from "./ovs.js";
import { runTestpmdPair, testpmdHighlights, testpmdTail } from "./testpmd.js";

function hugepagesFree(): number {
  return Number(readFileSync("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "utf8"));
}

describe.skipIf(!inLab)("lab: OVS-DPDK with vhost-user ports (ovs-vsctl and testpmd only)", () => {
  let ovs: OvsDpdk;
  let freeAtBoot = 0;
  const bridge = "br-lab";
  const sockets = "/run/ovs-lab-sockets";

  beforeAll(async () => {
    freeAtBoot = hugepagesFree();
    ovs = await startOvsDpdk();
    console.log(`OVS start: ${JSON.stringify(ovs.timings)}`);
    mkdirSync(sockets, { recursive: true });
    onCleanup(`remove ${sockets}`, () => rmSync(sockets, { recursive: true, force: true }));
  }, 240_000);
  afterAll(cleanupAll, 120_000);

  test("ovs-vswitchd initialised DPDK and a netdev bridge comes up", async () => {
    expect(await ovs.vsctl("get", "Open_vSwitch", ".", "dpdk_initialized")).toBe("true");
    expect(await ovs.vsctl("get", "Open_vSwitch", ".", "dpdk_version")).toMatch(/DPDK 22\.11/);
    await addBridge(ovs, bridge, "netdev");
    expect(await ovs.vsctl("get", "Bridge", bridge, "datapath_type")).toBe("netdev");
    expect(await ovs.vsctl("list-br")).toBe(bridge);
  });

  test("two testpmds in two pods exchange packets through two dpdkvhostuserclient ports", async () => {
    const pods = [
      { netns: "ovs-pod-a", socketPath: `${sockets}/a.sock`, mac: "02:00:00:0a:00:01", port: "vhu-a" },
      { netns: "ovs-pod-b", socketPath: `${sockets}/b.sock`, mac: "02:00:00:0a:00:02", port: "vhu-b" },
    ] as const;
    for (const pod of pods) {
      await createNetns(pod.netns);
      const started = performance.now();
      await addVhostUserClientPort(ovs, bridge, pod.port, pod.socketPath);
      // For comparison with accelnet's ADD (vhostuser-ovs.test.ts): what OVS itself takes to add the port.
      console.log(`ovs-vsctl add-port ${pod.port}: ${Math.round(performance.now() - started)} ms`);
      expect(await ovs.vsctl("get", "Interface", pod.port, "type")).toBe("dpdkvhostuserclient");
    }
    const [a, b] = pods;
    let statsA: Record<string, number> = {};
    let statsB: Record<string, number> = {};
    // OVS refreshes the statistics column every 5 s, and only of a vhost-user device that is up.
    const readSwitchCounters = () =>
      waitForAsync(
        "OVS's statistics of both ports to count 64 packets",
        async () => {
          statsA = await interfaceStatistics(ovs, a.port);
          statsB = await interfaceStatistics(ovs, b.port);
          return (statsA.rx_packets ?? 0) >= 64 && (statsB.tx_packets ?? 0) >= 64;
        },
        20_000,
      ).catch(() => undefined);
    const pair = await runTestpmdPair(a, b, { minPackets: 64, whileRunning: readSwitchCounters });
    console.log(
      `testpmd pair: ${pair.elapsedMs} ms to 64 packets received; sender TX-packets ${pair.sender.txPackets},` +
        ` receiver RX-packets ${pair.receiver.rxPackets}`,
    );
    console.log(`sender:\n${testpmdHighlights(pair.sender).slice(0, 6).join("\n")}\n${testpmdTail(pair.sender)}`);
    console.log(`receiver:\n${testpmdTail(pair.receiver)}`);
    const counters = ({ rx_packets, tx_packets, tx_dropped }: Record<string, number>) =>
      JSON.stringify({ rx_packets, tx_packets, tx_dropped });
    console.log(`OVS statistics: ${a.port} ${counters(statsA)}, ${b.port} ${counters(statsB)}`);
    const why = `${pair.receiver.output.slice(-2000)}\n---\n${ovs.vswitchdLog()}`;
    expect(pair.sender.code, pair.sender.output.slice(-2000)).toBe(0);
    expect(pair.receiver.code, why).toBe(0);
    expect(pair.receiver.ports).toEqual([{ port: 0, mac: b.mac }]);
    expect(pair.sender.txPackets ?? 0).toBeGreaterThan(0);
    expect(pair.receiver.rxPackets ?? 0, why).toBeGreaterThanOrEqual(64);
    // OVS's view, from the switch side of each vhost-user port: it took them from A and gave them to B.
    expect(statsA.rx_packets ?? 0).toBeGreaterThanOrEqual(64);
    expect(statsB.tx_packets ?? 0).toBeGreaterThanOrEqual(64);
    for (const pod of pods) {
      const started = performance.now();
      await ovs.vsctl("del-port", bridge, pod.port);
      console.log(`ovs-vsctl del-port ${pod.port}: ${Math.round(performance.now() - started)} ms`);
    }
    expect(await ovs.vsctl("list-ports", bridge)).toBe("");
  }, 300_000);

  test("stopping OVS frees its hugepages and removes its run directory", async () => {
    await ovs.stop();
    expect(existsSync("/run/openvswitch")).toBe(false);
    expect(hugepagesFree()).toBe(freeAtBoot);
  }, 120_000);
});
