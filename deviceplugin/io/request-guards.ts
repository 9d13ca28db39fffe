// Type guards on kubelet's requests: every field is checked here before core
// sees it, so core can trust its inputs.
import { InvalidRequestError } from "../core/errors.js";
import type { PreferredRequest } from "../core/preferred-allocation.js";

const MAX_IDS = 4096;

function ids(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string"))
    throw new InvalidRequestError(`Cannot read ${what}: expected a list of strings`);
  if (v.length > MAX_IDS) throw new InvalidRequestError(`Cannot read ${what}: ${v.length} IDs is more than ${MAX_IDS}`);
  return v;
}

function containerRequests(req: unknown, what: string): unknown[] {
  const list =
    typeof req === "object" && req !== null ? (req as { container_requests?: unknown }).container_requests : undefined;
  if (!Array.isArray(list)) throw new InvalidRequestError(`Cannot read ${what}: container_requests is not a list`);
  return list;
}

/** AllocateRequest → device IDs per container. */
export function allocateRequestIds(req: unknown): string[][] {
  return containerRequests(req, "AllocateRequest").map((c, i) =>
    ids(
      typeof c === "object" && c !== null ? (c as { devices_ids?: unknown }).devices_ids : undefined,
      `AllocateRequest.container_requests[${i}].devices_ids`,
    ),
  );
}

/** PreferredAllocationRequest → one PreferredRequest per container. */
export function preferredRequests(req: unknown): PreferredRequest[] {
  return containerRequests(req, "PreferredAllocationRequest").map((c, i) => {
    const o = (typeof c === "object" && c !== null ? c : {}) as Record<string, unknown>;
    const where = `PreferredAllocationRequest.container_requests[${i}]`;
    const size = o["allocation_size"];
    if (typeof size !== "number" || !Number.isInteger(size) || size < 0 || size > MAX_IDS) {
      throw new InvalidRequestError(
        `Cannot read ${where}.allocation_size: expected 0..${MAX_IDS}, got ${JSON.stringify(size)}`,
      );
    }
    return {
      available: ids(o["available_deviceIDs"], `${where}.available_deviceIDs`),
      mustInclude: ids(o["must_include_deviceIDs"], `${where}.must_include_deviceIDs`),
      size,
    };
  });
}
