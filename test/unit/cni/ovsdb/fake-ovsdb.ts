// A fake ovsdb-server on a Unix socket, speaking RFC 7047 as the real one does: JSON-RPC messages back
// to back on the stream, `echo` both ways, `transact` with insert/select/update/mutate/delete/wait on
// an in-memory Open_vSwitch database of Bridge, Port and Interface rows (named-uuid, unique name index,
// per-operation errors, garbage collection of unreferenced Port and Interface rows at commit).
// Test knobs: split or batch what it writes, send its own echo first, stay silent, stand in for
// ovs-vswitchd (fill ofport or error of new interfaces).
import { randomUUID } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";

type Row = Record<string, unknown>;
type Tables = Record<string, Map<string, Row>>;

export interface FakeOptions {
  /** Write each message in pieces of this many characters (partial frames). */
  chunk?: number;
  /** Send an echo request before answering, and two answers glued together when possible. */
  echoFirst?: boolean;
  /** Never answer transact (timeouts). */
  silent?: boolean;
  /** ovs-vswitchd's part for new interfaces: an ofport, an error, or nothing (default ofport). */
  vswitchd?: "ofport" | "error" | "none";
}

const isAtomArray = (v: unknown): v is [string, unknown] => Array.isArray(v) && typeof v[0] === "string";
const setOf = (v: unknown): unknown[] =>
  isAtomArray(v) && v[0] === "set" ? (v[1] as unknown[]) : v === undefined ? [] : [v];
const mapOf = (v: unknown): [unknown, unknown][] =>
  isAtomArray(v) && v[0] === "map" ? (v[1] as [unknown, unknown][]) : [];
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

class OpError extends Error {
  constructor(
    readonly error: string,
    readonly details: string,
  ) {
    super(error);
  }
}

export class FakeOvsdb {
  readonly tables: Tables = { Bridge: new Map(), Port: new Map(), Interface: new Map() };
  readonly requests: { method: string; params: unknown }[] = [];
  echoReplies = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly path: string,
    readonly opts: FakeOptions = {},
  ) {}

  addBridge(name: string, datapathType = "netdev"): string {
    const id = randomUUID();
    this.tables["Bridge"]!.set(id, {
      name,
      datapath_type: datapathType,
      ports: ["set", []],
      external_ids: ["map", []],
    });
    return id;
  }

  /** Rows of `table` whose name is `name` (for assertions). */
  row(table: string, name: string): Row | undefined {
    return [...this.tables[table]!.values()].find((r) => r["name"] === name);
  }

  start(): Promise<void> {
    this.server = createServer((s) => this.serve(s));
    return new Promise((resolve) => this.server!.listen(this.path, resolve));
  }

  stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => (this.server === undefined ? resolve() : this.server.close(() => resolve())));
  }

  private send(s: Socket, text: string): void {
    const n = this.opts.chunk;
    if (n === undefined) s.write(text);
    else for (let i = 0; i < text.length; i += n) s.write(text.slice(i, i + n));
  }

  private serve(s: Socket): void {
    this.sockets.add(s);
    s.on("close", () => this.sockets.delete(s));
    s.setEncoding("utf8");
    let buf = "";
    s.on("data", (chunk: string) => {
      buf += chunk;
      // The test client sends one message per write; a whole object parses, a partial one waits.
      for (;;) {
        const end = completeEnd(buf);
        if (end < 0) return;
        const msg = JSON.parse(buf.slice(0, end)) as {
          method?: string;
          params?: unknown[];
          id?: unknown;
          result?: unknown;
        };
        buf = buf.slice(end);
        this.handle(s, msg);
      }
    });
  }

  private handle(s: Socket, msg: { method?: string; params?: unknown[]; id?: unknown; result?: unknown }): void {
    if (msg.method === undefined) {
      if (msg.id === "fake-echo") this.echoReplies++;
      return;
    }
    this.requests.push({ method: msg.method, params: msg.params });
    if (msg.method === "echo") {
      this.send(s, JSON.stringify({ result: msg.params, error: null, id: msg.id }));
      return;
    }
    if (msg.method !== "transact") {
      this.send(s, JSON.stringify({ result: null, error: { error: "unknown method" }, id: msg.id }));
      return;
    }
    if (this.opts.silent === true) return;
    const [db, ...ops] = msg.params ?? [];
    const answer =
      db !== "Open_vSwitch"
        ? { result: null, error: { error: "unknown database", details: String(db) }, id: msg.id }
        : { result: this.transact(ops as Row[]), error: null, id: msg.id };
    const text = JSON.stringify(answer);
    if (this.opts.echoFirst === true) {
      // An echo and the answer in one write: the client must split them and answer the echo.
      this.send(s, JSON.stringify({ method: "echo", params: ["x"], id: "fake-echo" }) + text);
    } else {
      this.send(s, text);
    }
  }

  private transact(ops: Row[]): unknown[] {
    const snapshot = JSON.stringify([...Object.entries(this.tables)].map(([k, m]) => [k, [...m]]));
    const names = new Map<string, string>();
    const results: unknown[] = [];
    const created: string[] = [];
    try {
      for (const op of ops) results.push(this.operation(op, names, created));
      this.commit(created);
      return results;
    } catch (err) {
      // roll back
      const restored = JSON.parse(snapshot) as [string, [string, Row][]][];
      for (const [k, rows] of restored) this.tables[k] = new Map(rows);
      if (!(err instanceof OpError)) throw err;
      const e = { error: err.error, details: err.details };
      if (results.length === ops.length) return [...results, e]; // a commit failure: one more element
      return [...results, e, ...ops.slice(results.length + 1).map(() => null)];
    }
  }

  private resolve(v: unknown, names: Map<string, string>): unknown {
    if (isAtomArray(v) && v[0] === "named-uuid") {
      const u = names.get(String(v[1]));
      if (u === undefined) throw new OpError("syntax error", `unknown named-uuid ${String(v[1])}`);
      return ["uuid", u];
    }
    if (isAtomArray(v) && (v[0] === "set" || v[0] === "map")) {
      return [
        v[0],
        (v[1] as unknown[]).map((x) =>
          Array.isArray(x) && v[0] === "map" ? x.map((y) => this.resolve(y, names)) : this.resolve(x, names),
        ),
      ];
    }
    return v;
  }

  private matches(id: string, row: Row, where: unknown[]): boolean {
    return where.every((c) => {
      const [col, fn, value] = c as [string, string, unknown];
      const have = col === "_uuid" ? ["uuid", id] : row[col];
      if (fn === "==") return same(have, value) || (setOf(have).length === 1 && same(setOf(have)[0], value));
      if (fn === "includes") {
        if (isAtomArray(value) && value[0] === "map")
          return mapOf(value).every(([k, v]) => mapOf(have).some(([hk, hv]) => same(hk, k) && same(hv, v)));
        return setOf(value).every((v) => setOf(have).some((h) => same(h, v)));
      }
      throw new OpError("syntax error", `function ${fn} not supported by the fake`);
    });
  }

  private table(op: Row): Map<string, Row> {
    const t = this.tables[String(op["table"])];
    if (t === undefined) throw new OpError("unknown table", String(op["table"]));
    return t;
  }

  private operation(op: Row, names: Map<string, string>, created: string[]): unknown {
    const where = (op["where"] as unknown[] | undefined) ?? [];
    switch (op["op"]) {
      case "insert": {
        const id = randomUUID();
        if (typeof op["uuid-name"] === "string") names.set(op["uuid-name"], id);
        const row = Object.fromEntries(Object.entries(op["row"] as Row).map(([k, v]) => [k, this.resolve(v, names)]));
        this.table(op).set(id, row);
        if (op["table"] === "Interface") created.push(id);
        return { uuid: ["uuid", id] };
      }
      case "select": {
        const cols = op["columns"] as string[] | undefined;
        const rows = [...this.table(op)].filter(([id, r]) => this.matches(id, r, where));
        return {
          rows: rows.map(([id, r]) => {
            const full: Row = { _uuid: ["uuid", id], ...r };
            for (const c of ["ofport", "error", "tag", "mtu_request"]) full[c] ??= ["set", []];
            return cols === undefined ? full : Object.fromEntries(cols.map((c) => [c, full[c] ?? ["set", []]]));
          }),
        };
      }
      case "update": {
        const rows = [...this.table(op)].filter(([id, r]) => this.matches(id, r, where));
        for (const [, r] of rows) Object.assign(r, op["row"]);
        return { count: rows.length };
      }
      case "delete": {
        const t = this.table(op);
        const rows = [...t].filter(([id, r]) => this.matches(id, r, where));
        for (const [id] of rows) t.delete(id);
        return { count: rows.length };
      }
      case "mutate": {
        const rows = [...this.table(op)].filter(([id, r]) => this.matches(id, r, where));
        for (const [, r] of rows) {
          for (const [col, mutator, value] of op["mutations"] as [string, string, unknown][]) {
            const v = setOf(this.resolve(value, names));
            const have = setOf(r[col]);
            r[col] = [
              "set",
              mutator === "insert"
                ? [...have, ...v.filter((x) => !have.some((h) => same(h, x)))]
                : have.filter((h) => !v.some((x) => same(h, x))),
            ];
          }
        }
        return { count: rows.length };
      }
      case "wait":
        throw new OpError("not supported", "wait is not used by accelnet");
      default:
        throw new OpError("unknown operation", String(op["op"]));
    }
  }

  /** Unique names, then garbage collection of rows nothing references, then ovs-vswitchd's part. */
  private commit(created: string[]): void {
    for (const t of ["Bridge", "Port", "Interface"]) {
      const seen = new Set<unknown>();
      for (const r of this.tables[t]!.values()) {
        if (seen.has(r["name"])) {
          throw new OpError(
            "constraint violation",
            `Transaction causes multiple rows in "${t}" table to have identical values ("${String(r["name"])}") for index on column "name".`,
          );
        }
        seen.add(r["name"]);
      }
    }
    const refs = (t: string, col: string) =>
      new Set([...this.tables[t]!.values()].flatMap((r) => setOf(r[col]).map((x) => (x as string[])[1])));
    const ports = refs("Bridge", "ports");
    for (const id of this.tables["Port"]!.keys()) if (!ports.has(id)) this.tables["Port"]!.delete(id);
    const ifaces = refs("Port", "interfaces");
    for (const id of this.tables["Interface"]!.keys()) if (!ifaces.has(id)) this.tables["Interface"]!.delete(id);
    for (const id of created) {
      const r = this.tables["Interface"]!.get(id);
      if (r === undefined) continue;
      if ((this.opts.vswitchd ?? "ofport") === "ofport") r["ofport"] = 7;
      else if (this.opts.vswitchd === "error") {
        r["ofport"] = -1;
        r["error"] = "could not open network device (No such device)";
      }
    }
  }
}

/** The end (exclusive) of the first complete JSON object in `s`, or -1. */
function completeEnd(s: string): number {
  let depth = 0;
  let str = false;
  let esc = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (str) {
      if (esc) esc = false;
      else if (c === "\\") esc = true;
      else if (c === '"') str = false;
    } else if (c === '"') str = true;
    else if (c === "{") depth++;
    else if (c === "}" && --depth === 0) return i + 1;
  }
  return -1;
}
