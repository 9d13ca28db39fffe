// The device plugin daemon: config → inventory → pools → one gRPC server per
// pool, registered with kubelet, kept registered through kubelet restarts,
// plugin restarts (kubernetes#121994) and config reloads. Each pool's own
// registration lifecycle is pool-registration.ts; this file holds the daemon's:
// config, scans, watches, device-info and CDI files, HTTP.
import { watch, type FSWatcher } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Server } from "node:http";
import { parseConfig, type DevicePluginConfig, type ResourceConfig } from "../core/config.js";
import { allocateContainer, type ContainerAllocation } from "../core/allocate-response.js";
import { buildPools, kubeletView, type Pool, type Pools } from "../core/pools.js";
import { deviceInfoContent, deviceInfoFileName } from "../core/device-info.js";
import { cdiSpecFileName, cdiSpecOf } from "../core/cdi-spec.js";
import type { Inventory } from "../core/inventory.js";
import { inodeOf } from "./plugin-server.js";
import { PoolRegistration } from "./pool-registration.js";
import type { InventorySource } from "./inventory-source.js";
import type { HintSink, HintSource } from "./uevent-hints.js";
import type { Logger } from "./logger.js";
import { Metrics } from "./metrics.js";
import { startHttpServer } from "./http-server.js";
import { NodeSetupRunner, type NodeSetupOptions } from "./node-setup.js";
import type { NodeSetup } from "../core/node-setup-config.js";

const TRACER = "daemon";

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

export class Daemon {
  private stateValue: DaemonState = DaemonState.New;
  private config: DevicePluginConfig | null = null;
  private pools: Pools | null = null;
  private lastScanAt = 0;
  private readonly runtimes = new Map<string, PoolRuntime>();
  private readonly watchers: FSWatcher[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly writtenDevinfo = new Set<string>();
  private readonly writtenCdi = new Set<string>();
  private http: Server | null = null;
  private scanning: Promise<void> | null = null;
  private rescanQueued = false;
  private dirCheckTimer: NodeJS.Timeout | null = null;
  private checkingSockets: Promise<void> | null = null;
  private recheckSockets = false;
  private reloadTimer: NodeJS.Timeout | null = null;
  private hintTimer: NodeJS.Timeout | null = null;
  readonly metrics = new Metrics();
  readonly mode: "classic" | "plugin-watcher";
  private readonly nodeSetup: NodeSetupRunner | null;

  constructor(private readonly opts: DaemonOptions) {
    this.mode = opts.registrationMode === "auto" ? "classic" : opts.registrationMode;
    const ns = opts.nodeSetup ?? null;
    this.nodeSetup =
      ns === null
        ? null
        : new NodeSetupRunner({ ...ns, inventory: opts.inventory, log: opts.log, metrics: this.metrics });
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
    await this.scan("start");
    if (this.opts.metricsAddr !== null) {
      this.http = await startHttpServer(this.opts.metricsAddr, {
        metrics: this.metrics,
        unhealthyReason: () => this.unhealthyReason(),
        status: () => this.status(),
      });
    }
    await mkdir(this.socketDir(), { recursive: true });
    for (const r of this.config.resources) await this.addPool(r);
    this.watchDirs();
    for (const source of this.opts.hintSources ?? []) source.start(this.hintSinkFor(source.name));
    this.timers.push(setInterval(() => void this.rescan("timer"), this.opts.rescanIntervalMs ?? 1000));
    this.timers.push(setInterval(() => this.watchdog(), 500));
    this.stateValue = DaemonState.Running;
    // Changes between binding and watching raised no event: look once now.
    void this.checkSockets();
    log.info("device plugin started", { mode: this.mode, pools: this.config.resources.map((r) => r.fullName) });
  }

  /** Graceful stop: end streams, stop servers, remove sockets, device-info files and CDI specs. */
  async tryShutdown(): Promise<void> {
    if (this.stateValue === DaemonState.Stopped || this.stateValue === DaemonState.ShuttingDown) return;
    this.stateValue = DaemonState.ShuttingDown;
    this.stopWatching();
    await Promise.all([...this.runtimes.values()].map((rt) => rt.reg.stop()));
    this.runtimes.clear();
    await Promise.all([...this.writtenDevinfo].map((p) => rm(p, { force: true })));
    await Promise.all([...this.writtenCdi].map((p) => rm(p, { force: true })));
    this.writtenDevinfo.clear();
    this.writtenCdi.clear();
    await new Promise<void>((resolve) => (this.http === null ? resolve() : this.http.close(() => resolve())));
    this.stateValue = DaemonState.Stopped;
    this.opts.log.info("device plugin stopped");
  }

  /** Immediate stop (second signal): servers are killed, files are left. */
  forceShutdown(): void {
    this.stopWatching();
    for (const rt of this.runtimes.values()) rt.reg.forceStop();
    this.http?.closeAllConnections();
    this.http?.close();
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
    const keys = new Map(next.resources.map((r) => [r.fullName, JSON.stringify(r)]));
    for (const [name, rt] of this.runtimes) {
      if (keys.get(name) === rt.key) continue;
      await this.removePool(name);
    }
    this.config = next;
    this.pools = null;
    await this.scan(`reload:${trigger}`);
    for (const r of next.resources) {
      const rt = this.runtimes.get(r.fullName);
      if (rt === undefined) await this.addPool(r);
      else rt.reg.config = r;
    }
    this.metrics.inc("accelnet_deviceplugin_config_reloads_total", { result: "ok" });
    this.opts.log.info("config reloaded", { trigger, pools: next.resources.map((r) => r.fullName) });
    return true;
  }

  /** Rescans the inventory and pushes changed pools to kubelet. Concurrent calls coalesce. */
  async rescan(trigger: string): Promise<void> {
    if (this.stateValue !== DaemonState.Running) return;
    if (this.scanning !== null) {
      this.rescanQueued = true;
      return this.scanning;
    }
    this.scanning = this.scan(trigger).finally(() => {
      this.scanning = null;
      if (this.rescanQueued) {
        this.rescanQueued = false;
        void this.rescan("queued");
      }
    });
    return this.scanning;
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

  private async scan(trigger: string): Promise<void> {
    const config = this.config;
    if (config === null) return;
    const started = performance.now();
    let inv: Inventory;
    try {
      inv = await this.opts.inventory.read();
    } catch (err) {
      this.metrics.inc("accelnet_deviceplugin_rescans_total", {
        trigger: trigger.split(":")[0] ?? trigger,
        result: "error",
      });
      this.metrics.inc("accelnet_deviceplugin_errors_total", { kind: "inventory" });
      if (this.pools === null) throw err;
      this.opts.log.error("inventory rescan failed, keeping the last device lists", { trigger, error: err });
      return;
    }
    this.nodeSetup?.watchVfCounts(inv, () => void this.rescan("node-setup"));
    this.pools = buildPools(config, inv, this.pools, Date.now());
    this.lastScanAt = Date.now();
    this.metrics.inc("accelnet_deviceplugin_rescans_total", {
      trigger: trigger.split(":")[0] ?? trigger,
      result: "ok",
    });
    this.metrics.set("accelnet_deviceplugin_rescan_duration_seconds", {}, (performance.now() - started) / 1000);
    for (const pool of this.pools.values()) await this.publish(pool);
    this.opts.log.trace(TRACER, "rescanned", { trigger, ms: Math.round(performance.now() - started) });
  }

  /** Updates metrics, CDI spec and open streams of a pool whose kubelet view changed. */
  private async publish(pool: Pool): Promise<void> {
    const name = pool.config.fullName;
    const healthy = pool.devices.filter((d) => d.healthy).length;
    this.metrics.set("accelnet_deviceplugin_devices", { resource: name, health: "Healthy" }, healthy);
    this.metrics.set(
      "accelnet_deviceplugin_devices",
      { resource: name, health: "Unhealthy" },
      pool.devices.length - healthy,
    );
    const rt = this.runtimes.get(name);
    const view = kubeletView(pool);
    if (rt === undefined || rt.reg.lastView === view) return;
    rt.reg.lastView = view;
    await this.writeCdiSpec(pool);
    rt.reg.push(pool);
    for (const d of pool.devices.filter((x) => !x.healthy)) {
      this.opts.log.info("device unhealthy", { resource: name, deviceID: d.id, reason: d.reason });
    }
  }

  private async writeCdiSpec(pool: Pool): Promise<void> {
    if (this.opts.cdiDir === null) return;
    const path = join(this.opts.cdiDir, cdiSpecFileName(pool.config));
    await mkdir(this.opts.cdiDir, { recursive: true });
    await writeFile(`${path}.tmp`, `${JSON.stringify(cdiSpecOf(pool), null, 2)}\n`);
    await rm(path, { force: true });
    await rename(`${path}.tmp`, path);
    this.writtenCdi.add(path);
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
    this.runtimes.set(name, { key: JSON.stringify(r), reg });
    const pool = this.poolOf(name);
    reg.lastView = kubeletView(pool);
    await this.writeCdiSpec(pool);
    await reg.start();
    this.publishMetricsOnly(pool);
  }

  private publishMetricsOnly(pool: Pool): void {
    const healthy = pool.devices.filter((d) => d.healthy).length;
    const name = pool.config.fullName;
    this.metrics.set("accelnet_deviceplugin_devices", { resource: name, health: "Healthy" }, healthy);
    this.metrics.set(
      "accelnet_deviceplugin_devices",
      { resource: name, health: "Unhealthy" },
      pool.devices.length - healthy,
    );
  }

  private async removePool(name: string): Promise<void> {
    const rt = this.runtimes.get(name);
    if (rt === undefined) return;
    this.runtimes.delete(name);
    await rt.reg.stop();
    if (this.opts.cdiDir !== null) {
      const path = join(this.opts.cdiDir, cdiSpecFileName(rt.reg.config));
      await rm(path, { force: true });
      this.writtenCdi.delete(path);
    }
    this.metrics.drop("accelnet_deviceplugin_devices", { resource: name });
    this.opts.log.info("pool removed", { resource: name });
  }

  private async allocate(name: string, ids: readonly (readonly string[])[]): Promise<ContainerAllocation[]> {
    if (Date.now() - this.lastScanAt > (this.opts.allocateMaxAgeMs ?? 1000)) await this.rescan("allocate");
    const pool = this.poolOf(name);
    try {
      const out = ids.map((c) => allocateContainer(pool, c, { cdi: this.opts.cdiDir !== null }));
      await this.writeDeviceInfo(pool, ids.flat());
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

  private async writeDeviceInfo(pool: Pool, ids: readonly string[]): Promise<void> {
    await mkdir(this.opts.devinfoDir, { recursive: true });
    for (const id of ids) {
      const dev = pool.devices.find((d) => d.id === id);
      if (dev === undefined) continue;
      const path = join(this.opts.devinfoDir, deviceInfoFileName(pool, id));
      await rm(path, { force: true });
      await writeFile(path, deviceInfoContent(dev), { mode: 0o444 });
      this.writtenDevinfo.add(path);
    }
  }

  private watchDirs(): void {
    const onDirEvent = (): void => {
      if (this.dirCheckTimer !== null) return;
      // Coalesce the burst of events of one kubelet restart, but stay well inside 0.2 s.
      this.dirCheckTimer = setTimeout(() => {
        this.dirCheckTimer = null;
        void this.checkSockets();
      }, 5);
    };
    const dirs = new Set([this.socketDir()]);
    if (this.mode === "classic") dirs.add(this.opts.devicePluginDir);
    for (const dir of dirs) this.watchers.push(watch(dir, onDirEvent).on("error", (err) => this.watchError(dir, err)));
    const configDir = dirname(this.opts.configPath);
    this.watchers.push(
      watch(configDir, (_event, file) => {
        // ConfigMap volumes swap a "..data" symlink; any change in the dir may be ours.
        if (file !== null && file !== basename(this.opts.configPath) && !file.startsWith("..")) return;
        if (this.reloadTimer !== null) clearTimeout(this.reloadTimer);
        this.reloadTimer = setTimeout(() => {
          this.reloadTimer = null;
          void this.reload("file change");
        }, 100);
      }).on("error", (err) => this.watchError(configDir, err)),
    );
    for (const path of this.opts.inventory.hintPaths) {
      try {
        this.watchers.push(
          watch(path, { recursive: false }, () => this.hint("hint")).on("error", (err) => this.watchError(path, err)),
        );
      } catch (err) {
        this.opts.log.warn("cannot watch for inventory hints, relying on the rescan timer", { path, error: err });
      }
    }
  }

  /** Rescans soon: the first hint of a burst schedules one rescan, later ones join it. */
  private hint(trigger: string): void {
    if (this.hintTimer !== null || this.stateValue !== DaemonState.Running) return;
    this.hintTimer = setTimeout(() => {
      this.hintTimer = null;
      void this.rescan(trigger);
    }, this.opts.hintCoalesceMs ?? 50);
  }

  private hintSinkFor(source: string): HintSink {
    return {
      hint: (trigger, detail) => {
        this.opts.log.trace(TRACER, "rescan hint", { source, trigger, ...detail });
        this.hint(trigger);
      },
      failed: (error, retryMs) => {
        this.metrics.inc("accelnet_deviceplugin_errors_total", { kind: source });
        this.opts.log.error("rescan hint source failed, restarting it; the rescan timer keeps running", {
          source,
          error,
          retryMs,
        });
      },
    };
  }

  private watchError(path: string, err: Error): void {
    this.metrics.inc("accelnet_deviceplugin_errors_total", { kind: "watch" });
    this.opts.log.error("file watch failed", { path, error: err });
  }

  /**
   * Reacts to changes in the socket dirs: our socket gone or replaced, kubelet.sock
   * recreated. Runs one at a time: a run that overlapped our own rebinding would
   * mistake our new socket for another instance's. Events during a run ask for
   * one more run.
   */
  private async checkSockets(): Promise<void> {
    if (this.checkingSockets !== null) {
      this.recheckSockets = true;
      return this.checkingSockets;
    }
    this.checkingSockets = (async () => {
      do {
        this.recheckSockets = false;
        await this.checkSocketsOnce();
      } while (this.recheckSockets && this.stateValue === DaemonState.Running);
    })().finally(() => {
      this.checkingSockets = null;
    });
    return this.checkingSockets;
  }

  private async checkSocketsOnce(): Promise<void> {
    if (this.stateValue !== DaemonState.Running) return;
    for (const rt of [...this.runtimes.values()]) await rt.reg.checkSocket();
  }

  private watchdog(): void {
    if (this.stateValue !== DaemonState.Running) return;
    for (const rt of this.runtimes.values()) rt.reg.watchdog(this.opts.watchdogMs ?? 5000);
  }

  private stopWatching(): void {
    for (const source of this.opts.hintSources ?? []) source.stop();
    for (const w of this.watchers) w.close();
    this.watchers.length = 0;
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    for (const t of [this.dirCheckTimer, this.reloadTimer, this.hintTimer]) if (t !== null) clearTimeout(t);
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
