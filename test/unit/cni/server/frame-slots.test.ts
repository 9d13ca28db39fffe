// The server's request decoder (incremental, refusing by header) and its concurrency bound.
import { describe, expect, it } from "vitest";
import { encodeResponse, MalformedFrame, RequestDecoder } from "../../../../cni/server/frame.js";
import { Slots } from "../../../../cni/server/slots.js";
import { parseResponse, requestFrame } from "../../../tools/cni-server-client.mjs";

describe("RequestDecoder", () => {
  it("decodes a frame the contract's client built, delivered one byte at a time", () => {
    const frame = requestFrame({ CNI_COMMAND: "ADD", ACCELNET_STATE_DIR: "/s", PATH: "/bin", HOME: "/" }, '{"a":"é"}');
    const d = new RequestDecoder();
    let req = null;
    for (let i = 0; i < frame.length; i++) {
      expect(req).toBeNull();
      req = d.push(frame.subarray(i, i + 1));
    }
    expect(req).toEqual({ env: { CNI_COMMAND: "ADD", ACCELNET_STATE_DIR: "/s" }, stdin: Buffer.from('{"a":"é"}') });
  });

  it("refuses by the header alone: a stdin or env length over the limit is never waited for", () => {
    const head = (envLen: number, stdinLen?: number) => {
      const b = Buffer.alloc(stdinLen === undefined ? 12 : 16);
      b.write("ACNCNI1\0", "latin1");
      b.writeUInt32LE(envLen, 8);
      if (stdinLen !== undefined) b.writeUInt32LE(stdinLen, 12);
      return b;
    };
    expect(() => new RequestDecoder().push(head(0, 1048577))).toThrow(new MalformedFrame("stdin of 1048577 bytes"));
    expect(new RequestDecoder().push(head(0, 1048576))).toBeNull();
    expect(() => new RequestDecoder().push(head(65537))).toThrow("env block of 65537 bytes");
    expect(() => new RequestDecoder().push(Buffer.from("ACNCNI2\0"))).toThrow("bad magic");
  });

  it("refuses env entries outside CNI_/ACCELNET_, without '=', twice, or a block not ending in NUL", () => {
    const frame = (block: string) => {
      const env = Buffer.from(block, "utf8");
      const b = Buffer.alloc(16 + env.length);
      b.write("ACNCNI1\0", "latin1");
      b.writeUInt32LE(env.length, 8);
      env.copy(b, 12);
      b.writeUInt32LE(0, 12 + env.length);
      return b;
    };
    expect(() => new RequestDecoder().push(frame("LD_PRELOAD=/x\0"))).toThrow('env entry "LD_PRELOAD"');
    expect(() => new RequestDecoder().push(frame("CNI_COMMAND\0"))).toThrow('env entry "CNI_COMMAND"');
    expect(() => new RequestDecoder().push(frame("CNI_A=1\0CNI_A=2\0"))).toThrow("appears twice");
    expect(() => new RequestDecoder().push(frame("CNI_A=1"))).toThrow("does not end with NUL");
    expect(new RequestDecoder().push(frame("CNI_ARGS=a=b;c=d\0"))).toEqual({
      env: { CNI_ARGS: "a=b;c=d" },
      stdin: Buffer.alloc(0),
    });
  });

  it("encodes a response the contract's client reads back", () => {
    const r = { status: 1, stdout: Buffer.from('{"code":7}\n'), stderr: Buffer.from("warn\n") };
    expect(parseResponse(encodeResponse(r))).toEqual({ status: 1, stdout: '{"code":7}\n', stderr: "warn\n" });
  });
});

describe("Slots", () => {
  it("runs at most max at once, queues up to the limit in order, turns away beyond it, reports idle", async () => {
    const slots = new Slots(2, 1);
    const a = await (slots.acquire() as Promise<() => void>);
    const b = await (slots.acquire() as Promise<() => void>);
    const queued = slots.acquire();
    expect(queued).not.toBe("full");
    expect(slots.acquire()).toBe("full");
    expect([slots.inFlight, slots.queued]).toEqual([2, 1]);
    let idle = false;
    void slots.idle().then(() => (idle = true));
    a();
    a(); // a second release of the same slot does nothing
    const c = await (queued as Promise<() => void>);
    expect([slots.inFlight, slots.queued]).toEqual([2, 0]);
    b();
    c();
    await Promise.resolve();
    expect(idle).toBe(true);
    expect(slots.inFlight).toBe(0);
  });
});
