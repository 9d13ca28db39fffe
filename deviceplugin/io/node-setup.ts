// Converges the node to the config's nodeSetup (core/node-setup-plan.ts) through
// the helper, one convergence at a time. Each round observes the node (inventory,
// PF MTUs, vdpa mgmtdevs, the CNI's owner markers), plans, and runs the steps,
// keeping the record of what accelnet changed (so removing the section undoes
// it) in a root-only file, written before each change and after it. Rounds repeat
// while they change something (a new VF count is followed by that PF's VF steps),
// at most MAX_ROUNDS. Every refusal and failure is one log line; the outcome per
// PF is kept for /status and metrics.
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { OwnerMarkers } from "../../cni/lib/owner.js";
import { cmd, NativeError, type NativeClient } from "../../native/client/index.js";
import type { Inventory } from "../core/inventory.js";
import type { NodeSetup } from "../core/node-setup-config.js";
import {
  planNodeSetup,
  vfCountDrift,
  stepDevice,
  vdpaKernelDriver,
  type MgmtdevInfo,
  type ObservedNode,
  type Refusal,
  type Step,
} from "../core/node-setup-plan.js";
import { applyRecordOps, EMPTY_RECORD, parseRecord, type NodeSetupRecord } from "../core/node-setup-record.js";
import type { InventorySource } from "./inventory-source.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";

const MAX_ROUNDS = 4;

export interface NodeSetupOptions {
  readonly native: NativeClient;
  /** The CNI's state dir: its owner markers say which devices attachments hold. */
  readonly cniStateDir: string;
  /** What node setup changed (root-only dir). */
  readonly recordPath: string;
}

export type PfState = "converged" | "refused" | "failed";
export const PF_STATES: readonly PfState[] = ["converged", "refused", "failed"];

export interface StepFailure {
  readonly pf: string | null;
  readonly device: string | null;
  readonly step: Step["kind"];
  readonly error: string;
  readonly heldBy: string | null;
}

export interface NodeSetupStatus {
  readonly trigger: string;
  readonly at: string;
  /** "unchanged": the node matched; "changed": steps ran and all went through; "partial": refusals or failures; "error": could not observe. */
  readonly result: "unchanged" | "changed" | "partial" | "error";
  readonly stepsRun: number;
  readonly rounds: number;
  readonly error: string | null;
  /** vfCountDrift() after this run: VF counts still not as configured (refused, failed). */
  readonly drift: string;
  readonly pfs: readonly {
    readonly pf: string;
    readonly state: PfState;
    readonly refusals: readonly Refusal[];
    readonly failures: readonly StepFailure[];
  }[];
}

export interface NodeSetupRunnerDeps extends NodeSetupOptions {
  readonly inventory: InventorySource;
  readonly log: Logger;
  readonly metrics: Metrics;
}

function errorText(err: unknown): string {
  if (err instanceof NativeError) return err.extack !== null ? `${err.message} (kernel: ${err.extack})` : err.message;
  return err instanceof Error ? err.message : String(err);
}

/** The owner markers as key → who holds the device. Every marker counts, stale or damaged: DEL or reconcile restores those. */
export function heldDevices(cniStateDir: string): Map<string, string> {
  const held = new Map<string, string>();
  for (const [key, o] of new OwnerMarkers(cniStateDir).list()) {
    held.set(
      key,
      o.containerID === ""
        ? "an attachment whose owner marker is damaged"
        : `container "${o.containerID}" (ifname ${o.ifname}, netns ${o.netns})`,
    );
  }
  return held;
}

export async function readRecord(path: string, log: Logger): Promise<NodeSetupRecord> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return EMPTY_RECORD;
    throw err;
  }
  try {
    return parseRecord(JSON.parse(text));
  } catch (err) {
    // Kept aside for an admin; node setup goes on as if it had changed nothing.
    await rename(path, `${path}.damaged`);
    log.error("node setup: the record of what it changed is damaged, moved aside", { path, error: err });
    return EMPTY_RECORD;
  }
}

export async function writeRecord(path: string, record: NodeSetupRecord): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(`${path}.tmp`, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}

function commandOf(s: Step) {
  switch (s.kind) {
    case "set-num-vfs":
      return cmd.sriovNumvfs({ addr: s.pf ?? "", count: s.count });
    case "set-pf-mtu":
      return cmd.linkSetMtu({ name: s.netdev, mtu: s.mtu });
    case "bind-vfio":
      return cmd.pciBind({ addr: s.vf, driver: "vfio-pci" });
    case "reprobe":
      return cmd.pciReprobe({ addr: s.vf });
    case "vdpa-del":
      return cmd.vdpaDevDel({ dev: s.name });
    case "vdpa-add":
      return cmd.vdpaDevAdd({
        name: s.name,
        mgmtdev: s.mgmtdev,
        ...(s.mac === null ? {} : { mac: s.mac }),
        ...(s.mtu === null ? {} : { mtu: s.mtu }),
        ...(s.maxVqp === null ? {} : { maxVqp: s.maxVqp }),
      });
    case "vdpa-bind":
      return cmd.vdpaBind({ dev: s.name, driver: vdpaKernelDriver(s.driver) });
    case "rescan":
      return null;
  }
}

function wantsVdpa(setup: NodeSetup | null, record: NodeSetupRecord): boolean {
  if (Object.keys(record.vdpa).length > 0) return true;
  if (setup === null) return false;
  return setup.vdpaDevices.length > 0 || setup.pfs.some((p) => p.vfs.some((v) => "vdpa" in v.use));
}

export class NodeSetupRunner {
  private running: Promise<NodeSetupStatus | null> = Promise.resolve(null);
  private statusValue: NodeSetupStatus | null = null;
  private knownPfs = new Set<string>();
  /** VF counts not as configured, as last seen; a scan that sees them change converges again. */
  private lastDrift = "";
  /** The latest setup asked for: a queued or drift-triggered run converges to it, never to an older one. */
  private desired: NodeSetup | null = null;
  /** Convergences running or queued; a scan meanwhile sees the node mid-change and starts none. */
  private busy = 0;

  constructor(private readonly d: NodeSetupRunnerDeps) {}

  /** The outcome of the last convergence (null: none ran yet). */
  get status(): NodeSetupStatus | null {
    return this.statusValue;
  }

  /** Converges to `setup`, after any convergence under way (never two at once). */
  converge(setup: NodeSetup | null, trigger: string): Promise<NodeSetupStatus | null> {
    this.desired = setup;
    return this.queue(trigger);
  }

  private queue(trigger: string): Promise<NodeSetupStatus | null> {
    this.busy++;
    const next = this.running.then(() => this.run(this.desired, trigger)).finally(() => this.busy--);
    this.running = next.catch(() => null);
    return next;
  }

  /**
   * Called with every inventory scan: when a configured PF's VF count changed from what the last
   * convergence left (someone wrote sriov_numvfs), converges again and calls `changed` if it did something.
   */
  watchVfCounts(inv: Inventory, changed: () => void): void {
    if (this.busy > 0) return;
    const drift = vfCountDrift(this.desired, inv);
    if (drift === this.lastDrift) return;
    this.lastDrift = drift;
    if (drift === "") return;
    void this.queue("vf-count-change").then((s) => {
      if (s !== null && s.stepsRun > 0) changed();
    });
  }

  private async observe(setup: NodeSetup | null, inv: Inventory, record: NodeSetupRecord): Promise<ObservedNode> {
    const pfMtus = new Map<string, number>();
    for (const pf of inv.pfs) {
      const netdev = pf.netdevs[0];
      if (netdev === undefined) continue;
      const configured = setup?.pfs.some(
        (p) =>
          p.mtu !== null &&
          ("pfName" in p.select ? pf.netdevs.includes(p.select.pfName) : p.select.pciAddress === pf.addr),
      );
      if (!configured && record.pfs[pf.addr]?.mtu === undefined) continue;
      try {
        const [{ link }] = await this.d.native.run([cmd.linkShow({ name: netdev })]);
        pfMtus.set(netdev, link.mtu);
      } catch (err) {
        this.d.log.warn("node setup: cannot read a PF's MTU", { pf: pf.addr, netdev, error: errorText(err) });
      }
    }
    let mgmtdevs: ObservedNode["mgmtdevs"] = [];
    if (wantsVdpa(setup, record)) {
      try {
        const [{ mgmtdevs: list }] = await this.d.native.run([cmd.vdpaMgmtdevList()]);
        mgmtdevs = list.map((m): MgmtdevInfo => ({
          name: m.bus === null ? m.dev : `${m.bus}/${m.dev}`,
          configAttrs: m.configAttrs,
        }));
      } catch (err) {
        mgmtdevs = { error: errorText(err) };
      }
    }
    return { inventory: inv, pfMtus, mgmtdevs, held: heldDevices(this.d.cniStateDir) };
  }

  private async run(setup: NodeSetup | null, trigger: string): Promise<NodeSetupStatus | null> {
    const { log, metrics } = this.d;
    const at = new Date().toISOString();
    let record: NodeSetupRecord;
    try {
      record = await readRecord(this.d.recordPath, log);
    } catch (err) {
      return this.finish({
        trigger,
        at,
        result: "error",
        stepsRun: 0,
        rounds: 0,
        error: errorText(err),
        drift: "",
        pfs: [],
      });
    }
    // A config without nodeSetup, on a node where accelnet changed nothing: nothing to look at.
    if (setup === null && Object.keys(record.pfs).length === 0 && Object.keys(record.vdpa).length === 0) {
      this.statusValue = null;
      return null;
    }
    const failures: StepFailure[] = [];
    // A failed step's PF (or, off any PF, its device) is left alone for the rest of this run.
    const failed = new Set<string>();
    const failedKey = (s: Step): string => s.pf ?? `device:${stepDevice(s) ?? ""}`;
    const logged = new Set<string>();
    const pfs = new Set<string>();
    let refusals: readonly Refusal[] = [];
    let stepsRun = 0;
    let rounds = 0;
    let drift = "";
    try {
      for (; rounds < MAX_ROUNDS;) {
        const inv = await this.d.inventory.read();
        drift = vfCountDrift(setup, inv);
        const plan = planNodeSetup(setup, await this.observe(setup, inv, record), record);
        rounds++;
        plan.pfs.forEach((p) => pfs.add(p));
        refusals = plan.refusals;
        if (JSON.stringify(plan.record) !== JSON.stringify(record)) {
          record = plan.record;
          await writeRecord(this.d.recordPath, record);
        }
        for (const r of plan.refusals) {
          const key = JSON.stringify(r);
          if (!logged.has(key)) this.logRefusal(r, trigger);
          logged.add(key);
        }
        const steps = plan.steps.filter((s) => s.kind !== "rescan" && !failed.has(failedKey(s)));
        if (steps.length === 0) break;
        let ran = 0;
        for (const s of steps) {
          if (failed.has(failedKey(s))) continue;
          record = applyRecordOps(record, s.before);
          if (s.before.length > 0) await writeRecord(this.d.recordPath, record);
          const command = commandOf(s);
          try {
            if (command !== null) await this.d.native.run([command]);
          } catch (err) {
            const f: StepFailure = {
              pf: s.pf,
              device: stepDevice(s),
              step: s.kind,
              error: errorText(err),
              heldBy: this.heldOnPf(plan.refusals, s.pf),
            };
            failures.push(f);
            failed.add(failedKey(s));
            metrics.inc("accelnet_deviceplugin_node_setup_steps_total", { step: s.kind, result: "error" });
            log.error("node setup: step failed", { trigger, ...f });
            continue;
          }
          record = applyRecordOps(record, s.after);
          if (s.after.length > 0) await writeRecord(this.d.recordPath, record);
          ran++;
          metrics.inc("accelnet_deviceplugin_node_setup_steps_total", { step: s.kind, result: "ok" });
          log.info("node setup: changed", { trigger, step: s.kind, pf: s.pf, device: stepDevice(s), ...stepDetail(s) });
        }
        stepsRun += ran;
        if (ran === 0) break;
      }
    } catch (err) {
      log.error("node setup: cannot converge the node", { trigger, error: errorText(err) });
      return this.finish({ trigger, at, result: "error", stepsRun, rounds, error: errorText(err), drift: "", pfs: [] });
    }
    const byPf = [...pfs].map((pf) => {
      const r = refusals.filter((x) => (x.pf ?? "vdpaDevices") === pf);
      const f = failures.filter((x) => (x.pf ?? "vdpaDevices") === pf);
      const state: PfState = f.length > 0 ? "failed" : r.length > 0 ? "refused" : "converged";
      return { pf, state, refusals: r, failures: f };
    });
    const partial = failures.length > 0 || refusals.length > 0;
    const result = partial ? "partial" : stepsRun > 0 ? "changed" : "unchanged";
    if (result === "unchanged") log.info("node setup: nothing to change", { trigger });
    else log.info("node setup: done", { trigger, result, stepsRun, rounds });
    return this.finish({ trigger, at, result, stepsRun, rounds, error: null, drift, pfs: byPf });
  }

  private heldOnPf(refusals: readonly Refusal[], pf: string | null): string | null {
    const held = refusals.filter((r) => r.pf === pf && r.heldBy !== null).map((r) => `${r.device}: ${r.heldBy}`);
    return held.length === 0 ? null : held.join("; ");
  }

  private logRefusal(r: Refusal, trigger: string): void {
    this.d.log.warn("node setup: refused", {
      trigger,
      pf: r.pf,
      device: r.device,
      step: r.step,
      reason: r.reason,
      heldBy: r.heldBy,
    });
  }

  private finish(s: NodeSetupStatus): NodeSetupStatus {
    const { metrics } = this.d;
    this.statusValue = s;
    this.lastDrift = s.drift;
    metrics.inc("accelnet_deviceplugin_node_setup_runs_total", { result: s.result });
    for (const pf of this.knownPfs) metrics.drop("accelnet_deviceplugin_node_setup_pf_state", { pf });
    this.knownPfs = new Set(s.pfs.map((p) => p.pf));
    for (const p of s.pfs) {
      for (const state of PF_STATES)
        metrics.set("accelnet_deviceplugin_node_setup_pf_state", { pf: p.pf, state }, p.state === state ? 1 : 0);
    }
    return s;
  }
}

function stepDetail(s: Step): Record<string, unknown> {
  switch (s.kind) {
    case "set-num-vfs":
      return { numVfs: s.count };
    case "set-pf-mtu":
      return { mtu: s.mtu };
    case "vdpa-add":
      return { mgmtdev: s.mgmtdev };
    case "vdpa-bind":
      return { driver: vdpaKernelDriver(s.driver) };
    default:
      return {};
  }
}
