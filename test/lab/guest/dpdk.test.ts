// What the lab's devices can carry, before accelnet is involved (sysfs and
// iproute2 build the substrate, as in substrate.test.ts): Debian's dpdk-testpmd
// runs on an igb VF bound to vfio-pci under the emulated IOMMU, and with
// virtio-user on a VDUSE device's /dev/vhost-vdpa-N, each in a /dev holding
// only the nodes a pod would get. The end-to-end test relies on both. (Kernel-
// mode igbvf VFs get no link in this lab, so no traffic test here: QEMU's igb
// fails every VF mailbox reset with Debian's 6.12 igb/igbvf, with or without
// a MAC set through the PF and a driver reload; test/lab/README.md.)
import { existsSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  cleanupAll,
  createNetns,
  createVdpa,
  createVfs,
  inLab,
  iommuGroup,
  pciDriver,
  pfNetdev,
  rebindPci,
  sh,
  vhostVdpaChardev,
  type Vf,
} from "./prelude.js";
import { runTestpmd, testpmdHighlights, testpmdPath } from "./testpmd.js";

function hugepagesFree(): number {
  return Number(readFileSync("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "utf8"));
}

describe.skipIf(!inLab)("lab: DPDK and traffic on the emulated devices (sysfs and iproute2 only)", () => {
  let pf = "";
  let vfs: Vf[] = [];

  beforeAll(async () => {
    pf = pfNetdev();
    await sh(["ip", "link", "set", "dev", pf, "up"]);
    vfs = await createVfs(2);
  });
  afterAll(cleanupAll);

  test("the guest has dpdk-testpmd, 2 MiB hugepages reserved at boot and /dev/hugepages mounted", () => {
    expect(existsSync(testpmdPath)).toBe(true);
    expect(hugepagesFree()).toBeGreaterThanOrEqual(32);
    const mounts = readFileSync("/proc/mounts", "utf8");
    expect(mounts).toMatch(/^\S+ \/dev\/hugepages hugetlbfs /m);
  });

  test("dpdk-testpmd drives an igb VF on vfio-pci (net_e1000_igb_vf) with only /dev/vfio/vfio and its group", async () => {
    const vf = vfs[1]!;
    rebindPci(vf.addr, "vfio-pci");
    expect(pciDriver(vf.addr)).toBe("vfio-pci");
    const group = iommuGroup(vf.addr);
    const devices = ["/dev/vfio/vfio", `/dev/vfio/${group}`];
    await createNetns("dpdk-vf");
    const run = await runTestpmd(["-a", vf.addr], [], { pod: { netns: "dpdk-vf", devices } });
    console.log(`testpmd on ${vf.addr} (exit ${run.code}):\n${testpmdHighlights(run).join("\n")}`);
    expect(run.code, run.output.slice(-3000)).toBe(0);
    expect(run.probedDrivers).toEqual(["net_e1000_igb_vf"]);
    expect(run.ports.map((p) => p.port)).toEqual([0]);
    expect(run.output).toContain("Bye...");
    expect(hugepagesFree()).toBeGreaterThanOrEqual(32); // --in-memory: nothing left behind
  });

  test("dpdk-testpmd with virtio-user opens a VDUSE device's /dev/vhost-vdpa-N and reports its MAC", async () => {
    const mac = "02:00:00:dd:00:01";
    const vdpa = await createVdpa("dpdkprobe0", mac);
    const chardev = vhostVdpaChardev(vdpa.name)!;
    await createNetns("dpdk-vdpa");
    const run = await runTestpmd(["--no-pci", `--vdev=net_virtio_user0,path=${chardev},queues=1,queue_size=256`], [], {
      pod: { netns: "dpdk-vdpa", devices: [chardev] },
    });
    console.log(`testpmd on ${chardev} (exit ${run.code}):\n${testpmdHighlights(run).join("\n")}`);
    expect(run.code, run.output.slice(-3000)).toBe(0);
    expect(run.ports).toEqual([{ port: 0, mac }]);
  });
});
