// One gRPC server per pool on its own unix socket: the DevicePlugin service
// kubelet calls, and in plugin-watcher mode also pluginregistration.Registration.
// The device list is ready before the socket exists, so kubelet may call
// ListAndWatch before Register returns. Every stream has an error listener
// (an unhandled CANCELLED would kill the process).
import * as grpc from "@grpc/grpc-js";
import { linkSync, lstatSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { allocateRequestIds, preferredRequests } from "./request-guards.js";
import { toStatus } from "./to-status.js";
import { api, DEVICE_PLUGIN_VERSION } from "./proto.js";
import type { Logger } from "./logger.js";
import type { Pool } from "../core/pools.js";
import type { ContainerAllocation } from "../core/allocate-response.js";
import { preferredAllocation } from "../core/preferred-allocation.js";
import type { ListAndWatchResponse } from "../generated/v1beta1/ListAndWatchResponse.js";
import type { Empty__Output } from "../generated/v1beta1/Empty.js";
import type { AllocateResponse } from "../generated/v1beta1/AllocateResponse.js";
import type { DevicePluginHandlers } from "../generated/v1beta1/DevicePlugin.js";
import type { RegistrationHandlers } from "../generated/pluginregistration/Registration.js";

const TRACER = "server";

export interface PluginServerOptions {
  readonly resource: string;
  readonly socketPath: string;
  readonly pool: () => Pool;
  readonly allocate: (idsPerContainer: readonly (readonly string[])[]) => Promise<ContainerAllocation[]>;
  /** Serve pluginregistration.Registration too (plugin-watcher mode). */
  readonly pluginWatcher: boolean;
  readonly log: Logger;
  /** A ListAndWatch stream opened or closed; cancelledByPeer when kubelet ended it. */
  readonly onStream: (event: "open" | "close", cancelledByPeer: boolean) => void;
  /** Plugin-watcher mode: kubelet reported the registration outcome. */
  readonly onRegistrationStatus?: (registered: boolean, error: string) => void;
}

export function toListAndWatch(pool: Pool): ListAndWatchResponse {
  return {
    devices: pool.devices.map((d) => ({
      ID: d.id,
      health: d.healthy ? "Healthy" : "Unhealthy",
      ...(d.numaNode === null ? {} : { topology: { nodes: [{ ID: d.numaNode }] } }),
    })),
  };
}

/** The socket file's inode: identity of "our" socket (another instance may bind the same path). */
export function inodeOf(path: string): number | null {
  try {
    return lstatSync(path).ino;
  } catch {
    return null;
  }
}

/** The socket path already holds another socket: a newer instance serves it. */
export class SocketTakenError extends Error {
  constructor(readonly socketPath: string) {
    super(`Cannot serve on "${socketPath}": another process bound it`);
    this.name = "SocketTakenError";
  }
}

let bindSequence = 0;

export class PluginServer {
  private server: grpc.Server | null = null;
  private readonly streams = new Set<grpc.ServerWritableStream<Empty__Output, ListAndWatchResponse>>();
  private inode: number | null = null;

  constructor(private readonly opts: PluginServerOptions) {}

  get socketInode(): number | null {
    return this.inode;
  }

  get openStreams(): number {
    return this.streams.size;
  }

  get serving(): boolean {
    return this.server !== null;
  }

  /**
   * Binds a private hidden path, then moves the socket into place: "replace"
   * renames over whatever is there (a stale socket, or an older instance's,
   * which then sees another inode and stands down); "exclusive" hard-links and
   * fails with SocketTakenError when the path already holds a socket (a newer
   * instance bound it after ours vanished). Binding the final path directly
   * would not do: libuv unlinks a listening socket's bound path when it closes,
   * so an old instance stopping would delete the new instance's socket, and
   * "remove the stale socket, then bind" leaves a window where both lose it.
   */
  async start(placement: "replace" | "exclusive" = "replace"): Promise<void> {
    if (this.server !== null)
      throw new Error(`Cannot start the server of "${this.opts.resource}": it is already serving`);
    const server = new grpc.Server({ "grpc.max_receive_message_length": 4 * 1024 * 1024 });
    server.addService(api().v1beta1.DevicePlugin.service, this.handlers());
    if (this.opts.pluginWatcher)
      server.addService(api().pluginregistration.Registration.service, this.registrationHandlers());
    // Hidden (kubelet's plugin watcher ignores dot files) and unique to this process and attempt.
    const bindPath = join(dirname(this.opts.socketPath), `.${process.pid}-${++bindSequence}.acn.sock`);
    if (Buffer.byteLength(bindPath) > 107) {
      throw new Error(`Cannot listen on "${bindPath}": the socket path is longer than 107 bytes`);
    }
    rmSync(bindPath, { force: true });
    try {
      await new Promise<void>((resolve, reject) => {
        server.bindAsync(`unix:${bindPath}`, grpc.ServerCredentials.createInsecure(), (err) => {
          if (err === null) resolve();
          else reject(new Error(`Cannot listen on "${bindPath}": ${err.message}`, { cause: err }));
        });
      });
      if (placement === "replace") {
        renameSync(bindPath, this.opts.socketPath);
      } else {
        try {
          linkSync(bindPath, this.opts.socketPath);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "EEXIST") throw new SocketTakenError(this.opts.socketPath);
          throw err;
        }
        rmSync(bindPath, { force: true });
      }
    } catch (err) {
      server.forceShutdown();
      rmSync(bindPath, { force: true });
      throw err;
    }
    this.server = server;
    this.inode = inodeOf(this.opts.socketPath);
    this.opts.log.trace(TRACER, "serving", { resource: this.opts.resource, socket: this.opts.socketPath });
  }

  /** Sends the pool's device list to every open ListAndWatch stream. */
  push(pool: Pool): void {
    const msg = toListAndWatch(pool);
    for (const s of this.streams) s.write(msg);
    this.opts.log.trace(TRACER, "pushed device list", {
      resource: this.opts.resource,
      streams: this.streams.size,
      devices: msg.devices?.length ?? 0,
    });
  }

  /**
   * Ends streams and stops serving. removeSocket=false when another instance
   * owns the path now. Waits up to graceMs for calls in flight, then forces.
   */
  async stop(removeSocket: boolean, graceMs = 1000): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.streams) s.end();
    this.streams.clear();
    if (server !== null) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    if (removeSocket && this.inode !== null && inodeOf(this.opts.socketPath) === this.inode) {
      rmSync(this.opts.socketPath, { force: true });
    }
    this.inode = null;
  }

  private handlers(): DevicePluginHandlers {
    const { opts } = this;
    return {
      GetDevicePluginOptions: (_call, cb) => {
        cb(null, { pre_start_required: false, get_preferred_allocation_available: true });
      },
      ListAndWatch: (call) => {
        this.streams.add(call);
        let closed = false;
        const close = (cancelledByPeer: boolean): void => {
          if (closed) return;
          closed = true;
          this.streams.delete(call);
          opts.onStream("close", cancelledByPeer);
        };
        call.on("error", (err: Error) => {
          opts.log.trace(TRACER, "ListAndWatch stream error", { resource: opts.resource, error: err.message });
          close(true);
        });
        call.on("cancelled", () => close(true));
        call.on("close", () => close(false));
        call.on("finish", () => close(false));
        opts.onStream("open", false);
        call.write(toListAndWatch(opts.pool()));
      },
      GetPreferredAllocation: (call, cb) => {
        try {
          const pool = opts.pool();
          const container_responses = preferredRequests(call.request).map((req) => ({
            deviceIDs: preferredAllocation(pool, req, pool.config.allocation),
          }));
          cb(null, { container_responses });
        } catch (err) {
          cb(toStatus(err));
        }
      },
      Allocate: (call, cb) => {
        let ids: string[][];
        try {
          ids = allocateRequestIds(call.request);
        } catch (err) {
          cb(toStatus(err));
          return;
        }
        opts.allocate(ids).then(
          (containers) => {
            const response: AllocateResponse = {
              container_responses: containers.map((c) => ({
                envs: { ...c.envs },
                devices: c.devices.map((d) => ({
                  container_path: d.containerPath,
                  host_path: d.hostPath,
                  permissions: d.permissions,
                })),
                cdi_devices: c.cdiDevices.map((name) => ({ name })),
              })),
            };
            cb(null, response);
          },
          (err: unknown) => cb(toStatus(err)),
        );
      },
      PreStartContainer: (_call, cb) => cb(null, {}),
    };
  }

  private registrationHandlers(): RegistrationHandlers {
    return {
      GetInfo: (_call, cb) => {
        cb(null, {
          type: "DevicePlugin",
          name: this.opts.resource,
          endpoint: this.opts.socketPath,
          supported_versions: [DEVICE_PLUGIN_VERSION],
        });
      },
      NotifyRegistrationStatus: (call, cb) => {
        this.opts.onRegistrationStatus?.(call.request.plugin_registered, call.request.error);
        cb(null, {});
      },
    };
  }
}
