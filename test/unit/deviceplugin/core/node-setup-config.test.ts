import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../../deviceplugin/core/config.js";
import { ConfigError } from "../../../../deviceplugin/core/config-error.js";

const withSetup = (nodeSetup: unknown): string =>
  JSON.stringify({ resourceList: [{ resourceName: "vfs", selectors: { drivers: ["igbvf"] } }], nodeSetup });

function refusal(nodeSetup: unknown): ConfigError {
  try {
    parseConfig(withSetup(nodeSetup));
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("the config was accepted");
}

describe("nodeSetup in the device plugin config", () => {
  it("a file without nodeSetup parses as before, with nodeSetup null", () => {
    const cfg = parseConfig(JSON.stringify({ resourceList: [{ resourceName: "vfs", selectors: {} }] }));
    expect(cfg.nodeSetup).toBeNull();
    expect(cfg.resources).toHaveLength(1);
  });

  it("parses PFs by name or address, VF ranges with drivers or vDPA, and top-level vDPA devices", () => {
    const cfg = parseConfig(
      withSetup({
        pfs: [
          {
            pfName: "ens1f0",
            numVfs: 8,
            mtu: 9000,
            vfs: [
              { range: "0-3", driver: "vfio-pci" },
              { range: "4,6", driver: "kernel" },
              { range: "5", vdpa: { driver: "vhost", mac: "02:AA:00:00:00:05", mtu: 1500, maxVqp: 2 } },
              { range: "7", vdpa: { driver: "virtio" } },
            ],
          },
          { pciAddress: "0000:3B:00.1", numVfs: 0 },
        ],
        vdpaDevices: [{ mgmtdev: "vduse", name: "vdpa0", driver: "vhost" }],
      }),
    );
    const setup = cfg.nodeSetup;
    expect(setup?.pfs[0]).toEqual({
      path: "nodeSetup.pfs[0]",
      select: { pfName: "ens1f0" },
      numVfs: 8,
      mtu: 9000,
      vfs: [
        { path: "nodeSetup.pfs[0].vfs[0]", ranges: [[0, 3]], use: { driver: "vfio-pci" } },
        {
          path: "nodeSetup.pfs[0].vfs[1]",
          ranges: [
            [4, 4],
            [6, 6],
          ],
          use: { driver: "kernel" },
        },
        {
          path: "nodeSetup.pfs[0].vfs[2]",
          ranges: [[5, 5]],
          use: { vdpa: { driver: "vhost", mac: "02:aa:00:00:00:05", mtu: 1500, maxVqp: 2 } },
        },
        {
          path: "nodeSetup.pfs[0].vfs[3]",
          ranges: [[7, 7]],
          use: { vdpa: { driver: "virtio", mac: null, mtu: null, maxVqp: null } },
        },
      ],
    });
    expect(setup?.pfs[1]).toEqual({
      path: "nodeSetup.pfs[1]",
      select: { pciAddress: "0000:3b:00.1" },
      numVfs: 0,
      mtu: null,
      vfs: [],
    });
    expect(setup?.vdpaDevices).toEqual([
      {
        path: "nodeSetup.vdpaDevices[0]",
        mgmtdev: "vduse",
        name: "vdpa0",
        driver: "vhost",
        mac: null,
        mtu: null,
        maxVqp: null,
      },
    ]);
  });

  const pf = (extra: object): object => ({ pfName: "ens1f0", numVfs: 4, ...extra });

  it.each([
    ["not an object", [], "nodeSetup", "expected an object"],
    ["an unknown top-level key", { pf: [] }, "nodeSetup.pf", 'unknown key "pf"'],
    ["pfs not a list", { pfs: {} }, "nodeSetup.pfs", "expected a list"],
    ["both pfName and pciAddress", { pfs: [pf({ pciAddress: "0000:3b:00.0" })] }, "nodeSetup.pfs[0]", "not both"],
    [
      "neither pfName nor pciAddress",
      { pfs: [{ numVfs: 2 }] },
      "nodeSetup.pfs[0]",
      '"pfName" or "pciAddress" is missing',
    ],
    [
      "a pfName that is no interface name",
      { pfs: [{ pfName: "../eth0", numVfs: 1 }] },
      "nodeSetup.pfs[0].pfName",
      "interface name",
    ],
    ["a bad pciAddress", { pfs: [{ pciAddress: "3b:00.0", numVfs: 1 }] }, "nodeSetup.pfs[0].pciAddress", "PCI address"],
    ["numVfs missing", { pfs: [{ pfName: "ens1f0" }] }, "nodeSetup.pfs[0]", '"numVfs" is missing'],
    ["numVfs negative", { pfs: [pf({ numVfs: -1 })] }, "nodeSetup.pfs[0].numVfs", "integer from 0 to 65535"],
    ["numVfs not an integer", { pfs: [pf({ numVfs: 1.5 })] }, "nodeSetup.pfs[0].numVfs", "integer"],
    ["an MTU below 68", { pfs: [pf({ mtu: 67 })] }, "nodeSetup.pfs[0].mtu", "integer from 68 to 65535"],
    ["an unknown PF key", { pfs: [pf({ numvfs: 2 })] }, "nodeSetup.pfs[0].numvfs", 'unknown key "numvfs"'],
    [
      "a VF entry without range",
      { pfs: [pf({ vfs: [{ driver: "kernel" }] })] },
      "nodeSetup.pfs[0].vfs[0]",
      '"range" is missing',
    ],
    [
      "an unparsable range",
      { pfs: [pf({ vfs: [{ range: "a-b", driver: "kernel" }] })] },
      "nodeSetup.pfs[0].vfs[0].range",
      '"a" is not a VF index',
    ],
    [
      "a range ending before it starts",
      { pfs: [pf({ vfs: [{ range: "3-1", driver: "kernel" }] })] },
      "nodeSetup.pfs[0].vfs[0].range",
      "ends before it starts",
    ],
    [
      "a range beyond numVfs",
      { pfs: [pf({ vfs: [{ range: "2-4", driver: "kernel" }] })] },
      "nodeSetup.pfs[0].vfs[0].range",
      "VF 4 is beyond numVfs 4",
    ],
    [
      "overlapping ranges",
      {
        pfs: [
          pf({
            vfs: [
              { range: "0-2", driver: "kernel" },
              { range: "2-3", driver: "vfio-pci" },
            ],
          }),
        ],
      },
      "nodeSetup.pfs[0].vfs[1].range",
      'VF 2 (in "2-3") is already set up at "nodeSetup.pfs[0].vfs[0]"',
    ],
    [
      "a VF entry with driver and vdpa",
      { pfs: [pf({ vfs: [{ range: "0", driver: "kernel", vdpa: { driver: "vhost" } }] })] },
      "nodeSetup.pfs[0].vfs[0]",
      'exactly one of "driver" and "vdpa"',
    ],
    [
      "a VF entry with neither",
      { pfs: [pf({ vfs: [{ range: "0" }] })] },
      "nodeSetup.pfs[0].vfs[0]",
      'exactly one of "driver" and "vdpa"',
    ],
    [
      "an unknown driver",
      { pfs: [pf({ vfs: [{ range: "0", driver: "igbvf" }] })] },
      "nodeSetup.pfs[0].vfs[0].driver",
      'expected "vfio-pci" or "kernel"',
    ],
    [
      "a vdpa without driver",
      { pfs: [pf({ vfs: [{ range: "0", vdpa: {} }] })] },
      "nodeSetup.pfs[0].vfs[0].vdpa",
      '"driver" is missing',
    ],
    [
      "a bad vdpa driver",
      { pfs: [pf({ vfs: [{ range: "0", vdpa: { driver: "vhost_vdpa" } }] })] },
      "nodeSetup.pfs[0].vfs[0].vdpa.driver",
      'expected "vhost" or "virtio"',
    ],
    [
      "an unknown vdpa key",
      { pfs: [pf({ vfs: [{ range: "0", vdpa: { driver: "vhost", queues: 2 } }] })] },
      "nodeSetup.pfs[0].vfs[0].vdpa.queues",
      'unknown key "queues"',
    ],
    [
      "a multicast MAC",
      { pfs: [pf({ vfs: [{ range: "0", vdpa: { driver: "vhost", mac: "01:00:5e:00:00:01" } }] })] },
      "nodeSetup.pfs[0].vfs[0].vdpa.mac",
      "multicast",
    ],
    [
      "one MAC for several VFs",
      { pfs: [pf({ vfs: [{ range: "0-1", vdpa: { driver: "vhost", mac: "02:00:00:00:00:01" } }] })] },
      "nodeSetup.pfs[0].vfs[0].vdpa.mac",
      "several VFs",
    ],
    [
      "maxVqp 0",
      { pfs: [pf({ vfs: [{ range: "0", vdpa: { driver: "vhost", maxVqp: 0 } }] })] },
      "nodeSetup.pfs[0].vfs[0].vdpa.maxVqp",
      "integer from 1",
    ],
    [
      "the same pfName twice",
      { pfs: [pf({}), pf({ numVfs: 2 })] },
      "nodeSetup.pfs[1].pfName",
      'pfName "ens1f0" is already set up at "nodeSetup.pfs[0]"',
    ],
    [
      "the same pciAddress twice",
      {
        pfs: [
          { pciAddress: "0000:3b:00.0", numVfs: 1 },
          { pciAddress: "0000:3B:00.0", numVfs: 1 },
        ],
      },
      "nodeSetup.pfs[1].pciAddress",
      "already set up",
    ],
    [
      "a vdpa device without mgmtdev",
      { vdpaDevices: [{ name: "v0", driver: "vhost" }] },
      "nodeSetup.vdpaDevices[0]",
      '"mgmtdev" is missing',
    ],
    [
      "a bad mgmtdev",
      { vdpaDevices: [{ mgmtdev: "../x", name: "v0", driver: "vhost" }] },
      "nodeSetup.vdpaDevices[0].mgmtdev",
      "management device",
    ],
    [
      "a bad vdpa name",
      { vdpaDevices: [{ mgmtdev: "vduse", name: "a/b", driver: "vhost" }] },
      "nodeSetup.vdpaDevices[0].name",
      "vdpa device name",
    ],
    [
      "a vdpa name used twice",
      {
        vdpaDevices: [
          { mgmtdev: "vduse", name: "v0", driver: "vhost" },
          { mgmtdev: "vduse", name: "v0", driver: "virtio" },
        ],
      },
      "nodeSetup.vdpaDevices[1].name",
      'vdpa device "v0" is already defined at "nodeSetup.vdpaDevices[0]"',
    ],
    [
      "a vdpa name in the VF devices' namespace",
      { vdpaDevices: [{ mgmtdev: "vduse", name: "vf-0", driver: "vhost" }] },
      "nodeSetup.vdpaDevices[0].name",
      '"vf-"',
    ],
    [
      "an unknown vdpa device key",
      { vdpaDevices: [{ mgmtdev: "vduse", name: "v0", driver: "vhost", dev: 1 }] },
      "nodeSetup.vdpaDevices[0].dev",
      'unknown key "dev"',
    ],
  ])("refuses %s, naming the path", (_what, nodeSetup, path, message) => {
    const err = refusal(nodeSetup);
    expect(err.path).toBe(path);
    expect(err.message).toContain(`Invalid config at "${path}"`);
    expect(err.message).toContain(message);
  });
});
