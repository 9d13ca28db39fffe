// The shared fixture of the daemon-process tests (kubelet.test.ts,
// recovery.test.ts): temp dirs with the sample config and inventory, a running
// kubelet simulator, and the daemon started on them with flags a test can
// override; everything is killed and removed afterwards.
import { createServer } from "node:net";
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeletSimulator } from "./kubelet-simulator.js";
import { DaemonProcess } from "./daemon-process.js";
import { sampleConfig, sampleInventory } from "./inventory-fixtures.js";

export interface DaemonEnv {
  readonly root: string;
  readonly dpDir: string;
  readonly registry: string;
  readonly devinfo: string;
  readonly cdi: string;
  readonly config: string;
  readonly inventory: string;
  readonly kubelet: KubeletSimulator;
  readonly daemons: DaemonProcess[];
}

/** Atomic replace, as a ConfigMap update or a helper rewrite would be. */
export function writeJson(path: string, value: unknown): void {
  writeFileSync(`${path}.tmp`, JSON.stringify(value));
  renameSync(`${path}.tmp`, path);
}

/** Temp dirs with the sample config and inventory, and a started kubelet simulator. */
export async function createDaemonEnv(prefix: string): Promise<DaemonEnv> {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const dpDir = join(root, "dp");
  mkdirSync(dpDir);
  mkdirSync(join(root, "etc"));
  const env: DaemonEnv = {
    root,
    dpDir,
    registry: join(root, "registry"),
    devinfo: join(root, "devinfo"),
    cdi: join(root, "cdi"),
    config: join(root, "etc", "config.json"),
    inventory: join(root, "inventory.json"),
    kubelet: new KubeletSimulator(dpDir),
    daemons: [],
  };
  writeJson(env.config, sampleConfig());
  writeJson(env.inventory, sampleInventory());
  await env.kubelet.start();
  return env;
}

export async function disposeDaemonEnv(env: DaemonEnv): Promise<void> {
  for (const d of env.daemons) await d.stop("SIGKILL");
  await env.kubelet.stop();
  rmSync(env.root, { recursive: true, force: true });
}

export interface StartOptions {
  /** Flags added to the common defaults (a test file's own defaults). */
  readonly defaults?: readonly string[];
  /** Default flags to drop ("--flag="): the daemon's own default applies. */
  readonly without?: readonly string[];
  readonly envVars?: NodeJS.ProcessEnv;
}

/** Starts the daemon on the env's dirs; a flag in `extra` replaces the default of that flag. */
export async function startDaemonIn(
  env: DaemonEnv,
  extra: readonly string[] = [],
  o: StartOptions = {},
): Promise<DaemonProcess> {
  const flag = (a: string): string => a.split("=")[0] ?? a;
  const replaced = [...extra, ...(o.without ?? [])].map(flag);
  const defaults = [
    `--config=${env.config}`,
    `--inventory-file=${env.inventory}`,
    `--device-plugin-dir=${env.dpDir}`,
    `--plugins-registry-dir=${join(env.root, "no-registry")}`,
    `--devinfo-dir=${env.devinfo}`,
    "--metrics-addr=",
    ...(o.defaults ?? []),
  ].filter((a) => !replaced.includes(flag(a)));
  const d = await DaemonProcess.start([...defaults, ...extra], o.envVars ?? {});
  env.daemons.push(d);
  return d;
}

/** A TCP port free right now on 127.0.0.1 (for the daemon's /metrics and /healthz). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
