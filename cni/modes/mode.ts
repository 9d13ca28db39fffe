// What a mode (macvlan, sriov, vdpa) provides. Each mode's file holds parseConf, add, del, check and
// status, in that order, readable top to bottom; `release` frees one stored attachment for GC.
import type { AttachmentState } from "../lib/state.js";
import type { Result } from "../lib/result.js";
import type { CniRequest } from "../skel/types.js";

export const MODE_NAMES = ["macvlan", "sriov", "vdpa"] as const;
export type ModeName = (typeof MODE_NAMES)[number];

export interface Mode {
  readonly name: ModeName;
  add(req: CniRequest): Promise<Result>;
  del(req: CniRequest): Promise<void>;
  check(req: CniRequest): Promise<void>;
  status(req: CniRequest): Promise<void>;
  /** GC: undo one attachment that is no longer valid, from its stored state. */
  release(state: AttachmentState, req: CniRequest): Promise<void>;
}
