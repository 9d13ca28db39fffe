// The helper's node-setup commands against the real kernel: VFs created and recounted with sriov-numvfs,
// a VF moved to vfio-pci and given back to igbvf with pci-reprobe, vDPA devices created and deleted on the
// `vduse` management device with VDPA_CMD_DEV_NEW/DEL (a VDUSE device made through /dev/vduse/control by
// the lab tool, not yet on the vdpa bus), the management device list, what VDUSE refuses at DEV_NEW, and
// the refusals (EBUSY) of commands that would unbind a device a workload holds open. Host state is read
// with sysfs and iproute2's vdpa tool, independently of the helper.
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { NODE_SETUP_COMMANDS, helper, requireCommands, runHelper } from "./helper.js";
import {
  PF,
  cleanupAll,
  inLab,
  iommuGroup,
  listVfs,
  numvfsFile,
  pciDriver,
  pciNetdevs,
  serveVduse,
  sh,
  startWithoutVfs,
  sysfsRead,
  vdpaDriver,
  vfAddr,
  vhostVdpaChardev,
  waitFor,
  type VdpaDevice,
} from "./prelude.js";

interface IprouteMgmtdev {
  supported_classes?: string[];
  max_supported_vqs?: number;
  dev_features?: string[];
}

async function iprouteMgmtdevs(): Promise<Record<string, IprouteMgmtdev>> {
  const { stdout } = await sh(["vdpa", "-j", "mgmtdev", "show"]);
  return (JSON.parse(stdout) as { mgmtdev: Record<string, IprouteMgmtdev> }).mgmtdev;
}

async function iprouteDev(name: string): Promise<Record<string, unknown> | undefined> {
  const { code, stdout } = await sh(["vdpa", "-j", "dev", "show", name], { allowFailure: true });
  return code === 0 ? (JSON.parse(stdout) as { dev: Record<string, Record<string, unknown>> }).dev[name] : undefined;
}

/** Holds a device file open (the way a workload does) while `body` runs. */
async function holding<T>(file: string, body: () => Promise<T>): Promise<T> {
  const fd = openSync(file, "r+");
  try {
    return await body();
  } finally {
    closeSync(fd);
  }
}

describe.skipIf(!inLab)("lab: the helper's node-setup commands", () => {
  let vduse: VdpaDevice;

  beforeAll(async () => {
    await requireCommands(...NODE_SETUP_COMMANDS, "vdpa-show", "vdpa-bind");
    startWithoutVfs();
    vduse = await serveVduse("lab-ns-vdpa0", "02:00:00:00:61:01", 1400);
  });
  afterAll(cleanupAll);

  test("sriov-numvfs creates VFs from 0 (igbvf netdevs) and changes 2 to 3 through 0, as the kernel demands", async () => {
    const two = (await helper("sriov-numvfs", { addr: PF, count: 2 })).pci;
    expect(two).toMatchObject({ addr: PF, isPf: true, numVfs: 2 });
    expect(listVfs()).toHaveLength(2);
    for (const { addr } of listVfs()) {
      expect(pciDriver(addr)).toBe("igbvf");
      await waitFor(`netdev of ${addr}`, () => pciNetdevs(addr)[0]);
    }
    expect((await helper("sriov-numvfs", { addr: PF, count: 3 })).pci).toMatchObject({ numVfs: 3 });
    expect(sysfsRead(numvfsFile)).toBe("3");
    expect(listVfs()).toHaveLength(3);
    expect((await helper("sriov-numvfs", { addr: PF, count: 2 })).pci).toMatchObject({ numVfs: 2 });
    expect(listVfs()).toHaveLength(2);
  });

  test("pci-reprobe gives a VF on vfio-pci back to igbvf, with a netdev, and driver_override cleared", async () => {
    const addr = vfAddr(1);
    expect((await helper("pci-bind", { addr, driver: "vfio-pci" })).pci).toMatchObject({ driver: "vfio-pci" });
    expect(pciDriver(addr)).toBe("vfio-pci");
    const back = (await helper("pci-reprobe", { addr })).pci as { driver: string; netdevs: string[] };
    expect(back).toMatchObject({ addr, driver: "igbvf", isVf: true, vfIndex: 1 });
    expect(back.netdevs).toHaveLength(1);
    expect(pciDriver(addr)).toBe("igbvf");
    expect(pciNetdevs(addr)).toEqual(back.netdevs);
    expect(readFileSync(`/sys/bus/pci/devices/${addr}/driver_override`, "utf8").trim()).toBe("(null)");
    // On its default driver already: reprobing rebinds igbvf (a new netdev), never another driver.
    expect((await helper("pci-reprobe", { addr })).pci).toMatchObject({ driver: "igbvf" });
  });

  test("a VF whose VFIO group a workload holds is not unbound: pci-reprobe, pci-bind and sriov-numvfs fail with EBUSY", async () => {
    const addr = vfAddr(0);
    await helper("pci-bind", { addr, driver: "vfio-pci" });
    const group = `/dev/vfio/${iommuGroup(addr)}`;
    await holding(group, async () => {
      for (const argv of [
        ["pci-reprobe", `addr=${addr}`],
        ["pci-bind", `addr=${addr}`, "driver=igbvf"],
        ["sriov-numvfs", `addr=${PF}`, "count=0"],
        ["sriov-numvfs", `addr=${PF}`, "count=3"],
      ]) {
        const { code, reply } = await runHelper(argv);
        expect(code, argv.join(" ")).toBe(1);
        expect(reply.error, argv.join(" ")).toMatchObject({
          op: "open vfio group",
          object: addr,
          errname: "EBUSY",
          message: `${addr} is bound to vfio-pci and ${group} is open (a workload holds it); unbinding it would block until it is closed`,
        });
      }
      expect(pciDriver(addr)).toBe("vfio-pci");
      expect(sysfsRead(numvfsFile)).toBe("2");
      // Binding to the driver it already has is no unbind, so it is allowed.
      expect((await helper("pci-bind", { addr, driver: "vfio-pci" })).pci).toMatchObject({ driver: "vfio-pci" });
    });
    expect((await helper("pci-reprobe", { addr })).pci).toMatchObject({ driver: "igbvf" });
  });

  test("vdpa-mgmtdev-list lists vduse as iproute2 does, and the igb PF and VFs have no management device", async () => {
    const { mgmtdevs } = (await helper("vdpa-mgmtdev-list")) as { mgmtdevs: Record<string, unknown>[] };
    const kernel = await iprouteMgmtdevs();
    expect(mgmtdevs.map((m) => m.name).sort()).toEqual(Object.keys(kernel).sort());
    const vduseEntry = mgmtdevs.find((m) => m.name === "vduse");
    expect(vduseEntry).toMatchObject({ name: "vduse", bus: null, dev: "vduse", configAttrs: [] });
    expect(vduseEntry?.classes).toEqual(kernel["vduse"]?.supported_classes);
    expect(vduseEntry?.classes).toContain("net");
    expect(vduseEntry?.maxVqs).toBe(kernel["vduse"]?.max_supported_vqs ?? null);
    expect(vduseEntry?.supportedFeatures === null).toBe(kernel["vduse"]?.dev_features === undefined);
    console.info(`vdpa-mgmtdev-list: ${JSON.stringify(mgmtdevs)}; iproute2: ${JSON.stringify(kernel)}`);
    const pciFunctions = [PF, ...listVfs().map((v) => v.addr)];
    expect(mgmtdevs.filter((m) => pciFunctions.includes(String(m.dev)))).toEqual([]);
  });

  test("vdpa-dev-add puts the VDUSE device on the vdpa bus (vhost_vdpa, its MAC and MTU); vdpa-dev-del removes it", async () => {
    const { name } = vduse;
    expect(existsSync(`/sys/bus/vdpa/devices/${name}`)).toBe(false);
    const added = (await helper("vdpa-dev-add", { name, mgmtdev: "vduse" })).vdpa as Record<string, unknown>;
    const chardev = await waitFor(`vhost-vdpa char device of ${name}`, () => vhostVdpaChardev(name));
    expect(added).toEqual({
      name,
      mgmtdev: "vduse",
      parentPci: null,
      driver: vdpaDriver(name),
      deviceId: 1,
      vendorId: 0,
      chardev,
      netdev: null,
      mac: vduse.mac,
      mtu: vduse.mtu,
    });
    expect(vdpaDriver(name)).toBe("vhost_vdpa");
    expect(await iprouteDev(name)).toMatchObject({ mgmtdev: "vduse" });
    expect((await helper("vdpa-show", { dev: name })).vdpa).toEqual(added);

    const again = await runHelper(["vdpa-dev-add", `name=${name}`, "mgmtdev=vduse"]);
    expect(again.code).toBe(1);
    expect(again.reply.error).toMatchObject({ op: "VDPA_CMD_DEV_NEW", object: name, errname: "EEXIST" });

    expect(await helper("vdpa-dev-del", { dev: name })).toEqual({});
    expect(existsSync(`/sys/bus/vdpa/devices/${name}`)).toBe(false);
    expect(await iprouteDev(name)).toBeUndefined();
    const gone = await runHelper(["vdpa-dev-del", `dev=${name}`]);
    expect(gone.code).toBe(1);
    expect(gone.reply.error).toMatchObject({
      op: "VDPA_CMD_DEV_DEL",
      object: name,
      errname: "ENODEV",
      extack: "vdpa: device not found",
    });
  });

  test("VDUSE takes no device attribute at DEV_NEW: mac, mtu and max_vqp are refused with the kernel's words", async () => {
    const { name } = vduse;
    for (const [key, bit] of [
      ["mac=02:00:00:00:61:02", "0x400"],
      ["mtu=1500", "0x2000"],
      ["max_vqp=1", "0x1000"],
    ] as const) {
      const { code, reply } = await runHelper(["vdpa-dev-add", `name=${name}`, "mgmtdev=vduse", key]);
      expect(code, key).toBe(1);
      expect(reply.error, key).toMatchObject({
        op: "VDPA_CMD_DEV_NEW",
        object: name,
        errname: "EOPNOTSUPP",
        extack: `vdpa: Some provided attributes are not supported: ${bit}`,
      });
      expect(existsSync(`/sys/bus/vdpa/devices/${name}`), key).toBe(false);
    }
  });

  test("vdpa-dev-add on a management device that does not exist, or for a VDUSE device that does not exist, fails with the kernel's errno", async () => {
    const noMgmt = await runHelper(["vdpa-dev-add", `name=${vduse.name}`, `mgmtdev=pci/${PF}`]);
    expect(noMgmt.reply.error).toMatchObject({
      op: "VDPA_CMD_DEV_NEW",
      errname: "ENODEV",
      extack: "vdpa: Fail to find the specified management device",
    });
    const noVduse = await runHelper(["vdpa-dev-add", "name=lab-ns-nothing", "mgmtdev=vduse"]);
    expect(noVduse.reply.error).toMatchObject({ op: "VDPA_CMD_DEV_NEW", object: "lab-ns-nothing", errname: "EINVAL" });
  });

  test("a vdpa device whose /dev/vhost-vdpa-N a workload holds is neither deleted nor rebound (EBUSY)", async () => {
    const { name } = vduse;
    await helper("vdpa-dev-add", { name, mgmtdev: "vduse" });
    const chardev = await waitFor(`vhost-vdpa char device of ${name}`, () => vhostVdpaChardev(name));
    await holding(chardev, async () => {
      for (const argv of [
        ["vdpa-dev-del", `dev=${name}`],
        ["vdpa-bind", `dev=${name}`, "driver=virtio_vdpa"],
      ]) {
        const { code, reply } = await runHelper(argv);
        expect(code, argv.join(" ")).toBe(1);
        expect(reply.error, argv.join(" ")).toMatchObject({
          op: "open vhost-vdpa",
          object: name,
          errname: "EBUSY",
          message: `${name} is bound to vhost_vdpa and ${chardev} is open (a workload holds it); unbinding it would block until it is closed`,
        });
      }
      expect(vdpaDriver(name)).toBe("vhost_vdpa");
    });
    expect(await helper("vdpa-dev-del", { dev: name })).toEqual({});
    expect(existsSync(`/sys/bus/vdpa/devices/${name}`)).toBe(false);
  });
});
