// One HTTP port: /metrics (Prometheus text), /healthz (200 when every pool
// serves its socket, 503 otherwise) and /status (JSON: node setup per PF, pools).
import { createServer, type Server } from "node:http";
import type { Metrics } from "./metrics.js";

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
