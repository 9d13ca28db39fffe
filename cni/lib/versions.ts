// CNI spec versions: the supported list, ordering, and decoding `cniVersion` from a config.
import { CniCode, CniError } from "./errors.js";

export const SUPPORTED_VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];
export const LATEST_VERSION: CniVersion = "1.1.0";

/** A missing cniVersion means 0.1.0 (spec: "Version considerations"). */
export const DEFAULT_VERSION: CniVersion = "0.1.0";

export function isSupportedVersion(v: string): v is CniVersion {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** Parses "X.Y.Z" (also "X.Y" and "X") into numbers; null when it is not a version. */
export function parseVersion(v: string): [number, number, number] | null {
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(v);
  if (m === null) return null;
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
}

/** Compares two versions; both must parse. Negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  if (pa === null || pb === null) throw new RangeError(`Cannot compare versions "${a}" and "${b}"`);
  return pa[0] - pb[0] || pa[1] - pb[1] || pa[2] - pb[2];
}

export function atLeast(v: string, min: string): boolean {
  return compareVersions(v, min) >= 0;
}

/** The cniVersion of a decoded config object: "0.1.0" when absent or empty, code 6 when not a string. */
export function decodeVersion(conf: Record<string, unknown>): string {
  const v = conf["cniVersion"];
  if (v === undefined || v === "") return DEFAULT_VERSION;
  if (typeof v !== "string") {
    throw new CniError(CniCode.DecodingFailure, `Cannot decode "cniVersion": expected a string, got ${typeof v}`);
  }
  return v;
}

/** Checks the request version against ours: code 1 when not supported, like libcni's reconciler. */
export function requireSupported(v: string): CniVersion {
  if (isSupportedVersion(v)) return v;
  throw new CniError(CniCode.IncompatibleVersion, `Cannot use cniVersion "${v}": incompatible CNI versions`, {
    details: `config is "${v}", plugin supports [${SUPPORTED_VERSIONS.join(" ")}]`,
  });
}

/** The highest version in both lists, or null. Unparsable entries are ignored. */
export function highestCommon(ours: readonly string[], theirs: readonly string[]): string | null {
  const common = ours.filter((v) => theirs.includes(v) && parseVersion(v) !== null);
  common.sort(compareVersions);
  return common.at(-1) ?? null;
}
