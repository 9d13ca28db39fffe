// Configuring an interface that is already in the pod netns, from a result (libcni ConfigureIface):
// arp_notify (and ndisc_notify with IPv6), addresses, up, routes with the IPs' gateways filled in,
// in one helper batch. Every mode that puts a netdev into the pod uses it after IPAM.
import { cmd, type Command, type NativeClient } from "../../native/client/index.js";
import { cniErrorFromNative } from "./errno.js";
import type { Logger } from "./log.js";
import { familyOf } from "./addresses.js";
import type { Result, Route } from "./result.js";
import type { CniRequest } from "../skel/types.js";

const scopeNames: Record<number, "universe" | "link" | "host"> = { 0: "universe", 253: "link", 254: "host" };

function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** The gateway of the first IP of each family fills in routes without one (libcni ConfigureIface). */
export function routesWithGateways(result: Result): Route[] {
  const gw4 = result.ips.find((ip) => ip.gateway !== undefined && familyOf(ip.gateway) === 4)?.gateway;
  const gw6 = result.ips.find((ip) => ip.gateway !== undefined && familyOf(ip.gateway) === 6)?.gateway;
  return result.routes.map((r) => {
    if (r.gw !== undefined) return r;
    const gw = familyOf(r.dst) === 4 ? gw4 : gw6;
    return gw === undefined ? r : { ...r, gw };
  });
}

export function configureCommands(
  req: Pick<CniRequest, "netns" | "ifname">,
  result: Result,
  log: Logger,
): Command<unknown>[] {
  const at = { netns: req.netns, name: req.ifname };
  const cmds: Command<unknown>[] = [cmd.sysctlSet({ ...at, key: "arp_notify", value: 1 })];
  if (result.ips.some((ip) => familyOf(ip.address) === 6))
    cmds.push(cmd.sysctlSet({ ...at, key: "ndisc_notify", value: 1 }));
  for (const ip of result.ips) cmds.push(cmd.addrAdd({ ...at, addr: ip.address }));
  cmds.push(cmd.linkUp(at));
  for (const r of routesWithGateways(result)) {
    if (r.mtu !== undefined || r.advmss !== undefined) log.warning(`route "${r.dst}": mtu/advmss are not applied`);
    const scope = r.scope === undefined ? undefined : scopeNames[r.scope];
    cmds.push(
      cmd.routeAdd({
        netns: req.netns,
        dst: r.dst,
        name: req.ifname,
        ...opt("gw", r.gw),
        ...opt("metric", r.priority),
        ...opt("table", r.table),
        ...opt("scope", scope),
      }),
    );
  }
  return cmds;
}

/** Runs configureCommands; the interface's effects die with it, so the caller's undo of the netdev covers them. */
export async function configureInterface(native: NativeClient, req: CniRequest, result: Result): Promise<void> {
  try {
    await native.run(configureCommands(req, result, req.log));
  } catch (err) {
    throw cniErrorFromNative(err, `configure interface "${req.ifname}" in netns`, req.netns);
  }
}
