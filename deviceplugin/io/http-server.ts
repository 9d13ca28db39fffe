// One HTTP port: /metrics (Prometheus text), /healthz (200 when every pool
// is registered with kubelet, 503 with the reason otherwise) and /status
// (JSON: node setup per PF, pools).
import { createServer, type Server } from "node:http";
import type { Metrics } from "./metrics.js";
import type { Logger } from "./logger.js";

export interface HttpEndpoints {
  readonly metrics: Metrics;
  /** null when healthy, else why not. */
  readonly unhealthyReason: () => string | null;
  /** The /status JSON body. */
  readonly status?: () => unknown;
}

/** Parses "host:port" or ":port" (all interfaces). */
export function parseListenAddress(addr: string): { host: string; port: number } {
  const colon = addr.lastIndexOf(":");
  const port = Number(addr.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`Cannot parse listen address "${addr}": expected "host:port" or ":port"`);
  }
  const host = addr.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  return { host: host === "" ? "0.0.0.0" : host, port };
}

export async function startHttpServer(addr: string, ep: HttpEndpoints): Promise<Server> {
  const { host, port } = parseListenAddress(addr);
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET") {
      res.writeHead(405).end();
    } else if (path === "/metrics") {
      ep.metrics.sampleMemory();
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }).end(ep.metrics.render());
    } else if (path === "/healthz") {
      const why = ep.unhealthyReason();
      res.writeHead(why === null ? 200 : 503, { "content-type": "text/plain" }).end(why === null ? "ok\n" : `${why}\n`);
    } else if (path === "/status" && ep.status !== undefined) {
      res.writeHead(200, { "content-type": "application/json" }).end(`${JSON.stringify(ep.status(), null, 2)}\n`);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}

export interface RetryingHttpServer {
  /** Stops listening (or retrying). */
  close(): Promise<void>;
  /** Immediate stop: open connections are cut. */
  forceClose(): void;
}

/**
 * startHttpServer that survives a taken port: during a surge rollout on a
 * hostNetwork node the old instance still holds it. Serving kubelet matters
 * more than metrics, so EADDRINUSE is logged and retried with backoff (up to
 * maxBackoffMs) until the port is free. Any other listen error on the first
 * attempt is thrown (a wrong address is a configuration error).
 */
export async function startHttpServerRetrying(
  addr: string,
  ep: HttpEndpoints,
  log: Logger,
  backoff: { readonly initialMs?: number; readonly maxMs?: number } = {},
): Promise<RetryingHttpServer> {
  let server: Server | null = null;
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  let delayMs = backoff.initialMs ?? 500;
  const attempt = async (first: boolean): Promise<void> => {
    try {
      const s = await startHttpServer(addr, ep);
      if (closed) s.close();
      else server = s;
      if (!first) log.info("metrics and health endpoint listening", { addr });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (first && code !== "EADDRINUSE") throw err;
      log.warn("cannot listen for metrics and health, serving kubelet meanwhile and retrying", {
        addr,
        error: err,
        retryMs: delayMs,
      });
      timer = setTimeout(() => {
        timer = null;
        if (!closed) void attempt(false);
      }, delayMs);
      timer.unref();
      delayMs = Math.min(delayMs * 2, backoff.maxMs ?? 10_000);
    }
  };
  await attempt(true);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        closed = true;
        if (timer !== null) clearTimeout(timer);
        if (server === null) resolve();
        else server.close(() => resolve());
      }),
    forceClose: () => {
      closed = true;
      if (timer !== null) clearTimeout(timer);
      server?.closeAllConnections();
      server?.close();
    },
  };
}
