// accelnet-deviceplugin: parses the CLI, installs io into core and runs the
// daemon until SIGTERM/SIGINT (graceful; a second signal forces). SIGHUP reloads
// the config. Exit codes: 0 clean stop, 1 runtime failure, 2 bad config or arguments.
import { dirname, join } from "node:path";
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { DEFAULT_RESOURCE_PREFIX } from "./core/config.js";
import { ACCELNET_VERSION } from "./core/version.js";
import { ConfigError } from "./core/config-error.js";
import { Daemon } from "./io/daemon.js";
import { createLogger, isLogLevel } from "./io/logger.js";
import { fileInventorySource, helperInventorySource } from "./io/inventory-source.js";
import { reconcileCniState } from "./io/cni-reconcile.js";
import { createNativeClient } from "../native/client/index.js";
import { createHelperRunner, ueventHintSource } from "./io/helper-runner.js";

export async function main(argv: readonly string[]): Promise<number> {
  // yargs reserves "version" for its own handling, which would start the daemon after printing.
  if (argv.includes("--version")) {
    process.stdout.write(`accelnet-deviceplugin ${ACCELNET_VERSION}\n`);
    return 0;
  }
  const args = await yargs(argv)
    .scriptName("accelnet-deviceplugin")
    .usage("$0 [options]\n\nServes SR-IOV VFs and vDPA devices to kubelet (device plugin API v1beta1).")
    .options({
      config: {
        type: "string",
        default: "/etc/pcidp/config.json",
        describe: "Config file (sriov-network-device-plugin format)",
      },
      "resource-prefix": { type: "string", default: DEFAULT_RESOURCE_PREFIX, describe: "Default resource prefix" },
      "device-plugin-dir": {
        type: "string",
        default: "/var/lib/kubelet/device-plugins",
        describe: "kubelet device plugin dir (kubelet.sock)",
      },
      "plugins-registry-dir": {
        type: "string",
        default: "/var/lib/kubelet/plugins_registry",
        describe: "kubelet plugin watcher dir",
      },
      "registration-mode": {
        choices: ["auto", "classic", "plugin-watcher"] as const,
        default: "auto" as const,
        describe: "auto: plugin-watcher when the plugins registry dir exists, else kubelet.sock",
      },
      "devinfo-dir": {
        type: "string",
        default: "/var/run/k8s.cni.cncf.io/devinfo/dp",
        describe: "Device-info files dir",
      },
      cdi: { type: "boolean", default: false, describe: "Write CDI specs and answer Allocate with CDI device names" },
      "cdi-dir": { type: "string", default: "/var/run/cdi", describe: "CDI spec dir (with --cdi)" },
      "metrics-addr": {
        type: "string",
        default: ":9808",
        describe: 'HTTP "host:port" for /metrics, /healthz and /status; "" disables',
      },
      "log-level": { choices: ["debug", "info", "warn", "error"] as const, default: "info" as const },
      "sysfs-root": { type: "string", default: "/sys", describe: "sysfs root the helper reads" },
      "dev-root": { type: "string", default: "/dev", describe: "/dev root the helper reads" },
      helper: { type: "string", describe: "accelnet-helper path (default: next to this executable)" },
      "inventory-file": {
        type: "string",
        describe: "Read the inventory from this JSON file instead of the helper (demos, tests)",
      },
      "rescan-interval-ms": { type: "number", default: 1000, describe: "Inventory rescan period" },
      "cni-state-dir": {
        type: "string",
        default: "/var/lib/cni/accelnet",
        describe: "The accelnet CNI's state dir, for the start-up reconcile and node setup's held devices",
      },
      reconcile: {
        type: "boolean",
        describe:
          "At start, restore VFs and vDPA devices whose pod is gone (from --cni-state-dir). " +
          "Default: on with the helper, off with --inventory-file",
      },
      uevents: {
        type: "boolean",
        describe:
          "Rescan on kernel uevents (helper uevent-monitor; needs the host netns). " +
          "Default: on with the helper, off with --inventory-file",
      },
      "node-setup": {
        type: "boolean",
        describe:
          "Converge the node to the config's nodeSetup (VFs, drivers, vDPA devices) at start, on reload " +
          "and on VF count changes. Default: on with the helper, off with --inventory-file",
      },
      "node-setup-state": {
        type: "string",
        default: "/var/lib/accelnet/node-setup.json",
        describe: "Where node setup records what it changed (root-only dir), to undo it when the section goes",
      },
      "watchdog-ms": {
        type: "number",
        default: 5000,
        describe: "Register again after this long without a ListAndWatch stream",
      },
    })
    .strict()
    .version(false)
    .help()
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new Error(`Invalid arguments: ${msg}`);
    })
    .parseAsync();
  if (args.help === true) return 0;

  const logLevel = args["log-level"];
  const log = createLogger({ level: isLogLevel(logLevel) ? logLevel : "info", trace: process.env["ACCELNET_TRACE"] });
  const helperPath = args.helper ?? join(dirname(process.execPath), "accelnet-helper");
  const inventory =
    args["inventory-file"] !== undefined
      ? fileInventorySource(args["inventory-file"])
      : helperInventorySource(
          createHelperRunner({ helperPath, sysfsRoot: args["sysfs-root"], devRoot: args["dev-root"] }),
        );
  const uevents = args.uevents ?? args["inventory-file"] === undefined;
  if (args.reconcile ?? args["inventory-file"] === undefined) {
    const native = createNativeClient({ helperPath, sysfsRoot: args["sysfs-root"], devRoot: args["dev-root"] });
    const totals = await reconcileCniState(args["cni-state-dir"], native, log, process.env);
    log.info("start-up reconcile done", { ...totals });
  }
  const nodeSetup =
    (args["node-setup"] ?? args["inventory-file"] === undefined)
      ? {
          native: createNativeClient({ helperPath, sysfsRoot: args["sysfs-root"], devRoot: args["dev-root"] }),
          cniStateDir: args["cni-state-dir"],
          recordPath: args["node-setup-state"],
        }
      : null;
  const daemon = new Daemon({
    configPath: args.config,
    resourcePrefix: args["resource-prefix"],
    devicePluginDir: args["device-plugin-dir"],
    pluginsRegistryDir: args["plugins-registry-dir"],
    registrationMode: args["registration-mode"],
    devinfoDir: args["devinfo-dir"],
    cdiDir: args.cdi ? args["cdi-dir"] : null,
    metricsAddr: args["metrics-addr"] === "" ? null : args["metrics-addr"],
    inventory,
    hintSources: uevents ? [ueventHintSource(helperPath)] : [],
    log,
    rescanIntervalMs: args["rescan-interval-ms"],
    watchdogMs: args["watchdog-ms"],
    nodeSetup,
  });

  try {
    await daemon.start();
  } catch (err) {
    log.error("cannot start the device plugin", { error: err });
    process.stderr.write(`accelnet-deviceplugin: ${err instanceof Error ? err.message : String(err)}\n`);
    await daemon.tryShutdown().catch(() => undefined);
    return err instanceof ConfigError ? 2 : 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) {
        log.warn("second signal, forcing shutdown", { signal });
        daemon.forceShutdown();
        resolve(1);
        return;
      }
      stopping = true;
      log.info("shutting down", { signal });
      daemon.tryShutdown().then(
        () => resolve(0),
        (err: unknown) => {
          log.error("shutdown failed", { error: err });
          resolve(1);
        },
      );
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGHUP", () => void daemon.reload("SIGHUP"));
  });
}

main(hideBin(process.argv)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`accelnet-deviceplugin: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
