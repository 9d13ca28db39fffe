import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { OwnerMarkers, deviceKey } from "../../../../cni/lib/owner.js";
import { heldDevices, readRecord, writeRecord } from "../../../../deviceplugin/io/node-setup.js";
import { createLogger } from "../../../../deviceplugin/io/logger.js";
import { EMPTY_RECORD, type NodeSetupRecord } from "../../../../deviceplugin/core/node-setup-record.js";

let dir = "";
const lines: string[] = [];
const log = createLogger({ level: "debug", write: (l: string) => void lines.push(l) });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "acn-ns-io-"));
  lines.length = 0;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("node setup io", () => {
  it("heldDevices() reads the CNI's owner markers (its own writer), a damaged one included", () => {
    const markers = new OwnerMarkers(join(dir, "cni"));
    markers.write(deviceKey("pci", "0000:00:02.1"), {
      containerID: "c1",
      ifname: "net1",
      netns: "/run/netns/p1",
      netnsInode: null,
      network: "n",
      since: "2026-01-01T00:00:00Z",
    });
    writeFileSync(markers.path(deviceKey("vdpa", "vdpa0")), "{not json");
    expect([...heldDevices(join(dir, "cni"))]).toEqual([
      ["pci/0000:00:02.1", 'container "c1" (ifname net1, netns /run/netns/p1)'],
      ["vdpa/vdpa0", "an attachment whose owner marker is damaged"],
    ]);
    expect(heldDevices(join(dir, "no-such-dir")).size).toBe(0);
  });

  it("writeRecord() keeps the record root-only, readRecord() reads it back, and a missing file is an empty record", async () => {
    const path = join(dir, "state/node-setup.json");
    expect(await readRecord(path, log)).toEqual(EMPTY_RECORD);
    const r: NodeSetupRecord = { pfs: { "0000:00:02.0": { numVfs: 0 } }, vdpa: { v0: { mgmtdev: "vduse" } } };
    await writeRecord(path, r);
    expect(await readRecord(path, log)).toEqual(r);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "state")).mode & 0o777).toBe(0o700);
  });

  it("readRecord() moves a damaged record aside, logs it, and goes on with an empty one", async () => {
    mkdirSync(join(dir, "state"));
    const path = join(dir, "state/node-setup.json");
    writeFileSync(path, '{"pfs": []}');
    expect(await readRecord(path, log)).toEqual(EMPTY_RECORD);
    expect(existsSync(path)).toBe(false);
    expect(readFileSync(`${path}.damaged`, "utf8")).toBe('{"pfs": []}');
    expect(lines.some((l) => l.includes("node setup: the record of what it changed is damaged"))).toBe(true);
  });
});
