// Helper round trips (NativeClient.run calls: one helper exec each) and IPAM plugin execs per ADD,
// CHECK and DEL of the device modes, on the fake kernels: the same commands the modes send to the real
// helper, so the counts are the real helper's. Each test prints its counts (the numbers the README's
// "Round trips" table shows) and holds the mode to them: a change that adds a round trip fails here.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Command, NativeClient, ResultsOf } from "../../../../native/client/index.js";
import { readVdpaDevice } from "../../../../cni/lib/vdpa.js";
import { createRegistry, modeFuncs } from "../../../../cni/modes/index.js";
import { macvlan } from "../../../../cni/modes/macvlan.js";
import { createSriovMode } from "../../../../cni/modes/sriov.js";
import { createVdpaMode } from "../../../../cni/modes/vdpa.js";
import { cniCaller } from "../dispatch-harness.js";
import { installFakeIpam } from "../fake-ipam.js";
import { fakeCniBase, SriovFakeKernel, tempPods } from "./sriov-fake-kernel.js";
import { VdpaFakeKernel } from "./vdpa-fake-kernel.js";

/** `inner`, counting its batches. */
function counting(inner: NativeClient): NativeClient & { batches: number } {
  const c = {
    batches: 0,
    run<const C extends readonly Command<unknown>[]>(cmds: C): Promise<ResultsOf<C>> {
      c.batches++;
      return inner.run(cmds);
    },
  };
  return c;
}

interface Counts {
  helper: number;
  ipam: number;
}

type Cni = ReturnType<typeof cniCaller>;

/** ADD, CHECK, DEL of one attachment, twice (the second time the IPAM version cache is warm). */
async function roundTrips(cni: Cni, native: { batches: number }, ipamLog: string, conf: Record<string, unknown>) {
  const one = async (command: string, c: unknown): Promise<Counts & { out: unknown }> => {
    const before = native.batches;
    writeFileSync(ipamLog, "");
    const { code, out } = await cni(command, c);
    expect(code, `${command}: ${JSON.stringify(out)}`).toBe(0);
    const ipam = readFileSync(ipamLog, "utf8").split("\n").filter(Boolean).length;
    return { helper: native.batches - before, ipam, out };
  };
  const pass = async () => {
    const add = await one("ADD", conf);
    const check = await one("CHECK", { ...conf, prevResult: add.out });
    const del = await one("DEL", conf);
    return { add: { helper: add.helper, ipam: add.ipam }, check, del };
  };
  const first = await pass();
  const again = await pass();
  const strip = (p: typeof first) => ({
    ADD: p.add,
    CHECK: { helper: p.check.helper, ipam: p.check.ipam },
    DEL: { helper: p.del.helper, ipam: p.del.ipam },
  });
  return { first: strip(first), again: strip(again) };
}

/** The counts a mode is held to: helper round trips per verb; IPAM execs ADD (first, again), CHECK, DEL. */
function expected(add: number, check: number, del: number) {
  const pass = (ipamAdd: number) => ({
    ADD: { helper: add, ipam: ipamAdd },
    CHECK: { helper: check, ipam: 1 },
    DEL: { helper: del, ipam: 1 },
  });
  // The first ADD pays Debian-style IPAM's version fallback (ADD, VERSION, ADD); later ones run it once.
  return { first: pass(3), again: pass(1) };
}

function print(label: string, r: Awaited<ReturnType<typeof roundTrips>>) {
  const f = (c: Counts) => `${c.helper} helper + ${c.ipam} IPAM`;
  for (const pass of ["first", "again"] as const) {
    const p = r[pass];
    process.stdout.write(`round trips ${label} (${pass}): ADD ${f(p.ADD)}, CHECK ${f(p.CHECK)}, DEL ${f(p.DEL)}\n`);
  }
}

describe("helper round trips per CNI call (fake kernels, real mode code)", () => {
  let dir: string;
  let pod: string;
  let ipamLog: string;

  beforeEach(() => {
    ({ dir, pod } = tempPods("acn-rt-"));
    installFakeIpam(dir);
    ipamLog = join(dir, "ipam.log");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const sriovSetup = () => {
    const kernel = new SriovFakeKernel();
    kernel.addNetns(pod);
    kernel.addVf({ addr: "0000:00:12.0", index: 0, netdev: "enp0s18", driver: "igbvf" });
    kernel.addVf({ addr: "0000:00:12.4", index: 2, netdev: null, driver: "vfio-pci" });
    const native = counting(kernel);
    const sriov = createSriovMode({ ownerAlive: () => true });
    const base = fakeCniBase(native, dir, pod, ipamLog);
    const cni = cniCaller(() => ({
      funcs: modeFuncs(createRegistry([macvlan, sriov]), { isVdpaDevice: () => false }),
      ...base,
    }));
    return { cni, native };
  };

  it("SR-IOV kernel mode with every igb setting, MAC and MTU: ADD 9, CHECK 4, DEL 8", async () => {
    const { cni, native } = sriovSetup();
    const conf = {
      cniVersion: "1.1.0",
      name: "sriovnet",
      type: "accelnet",
      deviceID: "0000:00:12.0",
      mac: "02:00:00:00:00:aa",
      vlan: 100,
      vlanQoS: 2,
      spoofchk: "off",
      trust: "on",
      max_tx_rate: 50,
      mtu: 1400,
      ipam: { type: "fake" },
    };
    const r = await roundTrips(cni, native, ipamLog, conf);
    print("sriov kernel", r);
    expect(r).toEqual(expected(9, 4, 8));
  });

  it("SR-IOV DPDK mode (vfio-pci) with a VLAN: ADD 5, CHECK 3, DEL 4", async () => {
    const { cni, native } = sriovSetup();
    const conf = {
      cniVersion: "1.1.0",
      name: "sriovnet",
      type: "accelnet",
      deviceID: "0000:00:12.4",
      vlan: 100,
      ipam: { type: "fake" },
    };
    const r = await roundTrips(cni, native, ipamLog, conf);
    print("sriov dpdk", r);
    expect(r).toEqual(expected(5, 3, 4));
  });

  const vdpaSetup = () => {
    const kernel = new VdpaFakeKernel(join(dir, "sys"), join(dir, "dev"));
    kernel.links.addNetns(pod);
    kernel.addVduse("vhost0", "vhost_vdpa", { mac: "02:00:00:00:0d:00", mtu: 1450 });
    kernel.addVduse("virt0", "virtio_vdpa", { mac: "02:00:00:00:0d:01", mtu: 1500 });
    const native = counting(kernel);
    const mode = createVdpaMode({ roots: kernel.roots, appearMs: 200, ownerAlive: () => true });
    const base = fakeCniBase(native, dir, pod, ipamLog);
    const cni = cniCaller(() => ({
      funcs: modeFuncs(createRegistry([macvlan, mode]), {
        isVdpaDevice: (id) => readVdpaDevice(kernel.roots, id) !== null,
      }),
      ...base,
    }));
    return { cni, native };
  };

  it.each([
    ["vhost", "vhost0", {}, expected(2, 1, 0)],
    ["virtio", "virt0", { mac: "02:00:00:00:bb:01", mtu: 1400 }, expected(6, 1, 4)],
  ])("vDPA %s: the counts of its driver", async (label, deviceID, extra, counts) => {
    const { cni, native } = vdpaSetup();
    const conf = { cniVersion: "1.1.0", name: "vdpanet", type: "accelnet", deviceID, ipam: { type: "fake" }, ...extra };
    const r = await roundTrips(cni, native, ipamLog, conf);
    print(`vdpa ${label}`, r);
    expect(r).toEqual(counts);
  });
});
