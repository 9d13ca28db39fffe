// What the daemon writes about its pools: the device gauges, CDI specs and
// device-info files (each removed at stop only while still ours: rollouts), and
// a changed kubelet view pushed to the pool's ListAndWatch streams.
import { join } from "node:path";
import { kubeletView, type Pool } from "../core/pools.js";
import { deviceInfoContent, deviceInfoFileName } from "../core/device-info.js";
import { cdiSpecFileName, cdiSpecOf } from "../core/cdi-spec.js";
import type { ResourceConfig } from "../core/config.js";
import type { PoolRegistration } from "./pool-registration.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";
import { OwnedFiles } from "./owned-files.js";

export interface PoolPublisherOptions {
  readonly devinfoDir: string;
  /** null: no CDI specs. */
  readonly cdiDir: string | null;
  readonly log: Logger;
  readonly metrics: Metrics;
}

export class PoolPublisher {
  private readonly writtenDevinfo = new OwnedFiles();
  private readonly writtenCdi = new OwnedFiles();

  constructor(private readonly opts: PoolPublisherOptions) {}

  countDevices(pool: Pool): void {
    const name = pool.config.fullName;
    const healthy = pool.devices.filter((d) => d.healthy).length;
    this.opts.metrics.set("accelnet_deviceplugin_devices", { resource: name, health: "Healthy" }, healthy);
    this.opts.metrics.set(
      "accelnet_deviceplugin_devices",
      { resource: name, health: "Unhealthy" },
      pool.devices.length - healthy,
    );
  }

  /** Updates the gauges; when kubelet's view changed, the CDI spec and the open streams too. */
  async publish(pool: Pool, reg: PoolRegistration | undefined): Promise<void> {
    this.countDevices(pool);
    const view = kubeletView(pool);
    if (reg === undefined || reg.lastView === view) return;
    reg.lastView = view;
    await this.writeCdiSpec(pool);
    reg.push(pool);
    for (const d of pool.devices.filter((x) => !x.healthy)) {
      this.opts.log.info("device unhealthy", { resource: pool.config.fullName, deviceID: d.id, reason: d.reason });
    }
  }

  async writeCdiSpec(pool: Pool): Promise<void> {
    if (this.opts.cdiDir === null) return;
    const path = join(this.opts.cdiDir, cdiSpecFileName(pool.config));
    await this.writtenCdi.write(path, `${JSON.stringify(cdiSpecOf(pool), null, 2)}\n`, 0o644);
  }

  async removeCdiSpec(config: ResourceConfig): Promise<void> {
    if (this.opts.cdiDir !== null) await this.writtenCdi.remove(join(this.opts.cdiDir, cdiSpecFileName(config)));
  }

  async writeDeviceInfo(pool: Pool, ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      const dev = pool.devices.find((d) => d.id === id);
      if (dev === undefined) continue;
      const path = join(this.opts.devinfoDir, deviceInfoFileName(pool, id));
      await this.writtenDevinfo.write(path, deviceInfoContent(dev), 0o444);
    }
  }

  async removeAll(): Promise<void> {
    await this.writtenDevinfo.removeAll();
    await this.writtenCdi.removeAll();
  }
}
