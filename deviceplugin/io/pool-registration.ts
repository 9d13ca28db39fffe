// One pool's registration lifecycle: its gRPC server on its socket, and its
// registration with kubelet, as an explicit state machine. The daemon owns the
// pools and decides when to look; this module decides what a pool does.
//
//   New ──start──▶ Serving ──register──▶ Registering ──ok──▶ Registered
//                     ▲                      │ error/retry        │
//                     └──────────────────────┴────────────────────┘ socket gone, stream
//                                                                   cancelled, watchdog
//   any ──our socket path holds another inode──▶ Passive (a newer instance serves it)
//   any ──stop──▶ Stopped
//
// Liveness is decided from files and streams, never from "can I connect":
//  - our socket's inode vanished → kubelet deleted it (restart): rebind, register;
//  - our socket path holds another inode → a newer instance took over: stop (passive);
//  - kubelet.sock has a new inode → kubelet restarted: register again;
//  - kubelet cancelled our ListAndWatch while kubelet.sock exists → register again;
//  - no ListAndWatch stream open for watchdogMs while registered → register again.
// In plugin-watcher mode kubelet dials us: Registered is what it last reported.
import { basename } from "node:path";
import type { ResourceConfig } from "../core/config.js";
import type { ContainerAllocation } from "../core/allocate-response.js";
import type { Pool } from "../core/pools.js";
import { PluginServer, SocketTakenError, inodeOf } from "./plugin-server.js";
import { registerWithKubelet } from "./kubelet-registration.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";

const TRACER = "daemon";

export enum PoolState {
  /** Not serving yet: socket checks leave the pool alone. */
  New = "new",
  /** Serving our socket, not registered with the current kubelet. */
  Serving = "serving",
  /** A Register call to kubelet.sock (inode `kubeletIno`) is in flight. */
  Registering = "registering",
  /** kubelet (kubelet.sock inode `kubeletIno` in classic mode) accepted us. */
  Registered = "registered",
  /** Another instance owns our socket path: we stay out of its way. */
  Passive = "passive",
  Stopped = "stopped",
}

export interface PoolRegistrationOptions {
  readonly config: ResourceConfig;
  readonly socketPath: string;
  readonly kubeletSocket: string;
  readonly mode: "classic" | "plugin-watcher";
  readonly pool: () => Pool;
  readonly allocate: (idsPerContainer: readonly (readonly string[])[]) => Promise<ContainerAllocation[]>;
  /** The daemon still runs: a pool reacts to nothing once it shuts down. */
  readonly daemonRunning: () => boolean;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly registerTimeoutMs?: number;
}

export class PoolRegistration {
  private stateValue = PoolState.New;
  /** kubelet.sock inode of the Registering/Registered state; null otherwise. */
  private kubeletIno: number | null = null;
  /** Bumped by every registration attempt and by stop; a retry loop stops when it is superseded. */
  private generation = 0;
  private lastStreamAt = Date.now();
  private readonly server: PluginServer;
  config: ResourceConfig;
  /** The device list last pushed to kubelet (kubeletView); "" before the first. */
  lastView = "";

  constructor(private readonly opts: PoolRegistrationOptions) {
    this.config = opts.config;
    const name = opts.config.fullName;
    this.server = new PluginServer({
      resource: name,
      socketPath: opts.socketPath,
      pool: opts.pool,
      allocate: opts.allocate,
      pluginWatcher: opts.mode === "plugin-watcher",
      log: opts.log,
      onStream: (event, cancelledByPeer) => this.onStream(event, cancelledByPeer),
      onRegistrationStatus: (ok, error) => this.onRegistrationStatus(ok, error),
    });
  }

  get state(): PoolState {
    return this.stateValue;
  }

  get name(): string {
    return this.config.fullName;
  }

  get socketPath(): string {
    return this.opts.socketPath;
  }

  get serving(): boolean {
    return this.server.serving;
  }

  /** Binds the socket (replacing a stale one or an older instance's) and, in classic mode, registers. */
  async start(): Promise<void> {
    if (this.stateValue !== PoolState.New) throw new Error(`Cannot start pool "${this.name}": it is ${this.state}`);
    await this.server.start();
    this.stateValue = PoolState.Serving;
    if (this.opts.mode === "classic") this.register("start");
  }

  /** Stops serving; removes the socket unless another instance owns it now. */
  async stop(graceMs?: number): Promise<void> {
    const passive = this.stateValue === PoolState.Passive;
    this.toStopped();
    await this.server.stop(!passive, graceMs);
  }

  /** Immediate stop: calls in flight are cut, the socket is left. */
  forceStop(): void {
    this.toStopped();
    void this.server.stop(false, 0);
  }

  /** Ends retry loops without stopping the server (the daemon stops watching first). */
  quiesce(): void {
    this.generation++;
  }

  /** Sends a changed device list to kubelet's open streams. */
  push(pool: Pool): void {
    this.server.push(pool);
  }

  /** Reacts to a change in the socket dirs: our socket gone or replaced, kubelet.sock recreated. */
  async checkSocket(): Promise<void> {
    if (this.stateValue === PoolState.New || this.stateValue === PoolState.Passive) return;
    if (this.stateValue === PoolState.Stopped) return;
    const ino = inodeOf(this.socketPath);
    let rebound = false;
    if (ino === null) {
      // kubelet deletes every file in its dir when it starts. (A newer instance never
      // leaves the path empty: it renames its socket over ours.) Bind again, but only
      // where nobody else has bound since: "exclusive" fails when the path is taken.
      this.opts.log.info("our socket was removed (kubelet restart?), serving again", { resource: this.name });
      await this.server.stop(false, 0);
      if (this.stopped()) return;
      try {
        await this.server.start("exclusive");
      } catch (err) {
        if (err instanceof SocketTakenError) {
          this.standDown();
        } else {
          this.opts.metrics.inc("accelnet_deviceplugin_errors_total", { kind: "serve" });
          this.opts.log.error("cannot serve again", { resource: this.name, error: err });
        }
        return;
      }
      if (this.removed()) {
        await this.server.stop(true, 0); // removed by a reload meanwhile
        return;
      }
      this.toServing();
      rebound = true;
    } else if (ino !== this.server.socketInode) {
      // A newer instance bound our path. Stop first so kubelet sees our stream end
      // before, not after, anything else we do (kubernetes#121994).
      this.standDown();
      await this.server.stop(false, 0);
      return;
    }
    const kubeletIno = inodeOf(this.opts.kubeletSocket);
    // One registration per kubelet.sock; one under way for it is enough unless it dials our old socket.
    const current = this.kubeletIno === kubeletIno;
    const due =
      rebound || !(current && (this.stateValue === PoolState.Registered || this.stateValue === PoolState.Registering));
    if (this.opts.mode === "classic" && kubeletIno !== null && due) {
      this.register(rebound ? "socket re-created" : "kubelet.sock re-created");
    }
  }

  /** Registers again when kubelet has had no ListAndWatch stream from us for limitMs. */
  watchdog(limitMs: number): void {
    if (this.opts.mode !== "classic" || this.stateValue !== PoolState.Registered) return;
    if (this.server.openStreams > 0 || Date.now() - this.lastStreamAt < limitMs) return;
    if (inodeOf(this.opts.kubeletSocket) === null) return;
    this.opts.log.warn("no ListAndWatch stream from kubelet, registering again", { resource: this.name });
    this.toServing();
    this.lastStreamAt = Date.now();
    this.register("watchdog");
  }

  /** Why this pool does not serve kubelet; null when it does (or stood down for a newer instance). */
  unhealthyReason(): string | null {
    if (this.stateValue === PoolState.Passive) return null;
    if (!this.server.serving) return `pool "${this.name}" is not serving`;
    return null;
  }

  /** Registers with kubelet.sock, retrying with backoff until superseded or done. */
  private register(why: string): void {
    const generation = ++this.generation;
    const name = this.name;
    const attempt = async (delayMs: number): Promise<void> => {
      if (generation !== this.generation || this.stopped() || this.stateValue === PoolState.Passive) return;
      const kubeletIno = inodeOf(this.opts.kubeletSocket);
      if (kubeletIno === null) {
        this.opts.log.trace(TRACER, "kubelet.sock absent, waiting for it", { resource: name });
        this.toServing();
        return;
      }
      this.stateValue = PoolState.Registering;
      this.kubeletIno = kubeletIno;
      try {
        await registerWithKubelet({
          kubeletSocket: this.opts.kubeletSocket,
          endpoint: basename(this.socketPath),
          resourceName: name,
          timeoutMs: this.opts.registerTimeoutMs ?? 10_000,
        });
        if (generation !== this.generation) return;
        this.stateValue = PoolState.Registered;
        this.lastStreamAt = Date.now();
        this.opts.metrics.inc("accelnet_deviceplugin_registrations_total", { resource: name, result: "ok" });
        this.opts.log.info("registered with kubelet", { resource: name, why });
      } catch (err) {
        if (generation !== this.generation) return;
        this.toServing();
        this.opts.metrics.inc("accelnet_deviceplugin_registrations_total", { resource: name, result: "error" });
        this.opts.log.warn("registration failed, retrying", { resource: name, why, error: err, retryMs: delayMs });
        setTimeout(() => void attempt(Math.min(delayMs * 2, 5000)), delayMs).unref();
      }
    };
    void attempt(100);
  }

  private onStream(event: "open" | "close", cancelledByPeer: boolean): void {
    if (this.stateValue === PoolState.Stopped) return;
    this.lastStreamAt = Date.now();
    this.opts.metrics.set(
      "accelnet_deviceplugin_listandwatch_streams",
      { resource: this.name },
      this.server.openStreams,
    );
    this.opts.log.trace(TRACER, `ListAndWatch stream ${event}`, { resource: this.name, cancelledByPeer });
    // kubernetes#121994: kubelet drops a new registration when an old instance's
    // stream ends; it then cancels our stream. Register again while kubelet runs.
    if (
      event === "close" &&
      cancelledByPeer &&
      this.opts.daemonRunning() &&
      this.stateValue !== PoolState.Passive &&
      this.opts.mode === "classic"
    ) {
      this.toServing();
      setTimeout(() => {
        if (this.stateValue === PoolState.Stopped || this.stateValue === PoolState.Passive) return;
        if (inodeOf(this.opts.kubeletSocket) !== null && this.server.openStreams === 0) {
          this.register("stream cancelled by kubelet");
        }
      }, 20);
    }
  }

  private onRegistrationStatus(ok: boolean, error: string): void {
    this.opts.metrics.inc("accelnet_deviceplugin_registrations_total", {
      resource: this.name,
      result: ok ? "ok" : "error",
    });
    if (this.stateValue === PoolState.Serving || this.stateValue === PoolState.Registered) {
      this.stateValue = ok ? PoolState.Registered : PoolState.Serving;
    }
    if (ok) this.opts.log.info("registered with kubelet (plugin watcher)", { resource: this.name });
    else this.opts.log.error("kubelet rejected the registration", { resource: this.name, error });
  }

  /** Another instance serves this pool's socket path now: stay out of its way. */
  private standDown(): void {
    this.opts.log.warn("another instance took over the socket, stopping this pool", { resource: this.name });
    this.stateValue = PoolState.Passive;
    this.kubeletIno = null;
    this.generation++;
  }

  private toServing(): void {
    if (this.stateValue === PoolState.Stopped || this.stateValue === PoolState.Passive) return;
    this.stateValue = PoolState.Serving;
    this.kubeletIno = null;
  }

  private toStopped(): void {
    this.stateValue = PoolState.Stopped;
    this.kubeletIno = null;
    this.generation++;
  }

  /** Stopped (by a reload or shutdown), possibly while we awaited. */
  private removed(): boolean {
    return this.stateValue === PoolState.Stopped;
  }

  private stopped(): boolean {
    return this.removed() || !this.opts.daemonRunning();
  }
}
