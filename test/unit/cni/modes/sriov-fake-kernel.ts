// A fake NativeClient with a small SR-IOV kernel model (PFs with VFs, VF netdevs that move between
// netnses, PCI devices), for unit tests of the sriov mode without root. It reads the real Command
// objects (name + key=value args), so it sees exactly what the mode would send to the helper, and it
// behaves like the kernel where the mode depends on it: EEXIST on name clashes, the old name kept as
// an altname on rename, driver refusals per VF setting, ENODEV for missing links.
import {
  NativeError,
  type Command,
  type Link,
  type NativeClient,
  type PciDevice,
  type ResultsOf,
  type Vf,
} from "../../../../native/client/index.js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CniSetup } from "../dispatch-harness.js";
import { argsOf, fakeLink, makeNativeError, vfDefaults } from "../fake-native.js";

export const HOST = "";

/** The errname armed in @failNext for command @name, disarmed as it is taken (a failure fires once). */
export function takeArmedFailure(failNext: Map<string, string>, name: string): string | undefined {
  const fail = failNext.get(name);
  failNext.delete(name);
  return fail;
}

/** A temp dir with two empty files standing for pod netns paths (the fake kernels know netnses by path). */
export function tempPods(prefix: string): { dir: string; pod: string; pod2: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const pod = join(dir, "pod-netns");
  const pod2 = join(dir, "pod2-netns");
  writeFileSync(pod, "");
  writeFileSync(pod2, "");
  return { dir, pod, pod2 };
}

/** What every mode test's CNI call starts from: @kernel as the helper, container ctr1 with net1 in @pod, state under @dir. */
export function fakeCniBase(kernel: NativeClient, dir: string, pod: string, ipamLog: string): Omit<CniSetup, "funcs"> {
  return {
    deps: { native: () => kernel, lockTimeoutMs: 300, ownNetnsPath: join(dir, "self-netns") },
    env: {
      ACCELNET_STATE_DIR: join(dir, "state"),
      ACCELNET_DEVINFO_DIR: dir,
      CNI_CONTAINERID: "ctr1",
      CNI_NETNS: pod,
      CNI_IFNAME: "net1",
      CNI_PATH: dir,
      FAKE_LOG: ipamLog,
    },
  };
}
const HOST_PATHS = new Set(["/proc/self/ns/net", "/proc/1/ns/net"]);
/** strerror() of the errnos a fake driver refuses with. */
const errnoText: Record<string, string> = {
  EOPNOTSUPP: "Operation not supported",
  EINVAL: "Invalid argument",
  EPERM: "Operation not permitted",
  ERANGE: "Numerical result out of range",
};

class KernelError extends Error {
  constructor(
    readonly errname: string,
    message: string,
    readonly exitCode = 1,
    readonly object: string | null = null,
  ) {
    super(message);
  }
}

export interface FakeVfSpec {
  addr: string;
  index: number;
  /** Netdev in the host (kernel mode), or null with a DPDK driver. */
  netdev: string | null;
  driver: string;
  mac?: string;
}

export class SriovFakeKernel implements NativeClient {
  readonly calls: { name: string; args: Record<string, string> }[] = [];
  readonly netnses = new Set<string>();
  /** netns -> name -> link */
  readonly links = new Map<string, Map<string, Link>>([[HOST, new Map()]]);
  readonly pci = new Map<string, PciDevice>();
  readonly vfs = new Map<string, Vf[]>();
  readonly pfDriver = "igb";
  /** vf-set keys the "driver" refuses, with the errno name. */
  readonly refuse = new Map<string, string>();
  /**
   * Whether vf-set refuses mac=00:00:00:00:00:00 (exit 2), as the helper does today. The proposed
   * protocol accepts it for vf-set (drivers take it as "clear the administratively set MAC").
   */
  refuseZeroMac = false;
  /** Fails the next command with this name (once). */
  readonly failNext = new Map<string, string>();
  private nextIndex = 100;
  /** Addresses and routes per link index (a netns move flushes them, as the kernel does). */
  private readonly addrs = new Map<number, string[]>();
  private readonly routes = new Map<number, { dst: string; gw: string | null }[]>();

  constructor(
    readonly pfNetdev = "enp0s2",
    readonly pfAddr = "0000:00:02.0",
  ) {
    this.pci.set(pfAddr, pciDevice(pfAddr, { isPf: true, driver: this.pfDriver, netdevs: [pfNetdev] }));
    this.addLink(HOST, pfNetdev, { parentBus: "pci", parentDev: pfAddr, up: true });
    this.vfs.set(pfNetdev, []);
  }

  addNetns(path: string): void {
    this.netnses.add(path);
    this.links.set(path, new Map());
  }

  deleteNetns(path: string): void {
    // The kernel returns physical netdevs to the host netns (keeping the name when it is free).
    const links = this.links.get(path) ?? new Map<string, Link>();
    for (const link of links.values()) {
      const host = this.linksIn(HOST);
      const name = host.has(link.name) ? `dev${link.index}` : link.name;
      host.set(name, { ...link, name, up: false });
    }
    this.links.delete(path);
    this.netnses.delete(path);
  }

  addLink(netns: string, name: string, extra: Partial<Link> = {}): Link {
    const link = fakeLink(name, { index: this.nextIndex++, ...extra });
    this.linksIn(netns).set(name, link);
    return link;
  }

  addVf(spec: FakeVfSpec): void {
    const mac = spec.mac ?? `02:00:00:00:01:${spec.index.toString(16).padStart(2, "0")}`;
    this.vfs.get(this.pfNetdev)?.push(vfDefaults(spec.index, "00:00:00:00:00:00"));
    this.pci.set(
      spec.addr,
      pciDevice(spec.addr, { isVf: true, pf: this.pfAddr, vfIndex: spec.index, driver: spec.driver }),
    );
    if (spec.netdev !== null) {
      this.addLink(HOST, spec.netdev, { parentBus: "pci", parentDev: spec.addr, mac, altnames: [] });
    }
  }

  linksIn(netns: string): Map<string, Link> {
    const m = this.links.get(netns);
    if (m === undefined) throw new KernelError("ENOENT", `no netns ${netns}`, 2, "netns");
    return m;
  }

  /** Where the netdev of a VF is: [netns, link]. */
  findVfNetdev(addr: string): [string, Link] | undefined {
    for (const [ns, links] of this.links) {
      for (const link of links.values()) if (link.parentDev === addr) return [ns, link];
    }
    return undefined;
  }

  vf(index: number): Vf {
    const vf = this.vfs.get(this.pfNetdev)?.find((v) => v.vf === index);
    if (vf === undefined) throw new Error(`no VF ${index}`);
    return vf;
  }

  /** A deep copy of everything a restore must put back (links everywhere, VF settings). */
  snapshot(): unknown {
    const links = [...this.links]
      .map(([ns, m]) => [ns, [...m].sort()] as const)
      .sort((a, b) => a[0].localeCompare(b[0]));
    return JSON.parse(JSON.stringify({ links, vfs: [...this.vfs] }));
  }

  async run<const C extends readonly Command<unknown>[]>(cmds: C): Promise<ResultsOf<C>> {
    await Promise.resolve();
    // Like the helper, every netns path of the batch is checked before the first command runs: a
    // netns that an earlier command of the same batch would create does not exist yet (exit 2).
    for (const [index, c] of cmds.entries()) {
      const args = argsOf(c);
      const paths = c.name === "link-move" ? [args["netns"], args["to"]] : [args["netns"]];
      const missing = paths.find((p) => p !== undefined && !HOST_PATHS.has(p) && !this.links.has(p));
      if (missing !== undefined) {
        throw makeNativeError({
          message: `Cannot ${c.name} "netns": ${missing} does not exist`,
          exitCode: 2,
          index,
          cmd: c.name,
          op: "parse",
          object: "netns",
          errname: "ENOENT",
          errno: 2,
          completed: [],
        }) satisfies NativeError;
      }
    }
    const results: unknown[] = [];
    for (const [index, c] of cmds.entries()) {
      const args = argsOf(c);
      this.calls.push({ name: c.name, args });
      try {
        const fail = takeArmedFailure(this.failNext, c.name);
        if (fail !== undefined) throw new KernelError(fail, fail);
        results.push(this.exec(c.name, args));
      } catch (err) {
        if (!(err instanceof KernelError)) throw err;
        throw makeNativeError({
          message: `Cannot ${c.name} "${err.object ?? args["name"] ?? args["addr"] ?? args["pf"] ?? ""}": ${err.message}`,
          exitCode: err.exitCode,
          index,
          cmd: c.name,
          op: err.exitCode === 2 ? "parse" : "RTM_NEWLINK",
          object: err.object ?? args["name"] ?? args["addr"] ?? null,
          errname: err.errname,
          errno: 1,
          completed: results,
        }) satisfies NativeError;
      }
    }
    return results as ResultsOf<C>;
  }

  private ns(path: string | undefined): string {
    if (path === undefined || HOST_PATHS.has(path)) return HOST;
    if (!this.links.has(path)) throw new KernelError("ENOENT", "does not exist", 2, "netns");
    return path;
  }

  private get(ns: string, name: string): Link {
    const link = this.linksIn(ns).get(name);
    if (link === undefined) throw new KernelError("ENODEV", "No such device");
    return link;
  }

  private put(ns: string, old: string, link: Link): Link {
    this.linksIn(ns).delete(old);
    this.linksIn(ns).set(link.name, link);
    return link;
  }

  private addrsOf(link: Link) {
    return (this.addrs.get(link.index) ?? []).map((cidr) => ({
      family: cidr.includes(":") ? 6 : 4,
      address: cidr.split("/")[0],
      prefixlen: Number(cidr.split("/")[1]),
      ifindex: link.index,
      scope: "global",
    }));
  }

  private exec(name: string, a: Record<string, string>): unknown {
    switch (name) {
      case "pci-show": {
        const dev = this.pci.get(a["addr"] ?? "");
        if (dev === undefined) throw new KernelError("ENODEV", "No such device");
        const netdevs = [...this.linksIn(HOST).values()].filter((l) => l.parentDev === dev.addr).map((l) => l.name);
        return { pci: { ...dev, netdevs } };
      }
      case "vf-show":
        return { link: this.get(HOST, a["pf"] ?? ""), vfs: structuredClone(this.vfs.get(a["pf"] ?? "") ?? []) };
      case "vf-set": {
        const vf = this.vfs.get(a["pf"] ?? "")?.find((v) => v.vf === Number(a["vf"]));
        if (vf === undefined) throw new KernelError("ENODEV", "No such device");
        for (const key of Object.keys(a)) {
          const refusal = this.refuse.get(key === "proto" ? `proto=${a["proto"]}` : key);
          if (refusal !== undefined) throw new KernelError(refusal, errnoText[refusal] ?? refusal);
        }
        if (a["mac"] !== undefined) {
          if (this.refuseZeroMac && a["mac"] === "00:00:00:00:00:00")
            throw new KernelError("EINVAL", "mac: is all zero", 2, "mac");
          vf.mac = a["mac"];
        }
        if (a["vlan"] !== undefined) {
          vf.vlan = Number(a["vlan"]);
          vf.qos = Number(a["qos"] ?? 0);
          vf.vlanProto = (a["proto"] ?? "802.1q") as Vf["vlanProto"];
        }
        if (a["spoofchk"] !== undefined) vf.spoofchk = a["spoofchk"] === "on";
        if (a["trust"] !== undefined) vf.trust = a["trust"] === "on";
        if (a["state"] !== undefined) vf.linkState = a["state"] as Vf["linkState"];
        if (a["min_tx_rate"] !== undefined) vf.minTxRate = Number(a["min_tx_rate"]);
        if (a["max_tx_rate"] !== undefined) vf.maxTxRate = Number(a["max_tx_rate"]);
        return { vf: structuredClone(vf) };
      }
      case "netns-create":
        if (this.links.has(a["path"] ?? "")) throw new KernelError("EEXIST", "File exists");
        this.addNetns(a["path"] ?? "");
        return { netns: { path: a["path"], inode: 1 } };
      case "netns-delete":
        if (!this.links.has(a["path"] ?? "")) throw new KernelError("ENOENT", "No such file or directory");
        this.deleteNetns(a["path"] ?? "");
        return {};
      case "addr-list": {
        const link = this.get(this.ns(a["netns"]), a["name"] ?? "");
        return { addrs: this.addrsOf(link) };
      }
      case "link-show": {
        const link = this.get(this.ns(a["netns"]), a["name"] ?? "");
        const addrs = this.addrsOf(link);
        const routes = (this.routes.get(link.index) ?? []).map((r) => ({
          family: 4,
          dst: r.dst,
          gateway: r.gw,
          oif: link.index,
          table: 254,
          scope: "universe",
          protocol: "boot",
          metric: 0,
        }));
        return { link, addrs, routes };
      }
      case "link-list":
        return { links: [...this.linksIn(this.ns(a["netns"])).values()] };
      case "link-move": {
        const from = this.ns(a["netns"]);
        const to = this.ns(a["to"]);
        const link = this.get(from, a["name"] ?? "");
        const newname = a["newname"] ?? link.name;
        if (this.linksIn(to).has(newname)) throw new KernelError("EEXIST", "File exists");
        this.linksIn(from).delete(link.name);
        this.addrs.delete(link.index);
        this.routes.delete(link.index);
        const altnames = newname !== link.name ? [...link.altnames, link.name] : link.altnames;
        const moved = { ...link, name: newname, altnames, up: false };
        this.linksIn(to).set(newname, moved);
        return { link: moved };
      }
      case "link-altname-del": {
        const ns = this.ns(a["netns"]);
        const link = this.get(ns, a["name"] ?? "");
        if (!link.altnames.includes(a["altname"] ?? "")) throw new KernelError("ENOENT", "No such file");
        return {
          link: this.put(ns, link.name, { ...link, altnames: link.altnames.filter((x) => x !== a["altname"]) }),
        };
      }
      case "link-rename": {
        const ns = this.ns(a["netns"]);
        const link = this.get(ns, a["name"] ?? "");
        if (this.linksIn(ns).has(a["newname"] ?? "")) throw new KernelError("EEXIST", "File exists");
        const altnames = [...link.altnames, link.name];
        return { link: this.put(ns, link.name, { ...link, name: a["newname"] ?? "", altnames }) };
      }
      case "link-set-mac":
      case "link-set-mtu":
      case "link-up":
      case "link-down": {
        const ns = this.ns(a["netns"]);
        const link = this.get(ns, a["name"] ?? "");
        const change: Partial<Link> =
          name === "link-set-mac"
            ? { mac: a["mac"] ?? null }
            : name === "link-set-mtu"
              ? { mtu: Number(a["mtu"]) }
              : { up: name === "link-up" };
        if (change.mtu !== undefined && change.mtu > (link.maxMtu ?? 65535)) {
          throw new KernelError("EINVAL", "Invalid argument");
        }
        return { link: this.put(ns, link.name, { ...link, ...change }) };
      }
      case "sysctl-set":
        this.get(this.ns(a["netns"]), a["name"] ?? "");
        return { previous: 0 };
      case "addr-add": {
        const link = this.get(this.ns(a["netns"]), a["name"] ?? "");
        if ((this.addrs.get(link.index) ?? []).includes(a["addr"] ?? ""))
          throw new KernelError("EEXIST", "File exists");
        this.addrs.set(link.index, [...(this.addrs.get(link.index) ?? []), a["addr"] ?? ""]);
        return {};
      }
      case "route-add": {
        const link = this.get(this.ns(a["netns"]), a["name"] ?? "");
        this.routes.set(link.index, [
          ...(this.routes.get(link.index) ?? []),
          { dst: a["dst"] ?? "", gw: a["gw"] ?? null },
        ]);
        return {};
      }
      default:
        throw new Error(`fake kernel: unexpected command ${name}`);
    }
  }
}

function pciDevice(addr: string, extra: Partial<PciDevice>): PciDevice {
  return {
    addr,
    vendor: "8086",
    device: "10ca",
    class: "020000",
    driver: null,
    netdevs: [],
    numaNode: -1,
    iommuGroup: null,
    isPf: false,
    isVf: false,
    pf: null,
    vfIndex: null,
    numVfs: null,
    totalVfs: null,
    linkState: null,
    vdpa: [],
    ...extra,
  } as PciDevice;
}
