// The front end talking to a CNI server (a test server in this process speaking native/FRONTEND.md):
// what reaches the server (only CNI_* and ACCELNET_* variables, stdin byte for byte), what comes back
// (the server's exit status, stdout and stderr exactly), and every broken answer (closed early, bad
// magic, lengths beyond the limits, bytes after the end, the request never read) answered with CNI
// error 11 and nothing else on stdout. Runs the ASan/UBSan build.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  built,
  decodeRequest,
  encodeResponse,
  makeBinDir,
  MAGIC,
  run,
  startServer,
  type Answer,
  type TestServer,
} from "./_frontend.js";

describe.skipIf(!built)(`front end with a CNI server${built ? "" : " (skipped: npm run build first)"}`, () => {
  let bin: ReturnType<typeof makeBinDir>;
  let server: TestServer | undefined;
  let n = 0;

  beforeAll(() => {
    bin = makeBinDir();
  });
  afterAll(() => bin.cleanup());
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function serve(answer: Answer): Promise<string> {
    const path = join(bin.dir, `s${n++}.sock`);
    server = await startServer(path, answer);
    return path;
  }

  /** Answers `response` once the request is in, then closes. */
  const replyWith =
    (response: Buffer): Answer =>
    (sock, raw) => {
      if (raw !== undefined) sock.end(response);
    };

  const baseEnv = (socket: string) => ({ ACCELNET_CNI_SOCKET: socket, CNI_COMMAND: "ADD" });

  it("forwards only CNI_* and ACCELNET_* variables and stdin unchanged; relays status, stdout and stderr exactly", async () => {
    const stdout = Buffer.concat([Buffer.from('{"cniVersion":"1.0.0"}\n'), randomBytes(3 << 20)]); // binary, 3 MiB
    const stderr = Buffer.concat([Buffer.from("a warning\n"), randomBytes(100_000)]);
    const socket = await serve(replyWith(encodeResponse(3, stdout, stderr)));
    const stdin = Buffer.concat([Buffer.from('{"cniVersion":"1.0.0","x":"\0"}'), randomBytes(700_000)]);
    const env = {
      ...baseEnv(socket),
      CNI_CONTAINERID: "c1",
      CNI_NETNS: "/run/netns/x",
      CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAME=p",
      CNI_EMPTY: "",
      ACCELNET_STATE_DIR: "/run/x",
      PATH: "/usr/bin:/bin",
      HOME: "/root",
      NODE_OPTIONS: "--require /x.js",
      XCNI_COMMAND: "no",
      cni_lower: "no",
      ACCELNETX: "no",
      CNIX_Y: "no",
    };
    const r = await run(bin.exe, env, stdin);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(3);
    expect(r.stdout.equals(stdout)).toBe(true);
    expect(r.stderr.equals(stderr)).toBe(true);
    expect(server?.requests).toHaveLength(1);
    const req = decodeRequest(server?.requests[0] ?? Buffer.alloc(0));
    expect(req.env).toEqual({
      ACCELNET_CNI_SOCKET: socket,
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: "c1",
      CNI_NETNS: "/run/netns/x",
      CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAME=p",
      CNI_EMPTY: "",
      ACCELNET_STATE_DIR: "/run/x",
    });
    expect(req.stdin.equals(stdin)).toBe(true);
  });

  it.each([0, 1, 255])("exit status %i comes back as the front end's own", async (status) => {
    const socket = await serve(replyWith(encodeResponse(status, "", "")));
    const r = await run(bin.exe, baseEnv(socket), "{}");
    expect(r).toMatchObject({ status, signal: null });
    expect(r.stdout.length + r.stderr.length).toBe(0);
  });

  it("sends exactly 1 MiB of stdin (the limit) and an empty stdin as they are", async () => {
    const socket = await serve(replyWith(encodeResponse(0, "ok\n", "")));
    const big = randomBytes(1 << 20);
    expect(await run(bin.exe, baseEnv(socket), big)).toMatchObject({ status: 0 });
    expect(await run(bin.exe, baseEnv(socket), "")).toMatchObject({ status: 0 });
    expect(decodeRequest(server?.requests[0] ?? Buffer.alloc(0)).stdin.equals(big)).toBe(true);
    expect(decodeRequest(server?.requests[1] ?? Buffer.alloc(0)).stdin.length).toBe(0);
  });

  it("refuses more than 1 MiB of stdin with code 7 before connecting", async () => {
    const socket = await serve(replyWith(encodeResponse(0, "served\n", "")));
    const stdin = Buffer.concat([
      Buffer.from('{"cniVersion":"0.4.0","pad":"'),
      Buffer.alloc(1 << 20, 0x61),
      Buffer.from('"}'),
    ]);
    const r = await run(bin.exe, baseEnv(socket), stdin);
    expect(r.status).toBe(1);
    expect(r.stdout.toString()).toBe(
      '{"cniVersion":"0.4.0","code":7,"msg":"Cannot read stdin: larger than 1048576 bytes"}\n',
    );
    expect(server?.connections).toBe(0);
  });

  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    return b;
  };
  const whole = encodeResponse(0, '{"cniVersion":"0.4.0","interfaces":[]}\n', "log line\n");

  // Each answer a server that crashed, was killed or is broken could give; the request carries
  // cniVersion 0.4.0, so the error is printed in it.
  const broken: [string, Answer, RegExp][] = [
    ["closes without answering", (s, raw) => raw && s.end(), /closed the connection before answering; try again$/],
    [
      "closes mid-answer (in the stdout bytes)",
      (s, raw) => raw && s.end(whole.subarray(0, 30)),
      /closed the connection mid-answer, after 30 bytes; try again$/,
    ],
    ["closes mid-header", (s, raw) => raw && s.end(whole.subarray(0, 10)), /mid-answer, after 10 bytes; try again$/],
    [
      "sends a bad magic",
      (s, raw) => raw && s.end(Buffer.concat([Buffer.from("ACNCNI2\0"), whole.subarray(8)])),
      /answered with a bad magic; try again$/,
    ],
    [
      "sends an exit status above 255",
      (s, raw) => raw && s.end(Buffer.concat([MAGIC, u32(256), whole.subarray(12)])),
      /exit status 256 \(at most 255\); try again$/,
    ],
    [
      "announces a stdout longer than 16 MiB, and stays open",
      (s, raw) => raw && s.write(Buffer.concat([MAGIC, u32(0), u32(0xffffffff), Buffer.from("{")])),
      /stdout of 4294967295 bytes \(at most 16777216\); try again$/,
    ],
    [
      "announces a stderr longer than 1 MiB",
      (s, raw) => raw && s.write(Buffer.concat([MAGIC, u32(0), u32(2), Buffer.from("{}"), u32((1 << 20) + 1)])),
      /stderr of 1048577 bytes \(at most 1048576\); try again$/,
    ],
    [
      "sends bytes after the answer",
      (s, raw) => raw && s.end(Buffer.concat([whole, Buffer.from("x")])),
      /sent 1 bytes after its answer; try again$/,
    ],
    [
      "closes at once, never reading the request",
      (s, raw) => raw === undefined && s.destroy(),
      /(closed the connection before answering|Cannot send the request|Cannot read the accelnet CNI server's answer).*; try again$/,
    ],
  ];

  it.each(broken)("a server that %s: code 11, exit 1, only the error on stdout", async (_what, answer, msg) => {
    const socket = await serve(answer);
    const r = await run(bin.exe, baseEnv(socket), '{"cniVersion":"0.4.0","name":"n"}');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(1);
    const text = r.stdout.toString();
    expect(text.endsWith("\n") && text.indexOf("\n") === text.length - 1).toBe(true);
    const json = JSON.parse(text) as { cniVersion: string; code: number; msg: string };
    expect(Object.keys(json)).toEqual(["cniVersion", "code", "msg"]);
    expect(json).toMatchObject({ cniVersion: "0.4.0", code: 11 });
    expect(json.msg).toMatch(msg);
    expect(r.stderr.toString()).not.toMatch(/Sanitizer|runtime error/);
  });

  it("a server that closes without reading a 1 MiB request: code 11, not killed by SIGPIPE", async () => {
    const socket = await serve((s, raw) => raw === undefined && s.destroy());
    for (let i = 0; i < 5; i++) {
      const r = await run(bin.exe, baseEnv(socket), randomBytes(1 << 20));
      expect(r.signal).toBeNull();
      expect(r.status).toBe(1);
      expect(JSON.parse(r.stdout.toString())).toMatchObject({ cniVersion: "1.1.0", code: 11 });
    }
  });
});
