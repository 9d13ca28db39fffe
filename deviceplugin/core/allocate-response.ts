// What one container gets from Allocate: env vars (IDs and the per-device INFO
// JSON of sriov-network-device-plugin), device nodes, CDI device names.
// Computed from the pool snapshot at Allocate time.
import { UnhealthyDeviceError, UnknownDeviceError } from "./errors.js";
import { resourceEnvName, resourceInfoEnvName } from "./env-names.js";
import { goJson, type GoValue } from "./go-json.js";
import type { Pool, PoolDevice } from "./pools.js";
import { cdiDeviceName } from "./cdi-names.js";

export interface DeviceNode {
  readonly containerPath: string;
  readonly hostPath: string;
  readonly permissions: string;
}

export interface ContainerAllocation {
  readonly envs: Readonly<Record<string, string>>;
  readonly devices: readonly DeviceNode[];
  readonly cdiDevices: readonly string[];
}

export interface AllocateOptions {
  /** Hand out CDI device names instead of device nodes (the runtime injects them from the CDI spec). */
  readonly cdi: boolean;
}

const VFIO_CONTAINER = "/dev/vfio/vfio";
const VHOST_NET = "/dev/vhost-net";
const TUN = "/dev/net/tun";

function node(path: string): DeviceNode {
  return { containerPath: path, hostPath: path, permissions: "rw" };
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

function needVhostNet(pool: Pool, dev: PoolDevice): boolean {
  // The selector that matched is not recorded; vhost-net is wanted when any selector asks for it
  // and could have matched this kind of device.
  return pool.config.selectors.some((s) => s.needVhostNet && (s.vdpaType === null) === (dev.kind === "pci"));
}

/** /dev/vhost-vdpa-N of a vhost vDPA device, as the host (and container) sees it. */
export function vhostVdpaPath(dev: PoolDevice): string | null {
  if (dev.vdpa === null || dev.vdpa.driver !== "vhost_vdpa" || dev.vdpa.chardev === null) return null;
  return `/dev/${basename(dev.vdpa.chardev)}`;
}

/** Device nodes one device needs, in the order sriov-network-device-plugin lists them. */
export function deviceNodesOf(pool: Pool, dev: PoolDevice): DeviceNode[] {
  const nodes: DeviceNode[] = [];
  if (dev.kind === "pci" && dev.pci?.driver === "vfio-pci" && dev.pci.iommuGroup !== null) {
    nodes.push(node(VFIO_CONTAINER), node(`/dev/vfio/${dev.pci.iommuGroup}`));
  }
  const vdpaPath = vhostVdpaPath(dev);
  if (vdpaPath !== null) nodes.push(node(vdpaPath));
  if (needVhostNet(pool, dev)) nodes.push(node(VHOST_NET), node(TUN));
  return nodes;
}

/** The INFO entry of one device: {generic, vfio?, vdpa?, vhost?, extra?} (a Go map: keys sorted on output). */
export function deviceInfoEntry(pool: Pool, dev: PoolDevice): Record<string, GoValue> {
  const entry: Record<string, GoValue> = { generic: { deviceID: dev.id } };
  if (dev.kind === "pci" && dev.pci?.driver === "vfio-pci") {
    const vfio: Record<string, string> = { mount: VFIO_CONTAINER };
    if (dev.pci.iommuGroup !== null) vfio["dev-mount"] = `/dev/vfio/${dev.pci.iommuGroup}`;
    entry["vfio"] = vfio;
  }
  if (dev.kind === "vdpa") {
    const path = vhostVdpaPath(dev);
    entry["vdpa"] = path === null ? {} : { mount: path };
  }
  if (needVhostNet(pool, dev)) entry["vhost"] = { "net-mount": VHOST_NET, "tun-mount": TUN };
  const extra = pool.config.additionalInfo;
  if (extra !== null) entry["extra"] = { ...extra["*"], ...extra[dev.id] };
  return entry;
}

/** Checks the IDs against the pool; throws UnknownDeviceError or UnhealthyDeviceError. */
export function resolveDevices(pool: Pool, ids: readonly string[]): PoolDevice[] {
  return ids.map((id) => {
    const dev = pool.devices.find((d) => d.id === id);
    if (dev === undefined) throw new UnknownDeviceError(pool.config.fullName, id);
    if (!dev.healthy) throw new UnhealthyDeviceError(pool.config.fullName, id, dev.reason ?? "unknown reason");
    return dev;
  });
}

/** Builds the response for one container request. */
export function allocateContainer(pool: Pool, ids: readonly string[], opts: AllocateOptions): ContainerAllocation {
  const devs = resolveDevices(pool, ids);
  const { resourcePrefix: prefix, resourceName: name } = pool.config;
  const info: Record<string, GoValue> = {};
  for (const dev of devs) info[dev.id] = deviceInfoEntry(pool, dev);
  const envs = {
    [resourceEnvName(prefix, name)]: devs.map((d) => d.id).join(","),
    [resourceInfoEnvName(prefix, name)]: goJson(info),
  };
  if (opts.cdi) {
    return { envs, devices: [], cdiDevices: devs.map((d) => cdiDeviceName(pool.config, d.id)) };
  }
  const seen = new Set<string>();
  const devices: DeviceNode[] = [];
  for (const dev of devs) {
    for (const n of deviceNodesOf(pool, dev)) {
      if (seen.has(n.hostPath)) continue;
      seen.add(n.hostPath);
      devices.push(n);
    }
  }
  return { envs, devices, cdiDevices: [] };
}
