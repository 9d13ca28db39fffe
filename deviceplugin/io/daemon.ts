// The device plugin daemon: config → inventory → pools → one gRPC server per
// pool, registered with kubelet, kept registered through kubelet restarts,
// plugin restarts (kubernetes#121994) and config reloads. Each pool's own
// registration lifecycle is pool-registration.ts, rescan scheduling
// rescanner.ts, the socket and config dir watches socket-watch.ts, what is
// written about pools pool-publisher.ts; this file holds the daemon's own:
// start, stop, config reload, the pools and Allocate.
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseConfig, type DevicePluginConfig, type ResourceConfig } from "../core/config.js";
import { allocateContainer, type ContainerAllocation } from "../core/allocate-response.js";
import { buildPools, kubeletView, type Pool, type Pools } from "../core/pools.js";
import type { Inventory } from "../core/inventory.js";
import { FULL, pciScope } from "../core/inventory-update.js";
import { inodeOf } from "./plugin-server.js";
import { PoolRegistration } from "./pool-registration.js";
import type { InventorySource } from "./inventory-source.js";
import type { HintSource } from "./uevent-hints.js";
import type { Logger } from "./logger.js";
import { Metrics } from "./metrics.js";
import { startHttpServerRetrying, type RetryingHttpServer } from "./http-server.js";
import { NodeSetupRunner, type NodeSetupOptions } from "./node-setup.js";
import type { NodeSetup } from "../core/node-setup-config.js";
import { Rescanner } from "./rescanner.js";
import { SocketWatch } from "./socket-watch.js";
import { PoolPublisher } from "./pool-publisher.js";

export enum DaemonState {
  New = "new",
  Starting = "starting",
  Running = "running",
  ShuttingDown = "shutting-down",
  Stopped = "stopped",
}

export type RegistrationMode = "auto" | "classic" | "plugin-watcher";

export interface DaemonOptions {
  readonly configPath: string;
  readonly resourcePrefix: string;
  readonly devicePluginDir: string;
  readonly pluginsRegistryDir: string;
  readonly registrationMode: RegistrationMode;
  readonly devinfoDir: string;
  /** Write CDI specs here and answer Allocate with CDI device names; null: off. */
  readonly cdiDir: string | null;
  /** "host:port" for /metrics and /healthz; null: no HTTP server. */
  readonly metricsAddr: string | null;
  readonly inventory: InventorySource;
  /** Long-lived hint producers (kernel uevents), next to the rescan timer and the inventory's file hints. */
  readonly hintSources?: readonly HintSource[];
  /** A hint rescans this long after the first hint of a burst (the burst of one VF change is coalesced). */
  readonly hintCoalesceMs?: number;
  readonly log: Logger;
  readonly rescanIntervalMs?: number;
  readonly watchdogMs?: number;
  /** Allocate rescans first when the last scan is older than this. */
  readonly allocateMaxAgeMs?: number;
  readonly registerTimeoutMs?: number;
  /** Converge the node to the config's nodeSetup (io/node-setup.ts); null: the section is ignored. */
  readonly nodeSetup?: NodeSetupOptions | null;
}

interface PoolRuntime {
  /** JSON of the config; an equal key on reload keeps the pool and its registration. */
  readonly key: string;
  readonly reg: PoolRegistration;
}

/**
 * A pool's identity on reload: its config without its place in the list, so
 * inserting or removing a pool before it keeps it (and its registration).
 */
function poolKey(r: ResourceConfig): string {
  const { index: _index, ...identity } = r;
  return JSON.stringify(identity);
}

export class Daemon {
  private stateValue: DaemonState = DaemonState.New;
  private config: DevicePluginConfig | null = null;
  private pools: Pools | null = null;
  private readonly runtimes = new Map<string, PoolRuntime>();
  private watchdogTimer: NodeJS.Timeout | null = null;
  private socketWatch: SocketWatch | null = null;
  private http: RetryingHttpServer | null = null;
  readonly metrics = new Metrics();
  readonly mode: "classic" | "plugin-watcher";
  private readonly nodeSetup: NodeSetupRunner | null;
  private readonly rescanner: Rescanner;
  private readonly publisher: PoolPublisher;

  constructor(private readonly opts: DaemonOptions) {
    this.mode = opts.registrationMode === "auto" ? "classic" : opts.registrationMode;
    const ns = opts.nodeSetup ?? null;
    this.nodeSetup =
      ns === null
        ? null
        : new NodeSetupRunner({ ...ns, inventory: opts.inventory, log: opts.log, metrics: this.metrics });
    this.rescanner = new Rescanner({
      inventory: opts.inventory,
      hintSources: opts.hintSources ?? [],
      hintCoalesceMs: opts.hintCoalesceMs ?? 50,
      intervalMs: opts.rescanIntervalMs ?? 1000,
      log: opts.log,
      metrics: this.metrics,
      running: () => this.stateValue === DaemonState.Running,
      onInventory: (inv) => this.onInventory(inv),
    });
    this.publisher = new PoolPublisher({
      devinfoDir: opts.devinfoDir,
      cdiDir: opts.cdiDir,
      log: opts.log,
      metrics: this.metrics,
    });
  }

  get state(): DaemonState {
    return this.stateValue;
  }

  private get kubeletSocket(): string {
    return join(this.opts.devicePluginDir, "kubelet.sock");
  }

  private throwIfNot(state: DaemonState, verb: string): void {
    if (this.stateValue !== state) throw new Error(`Cannot ${verb} the device plugin: it is ${this.stateValue}`);
  }

  /** Loads config, scans, serves and registers every pool. Throws ConfigError on a bad config. */
  async start(): Promise<void> {
    this.throwIfNot(DaemonState.New, "start");
    this.stateValue = DaemonState.Starting;
    const { log } = this.opts;
    if (this.opts.registrationMode === "auto") {
      const registry = inodeOf(this.opts.pluginsRegistryDir) !== null;
      (this as { mode: "classic" | "plugin-watcher" }).mode = registry ? "plugin-watcher" : "classic";
    }
    this.config = parseConfig(await readFile(this.opts.configPath, "utf8"), this.opts.resourcePrefix);
    await this.convergeNode(this.config.nodeSetup, "start");
    await this.rescanner.scan("start");
    if (this.opts.metricsAddr !== null) {
      this.http = await startHttpServerRetrying(
        this.opts.metricsAddr,
        { metrics: this.metrics, unhealthyReason: () => this.unhealthyReason(), status: () => this.status() },
        log,
      );
    }
    await mkdir(this.socketDir(), { recursive: true });
    for (const r of this.config.resources) await this.addPool(r);
    this.socketWatch = new SocketWatch({
      socketDirs: this.mode === "classic" ? [this.socketDir(), this.opts.devicePluginDir] : [this.socketDir()],
      configPath: this.opts.configPath,
      checkSockets: () => this.checkSocketsOnce(),
      reload: (trigger) => void this.reload(trigger),
      running: () => this.stateValue === DaemonState.Running,
      onError: (path, err) => this.watchError(path, err),
    });
    this.socketWatch.start();
    this.rescanner.startTriggers();
    this.watchdogTimer = setInterval(() => this.watchdog(), 500);
    this.stateValue = DaemonState.Running;
    // Changes between binding and watching raised no event: look once now.
    void this.socketWatch.check();
    log.info("device plugin started", { mode: this.mode, pools: this.config.resources.map((r) => r.fullName) });
  }

  /** Graceful stop: end streams, stop servers, remove sockets, device-info files and CDI specs. */
  async tryShutdown(): Promise<void> {
    if (this.stateValue === DaemonState.Stopped || this.stateValue === DaemonState.ShuttingDown) return;
    this.stateValue = DaemonState.ShuttingDown;
    this.stopWatching();
    await Promise.all([...this.runtimes.values()].map((rt) => rt.reg.stop()));
    this.runtimes.clear();
    await this.publisher.removeAll();
    await this.http?.close();
    this.stateValue = DaemonState.Stopped;
    this.opts.log.info("device plugin stopped");
  }

  /** Immediate stop (second signal): servers are killed, files are left. */
  forceShutdown(): void {
    this.stopWatching();
    for (const rt of this.runtimes.values()) rt.reg.forceStop();
    this.http?.forceClose();
    this.stateValue = DaemonState.Stopped;
  }

  /**
   * Re-reads the config. Pools whose config is unchanged keep their server and
   * registration; changed pools are restarted, removed pools stopped. A bad
   * config is logged and the running config kept.
   */
  async reload(trigger: string): Promise<boolean> {
    if (this.stateValue !== DaemonState.Running) return false;
    let next: DevicePluginConfig;
    try {
      next = parseConfig(await readFile(this.opts.configPath, "utf8"), this.opts.resourcePrefix);
    } catch (err) {
      this.metrics.inc("accelnet_deviceplugin_config_reloads_total", { result: "error" });
      this.opts.log.error("config reload failed, keeping the running config", { trigger, error: err });
      return false;
    }
    await this.convergeNode(next.nodeSetup, `reload:${trigger}`);
    const keys = new Map(next.resources.map((r) => [r.fullName, poolKey(r)]));
    for (const [name, rt] of this.runtimes) {
      if (keys.get(name) === rt.key) continue;
      await this.removePool(name);
    }
    this.config = next;
    this.pools = null;
    await this.rescanner.scan(`reload:${trigger}`);
    for (const r of next.resources) {
      const rt = this.runtimes.get(r.fullName);
      if (rt === undefined) await this.addPool(r);
      else rt.reg.config = r;
    }
    this.metrics.inc("accelnet_deviceplugin_config_reloads_total", { result: "ok" });
    this.opts.log.info("config reloaded", { trigger, pools: next.resources.map((r) => r.fullName) });
    return true;
  }

  /** Rescans the whole inventory and pushes changed pools to kubelet. Concurrent calls coalesce. */
  async rescan(trigger: string): Promise<void> {
    return this.rescanner.rescan(trigger, FULL);
  }

  /** The current pools (for tests and diagnostics). */
  currentPools(): Pools {
    return this.pools ?? new Map();
  }

  private socketDir(): string {
    return this.mode === "classic" ? this.opts.devicePluginDir : this.opts.pluginsRegistryDir;
  }

  private socketName(r: ResourceConfig): string {
    return `accelnet-${r.resourcePrefix}-${r.resourceName}.sock`;
  }

  /** A new inventory (any rescan): node setup's VF-count watch, then the pools, published. */
  private async onInventory(inv: Inventory): Promise<void> {
    const config = this.config;
    if (config === null) return;
    this.nodeSetup?.watchVfCounts(inv, () => void this.rescan("node-setup"));
    this.pools = buildPools(config, inv, this.pools, Date.now());
    for (const pool of this.pools.values())
      await this.publisher.publish(pool, this.runtimes.get(pool.config.fullName)?.reg);
  }

  private poolOf(name: string): Pool {
    const pool = this.pools?.get(name);
    if (pool === undefined) throw new Error(`Cannot find pool "${name}": it is not configured`);
    return pool;
  }

  private async addPool(r: ResourceConfig): Promise<void> {
    const name = r.fullName;
    const socketPath = join(this.socketDir(), this.socketName(r));
    if (Buffer.byteLength(socketPath) > 107) {
      throw new Error(`Cannot serve "${name}": socket path "${socketPath}" is longer than 107 bytes`);
    }
    const reg = new PoolRegistration({
      config: r,
      socketPath,
      kubeletSocket: this.kubeletSocket,
      mode: this.mode,
      pool: () => this.poolOf(name),
      allocate: (ids) => this.allocate(name, ids),
      daemonRunning: () => this.stateValue === DaemonState.Running,
      log: this.opts.log,
      metrics: this.metrics,
      ...(this.opts.registerTimeoutMs === undefined ? {} : { registerTimeoutMs: this.opts.registerTimeoutMs }),
    });
    this.runtimes.set(name, { key: poolKey(r), reg });
    const pool = this.poolOf(name);
    reg.lastView = kubeletView(pool);
    await this.publisher.writeCdiSpec(pool);
    await reg.start();
    this.publisher.countDevices(pool);
  }

  private async removePool(name: string): Promise<void> {
    const rt = this.runtimes.get(name);
    if (rt === undefined) return;
    this.runtimes.delete(name);
    await rt.reg.stop();
    await this.publisher.removeCdiSpec(rt.reg.config);
    this.metrics.drop("accelnet_deviceplugin_devices", { resource: name });
    this.opts.log.info("pool removed", { resource: name });
  }

  private async allocate(name: string, ids: readonly (readonly string[])[]): Promise<ContainerAllocation[]> {
    if (Date.now() - this.rescanner.lastScanAt > (this.opts.allocateMaxAgeMs ?? 1000)) {
      // The requested devices, read again (a parentless vDPA device's name is no PCI function: everything).
      const known = this.poolOf(name).devices;
      const fns = ids.flat().map((id) => known.find((d) => d.id === id)?.pci?.addr ?? null);
      await this.rescanner.rescan("allocate", fns.includes(null) ? FULL : pciScope(...(fns as string[])));
    }
    const pool = this.poolOf(name);
    try {
      const out = ids.map((c) => allocateContainer(pool, c, { cdi: this.opts.cdiDir !== null }));
      await this.publisher.writeDeviceInfo(pool, ids.flat());
      this.metrics.inc("accelnet_deviceplugin_allocations_total", { resource: name, result: "ok" }, ids.length);
      this.metrics.inc("accelnet_deviceplugin_allocated_devices_total", { resource: name }, ids.flat().length);
      this.opts.log.info("allocated", { resource: name, deviceIDs: ids.map((c) => c.join(",")) });
      return out;
    } catch (err) {
      this.metrics.inc("accelnet_deviceplugin_allocations_total", { resource: name, result: "error" }, ids.length);
      this.opts.log.warn("allocate refused", { resource: name, error: err });
      throw err;
    }
  }

  private watchError(path: string, err: Error): void {
    this.metrics.inc("accelnet_deviceplugin_errors_total", { kind: "watch" });
    this.opts.log.error("file watch failed", { path, error: err });
  }

  /** Our socket gone or replaced, kubelet.sock recreated: each pool looks (socket-watch.ts runs this one at a time). */
  private async checkSocketsOnce(): Promise<void> {
    for (const rt of [...this.runtimes.values()]) await rt.reg.checkSocket();
  }

  private watchdog(): void {
    if (this.stateValue !== DaemonState.Running) return;
    this.socketWatch?.tick();
    for (const rt of this.runtimes.values()) rt.reg.watchdog(this.opts.watchdogMs ?? 5000);
  }

  private stopWatching(): void {
    this.rescanner.stopTriggers();
    this.socketWatch?.stop();
    if (this.watchdogTimer !== null) clearInterval(this.watchdogTimer);
    this.watchdogTimer = null;
    for (const rt of this.runtimes.values()) rt.reg.quiesce();
  }

  /** Node setup, serialised by its runner; the pools scan that follows picks up what it changed. */
  private async convergeNode(setup: NodeSetup | null, trigger: string): Promise<void> {
    if (this.nodeSetup !== null) await this.nodeSetup.converge(setup, trigger);
    else if (setup !== null) this.opts.log.warn("node setup is off (--node-setup=false): nodeSetup is ignored");
  }

  /** /status: node setup's last outcome per PF and the pools' device counts, so an admin sees why a pool is short. */
  private status(): unknown {
    const pools = [...(this.pools?.values() ?? [])].map((p) => ({
      resource: p.config.fullName,
      healthy: p.devices.filter((d) => d.healthy).length,
      unhealthy: p.devices.filter((d) => !d.healthy).length,
    }));
    return { state: this.stateValue, nodeSetup: this.nodeSetup?.status ?? null, pools };
  }

  private unhealthyReason(): string | null {
    if (this.stateValue !== DaemonState.Running) return `device plugin is ${this.stateValue}`;
    for (const rt of this.runtimes.values()) {
      const why = rt.reg.unhealthyReason();
      if (why !== null) return why;
    }
    return null;
  }
}
