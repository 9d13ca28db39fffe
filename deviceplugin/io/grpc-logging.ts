// grpc-js logs through console.error in its own plain-text format ("E No
// address added…", GRPC_TRACE lines), which would break the one-JSON-object-
// per-line log on stderr. Route its logger through ours: errors and infos keep
// their level, its debug/trace lines become the "grpc" tracer (ACCELNET_TRACE=grpc,
// with GRPC_TRACE/GRPC_VERBOSITY choosing what grpc-js emits).
import { format } from "node:util";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "./logger.js";

export const GRPC_TRACER = "grpc";

export function routeGrpcLogs(log: Logger): void {
  const text = (message: unknown, params: readonly unknown[]): string => format(message, ...params);
  grpc.setLogger({
    error: (message?: unknown, ...params: unknown[]) => log.error("grpc-js", { detail: text(message, params) }),
    info: (message?: unknown, ...params: unknown[]) => log.info("grpc-js", { detail: text(message, params) }),
    debug: (message?: unknown, ...params: unknown[]) =>
      log.trace(GRPC_TRACER, "grpc-js", { detail: text(message, params) }),
  });
}
