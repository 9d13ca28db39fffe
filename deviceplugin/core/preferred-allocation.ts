// GetPreferredAllocation policy: keep must_include, then prefer devices on one
// NUMA node, then either pack onto as few PFs as possible ("pack", the default:
// leaves whole PFs free for large requests) or spread across PFs ("spread":
// fewer pods share a PF's bandwidth and fate).
import type { AllocationOptions } from "./config.js";
import type { Pool, PoolDevice } from "./pools.js";

export interface PreferredRequest {
  readonly available: readonly string[];
  readonly mustInclude: readonly string[];
  readonly size: number;
}

function uniq(ids: readonly string[]): string[] {
  return [...new Set(ids)];
}

function groupKey(d: PoolDevice | undefined, id: string): string {
  return d?.pfAddr ?? `self:${id}`;
}

/** Orders candidates by PF grouping according to the policy. */
function orderByPf(
  ids: readonly string[],
  info: ReadonlyMap<string, PoolDevice>,
  usedPfs: ReadonlySet<string>,
  policy: AllocationOptions["policy"],
): string[] {
  const groups = new Map<string, string[]>();
  for (const id of [...ids].sort()) {
    const key = groupKey(info.get(id), id);
    const g = groups.get(key);
    if (g === undefined) groups.set(key, [id]);
    else g.push(id);
  }
  const sorted = [...groups.entries()].sort(([ka, a], [kb, b]) => {
    const ua = usedPfs.has(ka) ? 1 : 0;
    const ub = usedPfs.has(kb) ? 1 : 0;
    // pack: PFs already in use first; spread: unused PFs first.
    if (ua !== ub) return policy === "pack" ? ub - ua : ua - ub;
    if (a.length !== b.length) return b.length - a.length;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  if (policy === "pack") return sorted.flatMap(([, g]) => g);
  const out: string[] = [];
  for (let i = 0; out.length < ids.length; i++) {
    for (const [, g] of sorted) {
      const id = g[i];
      if (id !== undefined) out.push(id);
    }
  }
  return out;
}

/** Returns the preferred device IDs for one container request. */
export function preferredAllocation(pool: Pool, req: PreferredRequest, opts: AllocationOptions): string[] {
  const chosen = uniq(req.mustInclude);
  if (chosen.length >= req.size) return chosen;
  const need = req.size - chosen.length;
  const info = new Map(pool.devices.map((d) => [d.id, d]));
  const taken = new Set(chosen);
  // Devices kubelet offers that we know as Unhealthy are never preferred; unknown IDs go last.
  const candidates = uniq(req.available).filter((id) => !taken.has(id) && info.get(id)?.healthy !== false);
  const known = candidates.filter((id) => info.has(id));
  const unknown = candidates.filter((id) => !info.has(id));
  const usedPfs = new Set(chosen.map((id) => groupKey(info.get(id), id)));

  let primary = known;
  let byNodeOrder: string[] | null = null;
  if (opts.preferSingleNuma) {
    const byNode = new Map<number, string[]>();
    for (const id of known) {
      const node = info.get(id)?.numaNode;
      if (node === null || node === undefined) continue;
      const list = byNode.get(node);
      if (list === undefined) byNode.set(node, [id]);
      else list.push(id);
    }
    const mustNodes = new Set(
      chosen.map((id) => info.get(id)?.numaNode).filter((n): n is number => typeof n === "number"),
    );
    const fitting = [...byNode.entries()]
      .filter(([, ids]) => ids.length >= need)
      .sort(([na, a], [nb, b]) => {
        const ma = mustNodes.has(na) ? 1 : 0;
        const mb = mustNodes.has(nb) ? 1 : 0;
        if (ma !== mb) return mb - ma;
        if (a.length !== b.length) return b.length - a.length;
        return na - nb;
      });
    const best = fitting[0];
    if (best !== undefined) primary = best[1];
    else {
      // No node fits alone: use as few nodes as possible, biggest first.
      const nodes = [...byNode.entries()].sort(([na, a], [nb, b]) => b.length - a.length || na - nb);
      const noNode = known.filter((id) => typeof info.get(id)?.numaNode !== "number");
      byNodeOrder = [
        ...nodes.flatMap(([, list]) => orderByPf(list, info, usedPfs, opts.policy)),
        ...orderByPf(noNode, info, usedPfs, opts.policy),
      ];
    }
  }
  const primarySet = new Set(primary);
  const ordered = [
    ...(byNodeOrder ?? [
      ...orderByPf(primary, info, usedPfs, opts.policy),
      ...orderByPf(
        known.filter((id) => !primarySet.has(id)),
        info,
        usedPfs,
        opts.policy,
      ),
    ]),
    ...unknown,
  ];
  return [...chosen, ...ordered.slice(0, need)];
}
