// The packaged CNI server on a real Unix socket: the contract's framing, what it refuses to start on,
// who may connect (root only: directory mode and SO_PEERCRED), SIGTERM's drain, and accelnet as its own
// IPAM plugin at bound 1. Attachments through the server: server-macvlan.test.ts.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { exchange, requestFrame } from "../../tools/cni-server-client.mjs";
import { Fixture, isRoot } from "./netns-fixture.js";
import { CLIENT, haveServer, ServerProcess } from "./server-fixture.js";

const ready = isRoot && haveServer;
const VERSION_ENV = { CNI_COMMAND: "VERSION" };

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

/** Runs the test client as a program (as a front end would be run), optionally under setpriv. */
function clientRun(socket: string, env: Record<string, string>, stdin: string, prefix: string[] = []) {
  const [cmd, ...args] = [...prefix, process.execPath, CLIENT];
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
    const child = spawn(cmd ?? "", args, {
      env: { ...env, ACCELNET_CNI_SOCKET: socket, PATH: "/usr/bin:/bin" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.stdin.end(stdin);
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

describe.skipIf(!ready)("CNI server: framing, start-up, root only, drain (packaged, real socket)", () => {
  let fx: Fixture;
  let socket: string;
  let server: ServerProcess | undefined;

  beforeEach(() => {
    fx = new Fixture();
    socket = join(fx.dir, "run", "cni", "server.sock");
    server = undefined;
  });
  afterEach(async () => {
    await server?.stop("SIGKILL");
    fx.cleanup();
  });

  it("answers VERSION, makes its directory root's 0700 and its socket 0600", async () => {
    server = await ServerProcess.start(socket);
    const r = await server.call(VERSION_ENV, "{}");
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.out).toEqual({
      cniVersion: "1.1.0",
      supportedVersions: ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
    });
    const dir = statSync(join(fx.dir, "run", "cni"));
    expect([dir.uid, dir.mode & 0o7777]).toEqual([0, 0o700]);
    const sock = statSync(socket);
    expect([sock.isSocket(), sock.uid, sock.mode & 0o7777]).toEqual([true, 0, 0o600]);
  });

  it("a request's error comes back as the dispatcher prints it: stdout, exit status, in the request's version", async () => {
    server = await ServerProcess.start(socket);
    const r = await server.call({ CNI_COMMAND: "ADD" }, '{"cniVersion":"0.4.0","name":"n","type":"accelnet"}');
    expect(r.code).toBe(1);
    expect(r.out).toMatchObject({ cniVersion: "0.4.0", code: 4 });
    expect(String(r.out?.["msg"])).toContain("required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH]");
    // the variables it forwards are the request's only environment: the server's own PATH is not seen
    const log = server.requests().at(-1);
    expect(log).toMatchObject({ command: "ADD", containerID: "", ifname: "", exit: 1 });
    expect(typeof log?.["durationMs"]).toBe("number");
  });

  it("stdin over 1 MiB inside a well-formed frame is impossible: the frame is refused by its header, unanswered", async () => {
    server = await ServerProcess.start(socket);
    const header = Buffer.concat([Buffer.from("ACNCNI1\0", "latin1"), u32(0), u32(1024 * 1024 + 1)]);
    // only the header: the server must not wait for (or buffer) the announced megabyte
    const started = Date.now();
    const reply = await new Promise<Buffer>((done) => {
      const chunks: Buffer[] = [];
      const s = connect(socket, () => s.write(header));
      s.on("data", (c: Buffer) => chunks.push(c));
      s.on("error", () => undefined);
      s.on("close", () => done(Buffer.concat(chunks)));
    });
    expect(reply.length).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    await expect.poll(() => server?.log.find((l) => l.msg.includes("malformed request"))).toBeTruthy();
    expect(String(server.log.find((l) => l.msg.includes("malformed"))?.["error"])).toContain("stdin of 1048577 bytes");
  });

  it("bad magic, an env block over 64 KiB, a variable outside CNI_/ACCELNET_, a truncated frame: closed unanswered, others served", async () => {
    server = await ServerProcess.start(socket);
    const good = requestFrame(VERSION_ENV, "{}");
    const badMagic = Buffer.from(good);
    badMagic[0] = 0x58;
    const hugeEnv = Buffer.concat([Buffer.from("ACNCNI1\0", "latin1"), u32(65537)]);
    const foreign = Buffer.from("PATH=/tmp/evil\0", "latin1");
    const foreignEnv = Buffer.concat([Buffer.from("ACNCNI1\0", "latin1"), u32(foreign.length), foreign, u32(0)]);
    const truncated = good.subarray(0, good.length - 1);
    const replies = await Promise.all(
      [badMagic, hugeEnv, foreignEnv, truncated, good].map((frame) => exchange(socket, frame)),
    );
    expect(replies.slice(0, 4).map((r) => r.length)).toEqual([0, 0, 0, 0]);
    expect(replies[4]?.subarray(0, 8).toString("latin1")).toBe("ACNCNI1\0");
    await expect
      .poll(() => server?.log.filter((l) => l.msg.startsWith("connection closed without an answer")).length)
      .toBe(4);
    const errors = server.log.map((l) => (typeof l["error"] === "string" ? l["error"] : ""));
    expect(errors.some((e) => e.includes("bad magic"))).toBe(true);
    expect(errors.some((e) => e.includes("env block of 65537 bytes"))).toBe(true);
    expect(errors.some((e) => e.includes('env entry "PATH"'))).toBe(true);
    expect(errors.some((e) => e.includes("mid-frame"))).toBe(true);
    expect((await server.call(VERSION_ENV, "{}")).code).toBe(0);
  });

  it("a client that disconnects before its answer does not harm the server", async () => {
    server = await ServerProcess.start(socket);
    for (let i = 0; i < 20; i++) {
      const s = connect(socket, () => {
        s.write(requestFrame(VERSION_ENV, "{}"));
        s.destroy();
      });
      s.on("error", () => undefined);
    }
    await new Promise((r) => setTimeout(r, 500));
    expect((await server.call(VERSION_ENV, "{}")).code).toBe(0);
    expect(server.child.exitCode).toBeNull();
  });

  it("refuses to start on a socket dir that is a symlink, not root's, or under a directory others can write", async () => {
    const real = join(fx.dir, "real");
    mkdirSync(real, { mode: 0o700 });
    mkdirSync(join(fx.dir, "a"));
    symlinkSync(real, join(fx.dir, "a", "cni"));
    const link = await ServerProcess.refusal(join(fx.dir, "a", "cni", "s.sock"));
    expect(link.code).toBe(1);
    expect(link.log.at(-1)?.msg).toMatch(/^cannot start: Cannot use socket dir ".*\/a\/cni": it is a symbolic link$/);

    mkdirSync(join(fx.dir, "b", "cni"), { recursive: true, mode: 0o700 });
    chownSync(join(fx.dir, "b", "cni"), 65534, 65534);
    const owner = await ServerProcess.refusal(join(fx.dir, "b", "cni", "s.sock"));
    expect(owner.code).toBe(1);
    expect(owner.log.at(-1)?.msg).toContain("it is owned by uid 65534, not root");

    mkdirSync(join(fx.dir, "c"), { mode: 0o777 });
    chmodSync(join(fx.dir, "c"), 0o777);
    const open = await ServerProcess.refusal(join(fx.dir, "c", "cni", "s.sock"));
    expect(open.code).toBe(1);
    expect(open.log.at(-1)?.msg).toContain("group or others can write to it");
    expect(existsSync(join(fx.dir, "c", "cni"))).toBe(false);
  });

  it("makes an existing root-owned socket dir with a looser mode 0700, and replaces a stale socket", async () => {
    const dir = join(fx.dir, "run", "cni");
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o755);
    const first = await ServerProcess.start(socket);
    await first.stop("SIGKILL"); // leaves its socket behind, as a crash does
    expect(statSync(socket).isSocket()).toBe(true);
    server = await ServerProcess.start(socket);
    expect(statSync(dir).mode & 0o7777).toBe(0o700);
    expect((await server.call(VERSION_ENV, "{}")).code).toBe(0);
    // a live server's socket is not taken over
    const second = await ServerProcess.refusal(socket);
    expect(second.code).toBe(1);
    expect(second.log.at(-1)?.msg).toContain("another server answers there");
  });

  it("refuses a uid-65534 peer that passes the directory (CAP_DAC_OVERRIDE) by SO_PEERCRED; plain nobody cannot connect", async () => {
    server = await ServerProcess.start(socket);
    const asNobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
    const caps = ["--inh-caps=+dac_override", "--ambient-caps=+dac_override"];
    const privileged = await clientRun(socket, VERSION_ENV, "{}", [...asNobody, ...caps]);
    expect(privileged).toMatchObject({ code: 112, stdout: "" });
    expect(privileged.stderr).toContain("no answer (0 bytes)");
    const refused = server.log.find((l) => l.msg === "connection refused: peer is not root");
    expect(refused).toMatchObject({ uid: 65534, gid: 65534 });
    expect(server.requests()).toEqual([]);

    const plain = await clientRun(socket, VERSION_ENV, "{}", asNobody);
    expect(plain).toMatchObject({ code: 111, stdout: "" });
    expect(plain.stderr).toContain("EACCES");
    // root, the same client program: served
    const root = await clientRun(socket, VERSION_ENV, "{}");
    expect(root.code).toBe(0);
    expect(JSON.parse(root.stdout)).toHaveProperty("supportedVersions");
  });

  it("SIGTERM: the socket is gone at once, the request in flight still gets its answer, exit 0", async () => {
    const bin = join(fx.dir, "bin");
    mkdirSync(bin);
    // an IPAM plugin that takes 3 s and then fails: the request is in flight long enough to signal
    writeFileSync(join(bin, "slow-ipam"), '#!/bin/sh\nsleep 3\necho \'{"code":11,"msg":"slow"}\'\nexit 1\n', {
      mode: 0o755,
    });
    server = await ServerProcess.start(socket);
    const conf = {
      cniVersion: "1.0.0",
      name: "n",
      type: "accelnet",
      master: fx.master("m0"),
      ipam: { type: "slow-ipam" },
    };
    const ns = fx.netns("pod");
    const env = {
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: "drain1",
      CNI_NETNS: ns,
      CNI_IFNAME: "net1",
      CNI_PATH: bin,
      ACCELNET_STATE_DIR: join(fx.dir, "state"),
    };
    const inFlight = server.call(env, JSON.stringify(conf));
    await new Promise((r) => setTimeout(r, 1000));
    server.child.kill("SIGTERM");
    await expect.poll(() => existsSync(socket)).toBe(false);
    await expect(exchange(socket, requestFrame(VERSION_ENV, "{}"))).rejects.toMatchObject({ code: "ENOENT" });
    const answer = await inFlight;
    expect(answer.out).toMatchObject({ code: 11, msg: 'Cannot run IPAM plugin "slow-ipam" ADD: slow' });
    expect(await server.exit()).toEqual({ code: 0, signal: null });
    expect(server.log.map((l) => l.msg)).toEqual(
      expect.arrayContaining(["shutting down: socket removed, draining", "request", "drained, exiting"]),
    );
  });

  it("accelnet as its own IPAM plugin at bound 1: code 7 by name, and a forwarding copy does not deadlock", async () => {
    const bin = join(fx.dir, "bin");
    mkdirSync(bin);
    // A copy of "the front end" installed under another name: forwards whatever it is given to the server.
    writeFileSync(join(bin, "forwarder"), `#!/bin/sh\nexec ${process.execPath} ${CLIENT}\n`, { mode: 0o755 });
    server = await ServerProcess.start(socket, ["--max-concurrent", "1"]);
    const ns = fx.netns("pod");
    const master = fx.master("m0");
    const env = {
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: "self1",
      CNI_NETNS: ns,
      CNI_IFNAME: "net1",
      CNI_PATH: bin,
      ACCELNET_STATE_DIR: join(fx.dir, "state"),
      ACCELNET_CNI_SOCKET: socket,
    };
    const conf = (type: string) =>
      JSON.stringify({ cniVersion: "1.0.0", name: "n", type: "accelnet", master, ipam: { type } });
    const byName = await server.call(env, conf("accelnet"));
    expect(byName.out).toMatchObject({ code: 7 });
    expect(String(byName.out?.["msg"])).toContain('"ipam.type": "accelnet" is accelnet itself');
    const started = Date.now();
    const forwarded = await server.call({ ...env, CNI_CONTAINERID: "self2" }, conf("forwarder"));
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(forwarded.out).toMatchObject({ code: 7 });
    expect(String(forwarded.out?.["msg"])).toContain("as another plugin's IPAM plugin (ACCELNET_DELEGATED is set)");
    // the delegated request was served beside the one holding the only slot
    const logged = server.requests();
    expect(logged.filter((l) => l["command"] === "ADD")).toHaveLength(3);
    expect(spawnSync("ip", ["-n", ns.split("/").pop() ?? "", "link", "show", "net1"]).status).not.toBe(0);
  });
});
