import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ReconcileOptions } from "../../../../cni/lib/device-attachment.js";
import { reconcileCniState, type CniReconcileDeps } from "../../../../deviceplugin/io/cni-reconcile.js";
import { createLogger } from "../../../../deviceplugin/io/logger.js";
import type { NativeClient } from "../../../../native/client/index.js";

// A native client that must not be used: reconcile with nothing to restore makes no kernel calls.
const untouchable: NativeClient = {
  run: () => Promise.reject(new Error("the helper was called")),
};

describe("reconcileCniState()", () => {
  let dir: string;
  let lines: string[];
  const log = () => createLogger({ level: "debug", write: (l) => lines.push(l) });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "acn-dp-reconcile-"));
    lines = [];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("does nothing when the CNI state dir does not exist", async () => {
    const calls: string[] = [];
    const deps: CniReconcileDeps = {
      kinds: [{ name: "sriov", reconcile: () => (calls.push("sriov"), Promise.resolve({ restored: [], failed: [] })) }],
    };
    const totals = await reconcileCniState(join(dir, "missing"), untouchable, log(), {}, deps);
    expect(totals).toEqual({ restored: 0, failed: 0 });
    expect(calls).toEqual([]);
  });

  it("runs every kind with the state dir and PATH/CNI_PATH, and sums and logs their reports", async () => {
    const seen: { name: string; stateDir: string; opts: ReconcileOptions }[] = [];
    const deps: CniReconcileDeps = {
      kinds: [
        {
          name: "sriov",
          reconcile: (stateDir, _n, _l, opts) => {
            seen.push({ name: "sriov", stateDir, opts });
            return Promise.resolve({
              restored: ["pci/0000:00:12.0"],
              failed: [{ key: "pci/0000:00:12.2", error: "busy" }],
            });
          },
        },
        {
          name: "vdpa",
          reconcile: (stateDir, _n, _l, opts) => {
            seen.push({ name: "vdpa", stateDir, opts });
            return Promise.resolve({ restored: ["vdpa/vdpa0"], failed: [] });
          },
        },
      ],
    };
    const env = { PATH: "/usr/bin", CNI_PATH: "/opt/cni/bin", OTHER: "x" };
    const totals = await reconcileCniState(dir, untouchable, log(), env, deps);
    expect(totals).toEqual({ restored: 2, failed: 1 });
    expect(seen).toEqual([
      { name: "sriov", stateDir: dir, opts: { env: { PATH: "/usr/bin", CNI_PATH: "/opt/cni/bin" } } },
      { name: "vdpa", stateDir: dir, opts: { env: { PATH: "/usr/bin", CNI_PATH: "/opt/cni/bin" } } },
    ]);
    const text = lines.join("");
    expect(text).toContain('"key":"pci/0000:00:12.0"');
    expect(text).toContain('"key":"vdpa/vdpa0"');
    expect(text).toMatch(/cannot restore a device whose pod is gone.*"key":"pci\/0000:00:12.2".*"error":"busy"/);
  });

  it("counts a kind that throws as a failure and still runs the others", async () => {
    const ran: string[] = [];
    const deps: CniReconcileDeps = {
      kinds: [
        { name: "sriov", reconcile: () => Promise.reject(new Error("state unreadable")) },
        { name: "vdpa", reconcile: () => (ran.push("vdpa"), Promise.resolve({ restored: [], failed: [] })) },
      ],
    };
    const totals = await reconcileCniState(dir, untouchable, log(), {}, deps);
    expect(totals).toEqual({ restored: 0, failed: 1 });
    expect(ran).toEqual(["vdpa"]);
    expect(lines.join("")).toContain("cannot reconcile CNI state");
  });

  it("with the CNI's own reconcile functions, an empty state dir restores nothing and calls no helper", async () => {
    const totals = await reconcileCniState(dir, untouchable, log(), {});
    expect(totals).toEqual({ restored: 0, failed: 0 });
  });
});
