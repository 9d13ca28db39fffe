// The OVSDB client against a fake ovsdb-server speaking RFC 7047 over a real Unix socket: framing
// (partial and concatenated messages), echo, transact results and per-operation errors, timeouts.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { OvsdbClient, OvsdbError, withOvsdb } from "../../../../cni/ovsdb/client.js";
import { JsonStreamSplitter } from "../../../../cni/ovsdb/framing.js";
import { findBridge, findPort, insertVhostPort, removePort } from "../../../../cni/ovsdb/ports.js";
import { select, waitForInterface } from "../../../../cni/ovsdb/schema.js";
import { FakeOvsdb, type FakeOptions } from "./fake-ovsdb.js";

describe("JsonStreamSplitter", () => {
  it("returns nothing for half a message and the message once the rest arrives", () => {
    const s = new JsonStreamSplitter();
    expect(s.push('{"id":1,"res')).toEqual([]);
    expect(s.push('ult":[1]}')).toEqual([{ id: 1, result: [1] }]);
  });

  it("splits messages written back to back, with whitespace between", () => {
    const s = new JsonStreamSplitter();
    expect(s.push('{"a":1}{"b":[2]} \n{"c":{}}')).toEqual([{ a: 1 }, { b: [2] }, { c: {} }]);
  });

  it("ignores braces and escaped quotes inside strings, across chunks", () => {
    const s = new JsonStreamSplitter();
    expect(s.push('{"x":"}{\\"')).toEqual([]);
    expect(s.push('\\\\"}{"y":"é"}')).toEqual([{ x: '}{"\\' }, { y: "é" }]);
  });

  it("refuses text between messages that is not JSON", () => {
    expect(() => new JsonStreamSplitter().push('{"a":1}x')).toThrow(/between messages/);
  });
});

describe("OvsdbClient against a fake ovsdb-server", () => {
  let dir: string;
  let fake: FakeOvsdb;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "acn-ovsdb-"));
  });
  afterEach(async () => {
    await fake?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const start = async (opts: FakeOptions = {}) => {
    fake = new FakeOvsdb(join(dir, "db.sock"), opts);
    await fake.start();
    return fake;
  };

  it("inserts a port in one transaction with named-uuids and reads it back", async () => {
    await start();
    const bridgeUuid = fake.addBridge("br-dpdk");
    await withOvsdb(fake.path, 2000, async (c) => {
      expect(await findBridge(c, "br-dpdk")).toEqual({ uuid: bridgeUuid, datapathType: "netdev" });
      const portUuid = await insertVhostPort(c, {
        bridgeUuid,
        name: "vhu0123456789ab",
        mode: "client",
        serverPath: "/run/x/socket",
        vlan: 100,
        mtu: 9000,
        externalIds: { "accelnet:attachment": "c1/net1" },
      });
      const port = await findPort(c, "vhu0123456789ab");
      expect(port).toMatchObject({
        uuid: portUuid,
        bridge: "br-dpdk",
        tag: 100,
        externalIds: { "accelnet:attachment": "c1/net1" },
      });
      expect(port?.iface).toEqual({
        type: "dpdkvhostuserclient",
        options: { "vhost-server-path": "/run/x/socket" },
        mtuRequest: 9000,
        ofport: 7,
        error: undefined,
      });
      expect(await waitForInterface(c, "vhu0123456789ab", 1000)).toEqual({ ofport: 7 });
      await removePort(c, portUuid);
      expect(await findPort(c, "vhu0123456789ab")).toBeNull();
    });
    // The server collected the unreferenced Port and Interface rows.
    expect(fake.tables["Port"]?.size).toBe(0);
    expect(fake.tables["Interface"]?.size).toBe(0);
  });

  it("reads answers written three characters at a time", async () => {
    await start({ chunk: 3 });
    fake.addBridge("br0", "system");
    await withOvsdb(fake.path, 2000, async (c) => {
      expect(await findBridge(c, "br0")).toMatchObject({ datapathType: "system" });
    });
  });

  it("answers the server's echo, sent in the same write as an answer, and still gets the answer", async () => {
    await start({ echoFirst: true });
    fake.addBridge("br0");
    await withOvsdb(fake.path, 2000, async (c) => {
      expect(await select(c, "Bridge", [["name", "==", "br0"]], ["name"])).toEqual([{ name: "br0" }]);
      expect(await select(c, "Bridge", [["name", "==", "br1"]], ["name"])).toEqual([]);
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(fake.echoReplies).toBe(2);
  });

  it("names the operation and the server's error and details when one operation fails", async () => {
    await start();
    await withOvsdb(fake.path, 2000, async (c) => {
      await expect(c.transact([{ op: "select", table: "Nope", where: [] }])).rejects.toThrow(
        'ovsdb-server refused "select Nope" (unknown table: Nope)',
      );
    });
  });

  it("reports a commit failure (a duplicate port name) with the server's details", async () => {
    await start();
    const bridgeUuid = fake.addBridge("br-dpdk");
    await withOvsdb(fake.path, 2000, async (c) => {
      const spec = { bridgeUuid, name: "vhuaaaaaaaaaaaa", mode: "server" as const, externalIds: {} };
      await insertVhostPort(c, spec);
      const err = await insertVhostPort(c, spec).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OvsdbError);
      expect((err as OvsdbError).kind).toBe("operation");
      expect((err as Error).message).toMatch(/refused "commit" \(constraint violation: .*"vhuaaaaaaaaaaaa"/);
    });
  });

  it("turns a JSON-RPC error into an rpc OvsdbError", async () => {
    await start();
    await withOvsdb(fake.path, 2000, async (c) => {
      const err = await c.call("transact", ["Nope"]).catch((e: unknown) => e);
      expect(err).toMatchObject({ kind: "rpc" });
      expect((err as Error).message).toContain("unknown database");
    });
  });

  it("fails a request the server never answers after the timeout", async () => {
    await start({ silent: true });
    const t0 = Date.now();
    const err = await withOvsdb(fake.path, 150, (c) =>
      c.transact([{ op: "select", table: "Bridge", where: [] }]),
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: "timeout" });
    expect((err as Error).message).toContain('did not answer "transact" in 150 ms');
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it("says which socket it could not reach, with the errno", async () => {
    const err = await OvsdbClient.connect(join(dir, "none.sock"), 500).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: "unreachable", errno: "ENOENT" });
    expect((err as Error).message).toContain(join(dir, "none.sock"));
  });

  it("fails pending and later requests once the server closes the connection", async () => {
    await start({ silent: true });
    const c = await OvsdbClient.connect(fake.path, 5000);
    const pending = c.transact([{ op: "select", table: "Bridge", where: [] }]);
    await new Promise((r) => setTimeout(r, 50));
    await fake.stop();
    await expect(pending).rejects.toMatchObject({ kind: "closed" });
    await expect(c.transact([])).rejects.toMatchObject({ kind: "closed" });
  });

  it("waits for ovs-vswitchd's verdict: an error column, or a timeout when nothing fills ofport", async () => {
    await start({ vswitchd: "error" });
    const bridgeUuid = fake.addBridge("br-dpdk");
    await withOvsdb(fake.path, 2000, async (c) => {
      await insertVhostPort(c, { bridgeUuid, name: "vhubbbbbbbbbbbb", mode: "client", externalIds: {} });
      expect(await waitForInterface(c, "vhubbbbbbbbbbbb", 1000)).toEqual({
        error: "could not open network device (No such device)",
      });
    });
    fake.opts.vswitchd = "none";
    await withOvsdb(fake.path, 2000, async (c) => {
      await insertVhostPort(c, { bridgeUuid, name: "vhucccccccccccc", mode: "client", externalIds: {} });
      const err = await waitForInterface(c, "vhucccccccccccc", 200).catch((e: unknown) => e);
      expect(err).toMatchObject({ kind: "timeout" });
      expect((err as Error).message).toContain('ovs-vswitchd did not configure interface "vhucccccccccccc" in 200 ms');
    });
  });
});
