// A small OVSDB client (RFC 7047): JSON-RPC 1.0 over ovsdb-server's Unix socket, for `transact` only.
// Messages are bare JSON objects back to back on the stream (no length, no newline), so the reader
// splits the stream at the end of each top-level object (framing.ts). The server may send requests
// of its own: `echo` (its keepalive) is answered with its params; anything else is ignored.
// Every request has a deadline; on a timeout, a closed socket or garbage the connection is dead and
// every pending request fails with an OvsdbError naming the socket.
// Only the vhostuser mode loads this module (by dynamic import), so the other modes' start-up pays nothing.
import { createConnection, type Socket } from "node:net";
import { JsonStreamSplitter } from "./framing.js";

export const OVSDB_DB = "Open_vSwitch";

/** Why an OVSDB call failed: "unreachable" (connect), "timeout", "closed", "protocol", "rpc", "operation". */
export type OvsdbFailure = "unreachable" | "timeout" | "closed" | "protocol" | "rpc" | "operation";

export class OvsdbError extends Error {
  override readonly name = "OvsdbError";
  constructor(
    readonly kind: OvsdbFailure,
    message: string,
    readonly errno?: string,
  ) {
    super(message);
  }
}

/** One RFC 7047 operation (insert, select, update, mutate, delete, wait...), as JSON. */
export type Operation = Record<string, unknown> & { op: string };

/** One operation's result: {uuid} for insert, {rows} for select, {count} for update/mutate/delete. */
export interface OperationResult {
  uuid?: unknown;
  rows?: Record<string, unknown>[];
  count?: number;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** "insert into Port", "mutate Bridge"...: how a message names an operation. */
function describeOp(op: Operation | undefined): string {
  if (op === undefined) return "commit";
  return typeof op["table"] === "string" ? `${op.op} ${op["table"]}` : op.op;
}

export class OvsdbClient {
  private readonly pending = new Map<number, Pending>();
  private readonly splitter = new JsonStreamSplitter();
  private nextId = 1;
  private dead: OvsdbError | null = null;

  private constructor(
    private readonly socket: Socket,
    readonly socketPath: string,
    private readonly timeoutMs: number,
  ) {
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => this.onData(chunk));
    socket.on("error", (err) => this.fail(new OvsdbError("closed", `ovsdb-server at "${socketPath}": ${err.message}`)));
    socket.on("close", () =>
      this.fail(new OvsdbError("closed", `ovsdb-server at "${socketPath}" closed the connection`)),
    );
  }

  /** Connects to `socketPath`; OvsdbError "unreachable" (with the errno: ENOENT, ECONNREFUSED...) otherwise. */
  static connect(socketPath: string, timeoutMs: number): Promise<OvsdbClient> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ path: socketPath });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new OvsdbError("timeout", `ovsdb-server at "${socketPath}" did not accept a connection in ${timeoutMs} ms`),
        );
      }, timeoutMs);
      socket.once("error", (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(
          new OvsdbError("unreachable", `cannot connect to ovsdb-server at "${socketPath}": ${err.message}`, err.code),
        );
      });
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        resolve(new OvsdbClient(socket, socketPath, timeoutMs));
      });
    });
  }

  close(): void {
    this.fail(new OvsdbError("closed", `connection to ovsdb-server at "${this.socketPath}" closed by accelnet`));
  }

  /** A raw JSON-RPC call; resolves with `result`, rejects with OvsdbError ("rpc" when `error` is set). */
  call(method: string, params: unknown[]): Promise<unknown> {
    if (this.dead !== null) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(
          new OvsdbError(
            "timeout",
            `ovsdb-server at "${this.socketPath}" did not answer "${method}" in ${this.timeoutMs} ms`,
          ),
        );
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.socket.write(JSON.stringify({ method, params, id }));
    });
  }

  /**
   * One transaction on Open_vSwitch. The server answers with one result per operation; the first that
   * failed (or a commit failure, an extra element past the last operation) becomes an OvsdbError
   * "operation" with the server's error and details, naming the operation.
   */
  async transact(ops: Operation[]): Promise<OperationResult[]> {
    const result = await this.call("transact", [OVSDB_DB, ...ops]);
    if (!Array.isArray(result))
      throw new OvsdbError("protocol", `ovsdb-server answered transact with ${JSON.stringify(result)}`);
    result.forEach((r: unknown, i) => {
      if (isRecord(r) && typeof r["error"] === "string") {
        const details = typeof r["details"] === "string" && r["details"] !== "" ? `: ${r["details"]}` : "";
        throw new OvsdbError("operation", `ovsdb-server refused "${describeOp(ops[i])}" (${r["error"]}${details})`);
      }
    });
    return result.slice(0, ops.length).map((r: unknown) => (isRecord(r) ? (r as OperationResult) : {}));
  }

  private onData(chunk: string): void {
    let messages: unknown[];
    try {
      messages = this.splitter.push(chunk);
    } catch (err) {
      this.fail(
        new OvsdbError("protocol", `ovsdb-server at "${this.socketPath}" sent invalid JSON: ${(err as Error).message}`),
      );
      return;
    }
    for (const msg of messages) this.onMessage(msg);
  }

  private onMessage(msg: unknown): void {
    if (!isRecord(msg)) return;
    if (typeof msg["method"] === "string") {
      // A request from the server: echo is answered (or the server drops us), notifications ignored.
      if (msg["method"] === "echo" && msg["id"] !== undefined && msg["id"] !== null) {
        this.socket.write(JSON.stringify({ result: msg["params"] ?? [], error: null, id: msg["id"] }));
      }
      return;
    }
    const id = msg["id"];
    const pending = typeof id === "number" ? this.pending.get(id) : undefined;
    if (pending === undefined) return;
    this.pending.delete(id as number);
    clearTimeout(pending.timer);
    const error = msg["error"];
    if (error !== null && error !== undefined) {
      const text = isRecord(error) && typeof error["error"] === "string" ? error["error"] : JSON.stringify(error);
      pending.reject(new OvsdbError("rpc", `ovsdb-server at "${this.socketPath}" returned an error: ${text}`));
    } else {
      pending.resolve(msg["result"]);
    }
  }

  private fail(err: OvsdbError): void {
    if (this.dead !== null) return;
    this.dead = err;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
    this.socket.destroy();
  }
}

/** Runs `fn` with a connection to `socketPath`, closed afterwards whatever happens. */
export async function withOvsdb<T>(
  socketPath: string,
  timeoutMs: number,
  fn: (c: OvsdbClient) => Promise<T>,
): Promise<T> {
  const client = await OvsdbClient.connect(socketPath, timeoutMs);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}
