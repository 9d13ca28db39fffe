// What the lab's devices can carry, before accelnet is involved (sysfs and
// iproute2 build the substrate, as in substrate.test.ts): Debian's dpdk-testpmd
// runs on an igb VF bound to vfio-pci under the emulated IOMMU, and with
// virtio-user on a VDUSE device's /dev/vhost-vdpa-N, each in a /dev holding
// only the nodes a pod would get; and QEMU's igb switches traffic between two
// of its kernel-mode VFs (VF to VF) and between the PF and a VF. The
// end-to-end test relies on each of these.
import { existsSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  cleanupAll,
  createNetns,
  createVdpa,
  createVfs,
  inLab,
  iommuGroup,
  onCleanup,
  pciDriver,
  pciNetdevs,
  pfNetdev,
  rebindPci,
  sh,
  vhostVdpaChardev,
  waitFor,
  type Vf,
} from "./prelude.js";
import { runTestpmd, testpmdHighlights, testpmdPath } from "./testpmd.js";

function hugepagesFree(): number {
  return Number(readFileSync("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "utf8"));
}

/** Polls the link's LOWER_UP flag in a netns: igbvf reports carrier once its PF answered the VF's reset. */
async function waitForCarrier(netns: string, ifname: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { stdout } = await sh(["ip", "-n", netns, "-j", "link", "show", "dev", ifname]);
    const [link] = JSON.parse(stdout) as { flags: string[] }[];
    if (link?.flags.includes("LOWER_UP")) return;
    if (Date.now() > deadline) throw new Error(`no carrier on ${ifname} in ${netns} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
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

  test("QEMU's igb switches IPv4 between two kernel-mode VFs in two netns, and from the PF to a VF, once the PF gave the VFs MACs and igbvf is reloaded", async () => {
    // igb (the PF driver) answers a VF's reset with NACK while it has no MAC for the VF, and 6.12's
    // igbvf takes that NACK for a failed reset ("PF still in reset state") and never gets a link.
    // So: a MAC for each VF through the PF, then igbvf probed again, as igb itself says ("Reload the
    // VF driver to make this change effective").
    const fresh = await createVfs(2);
    for (const vf of fresh) {
      await sh(["ip", "link", "set", "dev", pf, "vf", String(vf.index), "mac", `02:00:00:77:00:0${vf.index + 1}`]);
      rebindPci(vf.addr, "igbvf");
    }
    const netdevs = await Promise.all(
      fresh.map((vf) => waitFor(`igbvf netdev of ${vf.addr}`, () => pciNetdevs(vf.addr)[0])),
    );
    const pods = ["ping-a", "ping-b"];
    for (const [i, pod] of pods.entries()) {
      await createNetns(pod);
      await sh(["ip", "link", "set", "dev", netdevs[i]!, "netns", pod, "name", "net1"]);
      onCleanup(`move net1 of ${pod} back`, async () => {
        await sh(["ip", "-n", pod, "link", "set", "dev", "net1", "netns", "1", "name", `vf${i}`], {
          allowFailure: true,
        });
      });
      await sh(["ip", "-n", pod, "addr", "add", `10.77.0.${i + 1}/24`, "dev", "net1"]);
      await sh(["ip", "-n", pod, "link", "set", "dev", "net1", "up"]);
    }
    for (const pod of pods) await waitForCarrier(pod, "net1");
    const vfToVf = await sh(["ip", "netns", "exec", "ping-a", "ping", "-c", "3", "-W", "3", "10.77.0.2"], {
      allowFailure: true,
    });
    console.log(`VF to VF ping (exit ${vfToVf.code}):\n${vfToVf.stdout}${vfToVf.stderr}`);
    await sh(["ip", "addr", "add", "10.77.0.254/24", "dev", pf]);
    onCleanup(`remove 10.77.0.254 from ${pf}`, async () => void (await sh(["ip", "addr", "flush", "dev", pf])));
    const pfToVf = await sh(["ping", "-c", "3", "-W", "3", "10.77.0.1"], { allowFailure: true });
    console.log(`PF to VF ping (exit ${pfToVf.code}):\n${pfToVf.stdout}${pfToVf.stderr}`);
    expect({ vfToVf: vfToVf.code, pfToVf: pfToVf.code }).toEqual({ vfToVf: 0, pfToVf: 0 });
  }, 240_000);
});
