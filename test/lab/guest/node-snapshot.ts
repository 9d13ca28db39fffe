// What a node looks like to an admin, read without accelnet (sysfs and
// iproute2): the PF's VF count, every PCI function's driver on the igb PF,
// host links, vdpa devices, and what accelnet keeps in its state dirs. The
// end-to-end test takes one before the device plugin starts and one after
// everything is undone, and compares them.
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { leftovers, ipJson, type IpLink } from "./cni.js";
import { PF, listVfs, pciDriver, sysfsRead } from "./prelude.js";

export interface NodeSnapshot {
  numVfs: number;
  pfDriver: string | null;
  vfs: { addr: string; driver: string | null }[];
  /** Host links as name → MAC (VF netdevs included: they are host links while no pod has them). */
  links: Record<string, string>;
  vdpa: string[];
  /** Attachment states and owner markers in the CNI state dir; device-info files. */
  cniState: { states: number; markers: number };
  devinfo: string[];
}

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(path.join(dir, entry.name)).map((f) => `${entry.name}/${f}`) : [entry.name],
  );
}

export async function snapshotNode(cniStateDir: string, devinfoDir: string): Promise<NodeSnapshot> {
  const links = await ipJson<IpLink[]>("link", "show");
  const state = existsSync(cniStateDir) ? leftovers(cniStateDir) : { states: [], markers: [] };
  return {
    numVfs: Number(sysfsRead(`/sys/bus/pci/devices/${PF}/sriov_numvfs`)),
    pfDriver: pciDriver(PF),
    vfs: listVfs().map((vf) => ({ addr: vf.addr, driver: pciDriver(vf.addr) })),
    links: Object.fromEntries(links.map((l) => [l.ifname, l.address])),
    vdpa: existsSync("/sys/bus/vdpa/devices") ? readdirSync("/sys/bus/vdpa/devices").sort() : [],
    cniState: { states: state.states.length, markers: [...state.markers].length },
    devinfo: files(devinfoDir).sort(),
  };
}

/** One line per field, for the log a reader follows. */
export function describeSnapshot(s: NodeSnapshot): string {
  return [
    `  sriov_numvfs of ${PF} (${s.pfDriver}): ${s.numVfs}`,
    `  VFs: ${s.vfs.map((v) => `${v.addr} on ${v.driver ?? "no driver"}`).join(", ") || "none"}`,
    `  host links: ${Object.keys(s.links).join(", ")}`,
    `  vdpa devices: ${s.vdpa.join(", ") || "none"}`,
    `  CNI state: ${s.cniState.states} attachments, ${s.cniState.markers} owner markers; device-info files: ${s.devinfo.length}`,
  ].join("\n");
}
