// UeventHintSource with stand-in monitors (the real one needs the helper; see
// test/integration/native/uevent-monitor.test.ts): which messages become hints, and the
// restart policy (backoff, reset after a stable run, nothing after stop()).
import { afterEach, describe, expect, it } from "vitest";
import type { UeventMessage } from "../../../../native/client/index.js";
import { UeventHintSource, type HintSink, type MonitorHandle } from "../../../../deviceplugin/io/uevent-hints.js";

interface FakeMonitor extends MonitorHandle {
  send(m: UeventMessage): void;
  end(err: Error | null): void;
  closed: boolean;
}

function harness(opts: { initialBackoffMs?: number; maxBackoffMs?: number; stableMs?: number } = {}) {
  const monitors: FakeMonitor[] = [];
  const hints: { trigger: string; detail: unknown }[] = [];
  const failures: { message: string; retryMs: number; at: number }[] = [];
  const source = new UeventHintSource({
    ...opts,
    startMonitor: (onMessage) => {
      let end: (err: Error | null) => void = () => undefined;
      const m: FakeMonitor = {
        closed: false,
        close() {
          m.closed = true;
          end(null);
        },
        exited: new Promise((resolve) => (end = resolve)),
        send: onMessage,
        end: (err) => end(err),
      };
      monitors.push(m);
      return m;
    },
  });
  const sink: HintSink = {
    hint: (trigger, detail) => hints.push({ trigger, detail }),
    failed: (err, retryMs) => failures.push({ message: err.message, retryMs, at: Date.now() }),
  };
  return { source, sink, monitors, hints, failures };
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, pred: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await tick(2);
  }
}

let active: UeventHintSource[] = [];
afterEach(() => {
  for (const s of active) s.stop();
  active = [];
});

describe("UeventHintSource", () => {
  it("start() runs one monitor; ready, every event and lost become uevent hints", () => {
    const h = harness();
    active.push(h.source);
    h.source.start(h.sink);
    expect(h.monitors).toHaveLength(1);
    const event = {
      action: "remove",
      subsystem: "pci",
      devpath: "/devices/pci0000:00/0000:00:12.0",
      driver: null,
      interface: null,
      pciSlot: "0000:00:12.0",
    } as const;
    h.monitors[0]!.send({ type: "ready" });
    h.monitors[0]!.send({ type: "event", event });
    h.monitors[0]!.send({ type: "lost" });
    expect(h.hints).toEqual([
      { trigger: "uevent", detail: { reason: "monitor ready" } },
      { trigger: "uevent", detail: event },
      { trigger: "uevent", detail: { reason: "kernel dropped uevents" } },
    ]);
  });

  it("start() twice throws", () => {
    const h = harness();
    active.push(h.source);
    h.source.start(h.sink);
    expect(() => h.source.start(h.sink)).toThrow("Cannot start the uevent hint source: it is already started");
  });

  it("a monitor that ends is reported and restarted with doubling backoff, capped", async () => {
    const h = harness({ initialBackoffMs: 20, maxBackoffMs: 50 });
    active.push(h.source);
    h.source.start(h.sink);
    for (let i = 0; i < 4; i++) {
      h.monitors[i]!.end(i === 0 ? new Error("Cannot uevent-monitor: bind failed") : null);
      await until(`monitor ${i + 2}`, () => h.monitors.length === i + 2);
    }
    expect(h.failures.map((f) => [f.message, f.retryMs])).toEqual([
      ["Cannot uevent-monitor: bind failed", 20],
      ["uevent monitor ended", 40],
      ["uevent monitor ended", 50],
      ["uevent monitor ended", 50],
    ]);
  });

  it("a monitor that ran stably after ready resets the backoff", async () => {
    const h = harness({ initialBackoffMs: 10, maxBackoffMs: 1000, stableMs: 30 });
    active.push(h.source);
    h.source.start(h.sink);
    h.monitors[0]!.end(null); // never ready: 10, next 20
    await until("monitor 2", () => h.monitors.length === 2);
    h.monitors[1]!.send({ type: "ready" });
    await tick(40); // stable
    h.monitors[1]!.end(null);
    await until("monitor 3", () => h.monitors.length === 3);
    expect(h.failures.map((f) => f.retryMs)).toEqual([10, 10]);
  });

  it("stop() closes the monitor, ignores its late messages and never restarts it", async () => {
    const h = harness({ initialBackoffMs: 5 });
    h.source.start(h.sink);
    const m = h.monitors[0]!;
    h.source.stop();
    expect(m.closed).toBe(true);
    m.send({ type: "lost" });
    await tick(30);
    expect(h.monitors).toHaveLength(1);
    expect(h.hints).toEqual([]);
    expect(h.failures).toEqual([]);
  });

  it("stop() during a backoff cancels the restart", async () => {
    const h = harness({ initialBackoffMs: 20 });
    h.source.start(h.sink);
    h.monitors[0]!.end(new Error("died"));
    await until("the failure", () => h.failures.length === 1);
    h.source.stop();
    await tick(50);
    expect(h.monitors).toHaveLength(1);
  });
});
