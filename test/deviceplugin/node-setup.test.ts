// Node setup through the shipped daemon (bundled, Node 24) and the real helper on
// a fake sysfs tree: the helper writes the fake tree's sriov_numvfs as it would the
// kernel's (the fake tree grows no VFs, so these tests cover VF counts, held
// devices, the record and its undoing; drivers and vDPA devices are the lab's,
// test/lab/guest/deviceplugin-node-setup.test.ts). Owner markers are real files
// in a temporary CNI state dir, in the CNI's own format (cni/lib/owner.ts).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { OwnerMarkers, deviceKey } from "../../cni/lib/owner.js";
import { DaemonProcess, type LogLine } from "./daemon-process.js";
import { FakeSysfs, buildSampleTree, fakeTreeTempDir } from "./fake-sysfs.js";

const HELPER = new URL("../../dist/native/accelnet-helper", import.meta.url).pathname;
const PF1 = "0000:01:00.0"; // ens1f0, 4 VFs in the sample tree
const PF2 = "0000:02:00.0"; // ens2f0, no VFs

let root = "";
let sysfs = "";
const daemons: DaemonProcess[] = [];

function addEmptyPf(fs: FakeSysfs): void {
  fs.addPf({
    addr: PF2,
    netdev: "ens2f0",
    driver: "igb",
    numaNode: 0,
    carrier: true,
    vendor: "8086",
    pfDevice: "10c9",
    vfDevice: "10ca",
    iommuGroup: 2,
    totalVfs: 8,
    vfs: [],
  });
}

function numVfs(addr: string): string {
  return readFileSync(join(sysfs, "devices/pci0000:00", addr, "sriov_numvfs"), "utf8").trim();
}

function writeConfig(nodeSetup?: unknown): void {
  const cfg = { resourceList: [{ resourceName: "vfs", selectors: { pfNames: ["ens1f0", "ens2f0"] } }], nodeSetup };
  writeFileSync(join(root, "config.json"), JSON.stringify(cfg));
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const addr = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return typeof addr === "object" && addr !== null ? addr.port : 0;
}

async function startDaemon(port = 0): Promise<DaemonProcess> {
  const d = await DaemonProcess.start([
    `--config=${join(root, "config.json")}`,
    `--device-plugin-dir=${join(root, "dp")}`,
    `--plugins-registry-dir=${join(root, "no-registry")}`,
    `--devinfo-dir=${join(root, "devinfo")}`,
    `--helper=${HELPER}`,
    `--sysfs-root=${sysfs}`,
    `--cni-state-dir=${join(root, "cni")}`,
    `--node-setup-state=${join(root, "state/node-setup.json")}`,
    "--reconcile=false",
    "--uevents=false",
    "--rescan-interval-ms=200",
    port === 0 ? "--metrics-addr=" : `--metrics-addr=127.0.0.1:${port}`,
  ]);
  daemons.push(d);
  return d;
}

const msg = (m: string) => (l: LogLine) => l.msg === m;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "acn-dp-ns-"));
  mkdirSync(join(root, "dp"));
  sysfs = fakeTreeTempDir("acn-dp-ns-sysfs-");
  addEmptyPf(buildSampleTree(sysfs));
});

afterEach(async () => {
  for (const d of daemons.splice(0)) await d.stop();
  rmSync(root, { recursive: true, force: true });
  rmSync(sysfs, { recursive: true, force: true });
});

describe.skipIf(!existsSync(HELPER))("node setup in the daemon (helper on a fake sysfs)", () => {
  it("creates VFs before serving kubelet, changes nothing on a second start, keeps a bad reload out, and undoes itself when the section goes", async () => {
    writeConfig({ pfs: [{ pfName: "ens2f0", numVfs: 2 }] });
    let d = await startDaemon();
    await d.waitForLog(msg("device plugin started"));
    const changed = d.logs.findIndex((l) => l.msg === "node setup: changed");
    expect(changed).toBeGreaterThanOrEqual(0);
    expect(d.logs[changed]).toMatchObject({ step: "set-num-vfs", pf: PF2, numVfs: 2, trigger: "start" });
    expect(changed).toBeLessThan(d.logs.findIndex(msg("device plugin started")));
    expect(numVfs(PF2)).toBe("2");
    expect(numVfs(PF1)).toBe("4");
    const record = JSON.parse(readFileSync(join(root, "state/node-setup.json"), "utf8")) as unknown;
    expect(record).toEqual({ pfs: { [PF2]: { numVfs: 0 } }, vdpa: {} });
    expect(await d.stop()).toBe(0);

    d = await startDaemon();
    await d.waitForLog(msg("device plugin started"));
    expect(d.logs.find(msg("node setup: nothing to change"))).toMatchObject({ trigger: "start" });
    expect(d.logs.filter(msg("node setup: changed"))).toEqual([]);

    writeFileSync(
      join(root, "config.json"),
      JSON.stringify({
        resourceList: [],
        nodeSetup: { pfs: [{ pfName: "ens2f0", numVfs: 2, vfs: [{ range: "1-2", driver: "kernel" }] }] },
      }),
    );
    const refused = await d.waitForLog(msg("config reload failed, keeping the running config"));
    expect(String(refused["error"])).toContain('Invalid config at "nodeSetup.pfs[0].vfs[0].range"');
    expect(numVfs(PF2)).toBe("2");

    writeConfig();
    const undo = await d.waitForLog((l) => l.msg === "node setup: changed" && l["trigger"] !== "start");
    expect(undo).toMatchObject({ step: "set-num-vfs", pf: PF2, numVfs: 0 });
    expect(numVfs(PF2)).toBe("0");
    expect(numVfs(PF1)).toBe("4");
    expect(JSON.parse(readFileSync(join(root, "state/node-setup.json"), "utf8"))).toEqual({ pfs: {}, vdpa: {} });
  });

  it("a held VF keeps its PF's VF count (one log line: PF, VF, step, holder); the other PF converges; metrics and /status say so", async () => {
    new OwnerMarkers(join(root, "cni")).write(deviceKey("pci", "0000:01:10.0"), {
      containerID: "c0ffee",
      ifname: "net1",
      netns: "/var/run/netns/pod-a",
      netnsInode: null,
      network: "sriov-net",
      since: new Date().toISOString(),
    });
    writeConfig({
      pfs: [
        { pfName: "ens1f0", numVfs: 6 },
        { pciAddress: PF2, numVfs: 1 },
      ],
    });
    const port = await freePort();
    const d = await startDaemon(port);
    await d.waitForLog(msg("device plugin started"));
    const refusals = d.logs.filter(msg("node setup: refused"));
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({
      pf: PF1,
      device: "0000:01:10.0",
      step: "set-num-vfs",
      heldBy: 'container "c0ffee" (ifname net1, netns /var/run/netns/pod-a)',
    });
    expect(String(refusals[0]?.["reason"])).toContain("changing numVfs from 4 to 6 removes every VF first");
    expect(numVfs(PF1)).toBe("4");
    expect(numVfs(PF2)).toBe("1");

    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toContain(`accelnet_deviceplugin_node_setup_pf_state{pf="${PF1}",state="refused"} 1`);
    expect(metrics).toContain(`accelnet_deviceplugin_node_setup_pf_state{pf="${PF2}",state="converged"} 1`);
    expect(metrics).toContain('accelnet_deviceplugin_node_setup_runs_total{result="partial"} 1');
    const status = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as {
      nodeSetup: { result: string; pfs: { pf: string; state: string; refusals: { step: string }[] }[] };
    };
    expect(status.nodeSetup.result).toBe("partial");
    expect(status.nodeSetup.pfs.map((p) => [p.pf, p.state, p.refusals.map((r) => r.step)])).toEqual([
      [PF1, "refused", ["set-num-vfs"]],
      [PF2, "converged", []],
    ]);

    // Rescans see PF1's count still differ: no new convergence (and no new log line) for the same count.
    await new Promise((r) => setTimeout(r, 1000));
    expect(d.logs.filter(msg("node setup: refused"))).toHaveLength(1);
  });

  it("converges again when a rescan sees a configured PF's VF count changed behind its back", async () => {
    writeConfig({ pfs: [{ pfName: "ens2f0", numVfs: 3 }] });
    const d = await startDaemon();
    await d.waitForLog(msg("device plugin started"));
    expect(numVfs(PF2)).toBe("3");
    writeFileSync(join(sysfs, "devices/pci0000:00", PF2, "sriov_numvfs"), "1\n");
    const again = await d.waitForLog((l) => l.msg === "node setup: changed" && l["trigger"] === "vf-count-change");
    expect(again).toMatchObject({ step: "set-num-vfs", pf: PF2 });
    await d.waitForLog(
      (l) => l.msg === "node setup: changed" && l["trigger"] === "vf-count-change" && l["numVfs"] === 3,
    );
    expect(numVfs(PF2)).toBe("3");
  });

  it("a bad nodeSetup at start exits 2 naming the JSON path, and touches nothing", async () => {
    writeConfig({ pfs: [{ pfName: "ens2f0", pciAddress: PF2, numVfs: 2 }] });
    const d = await startDaemon();
    expect(await d.exited()).toBe(2);
    // stderr is JSON lines (grpc-js's included): the refusal is the start failure's error field.
    const errors = d.stderr
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => (JSON.parse(line) as { error?: unknown }).error);
    expect(errors).toContain(
      'Invalid config at "nodeSetup.pfs[0]": expected one of "pfName" and "pciAddress", not both',
    );
    expect(numVfs(PF2)).toBe("0");
  });
});
