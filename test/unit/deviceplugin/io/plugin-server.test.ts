// PluginServer's socket placement on a real unix socket: a new server takes the path
// over atomically, a rebind after the path vanished never clobbers a socket someone
// else bound, and stopping an old server leaves the new one's socket alone (libuv
// unlinks a listening socket's bound path when it closes).
import * as grpc from "@grpc/grpc-js";
import { lstatSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PluginServer, SocketTakenError, inodeOf } from "../../../../deviceplugin/io/plugin-server.js";
import { createLogger } from "../../../../deviceplugin/io/logger.js";
import { api } from "../../../../deviceplugin/io/proto.js";
import { parseConfig } from "../../../../deviceplugin/core/config.js";
import type { Pool } from "../../../../deviceplugin/core/pools.js";

let dir = "";
const servers: PluginServer[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "acn-dp-srv-"));
});

afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop(false, 0);
  rmSync(dir, { recursive: true, force: true });
});

function server(socketPath: string): PluginServer {
  const config = parseConfig('{"resourceList":[{"resourceName":"x","selectors":{}}]}').resources[0]!;
  const pool: Pool = { config, devices: [] };
  const s = new PluginServer({
    resource: config.fullName,
    socketPath,
    pool: () => pool,
    allocate: () => Promise.resolve([]),
    pluginWatcher: false,
    log: createLogger({ level: "error", write: () => undefined }),
    onStream: () => undefined,
  });
  servers.push(s);
  return s;
}

/** GetDevicePluginOptions through the path: proves a server listens there. */
async function answers(socketPath: string): Promise<boolean> {
  const Client = api().v1beta1.DevicePlugin;
  const client = new Client(`unix:${socketPath}`, grpc.credentials.createInsecure(), {
    "grpc.use_local_subchannel_pool": 1,
  });
  try {
    return await new Promise((resolve) =>
      client.GetDevicePluginOptions({}, { deadline: Date.now() + 5000 }, (err) => resolve(err === null)),
    );
  } finally {
    client.close();
  }
}

describe("PluginServer socket placement", () => {
  it("serves at the socket path and leaves no temporary file beside it", async () => {
    const path = join(dir, "a.sock");
    const s = server(path);
    await s.start();
    expect(readdirSync(dir)).toEqual(["a.sock"]);
    expect(s.socketInode).toBe(lstatSync(path).ino);
    expect(await answers(path)).toBe(true);
    await s.stop(true, 0);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("a new server replaces an old one's socket; stopping the old one leaves the new socket in place", async () => {
    const path = join(dir, "a.sock");
    const old = server(path);
    await old.start();
    const fresh = server(path);
    await fresh.start("replace");
    expect(inodeOf(path)).toBe(fresh.socketInode);
    expect(inodeOf(path)).not.toBe(old.socketInode);
    await old.stop(false, 0);
    expect(readdirSync(dir)).toEqual(["a.sock"]);
    expect(inodeOf(path)).toBe(fresh.socketInode);
    expect(await answers(path)).toBe(true);
  });

  it("an exclusive start fails with SocketTakenError when the path holds another socket, and serves nothing", async () => {
    const path = join(dir, "a.sock");
    const owner = server(path);
    await owner.start();
    const late = server(path);
    await expect(late.start("exclusive")).rejects.toBeInstanceOf(SocketTakenError);
    expect(late.serving).toBe(false);
    expect(readdirSync(dir)).toEqual(["a.sock"]);
    expect(inodeOf(path)).toBe(owner.socketInode);
    expect(await answers(path)).toBe(true);
  });

  it("an exclusive start binds a vanished path again", async () => {
    const path = join(dir, "a.sock");
    const s = server(path);
    await s.start();
    rmSync(path); // kubelet restarted and deleted its dir's files
    await s.stop(false, 0);
    await s.start("exclusive");
    expect(readdirSync(dir)).toEqual(["a.sock"]);
    expect(await answers(path)).toBe(true);
  });
});
