// What a mode (macvlan, sriov, vdpa, vhostuser) provides. Each mode's file holds parseConf, add, del, check and
// status, in that order, readable top to bottom; `release` frees one stored attachment for GC.
import type { AttachmentState } from "../lib/state.js";
import type { Result } from "../lib/result.js";
import type { CniRequest } from "../skel/types.js";

export const MODE_NAMES = ["macvlan", "sriov", "vdpa", "vhostuser"] as const;
export type ModeName = (typeof MODE_NAMES)[number];

export interface Mode {
  readonly name: ModeName;
  add(req: CniRequest): Promise<Result>;
  del(req: CniRequest): Promise<void>;
  check(req: CniRequest): Promise<void>;
  status(req: CniRequest): Promise<void>;
  /** GC: undo one attachment that is no longer valid, from its stored state. */
  release(state: AttachmentState, req: CniRequest): Promise<void>;
  /** GC, after every stale stored attachment was released: what the mode finds outside the state (OVS ports). */
  sweep?(req: CniRequest): Promise<void>;
}

/**
 * A mode whose module is imported on first use: its code (and what only it needs, such as the OVSDB
 * client) is not evaluated at start-up by the other modes' calls.
 */
export function lazyMode(name: ModeName, load: () => Promise<Mode>): Mode {
  return {
    name,
    add: async (req) => (await load()).add(req),
    del: async (req) => (await load()).del(req),
    check: async (req) => (await load()).check(req),
    status: async (req) => (await load()).status(req),
    release: async (state, req) => (await load()).release(state, req),
    sweep: async (req) => (await load()).sweep?.(req),
  };
}
