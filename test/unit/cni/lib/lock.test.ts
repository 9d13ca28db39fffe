import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  acquireLock,
  attachmentLockPath,
  hostObjectLockPath,
  ownerIsAlive,
  processStartTime,
  withLock,
} from "../../../../cni/lib/lock.js";

describe("locks", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "acn-lock-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("acquireLock() creates the lock file and release() removes it", async () => {
    const path = join(dir, "locks", "a.lock");
    const lock = await acquireLock(path);
    expect(existsSync(path)).toBe(true);
    lock.release();
    expect(existsSync(path)).toBe(false);
    expect(readdirSync(join(dir, "locks"))).toEqual([]);
  });

  it("a held lock makes the second taker wait, then fail with code 11", async () => {
    const path = join(dir, "a.lock");
    const lock = await acquireLock(path);
    const started = Date.now();
    await expect(acquireLock(path, { timeoutMs: 150, what: 'attachment "c/net1"' })).rejects.toMatchObject({
      code: 11,
      message: `Cannot lock attachment "c/net1": held by pid ${process.pid} for more than 150 ms`,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    lock.release();
  });

  it("withLock() serializes two tasks on the same lock", async () => {
    const path = join(dir, "a.lock");
    const order: string[] = [];
    const task = (name: string) =>
      withLock(path, {}, async () => {
        order.push(`${name} in`);
        await new Promise((r) => setTimeout(r, 30));
        order.push(`${name} out`);
      });
    await Promise.all([task("a"), task("b")]);
    expect(order).toEqual(["a in", "a out", "b in", "b out"]);
  });

  it("withLock() releases the lock when the task throws", async () => {
    const path = join(dir, "a.lock");
    await expect(withLock(path, {}, () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(existsSync(path)).toBe(false);
  });

  it("reclaims a lock whose owner process is dead", async () => {
    const child = spawn(process.execPath, ["-e", ""]);
    await new Promise((r) => child.on("exit", r));
    const path = join(dir, "a.lock");
    writeFileSync(path, JSON.stringify({ pid: child.pid, start: "12345", token: "dead" }));
    const lock = await acquireLock(path, { timeoutMs: 100 });
    lock.release();
    expect(readdirSync(dir)).toEqual([]);
  });

  it("reclaims a lock whose pid was reused by another process (start time differs)", async () => {
    const path = join(dir, "a.lock");
    writeFileSync(path, JSON.stringify({ pid: process.pid, start: "1", token: "old" }));
    const lock = await acquireLock(path, { timeoutMs: 100 });
    lock.release();
  });

  it("reclaims a damaged lock file", async () => {
    const path = join(dir, "a.lock");
    writeFileSync(path, "garbage");
    (await acquireLock(path, { timeoutMs: 100 })).release();
  });

  it("does not reclaim a lock held by a live process", async () => {
    const path = join(dir, "a.lock");
    writeFileSync(path, JSON.stringify({ pid: process.pid, start: processStartTime(process.pid), token: "live" }));
    await expect(acquireLock(path, { timeoutMs: 50 })).rejects.toMatchObject({ code: 11 });
    expect(existsSync(path)).toBe(true);
  });

  it("ownerIsAlive() checks pid and start time", () => {
    const start = processStartTime(process.pid);
    expect(start).toMatch(/^\d+$/);
    expect(ownerIsAlive({ pid: process.pid, start: start ?? "", token: "" })).toBe(true);
    expect(ownerIsAlive({ pid: process.pid, start: "0", token: "" })).toBe(false);
  });

  it("a lock dir that cannot be created fails with code 5", async () => {
    const file = join(dir, "file");
    writeFileSync(file, "");
    await expect(acquireLock(join(file, "a.lock"), { what: "x" })).rejects.toMatchObject({ code: 5 });
  });

  it("lock paths encode ifnames and live under <stateDir>/locks", () => {
    mkdirSync(join(dir, "locks"));
    expect(attachmentLockPath("/s", "c1", "net/1")).toBe("/s/locks/attachment@c1@net%2F1.lock");
    expect(hostObjectLockPath("/s", "master", "eth1")).toBe("/s/locks/master@eth1.lock");
  });
});
