// At start, before anything is advertised to kubelet, restore every VF and vDPA device whose pod is gone
// (its owner marker names a netns that no longer exists). A node that rebooted, or a runtime that never
// sent DEL, would otherwise leave those devices moved, renamed or re-configured and out of their pools.
// The restore logic is the CNI's own (cni/modes sriov and vdpa); it runs here because the device plugin
// is the one long-lived process on the node that shares the CNI's state dir.
import { existsSync } from "node:fs";
import type { Logger as CniLogger } from "../../cni/lib/log.js";
import type { ReconcileOptions, ReconcileReport } from "../../cni/lib/device-attachment.js";
import { reconcileOrphanedVdpa } from "../../cni/modes/vdpa.js";
import { reconcileOrphanedVfs } from "../../cni/modes/sriov.js";
import type { NativeClient } from "../../native/client/index.js";
import type { Logger } from "./logger.js";

type Reconcile = (
  stateDir: string,
  native: NativeClient,
  log: CniLogger,
  opts: ReconcileOptions,
) => Promise<ReconcileReport>;

export interface CniReconcileDeps {
  readonly kinds: readonly { readonly name: string; readonly reconcile: Reconcile }[];
}

export const defaultReconcileDeps: CniReconcileDeps = {
  kinds: [
    { name: "sriov", reconcile: reconcileOrphanedVfs },
    { name: "vdpa", reconcile: reconcileOrphanedVdpa },
  ],
};

export interface CniReconcileTotals {
  restored: number;
  failed: number;
}

/** The CNI's logger interface over the daemon's structured logger. */
function cniLogger(log: Logger): CniLogger {
  return {
    error: (msg) => log.error(msg, { component: "cni-reconcile" }),
    warning: (msg) => log.warn(msg, { component: "cni-reconcile" }),
    info: (msg) => log.info(msg, { component: "cni-reconcile" }),
    debug: (msg) => log.debug(msg, { component: "cni-reconcile" }),
  };
}

/**
 * Restores orphaned devices from the CNI state in `stateDir`. Never throws: a device that cannot be
 * restored is logged and counted, and the daemon starts anyway (it reports that device as it finds it).
 */
export async function reconcileCniState(
  stateDir: string,
  native: NativeClient,
  log: Logger,
  env: Readonly<Record<string, string | undefined>>,
  deps: CniReconcileDeps = defaultReconcileDeps,
): Promise<CniReconcileTotals> {
  const totals: CniReconcileTotals = { restored: 0, failed: 0 };
  if (!existsSync(stateDir)) {
    log.info("no CNI state dir: nothing to reconcile", { stateDir });
    return totals;
  }
  // IPAM DEL for an orphan runs the IPAM plugin with PATH and CNI_PATH (the stored CNI_PATH otherwise).
  const opts: ReconcileOptions = { env: { PATH: env["PATH"], CNI_PATH: env["CNI_PATH"] } };
  for (const kind of deps.kinds) {
    try {
      const report = await kind.reconcile(stateDir, native, cniLogger(log), opts);
      totals.restored += report.restored.length;
      totals.failed += report.failed.length;
      for (const key of report.restored) log.info("restored a device whose pod is gone", { kind: kind.name, key });
      for (const f of report.failed) {
        log.error("cannot restore a device whose pod is gone", { kind: kind.name, key: f.key, error: f.error });
      }
    } catch (err) {
      totals.failed++;
      log.error("cannot reconcile CNI state", { kind: kind.name, stateDir, error: err });
    }
  }
  return totals;
}
