import { describe, expect, it } from "vitest";
import type { Logger } from "../../../../cni/lib/log.js";
import { UndoStack } from "../../../../cni/lib/undo.js";

function recordingLogger(lines: string[]): Logger {
  return { error: (m) => lines.push(`error ${m}`), warning() {}, info() {}, debug() {} };
}

describe("UndoStack", () => {
  it("guard() unwinds in reverse order and rethrows the original error", async () => {
    const done: string[] = [];
    const undo = new UndoStack(recordingLogger([]));
    const original = new Error("step 3 failed");
    await expect(
      undo.guard(async () => {
        undo.push("one", () => Promise.resolve(void done.push("undo one")));
        undo.push("two", () => Promise.resolve(void done.push("undo two")));
        await Promise.resolve();
        throw original;
      }),
    ).rejects.toBe(original);
    expect(done).toEqual(["undo two", "undo one"]);
    expect(undo.size).toBe(0);
  });

  it("a failing undo is logged, the rest still run, and the original error wins", async () => {
    const lines: string[] = [];
    const done: string[] = [];
    const undo = new UndoStack(recordingLogger(lines));
    const original = new Error("original");
    await expect(
      undo.guard(async () => {
        undo.push("first", () => Promise.resolve(void done.push("first")));
        undo.push("link", () => Promise.reject(new Error("EBUSY")));
        await Promise.resolve();
        throw original;
      }),
    ).rejects.toBe(original);
    expect(done).toEqual(["first"]);
    expect(lines).toEqual(["error Cannot undo link: EBUSY"]);
  });

  it("guard() does not unwind on success", async () => {
    const done: string[] = [];
    const undo = new UndoStack(recordingLogger([]));
    expect(
      await undo.guard(async () => {
        undo.push("x", () => Promise.resolve(void done.push("x")));
        return Promise.resolve(42);
      }),
    ).toBe(42);
    expect(done).toEqual([]);
  });
});
