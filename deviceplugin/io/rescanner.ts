// Rescan scheduling: when the inventory is read again, and how much of it.
// Hints (kernel uevents, link changes, inventory file changes) name what
// changed; a burst of them becomes one rescan that reads only the PCI functions
// they name (core/inventory-update.ts), or everything when a hint names nothing
// we can attribute. The timer is the slow safety net and always reads
// everything. Each new inventory goes to the daemon whole (onInventory).
import { watch, type FSWatcher } from "node:fs";
import type { Inventory } from "../core/inventory.js";
import {
  FULL,
  applyReads,
  functionsToRead,
  mergeScopes,
  missingPfs,
  type RescanScope,
} from "../core/inventory-update.js";
import type { InventorySource } from "./inventory-source.js";
import type { HintSink, HintSource } from "./uevent-hints.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";

const TRACER = "daemon";

export interface RescannerOptions {
  readonly inventory: InventorySource;
  /** Long-lived hint producers (kernel uevents), next to the timer and the inventory's file hints. */
  readonly hintSources: readonly HintSource[];
  /** A hint rescans this long after the first hint of a burst (the burst of one VF change is coalesced). */
  readonly hintCoalesceMs: number;
  readonly intervalMs: number;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** False once the daemon stops running: rescans and hints are then ignored. */
  readonly running: () => boolean;
  /** Builds and publishes the pools of a new inventory. */
  readonly onInventory: (inv: Inventory, trigger: string) => Promise<void>;
}

/** What one rescan read: every function (null) or these. */
interface Read {
  readonly inv: Inventory;
  readonly functions: readonly string[] | null;
}

export class Rescanner {
  private last: Inventory | null = null;
  private lastAt = 0;
  private scanning: Promise<void> | null = null;
  /** What the rescans asked for during the running one want read (null: none queued). */
  private queued: RescanScope | null = null;
  private hintTimer: NodeJS.Timeout | null = null;
  private hinted: RescanScope | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly watchers: FSWatcher[] = [];

  constructor(private readonly opts: RescannerOptions) {}

  /** When the last rescan (full or targeted) finished, in ms since the epoch; 0 before the first. */
  get lastScanAt(): number {
    return this.lastAt;
  }

  /** Starts the hint sources, the inventory file watches and the safety-net timer. */
  startTriggers(): void {
    for (const source of this.opts.hintSources) source.start(this.hintSinkFor(source.name));
    for (const path of this.opts.inventory.hintPaths) {
      try {
        this.watchers.push(
          watch(path, { recursive: false }, () => this.hint("hint", FULL)).on("error", (err) =>
            this.watchFailed(path, err),
          ),
        );
      } catch (err) {
        this.opts.log.warn("cannot watch for inventory hints, relying on the rescan timer", { path, error: err });
      }
    }
    this.timer = setInterval(() => void this.rescan("timer"), this.opts.intervalMs);
  }

  stopTriggers(): void {
    for (const source of this.opts.hintSources) source.stop();
    for (const w of this.watchers) w.close();
    this.watchers.length = 0;
    for (const t of [this.timer, this.hintTimer]) if (t !== null) clearTimeout(t);
    this.timer = null;
    this.hintTimer = null;
  }

  /**
   * Reads the inventory now and hands it to the daemon (start, reload). A failed
   * read throws when there is no inventory yet; later it is logged and counted,
   * and the last inventory stays.
   */
  async scan(trigger: string, scope: RescanScope = FULL): Promise<void> {
    const started = performance.now();
    const kind = trigger.split(":")[0] ?? trigger;
    let read: Read;
    try {
      read = await this.read(scope);
    } catch (err) {
      this.opts.metrics.inc("accelnet_deviceplugin_rescans_total", { trigger: kind, result: "error" });
      this.opts.metrics.inc("accelnet_deviceplugin_errors_total", { kind: "inventory" });
      if (this.last === null) throw err;
      this.opts.log.error("inventory rescan failed, keeping the last device lists", { trigger, error: err });
      return;
    }
    this.last = read.inv;
    this.lastAt = Date.now();
    this.opts.metrics.inc("accelnet_deviceplugin_rescans_total", { trigger: kind, result: "ok" });
    this.opts.metrics.set("accelnet_deviceplugin_rescan_duration_seconds", {}, (performance.now() - started) / 1000);
    await this.opts.onInventory(read.inv, trigger);
    this.opts.log.trace(TRACER, "rescanned", {
      trigger,
      ms: Math.round(performance.now() - started),
      read: read.functions ?? "all",
    });
  }

  /**
   * Rescans unless one is running; a call during a rescan queues one more, which
   * reads what every queued call asked for, and returns the running one.
   */
  async rescan(trigger: string, scope: RescanScope = FULL): Promise<void> {
    if (!this.opts.running()) return;
    if (this.scanning !== null) {
      this.queued = mergeScopes(this.queued, scope);
      return this.scanning;
    }
    this.scanning = this.scan(trigger, scope).finally(() => {
      this.scanning = null;
      const queued = this.queued;
      this.queued = null;
      if (queued !== null) void this.rescan("queued", queued);
    });
    return this.scanning;
  }

  /** Rescans soon: the first hint of a burst schedules one rescan, later ones join it and its scope. */
  hint(trigger: string, scope: RescanScope): void {
    if (!this.opts.running()) return;
    this.hinted = mergeScopes(this.hinted, scope);
    if (this.hintTimer !== null) return;
    this.hintTimer = setTimeout(() => {
      this.hintTimer = null;
      const hinted = this.hinted ?? FULL;
      this.hinted = null;
      void this.rescan(trigger, hinted);
    }, this.opts.hintCoalesceMs);
  }

  /** The functions a scope names, read and merged into the last inventory; everything when that cannot be done. */
  private async read(scope: RescanScope): Promise<Read> {
    const { inventory } = this.opts;
    const last = this.last;
    const functions = last === null ? null : functionsToRead(last, scope);
    if (last !== null && functions !== null && inventory.readFunctions !== undefined) {
      const read = await inventory.readFunctions(functions);
      const pfs = missingPfs(read);
      if (pfs.length > 0) for (const [addr, pci] of await inventory.readFunctions(pfs)) read.set(addr, pci);
      const inv = applyReads(last, read);
      if (inv !== null) return { inv, functions: [...read.keys()] };
    }
    return { inv: await inventory.read(), functions: null };
  }

  private hintSinkFor(source: string): HintSink {
    return {
      hint: (trigger, detail, scope) => {
        this.opts.log.trace(TRACER, "rescan hint", { source, trigger, ...detail });
        this.hint(trigger, scope ?? FULL);
      },
      failed: (error, retryMs) => {
        this.opts.metrics.inc("accelnet_deviceplugin_errors_total", { kind: source });
        this.opts.log.error("rescan hint source failed, restarting it; the rescan timer keeps running", {
          source,
          error,
          retryMs,
        });
      },
    };
  }

  private watchFailed(path: string, err: Error): void {
    this.opts.metrics.inc("accelnet_deviceplugin_errors_total", { kind: "watch" });
    this.opts.log.error("file watch failed", { path, error: err });
  }
}
