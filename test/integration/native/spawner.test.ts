// `accelnet-helper spawner` (ASan/UBSan build, leaks checked at its exit) spoken to in raw frames
// (native/PROTOCOL.md "Resident mode: spawner"), then through its TypeScript client
// (native/client/spawner.ts), whose results must equal Node's own runner's for the same children.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { nodeRunProcess, type RunOptions } from "../../../native/client/run-process.js";
import { frame, Spawner } from "../../../native/client/spawner.js";
import { HELPER_ASAN, isRoot, requireHelper } from "./_netns.js";

const SANITIZERS = {
  ASAN_OPTIONS: "halt_on_error=1:exitcode=86:detect_leaks=1",
  UBSAN_OPTIONS: "halt_on_error=1:print_stacktrace=1",
};
const ENOENT = 2;
const EBADF = 9;
const ESRCH = 3;
const EINVAL = 22;
const EMSGSIZE = 90;
const ENOTSOCK = 88;

interface Reply {
  id: number;
  type: number;
  body: Buffer;
}

function u32(...v: number[]): Buffer {
  const b = Buffer.alloc(4 * v.length);
  v.forEach((x, i) => b.writeUInt32LE(x >>> 0, 4 * i));
  return b;
}

function spawnPayload(
  argv: string[],
  opts: { env?: string[]; stdin?: string; setsid?: boolean; batch?: boolean; cap?: number } = {},
) {
  const env = opts.env ?? ["PATH=/usr/bin:/bin"];
  // path, argv (argv[0] = path), env
  const strings = Buffer.from([argv[0]!, ...argv, ...env].map((s) => `${s}\0`).join(""));
  const stdin = Buffer.from(opts.stdin ?? "");
  return Buffer.concat([
    Buffer.from([(opts.setsid ? 1 : 0) | (opts.batch ? 2 : 0)]),
    u32(opts.cap ?? 1 << 20, argv.length, env.length, strings.length),
    strings,
    u32(stdin.length),
    stdin,
  ]);
}

/** A raw spawner: frames in, replies out in order, its stderr kept to check for sanitizer reports. */
class Raw {
  readonly proc: ChildProcess;
  private buf = Buffer.alloc(0);
  private readonly replies: Reply[] = [];
  private waiters: (() => void)[] = [];
  stderr = "";
  readonly exited: Promise<{ code: number | null; signal: string | null }>;

  constructor() {
    this.proc = spawn(HELPER_ASAN, ["spawner"], {
      env: { ...process.env, ...SANITIZERS },
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.proc.stdout!.on("data", (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      while (this.buf.length >= 4 && this.buf.length >= 4 + this.buf.readUInt32LE(0)) {
        const len = this.buf.readUInt32LE(0);
        this.replies.push({ id: this.buf.readUInt32LE(4), type: this.buf[8]!, body: this.buf.subarray(9, 4 + len) });
        this.buf = this.buf.subarray(4 + len);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    this.proc.stderr!.on("data", (c: Buffer) => (this.stderr += c.toString()));
    this.exited = new Promise((done) => this.proc.on("exit", (code, signal) => done({ code, signal })));
  }

  send(b: Buffer): void {
    this.proc.stdin!.write(b);
  }

  async next(): Promise<Reply> {
    const deadline = Date.now() + 10_000;
    while (this.replies.length === 0) {
      if (Date.now() > deadline) throw new Error("no reply from the spawner within 10 s");
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
    return this.replies.shift()!;
  }

  /** Closes stdin and checks a clean exit without sanitizer reports. */
  async end(): Promise<void> {
    this.proc.stdin!.end();
    const exit = await this.exited;
    expect(this.stderr).not.toMatch(/Sanitizer|runtime error|leak/i);
    expect(exit).toEqual({ code: 0, signal: null });
  }
}

function errorOf(r: Reply): { errno: number; message: string } {
  return { errno: r.body.readUInt32LE(0), message: r.body.subarray(8, 8 + r.body.readUInt32LE(4)).toString() };
}

function exitedOf(r: Reply) {
  const outLen = r.body.readUInt32LE(9);
  const errLen = r.body.readUInt32LE(13 + outLen);
  return {
    code: r.body.readInt32LE(0),
    signal: r.body.readInt32LE(4),
    capped: r.body[8] === 1,
    stdout: r.body.subarray(13, 13 + outLen).toString(),
    stderr: r.body.subarray(17 + outLen, 17 + outLen + errLen).toString(),
  };
}

function alive(pid: number): boolean {
  try {
    // a zombie is no longer running: /proc says Z
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
  return !alive(pid);
}

describe.skipIf(!isRoot)("accelnet-helper spawner, raw frames (ASan)", () => {
  let dir = "";
  let raw: Raw;
  beforeAll(() => {
    requireHelper();
    dir = mkdtempSync(join(tmpdir(), "acn-spawner-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(() => {
    if (raw.proc.exitCode === null) raw.proc.kill("SIGKILL");
  });

  it("spawn round-trips stdin, stdout, stderr and the exit code", async () => {
    raw = new Raw();
    raw.send(
      frame(
        7,
        1,
        spawnPayload(["/bin/sh", "-c", 'read l; echo "got $l $FOO"; echo oops >&2; exit 3'], {
          env: ["FOO=bar"],
          stdin: "hello\n",
        }),
      ),
    );
    const started = await raw.next();
    expect({ id: started.id, type: started.type }).toEqual({ id: 7, type: 0x81 });
    const pid = started.body.readUInt32LE(0);
    expect(pid).toBeGreaterThan(1);
    const exited = await raw.next();
    expect({ id: exited.id, type: exited.type }).toEqual({ id: 7, type: 0x82 });
    expect(exitedOf(exited)).toEqual({
      code: 3,
      signal: 0,
      capped: false,
      stdout: "got hello bar\n",
      stderr: "oops\n",
    });
    await raw.end();
  });

  it("reports a child killed by a signal as that signal, and an exec of a missing file as ENOENT", async () => {
    raw = new Raw();
    raw.send(frame(1, 1, spawnPayload(["/bin/sh", "-c", "kill -TERM $$"])));
    raw.send(frame(2, 1, spawnPayload([join(dir, "missing")])));
    const replies = [await raw.next(), await raw.next(), await raw.next()];
    const err = replies.find((r) => r.id === 2)!;
    expect(err.type).toBe(0x84);
    expect(errorOf(err).errno).toBe(ENOENT);
    expect(errorOf(err).message).toMatch(/^execve ".*missing": No such file or directory$/);
    const exited = replies.find((r) => r.id === 1 && r.type === 0x82)!;
    expect(exitedOf(exited)).toMatchObject({ code: -1, signal: 15 });
    await raw.end();
  });

  it("kill of a process group ends the child and the grandchild it started", async () => {
    raw = new Raw();
    const pidFile = join(dir, "grandchild.pid");
    raw.send(frame(3, 1, spawnPayload(["/bin/sh", "-c", `sleep 1000 & echo $! > ${pidFile}; wait`], { setsid: true })));
    const started = await raw.next();
    expect(started.type).toBe(0x81);
    const child = started.body.readUInt32LE(0);
    let grandchild = 0;
    for (let i = 0; i < 100 && grandchild === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      try {
        grandchild = Number(readFileSync(pidFile, "utf8").trim());
      } catch {
        grandchild = 0;
      }
    }
    expect(alive(grandchild)).toBe(true);
    raw.send(frame(4, 2, Buffer.concat([u32(3, 9), Buffer.from([1])])));
    const exited = await raw.next();
    expect({ id: exited.id, type: exited.type }).toEqual({ id: 3, type: 0x82 });
    expect(exitedOf(exited).signal).toBe(9);
    expect(await gone(child)).toBe(true);
    expect(await gone(grandchild)).toBe(true);
    // a kill for a request that is no longer running: ESRCH to the kill's own id
    raw.send(frame(5, 2, Buffer.concat([u32(3, 9), Buffer.from([1])])));
    const late = await raw.next();
    expect({ id: late.id, type: late.type, errno: errorOf(late).errno }).toEqual({ id: 5, type: 0x84, errno: ESRCH });
    await raw.end();
  });

  it("refuses malformed and oversized frames with an error reply and goes on serving", async () => {
    raw = new Raw();
    raw.send(frame(9, 0x7f, Buffer.alloc(0))); // unknown type
    raw.send(frame(10, 1, Buffer.from([0, 1, 2]))); // truncated spawn
    // strings block that holds 2 strings where path + 2 argv + 1 env are announced
    raw.send(frame(11, 1, Buffer.concat([Buffer.from([0]), u32(1024, 2, 1, 4), Buffer.from("a\0b\0"), u32(0)])));
    raw.send(Buffer.concat([u32(2), Buffer.from([1, 2])])); // too short for an id and a type
    raw.send(Buffer.concat([u32((4 << 20) + 1), Buffer.alloc((4 << 20) + 1)])); // one byte over the limit
    raw.send(frame(12, 1, spawnPayload(["/bin/echo", "still here"])));
    const refusals = [await raw.next(), await raw.next(), await raw.next(), await raw.next(), await raw.next()];
    expect(refusals.map((r) => [r.id, r.type, errorOf(r).errno])).toEqual([
      [9, 0x84, EINVAL],
      [10, 0x84, EINVAL],
      [11, 0x84, EINVAL],
      [0, 0x84, EINVAL],
      [0, 0x84, EMSGSIZE],
    ]);
    expect((await raw.next()).type).toBe(0x81);
    expect(exitedOf(await raw.next()).stdout).toBe("still here\n");
    await raw.end();
  });

  it("kills a child whose output passes its cap, with its process group", async () => {
    raw = new Raw();
    // In a group of its own: the shell may have started `sleep` (which holds the pipe) by the time the
    // spawner reads past the cap, and only a group kill reaches it.
    const argv = ["/bin/sh", "-c", "head -c 100000 /dev/zero; sleep 1000"];
    raw.send(frame(13, 1, spawnPayload(argv, { cap: 1000, setsid: true })));
    expect((await raw.next()).type).toBe(0x81);
    const x = exitedOf(await raw.next());
    expect(x).toMatchObject({ signal: 9, capped: true });
    expect(x.stdout.length).toBeLessThanOrEqual(1000);
    await raw.end();
  });

  it("runs a helper batch in its own fork, without an exec: the path is not even looked at", async () => {
    raw = new Raw();
    // A path that does not exist: an exec would fail with ENOENT; the batch flag runs the helper's code.
    const argv = ["/nonexistent/accelnet-helper", "link-show", "name=lo"];
    raw.send(frame(14, 1, spawnPayload(argv, { batch: true })));
    expect((await raw.next()).type).toBe(0x81);
    const x = exitedOf(await raw.next());
    expect(x).toMatchObject({ code: 0, signal: 0, capped: false });
    expect(JSON.parse(x.stdout)).toMatchObject({ ok: true, results: [{ link: { name: "lo", index: 1 } }] });
    // A batch that fails answers as the exec'd helper does: exit 2 and the reason in the reply.
    raw.send(frame(15, 1, spawnPayload(["x", "no-such-command"], { batch: true })));
    expect((await raw.next()).type).toBe(0x81);
    const bad = exitedOf(await raw.next());
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stdout)).toMatchObject({
      ok: false,
      error: { message: /unknown command "no-such-command"/ },
    });
    await raw.end();
  });

  it("at stdin EOF exits 0 and its children die with it", async () => {
    raw = new Raw();
    raw.send(frame(20, 1, spawnPayload(["/bin/sleep", "1000"])));
    raw.send(frame(21, 1, spawnPayload(["/bin/sleep", "1000"], { setsid: true })));
    const pids = [(await raw.next()).body.readUInt32LE(0), (await raw.next()).body.readUInt32LE(0)];
    for (const pid of pids) expect(alive(pid)).toBe(true);
    await raw.end();
    for (const pid of pids) expect(await gone(pid)).toBe(true);
  });

  describe("peer-cred", () => {
    let server: Server;
    let accepted: Promise<Socket>;
    let peer: ChildProcess;
    const path = () => join(dir, "peer.sock");
    beforeAll(async () => {
      accepted = new Promise((resolve) => {
        server = createServer((s) => resolve(s));
      });
      await new Promise<void>((r) => server.listen(path(), r));
      // a real other process connects (as root, uid 0)
      peer = spawn(process.execPath, [
        "-e",
        `require("net").connect(${JSON.stringify(path())}); setInterval(() => {}, 1000)`,
      ]);
    });
    afterAll(() => {
      peer.kill("SIGKILL");
      server.close();
    });

    it("reads the pid and uid of the process at the other end of an accepted socket, by its fd number", async () => {
      const socket = await accepted;
      const fd = (socket as unknown as { _handle: { fd: number } })._handle.fd;
      raw = new Raw();
      raw.send(frame(30, 3, u32(fd)));
      const cred = await raw.next();
      expect({ id: cred.id, type: cred.type }).toEqual({ id: 30, type: 0x83 });
      expect({ pid: cred.body.readUInt32LE(0), uid: cred.body.readUInt32LE(4) }).toEqual({ pid: peer.pid, uid: 0 });
      const file = openSync(join(dir, "not-a-socket"), "w");
      raw.send(frame(31, 3, u32(file))); // a regular file of this process
      const refused = await raw.next();
      closeSync(file);
      expect({ type: refused.type, errno: errorOf(refused).errno }).toEqual({ type: 0x84, errno: ENOTSOCK });
      raw.send(frame(32, 3, u32(100_000))); // not open
      expect(errorOf(await raw.next()).errno).toBe(EBADF);
      await raw.end();
    });
  });
});

describe.skipIf(!isRoot)("Spawner (native/client/spawner.ts) over the ASan helper", () => {
  let dir = "";
  const logs: string[] = [];
  let spawner: Spawner;
  beforeAll(() => {
    requireHelper();
    dir = mkdtempSync(join(tmpdir(), "acn-spawner-client-"));
    spawner = new Spawner({ helperPath: HELPER_ASAN, log: (m) => logs.push(m) });
    spawner.start();
  });
  afterAll(() => {
    spawner.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const cases: [string, RunOptions][] = [
    [
      "stdin, env, exit code",
      { path: "/bin/sh", args: ["-c", 'cat; echo "$A" >&2; exit 4'], env: { A: "x" }, stdin: "in", timeoutMs: 5000 },
    ],
    ["a signal", { path: "/bin/sh", args: ["-c", "kill -KILL $$"], timeoutMs: 5000 }],
    ["no stdin", { path: "/bin/cat", timeoutMs: 5000 }],
  ];
  for (const [name, opts] of cases) {
    it(`runProcess() gives what Node's spawn gives: ${name}`, async () => {
      expect(await spawner.runProcess(opts)).toEqual(await nodeRunProcess(opts));
    });
  }

  // The spawner's own helper: run in its fork instead of an exec, with the same answer.
  const batches: [string, readonly string[]][] = [
    ["a batch", ["link-show", "name=lo"]],
    ["--version", ["--version"]],
    ["a refused batch", ["link-show", "name=a/b"]],
  ];
  for (const [name, args] of batches) {
    it(`runProcess() of the helper itself gives what its exec gives: ${name}`, async () => {
      const opts = { path: HELPER_ASAN, args, env: { PATH: "/usr/bin:/bin" }, timeoutMs: 5000 };
      expect(await spawner.runProcess(opts)).toEqual(await nodeRunProcess(opts));
    });
  }

  it("runProcess() rejects a missing executable with ENOENT, as Node's spawn does", async () => {
    const opts = { path: join(dir, "missing"), timeoutMs: 5000 };
    await expect(nodeRunProcess(opts)).rejects.toMatchObject({ code: "ENOENT" });
    await expect(spawner.runProcess(opts)).rejects.toMatchObject({
      code: "ENOENT",
      message: /^spawn .*missing ENOENT/,
    });
  });

  it("runProcess() times out a child and kills its whole group", async () => {
    const pidFile = join(dir, "timeout.pid");
    const started = Date.now();
    const out = await spawner.runProcess({
      path: "/bin/sh",
      args: ["-c", `sleep 1000 & echo $! > ${pidFile}; wait`],
      newSession: true,
      timeoutMs: 300,
    });
    expect(out).toMatchObject({ timedOut: true, signal: "SIGKILL", exitCode: null });
    expect(out.timedOutAs).toMatch(/ms, state /);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await gone(Number(readFileSync(pidFile, "utf8")))).toBe(true);
  });

  it("a SIGKILLed spawner fails the request it ran with a clear error; the next request starts a new one", async () => {
    const first = spawner.pid!;
    const running = spawner.runProcess({ path: "/bin/sleep", args: ["1000"], timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 100));
    process.kill(first, "SIGKILL");
    await expect(running).rejects.toThrow(/spawner \(pid \d+\) exited with SIGKILL while running this request/);
    const out = await spawner.runProcess({ path: "/bin/echo", args: ["again"], timeoutMs: 5000 });
    expect(out.stdout).toBe("again\n");
    expect(spawner.pid).not.toBe(first);
    expect(logs).toContain("spawner died");
  });

  it("a spawner that stops answering is killed after answerMs: its request fails, the next runs on a new one", async () => {
    const said: string[] = [];
    const quick = new Spawner({ helperPath: HELPER_ASAN, log: (m) => said.push(m), answerMs: 300 });
    try {
      // A child that outlives answerMs is not a stuck spawner: the deadline is for its first answer only.
      const slow = await quick.runProcess({ path: "/bin/sh", args: ["-c", "sleep 0.6; echo slow"], timeoutMs: 5000 });
      expect(slow.stdout).toBe("slow\n");
      const stuck = quick.pid!;
      process.kill(stuck, "SIGSTOP");
      const started = Date.now();
      await expect(quick.runProcess({ path: "/bin/echo", args: ["lost"], timeoutMs: 60_000 })).rejects.toThrow(
        /spawner \(pid \d+\) exited with SIGKILL while running this request/,
      );
      expect(Date.now() - started).toBeLessThan(5000);
      expect(said).toContain("spawner did not answer: restarting it");
      expect(await gone(stuck)).toBe(true);
      const out = await quick.runProcess({ path: "/bin/echo", args: ["again"], timeoutMs: 5000 });
      expect(out.stdout).toBe("again\n");
      expect(quick.pid).not.toBe(stuck);
    } finally {
      quick.close();
    }
  });

  it("falls back to Node's spawn, and says so, when the spawner cannot start", async () => {
    const said: string[] = [];
    const broken = new Spawner({ helperPath: join(dir, "no-helper"), log: (m) => said.push(m) });
    const out = await broken.runProcess({ path: "/bin/echo", args: ["fallback"], timeoutMs: 5000 });
    expect(out.stdout).toBe("fallback\n");
    expect(said).toEqual(["spawner cannot start", "running through Node's spawn instead"]);
    broken.close();
  });
});
