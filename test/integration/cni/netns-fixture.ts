// Throwaway network namespaces and veth masters for CNI integration tests (root only).
// Every name carries a per-fixture random prefix, and cleanup() removes everything even after a failure.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach } from "vitest";
import { IPAM_VERSIONS_FILE } from "../../../cni/lib/ipam-versions.js";

export const isRoot = process.getuid?.() === 0;
export const HELPER = resolve("dist/native/accelnet-helper-asan");
export const haveHelper = existsSync(HELPER);
export const havePlugins = existsSync("/usr/lib/cni/host-local") && existsSync("/usr/lib/cni/static");

export function ip(...args: string[]): string {
  return execFileSync("ip", args, { encoding: "utf8" });
}

export function ipJson<T = Record<string, unknown>[]>(...args: string[]): T {
  return JSON.parse(ip("-j", ...args) || "[]") as T;
}

export interface IfAddr {
  ifname: string;
  link_type?: string;
  address?: string;
  mtu: number;
  operstate?: string;
  flags: string[];
  addr_info: { family: string; local: string; prefixlen: number }[];
  linkinfo?: { info_kind: string; info_data?: { mode?: string } };
}

export class Fixture {
  readonly prefix = `ai${randomBytes(3).toString("hex")}`;
  readonly dir = mkdtempSync(join(tmpdir(), "acn-it-"));
  private readonly netnses: string[] = [];
  private readonly links: string[] = [];

  /** A new netns; returns its path under /run/netns. */
  netns(suffix: string): string {
    const name = `${this.prefix}${suffix}`;
    ip("netns", "add", name);
    this.netnses.push(name);
    return `/run/netns/${name}`;
  }

  deleteNetns(path: string): void {
    ip("netns", "del", path.split("/").pop() ?? "");
  }

  /** A veth pair in the host netns, both ends up; returns the master's name. */
  master(suffix: string, mtu = 1500): string {
    const name = `${this.prefix}${suffix}`;
    ip("link", "add", name, "mtu", String(mtu), "type", "veth", "peer", "name", `${name}p`, "mtu", String(mtu));
    this.links.push(name);
    ip("link", "set", name, "up");
    ip("link", "set", `${name}p`, "up");
    return name;
  }

  /** The links of a netns other than lo, with details. */
  linksIn(netns: string): IfAddr[] {
    return ipJson<IfAddr[]>("-d", "-n", netns.split("/").pop() ?? "", "addr", "show").filter((l) => l.ifname !== "lo");
  }

  routesIn(netns: string): { dst: string; gateway?: string; dev: string }[] {
    const ns = netns.split("/").pop() ?? "";
    return [
      ...ipJson<{ dst: string; gateway?: string; dev: string }[]>("-n", ns, "route", "show"),
      ...ipJson<{ dst: string; gateway?: string; dev: string }[]>("-n", ns, "-6", "route", "show"),
    ];
  }

  /** Addresses host-local still holds in its data dir (files named like IPs). */
  reservedIps(dataDir: string, network: string): string[] {
    const dir = join(dataDir, network);
    if (!existsSync(dir)) return [];
    return readdirSync(dir).filter((f) => /^[0-9a-f.:]+$/.test(f) && (f.includes(".") || f.includes(":")));
  }

  cleanup(): void {
    for (const n of this.netnses) {
      try {
        ip("netns", "del", n);
      } catch {
        // already deleted by the test
      }
    }
    for (const l of this.links) {
      try {
        ip("link", "del", l);
      } catch {
        // gone with its peer
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Every entry under `dir` (directories end in "/"), with file contents where `withContent` says so. */
export function tree(dir: string, withContent: (name: string) => boolean = () => true): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    let names: string[];
    try {
      names = readdirSync(join(dir, rel));
    } catch {
      return;
    }
    for (const n of names.sort()) {
      const path = join(dir, rel, n);
      if (statSync(path).isDirectory()) {
        out[`${rel}${n}/`] = "";
        walk(`${rel}${n}/`);
      } else out[`${rel}${n}`] = withContent(n) ? readFileSync(path, "utf8") : "";
    }
  };
  walk("");
  return out;
}

/**
 * Whether a path in the state dir (relative, directories ending in "/") belongs to attachments. The node's
 * caches are not: the extracted helper (bin/) and the IPAM plugins' versions (ipam-versions.json) stay
 * when every attachment is gone.
 */
export function isAttachmentFile(rel: string): boolean {
  return !rel.endsWith("/") && !rel.startsWith("bin/") && rel !== IPAM_VERSIONS_FILE;
}

/** What every macvlan suite starts each test with: a new fixture, a pod netns, a master, host-local's and accelnet's dirs. */
export interface MacvlanWorld {
  fx: Fixture;
  pod: string;
  master: string;
  ipamDir: string;
  stateDir: string;
}

/** Registers the suite's beforeEach/afterEach; read the fields inside tests and hooks, not at definition time. */
export function useMacvlanWorld(): MacvlanWorld {
  const w = {} as MacvlanWorld;
  beforeEach(() => {
    const fx = new Fixture();
    Object.assign(w, {
      fx,
      pod: fx.netns("pod"),
      master: fx.master("m0"),
      ipamDir: join(fx.dir, "ipam"),
      stateDir: join(fx.dir, "state"),
    });
  });
  afterEach(() => w.fx.cleanup());
  return w;
}
