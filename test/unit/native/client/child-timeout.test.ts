// The child timeout counts the child's own time: the kernel's view of it (state, time waiting for a
// CPU) is a seam here; helper.test.ts and exec.test.ts time out real sleeping children.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { childSchedule, childTimeout, type ChildSchedule } from "../../../../native/client/child-timeout.js";

describe("childTimeout", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const run = (states: (elapsed: number) => ChildSchedule | undefined, timeoutMs = 1000) => {
    const start = Date.now();
    const expired: (ChildSchedule | undefined)[] = [];
    const t = childTimeout(1234, timeoutMs, (s) => expired.push(s), { schedule: () => states(Date.now() - start) });
    return { expired, t };
  };

  it("expires a child that slept interruptibly for the whole timeout", () => {
    const { expired } = run(() => ({ state: "S", onCpuMs: 1, waitCpuMs: 0 }));
    vi.advanceTimersByTime(999);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual([{ state: "S", onCpuMs: 1, waitCpuMs: 0 }]);
  });

  it("does not count the time the child waited for a CPU", () => {
    // Half of every millisecond so far spent runnable without a CPU: 1000 ms of its own at 2000 ms.
    const { expired } = run((elapsed) => ({ state: "R", onCpuMs: 0, waitCpuMs: elapsed / 2 }));
    vi.advanceTimersByTime(1990);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(20);
    expect(expired).toHaveLength(1);
  });

  it("never kills a child that has exited but whose exit the parent has not read (zombie, or reaped)", () => {
    const zombie = run(() => ({ state: "Z" }));
    const reaped = run(() => undefined);
    vi.advanceTimersByTime(60_000);
    expect(zombie.expired).toEqual([]);
    expect(reaped.expired).toEqual([]);
  });

  it("does not count the time the child was in uninterruptible sleep (a kernel lock)", () => {
    // A 3 s timeout; D for the first 5.5 s (e.g. queued on rtnl_lock), then sleeping in userspace's
    // reach. Seen at 3, 4 and 5 s in D: 5 s that do not count, so its own 3 s end at 8 s, not at 6 s.
    const { expired } = run((elapsed) => ({ state: elapsed < 5500 ? "D" : "S", waitCpuMs: 0 }), 3000);
    vi.advanceTimersByTime(7990);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(20);
    expect(expired).toEqual([{ state: "S", waitCpuMs: 0 }]);
  });

  it("clear() stops it", () => {
    const { expired, t } = run(() => ({ state: "S" }));
    t.clear();
    vi.advanceTimersByTime(5000);
    expect(expired).toEqual([]);
  });
});

describe("childSchedule", () => {
  it("reads this process's state and scheduler statistics, and nothing for a pid that does not exist", () => {
    const me = childSchedule(process.pid);
    expect(me?.state).toMatch(/^[RS]$/);
    expect(me?.onCpuMs).toBeGreaterThan(0);
    expect(childSchedule(2 ** 22 + 1)).toBeUndefined();
  });
});
