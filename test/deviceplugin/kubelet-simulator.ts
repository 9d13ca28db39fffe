// A kubelet simulator for device plugin tests, written from kubelet's device
// plugin contract (not from its code):
//  - serves v1beta1.Registration/Register on <dir>/kubelet.sock;
//  - inside Register, dials the plugin endpoint (10 s) and calls
//    GetDevicePluginOptions before answering, then opens ListAndWatch (which may
//    start before the plugin sees Register return). This order is the real
//    kubelet's (checked against v1.32 pkg/kubelet/cm/devicemanager/plugin/v1beta1:
//    server.go Register -> handler.go connectClient -> client.go Connect, a
//    blocking dial with WithBlock and PluginConnected's GetDevicePluginOptions,
//    before Register returns; only runClient's ListAndWatch is asynchronous);
//  - each ListAndWatch message replaces the device set; allocatable = Healthy;
//  - a new registration of a resource replaces the old endpoint without
//    cancelling it; when any endpoint's stream of a resource ends on the plugin
//    side, the resource's current endpoint is dropped (kubernetes#121994);
//  - restart(): stop serving, delete every file in the dir (the plugin's socket
//    too), report 0 devices, and serve a new kubelet.sock;
//  - GetPreferredAllocation and Allocate with one container request each.
import * as grpc from "@grpc/grpc-js";
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { api } from "../../deviceplugin/io/proto.js";
import type { DevicePluginClient } from "../../deviceplugin/generated/v1beta1/DevicePlugin.js";
import type { Device__Output } from "../../deviceplugin/generated/v1beta1/Device.js";
import type { ContainerAllocateResponse__Output } from "../../deviceplugin/generated/v1beta1/ContainerAllocateResponse.js";
import type { PluginInfo__Output } from "../../deviceplugin/generated/pluginregistration/PluginInfo.js";

interface Endpoint {
  readonly resource: string;
  readonly socket: string;
  readonly client: DevicePluginClient;
  devices: Device__Output[];
  stoppedByKubelet: boolean;
  stream: grpc.ClientReadableStream<unknown> | null;
}

export interface Registration {
  readonly resource: string;
  readonly endpoint: string;
  readonly at: number;
}

export class KubeletSimulator {
  private server: grpc.Server | null = null;
  private readonly endpoints = new Map<string, Endpoint>();
  readonly registrations: Registration[] = [];
  private waiters: (() => void)[] = [];

  constructor(readonly dir: string) {}

  get socket(): string {
    return join(this.dir, "kubelet.sock");
  }

  async start(): Promise<void> {
    const server = new grpc.Server();
    server.addService(api().v1beta1.Registration.service, {
      Register: (
        call: grpc.ServerUnaryCall<{ resource_name: string; endpoint: string; version: string }, unknown>,
        cb: grpc.sendUnaryData<object>,
      ) => {
        this.register(call.request.resource_name, join(this.dir, call.request.endpoint), call.request.version).then(
          () => cb(null, {}),
          (err: unknown) =>
            cb({ code: grpc.status.UNKNOWN, details: err instanceof Error ? err.message : String(err) }),
        );
      },
    });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix:${this.socket}`, grpc.ServerCredentials.createInsecure(), (err) => {
        this.servingSince = performance.now();
        if (err) reject(err);
        else resolve();
      }),
    );
    this.server = server;
  }

  /** When kubelet.sock was last bound (performance.now()). */
  servingSince = 0;

  /** Registration as kubelet does it: dial, GetDevicePluginOptions, answer, then ListAndWatch. */
  private async register(resource: string, socket: string, version: string): Promise<void> {
    if (this.server === null) throw new Error("kubelet is shutting down");
    if (version !== "v1beta1") throw new Error(`unsupported version ${version}`);
    if (!/^[a-z0-9.-]+\/[A-Za-z0-9_.-]+$/.test(resource)) throw new Error(`invalid resource name ${resource}`);
    const generation = this.generation;
    const endpoint = await this.connect(resource, socket);
    if (generation !== this.generation) {
      endpoint.client.close();
      throw new Error("kubelet restarted during registration");
    }
    this.registrations.push({ resource, endpoint: socket, at: performance.now() });
    this.endpoints.set(resource, endpoint);
    this.watch(endpoint);
    this.wake();
  }

  /** Plugin-watcher registration: GetInfo on a plugins_registry socket, then connect to its endpoint. */
  async registerFromRegistry(registrySocket: string): Promise<PluginInfo__Output> {
    const Client = api().pluginregistration.Registration;
    const reg = new Client(`unix:${registrySocket}`, grpc.credentials.createInsecure(), {
      "grpc.use_local_subchannel_pool": 1,
    });
    try {
      const info = await new Promise<PluginInfo__Output>((resolve, reject) =>
        reg.GetInfo({}, { deadline: Date.now() + 10_000 }, (err, res) =>
          err || !res ? reject(err ?? new Error("no info")) : resolve(res),
        ),
      );
      const endpoint = await this.connect(info.name, info.endpoint);
      this.registrations.push({ resource: info.name, endpoint: info.endpoint, at: performance.now() });
      this.endpoints.set(info.name, endpoint);
      this.watch(endpoint);
      await new Promise<void>((resolve, reject) =>
        reg.NotifyRegistrationStatus({ plugin_registered: true, error: "" }, (err) => (err ? reject(err) : resolve())),
      );
      this.wake();
      return info;
    } finally {
      reg.close();
    }
  }

  private async connect(resource: string, socket: string): Promise<Endpoint> {
    const Client = api().v1beta1.DevicePlugin;
    const client = new Client(`unix:${socket}`, grpc.credentials.createInsecure(), {
      "grpc.use_local_subchannel_pool": 1,
    });
    const opts = await new Promise<{ get_preferred_allocation_available: boolean }>((resolve, reject) =>
      client.GetDevicePluginOptions({}, { deadline: Date.now() + 10_000 }, (err, res) =>
        err || !res ? reject(err ?? new Error("no options")) : resolve(res),
      ),
    );
    if (!opts.get_preferred_allocation_available) throw new Error("plugin does not offer GetPreferredAllocation");
    return { resource, socket, client, devices: [], stoppedByKubelet: false, stream: null };
  }

  private watch(e: Endpoint): void {
    const stream = e.client.ListAndWatch({});
    e.stream = stream;
    stream.on("data", (msg: { devices: Device__Output[] }) => {
      e.devices = msg.devices;
      this.wake();
    });
    const ended = (): void => {
      if (e.stream !== stream) return;
      e.stream = null;
      if (e.stoppedByKubelet) return;
      // kubernetes#121994: the cleanup of an ended stream drops whatever endpoint
      // is current for the resource, even when a newer instance registered since.
      const current = this.endpoints.get(e.resource);
      if (current !== undefined) this.dropEndpoint(current);
      this.wake();
    };
    stream.on("error", ended);
    stream.on("end", ended);
  }

  private dropEndpoint(e: Endpoint): void {
    e.stoppedByKubelet = true;
    e.stream?.cancel();
    e.stream = null;
    e.client.close();
    if (this.endpoints.get(e.resource) === e) this.endpoints.delete(e.resource);
  }

  /** Devices of a resource as kubelet sees them ([] when not registered). */
  devices(resource: string): Device__Output[] {
    return this.endpoints.get(resource)?.devices ?? [];
  }

  allocatable(resource: string): number {
    return this.devices(resource).filter((d) => d.health === "Healthy").length;
  }

  isRegistered(resource: string): boolean {
    return this.endpoints.get(resource)?.stream != null;
  }

  /** Resolves when pred() holds, re-checked on every kubelet-side event (and every 20 ms). */
  async waitFor(pred: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`kubelet simulator: timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 20);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  async preferredAllocation(
    resource: string,
    available: string[],
    mustInclude: string[],
    size: number,
  ): Promise<string[]> {
    const e = this.mustGet(resource);
    return new Promise((resolve, reject) =>
      e.client.GetPreferredAllocation(
        {
          container_requests: [
            { available_deviceIDs: available, must_include_deviceIDs: mustInclude, allocation_size: size },
          ],
        },
        (err, res) =>
          err || !res ? reject(err ?? new Error("empty")) : resolve(res.container_responses[0]?.deviceIDs ?? []),
      ),
    );
  }

  async allocate(resource: string, ids: string[]): Promise<ContainerAllocateResponse__Output> {
    const e = this.mustGet(resource);
    return new Promise((resolve, reject) =>
      e.client.Allocate({ container_requests: [{ devices_ids: ids }] }, (err, res) => {
        const first = res?.container_responses[0];
        if (err || first === undefined) reject(err ?? new Error("empty"));
        else resolve(first);
      }),
    );
  }

  private mustGet(resource: string): Endpoint {
    const e = this.endpoints.get(resource);
    if (e === undefined) throw new Error(`kubelet simulator: "${resource}" is not registered`);
    return e;
  }

  /**
   * Kubelet restart: stop, delete every file in the dir, forget endpoints, serve a
   * new kubelet.sock. Returns when the files were deleted (performance.now()).
   */
  async restart(): Promise<number> {
    await this.stop();
    const deletedAt = performance.now();
    for (const f of readdirSync(this.dir)) rmSync(join(this.dir, f), { force: true, recursive: true });
    await this.start();
    return deletedAt;
  }

  /** Bumped by stop(): a registration that began in an earlier kubelet "process" is void. */
  private generation = 0;

  async stop(): Promise<void> {
    this.generation++;
    const s = this.server;
    this.server = null;
    for (const e of this.endpoints.values()) this.dropEndpoint(e);
    this.endpoints.clear();
    if (s !== null) await new Promise<void>((resolve) => s.tryShutdown(() => resolve()));
    s?.forceShutdown();
    rmSync(this.socket, { force: true });
  }
}
