// The few facts of the Open_vSwitch schema (vswitch.ovsschema, ovs-vswitchd.conf.db(5)) accelnet uses,
// and RFC 7047's JSON notation for them:
// - Bridge: name (unique), datapath_type ("netdev" is the userspace datapath OVS-DPDK switches in),
//   ports (strong references to Port).
// - Port: name (unique), interfaces (at least one Interface), tag (0-4095, an access VLAN),
//   external_ids. Port and Interface are not root tables: a Port no Bridge references is deleted by
//   the server at commit, with the Interfaces only it referenced. So removing a port is one mutate of
//   Bridge.ports.
// - Interface: name (unique), type (dpdkvhostuser, dpdkvhostuserclient), options (vhost-server-path),
//   mtu_request, external_ids; ovs-vswitchd fills ofport (-1 when it failed) and error.
import { OvsdbError, type OperationResult, type OvsdbClient } from "./client.js";

export type Atom = string | number | boolean | ["uuid", string] | ["named-uuid", string];
export type Condition = [string, string, unknown];

export const uuid = (u: string): ["uuid", string] => ["uuid", u];
export const namedUuid = (n: string): ["named-uuid", string] => ["named-uuid", n];
export const ovsSet = (atoms: readonly Atom[]): ["set", Atom[]] => ["set", [...atoms]];
export const ovsMap = (m: Readonly<Record<string, string>>): ["map", [string, string][]] => ["map", Object.entries(m)];

/** The atoms of a set column (a one-element set may be sent as the bare atom). */
export function setValues(v: unknown): unknown[] {
  if (Array.isArray(v) && v[0] === "set" && Array.isArray(v[1])) return v[1] as unknown[];
  return v === undefined ? [] : [v];
}

/** A map column as an object (string keys and values only, as external_ids and options are). */
export function mapValue(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(v) && v[0] === "map" && Array.isArray(v[1])) {
    for (const pair of v[1] as unknown[]) {
      if (Array.isArray(pair) && typeof pair[0] === "string" && typeof pair[1] === "string") out[pair[0]] = pair[1];
    }
  }
  return out;
}

/** The UUID string of a ["uuid", "..."] atom, or undefined. */
export function uuidValue(v: unknown): string | undefined {
  return Array.isArray(v) && v[0] === "uuid" && typeof v[1] === "string" ? v[1] : undefined;
}

/** The value of an optional integer column (a set of 0 or 1 integers). */
export function optionalInt(v: unknown): number | undefined {
  const [first] = setValues(v);
  return typeof first === "number" ? first : undefined;
}

/** The value of an optional string column. */
export function optionalStr(v: unknown): string | undefined {
  const [first] = setValues(v);
  return typeof first === "string" ? first : undefined;
}

/** Rows of one select. */
export async function select(
  c: OvsdbClient,
  table: string,
  where: Condition[],
  columns: string[],
): Promise<Record<string, unknown>[]> {
  const [r] = await c.transact([{ op: "select", table, where, columns }]);
  return (r as OperationResult).rows ?? [];
}

/** What ovs-vswitchd made of an Interface: its OpenFlow port, or why it has none. */
export type InterfaceReady = { ofport: number } | { error: string };

/**
 * Waits until ovs-vswitchd has configured Interface `name`: ofport set (> 0), or the error column (or
 * ofport -1) saying it could not. Polling select, not a monitor: ovs-vswitchd fills these within one of
 * its main-loop runs, so a few selects on the open connection are enough, with no monitor state or
 * update notifications to parse. Rejects with OvsdbError "timeout" after `timeoutMs`.
 */
export async function waitForInterface(c: OvsdbClient, name: string, timeoutMs: number): Promise<InterfaceReady> {
  const deadline = Date.now() + timeoutMs;
  for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
    const [row] = await select(c, "Interface", [["name", "==", name]], ["ofport", "error"]);
    if (row === undefined) return { error: "the interface is gone from the database" };
    const ofport = optionalInt(row["ofport"]);
    const error = optionalStr(row["error"]);
    if (error !== undefined && error !== "") return { error };
    if (ofport === -1) return { error: "ovs-vswitchd set ofport -1" };
    if (ofport !== undefined && ofport > 0) return { ofport };
    if (Date.now() + pause > deadline) {
      throw new OvsdbError(
        "timeout",
        `ovs-vswitchd did not configure interface "${name}" in ${timeoutMs} ms (is it running?)`,
      );
    }
    await new Promise((r) => setTimeout(r, pause));
  }
}
