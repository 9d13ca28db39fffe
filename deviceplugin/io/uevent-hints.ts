// Kernel uevents and rtnetlink link changes (carrier, operstate) as rescan
// hints: runs the helper's uevent-monitor through native/client and turns its
// lines into hints for the daemon, each naming what it concerns
// (core/hint-scope.ts). An event is a hint, never a fact (the rescan reads sysfs). Restart policy lives here: a
// monitor that ends is restarted with exponential backoff while the daemon's
// rescan timer keeps the device lists right meanwhile.
import type { UeventMessage } from "../../native/client/index.js";
import { FULL, type RescanScope } from "../core/inventory-update.js";
import { scopeOfLink, scopeOfUevent } from "../core/hint-scope.js";

/** Where hints go (the daemon). */
export interface HintSink {
  /** Something may have changed: rescan soon what scope names (default: everything). */
  hint(trigger: string, detail?: Readonly<Record<string, unknown>>, scope?: RescanScope): void;
  /** The source stopped working; it tries again after retryMs. */
  failed(error: Error, retryMs: number): void;
}

/** A long-lived producer of rescan hints, started and stopped with the daemon. */
export interface HintSource {
  /** Names the source in logs and in the errors metric (`kind`). */
  readonly name: string;
  start(sink: HintSink): void;
  stop(): void;
}

/** The part of native/client's UeventWatch this module needs. */
export interface MonitorHandle {
  close(): void;
  readonly exited: Promise<Error | null>;
}

export type StartMonitor = (onMessage: (m: UeventMessage) => void) => MonitorHandle;

export interface UeventHintOptions {
  /** Starts one monitor process (native/client watchUevents in production). */
  readonly startMonitor: StartMonitor;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** A monitor that ran this long after "ready" resets the backoff. */
  readonly stableMs?: number;
}

export const UEVENT_TRIGGER = "uevent";
export const LINK_TRIGGER = "link";

export class UeventHintSource implements HintSource {
  readonly name = "uevents";
  private sink: HintSink | null = null;
  private monitor: MonitorHandle | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private backoffMs: number;
  private readyAt: number | null = null;
  /** Bumped per launched monitor: messages and exits of older monitors are ignored. */
  private generation = 0;

  constructor(private readonly opts: UeventHintOptions) {
    this.backoffMs = opts.initialBackoffMs ?? 500;
  }

  start(sink: HintSink): void {
    if (this.sink !== null) throw new Error("Cannot start the uevent hint source: it is already started");
    this.sink = sink;
    this.launch();
  }

  stop(): void {
    this.sink = null;
    if (this.restartTimer !== null) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    this.generation++;
    this.monitor?.close();
    this.monitor = null;
  }

  private launch(): void {
    const sink = this.sink;
    if (sink === null) return;
    this.readyAt = null;
    const generation = ++this.generation;
    this.monitor = this.opts.startMonitor((m) => this.onMessage(generation, m));
    void this.monitor.exited.then((err) => this.onExit(generation, err));
  }

  private onMessage(generation: number, m: UeventMessage): void {
    const sink = this.sink;
    if (sink === null || generation !== this.generation) return;
    switch (m.type) {
      case "ready":
        // Events between the last scan and now were not seen: look once.
        this.readyAt = Date.now();
        sink.hint(UEVENT_TRIGGER, { reason: "monitor ready" }, FULL);
        break;
      case "lost":
        sink.hint(UEVENT_TRIGGER, { reason: "kernel dropped uevents" }, FULL);
        break;
      case "event":
        sink.hint(UEVENT_TRIGGER, { ...m.event }, scopeOfUevent(m.event));
        break;
      case "link":
        // A carrier or operstate change (rtnetlink): no uevent reports a PF losing carrier.
        sink.hint(LINK_TRIGGER, { ...m.link }, scopeOfLink(m.link));
        break;
    }
  }

  private onExit(generation: number, err: Error | null): void {
    const sink = this.sink;
    if (sink === null || generation !== this.generation) return; // stopped, or an old monitor
    this.monitor = null;
    const max = this.opts.maxBackoffMs ?? 30_000;
    if (this.readyAt !== null && Date.now() - this.readyAt >= (this.opts.stableMs ?? 10_000)) {
      this.backoffMs = this.opts.initialBackoffMs ?? 500;
    }
    const retryMs = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, max);
    sink.failed(err ?? new Error("uevent monitor ended"), retryMs);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      this.launch();
    }, retryMs);
    this.restartTimer.unref();
  }
}
