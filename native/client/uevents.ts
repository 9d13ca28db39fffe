// Runs the helper's streaming `uevent-monitor` (native/PROTOCOL.md "uevent-monitor"):
// one long-lived process whose stdout is JSON lines. The only code that spawns it.
// Restarting a monitor that ended is the caller's policy.
import { spawn } from "node:child_process";

import { interpretReply, NativeError } from "./helper.js";

export type UeventAction = "add" | "remove" | "bind" | "unbind" | "change" | "move";
export type UeventSubsystem = "pci" | "net" | "vdpa" | "vhost-vdpa" | "vfio";

/** One kernel uevent, as filtered and validated by the helper. */
export interface Uevent {
  readonly action: UeventAction;
  readonly subsystem: UeventSubsystem;
  readonly devpath: string;
  readonly driver: string | null;
  readonly interface: string | null;
  readonly pciSlot: string | null;
}

/** A link's carrier or operstate changed, or it was removed (rtnetlink; no uevent reports these). */
export interface LinkChange {
  readonly action: "change" | "remove";
  readonly ifindex: number;
  readonly interface: string | null;
  readonly carrier: boolean | null;
  readonly operstate: string;
}

/** What the monitor reports: ready (socket bound), an event, a link change, or events lost (rescan). */
export type UeventMessage =
  | { readonly type: "ready" }
  | { readonly type: "event"; readonly event: Uevent }
  | { readonly type: "link"; readonly link: LinkChange }
  | { readonly type: "lost" };

const OPERSTATES: readonly string[] = ["unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up"];

function parseLinkChange(v: unknown): LinkChange | null {
  if (!isRecord(v)) return null;
  const { action, ifindex, carrier, operstate } = v;
  const iface = v.interface;
  if (
    (action !== "change" && action !== "remove") ||
    typeof ifindex !== "number" ||
    !Number.isSafeInteger(ifindex) ||
    ifindex <= 0 ||
    !nullableString(iface) ||
    (carrier !== null && typeof carrier !== "boolean") ||
    typeof operstate !== "string" ||
    !OPERSTATES.includes(operstate)
  ) {
    return null;
  }
  return { action, ifindex, interface: iface, carrier, operstate };
}

export interface UeventWatchOptions {
  readonly helperPath: string;
  /** Also net events of virtual devices (veth...): tests only. */
  readonly includeVirtual?: boolean;
}

export interface UeventWatch {
  /** Ends the monitor (closes its stdin, sends SIGTERM). Idempotent. */
  close(): void;
  /**
   * Settles once the monitor has exited: null when it ended because close() was called,
   * otherwise the NativeError that says why it ended. Never rejects.
   */
  readonly exited: Promise<NativeError | null>;
}

const ACTIONS: readonly string[] = ["add", "remove", "bind", "unbind", "change", "move"];
const SUBSYSTEMS: readonly string[] = ["pci", "net", "vdpa", "vhost-vdpa", "vfio"];
/** The helper's longest line is about 1.5 KiB (a 1024-byte devpath); far more is not the protocol. */
const MAX_LINE_BYTES = 16 * 1024;
const MAX_STDERR_BYTES = 64 * 1024;
/** SIGTERM ends the monitor at once; SIGKILL only when it did not. */
const KILL_AFTER_MS = 2000;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function nullableString(v: unknown): v is string | null {
  return v === null || typeof v === "string";
}

/** A stream line: a message, the final reply (has "ok"), or null when it breaks the protocol. */
export function parseUeventLine(line: string): UeventMessage | { readonly type: "reply" } | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (!isRecord(v)) return null;
  if (v.ready === true) return { type: "ready" };
  if (v.lost === true) return { type: "lost" };
  if (typeof v.ok === "boolean") return { type: "reply" };
  if (v.link !== undefined) {
    const link = parseLinkChange(v.link);
    return link === null ? null : { type: "link", link };
  }
  const { action, subsystem, devpath, driver, pciSlot } = v;
  const iface = v.interface;
  if (
    typeof action !== "string" ||
    !ACTIONS.includes(action) ||
    typeof subsystem !== "string" ||
    !SUBSYSTEMS.includes(subsystem) ||
    typeof devpath !== "string" ||
    !nullableString(driver) ||
    !nullableString(iface) ||
    !nullableString(pciSlot)
  ) {
    return null;
  }
  const event: Uevent = {
    action: action as UeventAction,
    subsystem: subsystem as UeventSubsystem,
    devpath,
    driver,
    interface: iface,
    pciSlot,
  };
  return { type: "event", event };
}

/**
 * Starts `accelnet-helper uevent-monitor` and calls onMessage for each line, in order.
 * The monitor lives until close() (its stdin is a pipe we hold: it also dies with us).
 */
export function watchUevents(opts: UeventWatchOptions, onMessage: (m: UeventMessage) => void): UeventWatch {
  const argv = ["uevent-monitor", ...(opts.includeVirtual === true ? ["virtual=1"] : [])];
  const child = spawn(opts.helperPath, argv, { stdio: ["pipe", "pipe", "pipe"], shell: false });
  let closing = false;
  let pending = "";
  let finalLine: string | null = null;
  let protocolError: string | null = null;
  let stderr = "";

  const kill = (): void => {
    child.kill("SIGTERM");
    setTimeout(() => child.kill("SIGKILL"), KILL_AFTER_MS).unref();
  };
  const breakProtocol = (why: string): void => {
    if (protocolError !== null) return;
    protocolError = why;
    child.kill("SIGKILL");
    // Whatever else it wrote is irrelevant; do not wait for a descendant holding the pipes.
    child.stdout.destroy();
    child.stderr.destroy();
  };

  // A monitor that died makes our writes and end() fail with EPIPE: its exit says why.
  child.stdin.on("error", () => undefined);
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    if (protocolError !== null) return;
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      const m = parseUeventLine(line);
      if (m === null || finalLine !== null) {
        breakProtocol(`unexpected line ${JSON.stringify(line.slice(0, 200))}`);
        return;
      }
      if (m.type === "reply") finalLine = line;
      else onMessage(m);
    }
    if (Buffer.byteLength(pending) > MAX_LINE_BYTES) breakProtocol(`a line longer than ${MAX_LINE_BYTES} bytes`);
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    if (stderr.length < MAX_STDERR_BYTES) stderr += chunk.slice(0, MAX_STDERR_BYTES - stderr.length);
  });

  const exited = new Promise<NativeError | null>((resolve) => {
    let spawnError: Error | null = null;
    child.on("error", (err) => {
      spawnError = err;
      // Not started at all (ENOENT, EACCES): there may be no "close" to wait for.
      if (child.pid === undefined) {
        const base = { argv, exitCode: null, signal: null, timedOut: false, stderr: "" };
        resolve(new NativeError(`Cannot run helper "${opts.helperPath}": ${err.message}`, base, { cause: err }));
      }
    });
    child.on("close", (exitCode, signal) => {
      const base = { argv, exitCode, signal, timedOut: false, stderr };
      if (spawnError !== null) {
        resolve(
          new NativeError(`Cannot run helper "${opts.helperPath}": ${spawnError.message}`, base, {
            cause: spawnError,
          }),
        );
        return;
      }
      if (protocolError !== null) {
        resolve(
          new NativeError(`Cannot parse uevent-monitor output of helper "${opts.helperPath}": ${protocolError}`, base),
        );
        return;
      }
      if (finalLine !== null) {
        try {
          interpretReply(opts.helperPath, argv, 1, { stdout: finalLine, ...base });
        } catch (err) {
          resolve(err as NativeError); // interpretReply throws only NativeError
          return;
        }
      }
      if (closing) {
        resolve(null);
        return;
      }
      const how = signal !== null ? `killed by ${signal}` : `exit code ${String(exitCode)}`;
      resolve(new NativeError(`uevent-monitor of helper "${opts.helperPath}" ended unexpectedly (${how})`, base));
    });
  });

  return {
    close(): void {
      if (closing) return;
      closing = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin.end();
      kill();
    },
    exited,
  };
}
