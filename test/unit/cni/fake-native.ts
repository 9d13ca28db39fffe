// A fake NativeClient implementing the real interface over a tiny in-memory kernel model, for unit
// tests without root (grpc-js MockSubchannel style). It reads the real Command objects' name and
// key=value args, so it exercises exactly what the mode would send to the helper.
import {
  NativeError,
  type Command,
  type Link,
  type NativeClient,
  type ResultsOf,
  type Vf,
} from "../../../native/client/index.js";

export interface FakeCall {
  name: string;
  args: Record<string, string>;
}

interface FakeLink {
  link: Link;
  addrs: string[];
  routes: { dst: string; gw: string | null }[];
}

export interface FakeFailure {
  errname: string;
  errno?: number;
  message?: string;
}

/** A kernel error inside the fake (becomes a NativeError at the batch level). */
class FakeKernelError extends Error {
  constructor(readonly failure: FakeFailure) {
    super(failure.message ?? failure.errname);
  }
}

function fail(errname: string, message: string): never {
  throw new FakeKernelError({ errname, message });
}

const host = "";

function normalize(name: string): string {
  return name.replace(/[-_]/g, "").toLowerCase();
}

export function argsOf(c: Command<unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of c.args) {
    const eq = a.indexOf("=");
    out[a.slice(0, eq).replace(/-/g, "").toLowerCase()] = a.slice(eq + 1);
  }
  return out;
}

/** Builds a NativeError whatever its constructor looks like (only its fields matter to callers). */
export function makeNativeError(
  fields: Partial<Record<keyof NativeError, unknown>> & { message: string },
): NativeError {
  const err = Object.create(NativeError.prototype) as NativeError;
  const defaults = {
    argv: [],
    exitCode: 1,
    signal: null,
    timedOut: false,
    stderr: "",
    index: null,
    cmd: null,
    op: null,
    object: null,
    errno: null,
    errname: null,
    extack: null,
    attr: null,
    completed: [],
  };
  for (const [k, v] of Object.entries({ ...defaults, ...fields })) {
    Object.defineProperty(err, k, { value: v, enumerable: k !== "message", writable: true, configurable: true });
  }
  return err;
}

/** A VF as a PF reports it with nothing set: the admin MAC given, VLAN 0, spoof checking on, no rates. */
export function vfDefaults(index: number, mac: string): Vf {
  return {
    vf: index,
    mac,
    vlan: 0,
    qos: 0,
    vlanProto: "802.1q",
    spoofchk: true,
    trust: false,
    linkState: "auto",
    minTxRate: 0,
    maxTxRate: 0,
  };
}

export function fakeLink(name: string, extra: Partial<Link> = {}): Link {
  return {
    index: 0,
    name,
    kind: null,
    mac: "02:00:00:00:00:01",
    permMac: null,
    mtu: 1500,
    minMtu: 68,
    maxMtu: 65535,
    up: false,
    operstate: "down",
    carrier: false,
    master: null,
    link: null,
    linkNetnsid: null,
    macvlanMode: null,
    altnames: [],
    parentBus: null,
    parentDev: null,
    txqlen: 1000,
    numVfs: null,
    vfs: [],
    ...extra,
  };
}

export class FakeNative implements NativeClient {
  readonly batches: FakeCall[][] = [];
  readonly netnses = new Set<string>();
  private readonly links = new Map<string, FakeLink>();
  private nextIndex = 10;
  private macCounter = 0x10;
  /** Makes the Nth (0-based, counted over all commands ever run) command with this name fail. */
  readonly failures = new Map<string, FakeFailure>();

  addNetns(path: string): void {
    this.netnses.add(path);
  }

  addLink(netns: string, name: string, extra: Partial<Link> = {}): void {
    this.links.set(`${netns}|${name}`, {
      link: fakeLink(name, { index: this.nextIndex++, ...extra }),
      addrs: [],
      routes: [],
    });
  }

  hostRoutes: { dst: string; gateway: string | null; oif: number }[] = [];

  linkIn(netns: string, name: string): FakeLink | undefined {
    return this.links.get(`${netns}|${name}`);
  }

  removeLink(netns: string, name: string): void {
    this.links.delete(`${netns}|${name}`);
  }

  linkCount(): number {
    return this.links.size;
  }

  failOn(name: string, failure: FakeFailure): void {
    this.failures.set(normalize(name), failure);
  }

  /** The next batch with `name` runs it, then the helper "times out": no reply, nothing completed known. */
  timeOutAfter(name: string): void {
    this.timeouts.add(normalize(name));
  }

  private readonly timeouts = new Set<string>();

  async run<const C extends readonly Command<unknown>[]>(cmds: C): Promise<ResultsOf<C>> {
    await Promise.resolve();
    const calls = cmds.map((c) => ({ name: normalize(c.name), args: argsOf(c) }));
    this.batches.push(calls);
    const results: unknown[] = [];
    for (const [index, call] of calls.entries()) {
      const failure = this.failures.get(call.name);
      try {
        if (failure !== undefined) {
          this.failures.delete(call.name);
          throw new FakeKernelError(failure);
        }
        results.push(this.exec(call));
        if (this.timeouts.delete(call.name)) {
          throw makeNativeError({ message: 'Cannot run helper "fake": timed out', timedOut: true, exitCode: null });
        }
      } catch (f) {
        if (!(f instanceof FakeKernelError)) throw f;
        const ff = f.failure;
        throw makeNativeError({
          message: `Cannot ${call.name} "${call.args["name"] ?? call.args["path"] ?? ""}": ${ff.message ?? ff.errname}`,
          index,
          cmd: call.name,
          errname: ff.errname,
          errno: ff.errno ?? 1,
          object: call.args["name"] ?? call.args["path"] ?? null,
          completed: results,
        });
      }
    }
    return results as ResultsOf<C>;
  }

  private get(netns: string, name: string): FakeLink {
    const l = this.links.get(`${netns}|${name}`);
    if (l === undefined) fail("ENODEV", "No such device");
    return l;
  }

  private exec(call: FakeCall): unknown {
    const a = call.args;
    const ns = a["netns"] ?? host;
    switch (call.name) {
      case "netnscheck":
        if (!this.netnses.has(a["path"] ?? "")) fail("ENOENT", "No such file or directory");
        return { netns: { path: a["path"], inode: 1 } };
      case "linkshow": {
        const l = this.get(ns, a["name"] ?? "");
        return {
          link: l.link,
          ...(a["addrs"] === "1"
            ? {
                addrs: l.addrs.map((x) => ({
                  family: x.includes(":") ? 6 : 4,
                  address: x.split("/")[0],
                  prefixlen: Number(x.split("/")[1]),
                  ifindex: l.link.index,
                  scope: "global",
                })),
              }
            : {}),
          ...(a["routes"] === "1"
            ? { routes: l.routes.map((r) => ({ family: 4, dst: r.dst, gateway: r.gw, oif: l.link.index, table: 254 })) }
            : {}),
        };
      }
      case "linklist":
        return { links: [...this.links.entries()].filter(([k]) => k.startsWith(`${ns}|`)).map(([, v]) => v.link) };
      case "routelist":
        return { routes: ns === host ? this.hostRoutes : [] };
      case "macvlanadd": {
        const master = this.get(a["masternetns"] ?? host, a["master"] ?? "");
        const mtu = a["mtu"] === undefined ? master.link.mtu : Number(a["mtu"]);
        if (mtu > master.link.mtu) fail("EINVAL", "Invalid argument");
        if (this.links.has(`${ns}|${a["name"]}`)) fail("EEXIST", "File exists");
        const mac = a["mac"] ?? `02:00:00:00:00:${(this.macCounter++).toString(16)}`;
        this.addLink(ns, a["name"] ?? "", { kind: "macvlan", macvlanMode: a["mode"] as Link["macvlanMode"], mac, mtu });
        return { link: this.get(ns, a["name"] ?? "").link };
      }
      case "linkrename": {
        const l = this.get(ns, a["name"] ?? "");
        if (this.links.has(`${ns}|${a["newname"]}`)) fail("EEXIST", "File exists");
        this.links.delete(`${ns}|${a["name"]}`);
        l.link = { ...l.link, name: a["newname"] ?? "" };
        this.links.set(`${ns}|${a["newname"]}`, l);
        return { link: l.link };
      }
      case "linkup": {
        const l = this.get(ns, a["name"] ?? "");
        l.link = { ...l.link, up: true };
        return { link: l.link };
      }
      case "linkdel": {
        // By name, or by ifindex (index=) as the helper does: exactly one of them.
        const entry =
          a["index"] === undefined
            ? [`${ns}|${a["name"]}`, this.get(ns, a["name"] ?? "")]
            : [...this.links.entries()].find(([k, l]) => k.startsWith(`${ns}|`) && l.link.index === Number(a["index"]));
        if (entry === undefined) fail("ENODEV", "No such device");
        this.links.delete(entry[0] as string);
        return {};
      }
      case "addradd":
        this.get(ns, a["name"] ?? "").addrs.push(a["addr"] ?? "");
        return {};
      case "routeadd":
        this.get(ns, a["name"] ?? "").routes.push({ dst: a["dst"] ?? "", gw: a["gw"] ?? null });
        return {};
      case "sysctlset":
        this.get(ns, a["name"] ?? "");
        return { previous: 0 };
      default:
        throw new Error(`fake native: unexpected command ${call.name}`);
    }
  }
}
