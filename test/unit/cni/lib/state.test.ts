import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  StateStore,
  stateFileName,
  STATE_FORMAT,
  writeFileAtomic,
  type AttachmentState,
} from "../../../../cni/lib/state.js";

function sample(containerID: string, ifname: string): AttachmentState {
  return {
    format: STATE_FORMAT,
    containerID,
    ifname,
    netns: "/run/netns/p",
    network: "net",
    mode: "macvlan",
    cniVersion: "1.0.0",
    config: "{}",
    cniArgs: "",
    cniPath: "/usr/lib/cni",
    result: { interfaces: [{ name: ifname }], ips: [], routes: [], dns: {} },
    data: { master: "eth1" },
    createdAt: "2025-01-01T00:00:00.000Z",
  };
}

describe("StateStore", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "acn-state-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("write() then read() returns the same state; remove() makes read() null", () => {
    const store = new StateStore(dir);
    store.write(sample("c1", "net1"));
    expect(store.read("c1", "net1")).toEqual(sample("c1", "net1"));
    store.remove("c1", "net1");
    expect(store.read("c1", "net1")).toBeNull();
    store.remove("c1", "net1"); // twice is fine
  });

  it("write() leaves no temp files behind", () => {
    const store = new StateStore(dir);
    store.write(sample("c1", "net1"));
    store.write(sample("c1", "net1"));
    expect(readdirSync(store.dir)).toEqual(["c1@net1.json"]);
  });

  it("stateFileName() cannot collide between containerID and ifname", () => {
    expect(stateFileName("a-b", "c")).not.toBe(stateFileName("a", "b-c"));
    expect(stateFileName("a", "b@c")).toBe("a@b%40c.json");
    expect(stateFileName("abc", "eth%1")).toBe("abc@eth%251.json");
  });

  it("list() returns states and reports unreadable files separately", () => {
    const store = new StateStore(dir);
    store.write(sample("c1", "net1"));
    store.write(sample("c2", "net2"));
    writeFileSync(join(store.dir, "junk@x.json"), "{not json");
    const { states, broken } = store.list();
    expect(states.map((s) => `${s.containerID}/${s.ifname}`)).toEqual(["c1/net1", "c2/net2"]);
    expect(broken).toEqual([join(store.dir, "junk@x.json")]);
  });

  it("list() of a missing dir is empty", () => {
    expect(new StateStore(join(dir, "nope")).list()).toEqual({ states: [], broken: [] });
  });

  it("read() of a damaged file fails with code 5 naming the file", () => {
    const store = new StateStore(dir);
    store.write(sample("c1", "net1"));
    writeFileSync(store.path("c1", "net1"), '{"format":99}');
    expect(() => store.read("c1", "net1")).toThrow(
      expect.objectContaining({
        code: 5,
        message: `Cannot decode state "${store.path("c1", "net1")}": not an accelnet attachment state`,
      }),
    );
  });

  it("write() fails with code 5 when the state dir cannot be written (even as root)", () => {
    // A regular file where the state dir's parent should be: ENOTDIR for every user, root included,
    // unlike a chmod'ed directory, which root writes anyway.
    const blocker = join(dir, "not-a-dir");
    writeFileSync(blocker, "");
    const store = new StateStore(join(blocker, "state"));
    expect(() => store.write(sample("c1", "net1"))).toThrow(expect.objectContaining({ code: 5 }));
  });

  it("writeFileAtomic() replaces content and applies the mode", () => {
    const path = join(dir, "f");
    writeFileAtomic(path, "one", 0o600);
    writeFileAtomic(path, "two", 0o600);
    expect(readFileSync(path, "utf8")).toBe("two");
    expect(readdirSync(dir)).toEqual(["f"]);
  });
});
