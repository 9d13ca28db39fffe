// vhost-user ports on an OVS bridge, as rows: the bridge lookup, the one transaction that adds a port,
// the lookup CHECK and DEL use, the removal, and the list GC sweeps. Every port accelnet adds carries
// external_ids "accelnet:attachment" = "<containerID>/<ifname>" (and the network, container ID and
// ifname apart): DEL and GC remove only ports that carry the attachment they mean.
import { OvsdbError, type OvsdbClient } from "./client.js";
import {
  mapValue,
  namedUuid,
  optionalInt,
  optionalStr,
  ovsMap,
  ovsSet,
  select,
  setValues,
  uuid,
  uuidValue,
  type Condition,
} from "./schema.js";

export const ATTACHMENT_KEY = "accelnet:attachment";
export const NETWORK_KEY = "accelnet:network";

export type SocketMode = "client" | "server";

export const interfaceTypeOf = (mode: SocketMode) => (mode === "client" ? "dpdkvhostuserclient" : "dpdkvhostuser");

export interface BridgeRow {
  uuid: string;
  datapathType: string;
}

export async function findBridge(c: OvsdbClient, name: string): Promise<BridgeRow | null> {
  const [row] = await select(c, "Bridge", [["name", "==", name]], ["_uuid", "datapath_type"]);
  if (row === undefined) return null;
  return {
    uuid: uuidValue(row["_uuid"]) ?? "",
    datapathType: typeof row["datapath_type"] === "string" ? row["datapath_type"] : "",
  };
}

export interface VhostPortSpec {
  bridgeUuid: string;
  name: string;
  mode: SocketMode;
  /** Client mode: the socket the application creates (options:vhost-server-path). */
  serverPath?: string;
  vlan?: number;
  mtu?: number;
  externalIds: Record<string, string>;
}

/**
 * One transaction: insert the Interface and the Port that holds it, and add the Port to the bridge,
 * whose row must still be there (a wait on its UUID: a bridge deleted since the lookup fails the
 * transaction rather than leaving an unreferenced port). Returns the Port's UUID.
 */
export async function insertVhostPort(c: OvsdbClient, spec: VhostPortSpec): Promise<string> {
  const iface: Record<string, unknown> = {
    name: spec.name,
    type: interfaceTypeOf(spec.mode),
    external_ids: ovsMap(spec.externalIds),
  };
  if (spec.serverPath !== undefined) iface["options"] = ovsMap({ "vhost-server-path": spec.serverPath });
  if (spec.mtu !== undefined) iface["mtu_request"] = spec.mtu;
  const port: Record<string, unknown> = {
    name: spec.name,
    interfaces: namedUuid("iface"),
    external_ids: ovsMap(spec.externalIds),
  };
  if (spec.vlan !== undefined) port["tag"] = spec.vlan;
  const bridgeWhere: Condition[] = [["_uuid", "==", uuid(spec.bridgeUuid)]];
  const results = await c.transact([
    { op: "insert", table: "Interface", row: iface, "uuid-name": "iface" },
    { op: "insert", table: "Port", row: port, "uuid-name": "port" },
    {
      op: "mutate",
      table: "Bridge",
      where: bridgeWhere,
      mutations: [["ports", "insert", ovsSet([namedUuid("port")])]],
    },
  ]);
  if (results[2]?.count !== 1) throw new OvsdbError("operation", "the bridge is gone from the database");
  const portUuid = uuidValue(results[1]?.uuid);
  if (portUuid === undefined) throw new OvsdbError("protocol", "ovsdb-server returned no UUID for the new port");
  return portUuid;
}

/** A port as CHECK and DEL see it, with its (first) interface. */
export interface PortView {
  uuid: string;
  name: string;
  bridge: string | null;
  tag: number | undefined;
  externalIds: Record<string, string>;
  iface: {
    type: string;
    options: Record<string, string>;
    mtuRequest: number | undefined;
    ofport: number | undefined;
    error: string | undefined;
  } | null;
}

async function viewsOf(c: OvsdbClient, ports: Record<string, unknown>[]): Promise<PortView[]> {
  if (ports.length === 0) return [];
  const bridges = await select(c, "Bridge", [], ["name", "ports"]);
  const out: PortView[] = [];
  for (const p of ports) {
    const portUuid = uuidValue(p["_uuid"]) ?? "";
    const bridge = bridges.find((b) => setValues(b["ports"]).some((r) => uuidValue(r) === portUuid));
    const ifaceUuid = uuidValue(setValues(p["interfaces"])[0]);
    const [i] =
      ifaceUuid === undefined
        ? []
        : await select(
            c,
            "Interface",
            [["_uuid", "==", uuid(ifaceUuid)]],
            ["type", "options", "mtu_request", "ofport", "error"],
          );
    out.push({
      uuid: portUuid,
      name: typeof p["name"] === "string" ? p["name"] : "",
      bridge: bridge === undefined ? null : String(bridge["name"]),
      tag: optionalInt(p["tag"]),
      externalIds: mapValue(p["external_ids"]),
      iface:
        i === undefined
          ? null
          : {
              type: typeof i["type"] === "string" ? i["type"] : "",
              options: mapValue(i["options"]),
              mtuRequest: optionalInt(i["mtu_request"]),
              ofport: optionalInt(i["ofport"]),
              error: optionalStr(i["error"]),
            },
    });
  }
  return out;
}

const PORT_COLUMNS = ["_uuid", "name", "interfaces", "tag", "external_ids"];

export async function findPort(c: OvsdbClient, name: string): Promise<PortView | null> {
  const rows = await select(c, "Port", [["name", "==", name]], PORT_COLUMNS);
  const [view] = await viewsOf(c, rows);
  return view ?? null;
}

/** Every port carrying accelnet's marker for `network`. */
export async function accelnetPorts(c: OvsdbClient, network: string): Promise<PortView[]> {
  const rows = await select(
    c,
    "Port",
    [["external_ids", "includes", ovsMap({ [NETWORK_KEY]: network })]],
    PORT_COLUMNS,
  );
  return viewsOf(
    c,
    rows.filter((r) => mapValue(r["external_ids"])[ATTACHMENT_KEY] !== undefined),
  );
}

/**
 * Removes port `portUuid` from whichever bridge holds it (the server then deletes the Port and its
 * Interface); a port no bridge holds is already gone (the server deleted it with its last reference).
 */
export async function removePort(c: OvsdbClient, portUuid: string): Promise<void> {
  await c.transact([
    {
      op: "mutate",
      table: "Bridge",
      where: [["ports", "includes", ovsSet([uuid(portUuid)])]],
      mutations: [["ports", "delete", ovsSet([uuid(portUuid)])]],
    },
  ]);
}
