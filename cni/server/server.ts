// The listening side: binds the socket (socket-dir.ts), serves every connection (connection.ts) and
// shuts down in the order the front end relies on: unlink the socket and stop accepting first (new
// callers fall back to the standalone plugin), then let the requests in flight finish.
import { createServer, type Server, type Socket } from "node:net";
import { randomHex } from "../lib/random.js";
import { serveConnection, type ConnectionContext } from "./connection.js";
import { clearStaleSocket, prepareSocketDir, publishSocket, unpublishSocket } from "./socket-dir.js";
import { dirname } from "node:path";

/** How long the listener stays open after the socket is unlinked, to accept the connections queued on it. */
export const ACCEPT_BACKLOG_GRACE_MS = 250;

export class CniServer {
  private server: Server | null = null;
  private ino = -1;
  private readonly open = new Set<Promise<void>>();
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly ctx: ConnectionContext,
    readonly socketPath: string,
  ) {}

  /** Connections being served (each holds at most one request). */
  get connections(): number {
    return this.open.size;
  }

  async start(): Promise<void> {
    prepareSocketDir(dirname(this.socketPath));
    await clearStaleSocket(this.socketPath);
    const tmp = `${this.socketPath}.tmp-${process.pid}-${randomHex(4)}`;
    // allowHalfOpen: the front end half-closes after its request and still reads the answer
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: false }, (socket) => this.accept(socket));
    server.on("error", (err) => this.ctx.log.error("server socket error", { error: err }));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(tmp, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.ino = publishSocket(tmp, this.socketPath);
    this.server = server;
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    const served = serveConnection(this.ctx, socket)
      .catch((err: unknown) => {
        this.ctx.log.error("connection failed", { error: err });
        socket.destroy();
      })
      .finally(() => {
        this.open.delete(served);
        this.sockets.delete(socket);
      });
    this.open.add(served);
  }

  /**
   * Unlinks the socket and stops accepting, then waits for the connections being served and the
   * requests still running after their timeout; resolves true when all ended within `drainMs`.
   */
  async shutdown(drainMs: number, stillRunning: () => Promise<void>): Promise<boolean> {
    unpublishSocket(this.socketPath, this.ino);
    // Once the name is gone nobody new can connect, but clients that connected just before wait in the
    // listen backlog, not yet accepted; closing the listener now would reset them (the front end then
    // answers code 11 to a request that never ran). Accept what is queued first, then close.
    await new Promise((resolve) => setTimeout(resolve, ACCEPT_BACKLOG_GRACE_MS));
    this.server?.close();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), drainMs);
    });
    const drained = (async () => {
      while (this.open.size > 0) await Promise.allSettled([...this.open]);
      await stillRunning();
      return true;
    })();
    const ok = await Promise.race([drained, timeout]);
    clearTimeout(timer);
    for (const s of this.sockets) s.destroy();
    return ok;
  }
}
