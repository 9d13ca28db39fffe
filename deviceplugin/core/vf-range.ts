// "ens1f0#0,2-7" selects VFs 0 and 2..7 of PF ens1f0 (pfNames and rootDevices
// selectors of sriov-network-device-plugin). Without "#", every VF matches.

export interface VfRangeSelector {
  /** PF netdev name or PF PCI address. */
  readonly parent: string;
  /** Inclusive [first, last] pairs; null means every VF. */
  readonly ranges: readonly (readonly [number, number])[] | null;
}

const MAX_VF_INDEX = 65535;

function parseIndex(text: string, whole: string): number {
  if (!/^\d+$/.test(text)) throw new RangeError(`Cannot parse VF range "${whole}": "${text}" is not a VF index`);
  const n = Number(text);
  if (n > MAX_VF_INDEX)
    throw new RangeError(`Cannot parse VF range "${whole}": VF index ${n} is above ${MAX_VF_INDEX}`);
  return n;
}

/** Parses "name" or "name#a,b-c". Throws RangeError with the offending text. */
export function parseVfRangeSelector(text: string): VfRangeSelector {
  const hash = text.indexOf("#");
  if (hash < 0) {
    if (text === "") throw new RangeError('Cannot parse VF range "": the name is empty');
    return { parent: text, ranges: null };
  }
  const parent = text.slice(0, hash);
  if (parent === "") throw new RangeError(`Cannot parse VF range "${text}": the name before "#" is empty`);
  const spec = text.slice(hash + 1);
  if (spec === "") throw new RangeError(`Cannot parse VF range "${text}": no VF index after "#"`);
  const ranges = spec.split(",").map((part): [number, number] => {
    const dash = part.indexOf("-");
    if (dash < 0) {
      const n = parseIndex(part, text);
      return [n, n];
    }
    const first = parseIndex(part.slice(0, dash), text);
    const last = parseIndex(part.slice(dash + 1), text);
    if (first > last) throw new RangeError(`Cannot parse VF range "${text}": range "${part}" ends before it starts`);
    return [first, last];
  });
  return { parent, ranges };
}

/** True when vfIndex is selected by the ranges (null ranges select every VF). */
export function vfIndexInRanges(sel: VfRangeSelector, vfIndex: number | null): boolean {
  if (sel.ranges === null) return true;
  if (vfIndex === null) return false;
  return sel.ranges.some(([a, b]) => vfIndex >= a && vfIndex <= b);
}
