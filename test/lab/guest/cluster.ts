// The cluster side of the end-to-end lab test, as thin as it can be: the
// shipped device plugin and CNI server executables started the way the
// DaemonSet starts them, and the shipped CNI executable (the thick-mode front
// end, which hands each call to the server) called the way Multus calls a
// delegate. The kubelet is the project's simulator
// (test/deviceplugin/kubelet-simulator.ts).
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { repoRoot } from "./prelude.js";

export const devicePluginPath = path.join(repoRoot, "dist/accelnet-deviceplugin");
export const cniPluginPath = path.join(repoRoot, "dist/accelnet");
export const cniServerPath = path.join(repoRoot, "dist/accelnet-cni-server");

export interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly [key: string]: unknown;
}

/** A resident executable as a child process; its JSON log lines (stderr) are collected. */
class Resident {
  readonly logs: LogLine[] = [];
  stderr = "";
  readonly exited: Promise<number | null>;

  protected constructor(
    private readonly child: ChildProcess,
    private readonly name: string,
  ) {
    let partial = "";
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      this.stderr += chunk;
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        if (!line.startsWith("{")) continue;
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          // not a log line; it stays in stderr
        }
      }
    });
    this.exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  }

  /** Log lines whose message starts with `prefix`. */
  lines(prefix: string): LogLine[] {
    return this.logs.filter((l) => l.msg.startsWith(prefix));
  }

  async waitForLog(what: string, pred: (l: LogLine) => boolean, timeoutMs = 120_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.logs.find(pred);
      if (hit !== undefined) return hit;
      if (Date.now() > deadline || this.child.exitCode !== null) {
        throw new Error(`${this.name}: no log line for ${what}; stderr:\n${this.stderr.slice(-4000)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  signal(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null) this.child.kill(signal);
  }

  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    this.signal(signal);
    return this.exited;
  }
}

/** dist/accelnet-deviceplugin as a child process. */
export class DevicePlugin extends Resident {
  static start(args: readonly string[]): DevicePlugin {
    return new DevicePlugin(spawn(devicePluginPath, args, { stdio: ["ignore", "ignore", "pipe"] }), "device plugin");
  }
}

/** dist/accelnet-cni-server on its default socket (/run/accelnet/cni/server.sock), where the front end looks. */
export class CniServer extends Resident {
  static async start(args: readonly string[] = []): Promise<CniServer> {
    const server = new CniServer(spawn(cniServerPath, args, { stdio: ["ignore", "ignore", "pipe"] }), "CNI server");
    await server.waitForLog("serving", (l) => l.msg === "serving");
    return server;
  }

  /** The requests it answered ("command containerID exit"), as it logged them. */
  requests(): string[] {
    return this.logs
      .filter((l) => l.msg === "request")
      .map((l) => `${String(l["command"])} ${String(l["containerID"])} ${String(l["exit"])}`);
  }
}

export interface Pod {
  namespace: string;
  name: string;
  uid: string;
  /** The pod sandbox's infra container ID: what the runtime passes as CNI_CONTAINERID. */
  sandbox: string;
  /** Its network namespace (a name under /run/netns). */
  netns: string;
}

export interface Delegate {
  /** spec.config of the NetworkAttachmentDefinition, parsed. */
  nadConfig: Record<string, unknown>;
  /** The pod's network selection element's interface name. */
  ifname: string;
  /** The device ID Multus took from the device plugin's allocation (the resource's PCIDEVICE_* value). */
  deviceID?: string;
  /** Multus's device-info file for this attachment (runtimeConfig.CNIDeviceInfoFile). */
  deviceInfoFile?: string;
  /** The network selection element's "mac" (Multus passes it as runtimeConfig.mac). */
  mac?: string;
}

/** The stdin Multus gives a delegate: the NAD's config, `deviceID` at the top, runtimeConfig. */
export function delegateConfig(delegate: Delegate): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...delegate.nadConfig };
  if (delegate.deviceID !== undefined) conf["deviceID"] = delegate.deviceID;
  const runtimeConfig: Record<string, unknown> = {};
  if (delegate.deviceID !== undefined) runtimeConfig["deviceID"] = delegate.deviceID;
  if (delegate.deviceInfoFile !== undefined) runtimeConfig["CNIDeviceInfoFile"] = delegate.deviceInfoFile;
  if (delegate.mac !== undefined) runtimeConfig["mac"] = delegate.mac;
  if (Object.keys(runtimeConfig).length > 0) conf["runtimeConfig"] = runtimeConfig;
  return conf;
}

/** Multus's CNI_ARGS for a delegate, with the IgnoreUnknown key twice as Multus sends it. */
export function multusCniArgs(pod: Pod): string {
  return [
    "IgnoreUnknown=true",
    `K8S_POD_NAMESPACE=${pod.namespace}`,
    `K8S_POD_NAME=${pod.name}`,
    `K8S_POD_INFRA_CONTAINER_ID=${pod.sandbox}`,
    `K8S_POD_UID=${pod.uid}`,
    "IgnoreUnknown=1",
  ].join(";");
}

export interface CniRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed (the result, or the CNI error); undefined when empty or not JSON. */
  out: Record<string, unknown> | undefined;
  /** Wall time of the run, ms. */
  ms: number;
}

/** Runs dist/accelnet (the front end) once, as Multus runs a delegate: CNI_* in the environment, the config on stdin. */
export function callCni(command: "ADD" | "DEL" | "CHECK", pod: Pod, delegate: Delegate, extra: object = {}) {
  const conf = { ...delegateConfig(delegate), ...extra };
  const env = {
    PATH: "/usr/sbin:/usr/bin",
    CNI_COMMAND: command,
    CNI_CONTAINERID: pod.sandbox,
    CNI_NETNS: `/run/netns/${pod.netns}`,
    CNI_IFNAME: delegate.ifname,
    CNI_PATH: "/usr/lib/cni",
    CNI_ARGS: multusCniArgs(pod),
  };
  return runCniProcess(env, conf);
}

/** dist/accelnet once with exactly `env` and the config on stdin; stdout parsed, wall time measured. */
export function runCniProcess(env: Record<string, string>, conf: object): Promise<CniRun> {
  const started = performance.now();
  return new Promise<CniRun>((resolve, reject) => {
    const child = spawn(cniPluginPath, [], { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    child.once("error", reject);
    child.once("close", (code) => {
      let out: Record<string, unknown> | undefined;
      try {
        out = stdout.trim() === "" ? undefined : (JSON.parse(stdout) as Record<string, unknown>);
      } catch {
        out = undefined;
      }
      resolve({ code, stdout, stderr, out, ms: Math.round(performance.now() - started) });
    });
    child.stdin.end(JSON.stringify(conf));
  });
}
