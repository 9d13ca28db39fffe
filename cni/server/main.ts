// accelnet-cni-server: the resident CNI server of thick mode (native/FRONTEND.md). The front end
// installed as /opt/cni/bin/accelnet forwards each request here; this process runs it through the same
// dispatcher, modes and deps as the standalone plugin (cni/plugin.ts), so the state dir, owner markers
// and locks stay the one truth whichever path a request took. Root only, by socket directory and by
// SO_PEERCRED (read by the resident spawner, native/client/spawner.ts). SIGTERM/SIGINT: unlink the socket, serve what is queued, stop
// accepting, finish what runs, exit 0 (1 when --drain-timeout passed first; a second signal exits 1 at
// once).
// Exit codes: 0 clean stop, 1 cannot start or drain timed out, 2 bad arguments.
import { resolve } from "node:path";
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { ACCELNET_VERSION } from "../../deviceplugin/core/version.js";
import { peerCred } from "../../native/client/peer-cred.js";
import { Spawner } from "../../native/client/spawner.js";
import { errorMessage } from "../lib/errors.js";
import { processDeps, resolveHelperPath } from "../lib/helper-path.js";
import { stateDirFrom } from "../lib/trusted-paths.js";
import { ABOUT, makePluginDeps, pluginFuncs } from "../plugin.js";
import { createLogger, isLogLevel, type Logger } from "./log.js";
import { CniServer } from "./server.js";
import { Slots } from "./slots.js";
import { StartError } from "./socket-dir.js";

export const DEFAULT_SOCKET = "/run/accelnet/cni/server.sock";
const FRAME_TIMEOUT_MS = 10_000;

function positive(name: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min)
    throw new Error(`Invalid arguments: --${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

async function parseArgs(argv: readonly string[]) {
  return yargs(argv)
    .scriptName("accelnet-cni-server")
    .usage("$0 [options]\n\nServes accelnet CNI requests from the thick front end on a root-only Unix socket.")
    .options({
      socket: {
        type: "string",
        default: process.env["ACCELNET_CNI_SOCKET"] || DEFAULT_SOCKET,
        describe: "Socket path (its directory is made root's 0700); default $ACCELNET_CNI_SOCKET",
      },
      "max-concurrent": { type: "number", default: 16, describe: "Requests run at once" },
      "max-queued": { type: "number", default: 1024, describe: "Requests waiting for a slot; beyond: code 11 at once" },
      "request-timeout": {
        type: "number",
        default: 300,
        describe: "Seconds before a request is answered with code 11",
      },
      "drain-timeout": { type: "number", default: 330, describe: "Seconds SIGTERM waits for requests in flight" },
      helper: { type: "string", describe: "accelnet-helper for peer-cred (default: as the plugin finds it)" },
      "log-level": { choices: ["debug", "info", "warn", "error"] as const, default: "info" as const },
    })
    .strict()
    .version(false)
    .help()
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new Error(`Invalid arguments: ${msg}`);
    })
    .parseAsync();
}

function serveUntilSignal(server: CniServer, slots: Slots, log: Logger, drainMs: number): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        log.warn("second signal: exiting without waiting", { signal, inFlight: slots.inFlight });
        resolve(1);
        return;
      }
      stopping = true;
      log.info("shutting down: socket removed, draining", { signal, inFlight: slots.inFlight, queued: slots.queued });
      void server
        .shutdown(drainMs, () => slots.idle())
        .then((drained) => {
          if (drained) log.info("drained, exiting");
          else log.error("drain timeout: exiting with requests in flight", { inFlight: slots.inFlight });
          resolve(drained ? 0 : 1);
        });
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
  });
}

export async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes("--version")) {
    process.stdout.write(`accelnet-cni-server ${ACCELNET_VERSION}\n`);
    return 0;
  }
  const args = await parseArgs(argv);
  if (args.help === true) return 0;
  const maxConcurrent = positive("max-concurrent", args["max-concurrent"], 1);
  const maxQueued = positive("max-queued", args["max-queued"], 0);
  const requestTimeoutMs = positive("request-timeout", args["request-timeout"], 1) * 1000;
  const drainMs = positive("drain-timeout", args["drain-timeout"], 0) * 1000;
  const level = args["log-level"];
  const log = createLogger({ level: isLogLevel(level) ? level : "info" });
  // One request's promise that nobody awaits must not end the server (and every request with it).
  process.on("unhandledRejection", (reason) => log.error("unhandled rejection", { error: reason }));
  if (process.geteuid?.() !== 0) {
    log.error("cannot start: the CNI server must run as root (it serves root's CNI requests)");
    return 1;
  }
  let helperPath: string;
  try {
    helperPath =
      args.helper !== undefined ? resolve(args.helper) : resolveHelperPath(stateDirFrom(process.env), processDeps);
  } catch (err) {
    log.error(`cannot start: ${errorMessage(err)}`);
    return 1;
  }
  // Every process the server starts goes through one small resident child (native/client/spawner.ts):
  // a spawn of this large process blocks its event loop for ~10 ms each. Node's spawn stays the fallback.
  const spawner = new Spawner({
    helperPath,
    log: (message, fields) => log.warn(message, fields ?? {}),
    peerCredFallback: (socket) => peerCred(helperPath, socket),
  });
  spawner.start();
  const slots = new Slots(maxConcurrent, maxQueued);
  const server = new CniServer(
    {
      plugin: { funcs: pluginFuncs(), deps: makePluginDeps(spawner.runProcess), about: ABOUT },
      slots,
      log,
      requestTimeoutMs,
      frameTimeoutMs: FRAME_TIMEOUT_MS,
      peerCred: (socket) => spawner.peerCred(socket),
    },
    args.socket,
  );
  try {
    await server.start();
  } catch (err) {
    log.error(`cannot start: ${errorMessage(err)}`, err instanceof StartError ? {} : { error: err });
    return 1;
  }
  log.info("serving", { socket: args.socket, maxConcurrent, maxQueued, requestTimeoutMs, helper: helperPath });
  return serveUntilSignal(server, slots, log, drainMs);
}

main(hideBin(process.argv)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`accelnet-cni-server: ${errorMessage(err)}\n`);
    process.exit(2);
  },
);
