import { describe, expect, it } from "vitest";
import { readCniEnv, readCommand, validateIfname } from "../../../../cni/skel/env.js";

const full = {
  CNI_COMMAND: "ADD",
  CNI_CONTAINERID: "c1",
  CNI_NETNS: "/run/netns/p",
  CNI_IFNAME: "net1",
  CNI_PATH: "/usr/lib/cni",
};

describe("readCommand()", () => {
  it.each(["ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION"])("accepts %s", (c) => {
    expect(readCommand({ CNI_COMMAND: c })).toBe(c);
  });

  it("rejects an unknown command with code 4", () => {
    expect(() => readCommand({ CNI_COMMAND: "add" })).toThrow(
      expect.objectContaining({
        code: 4,
        message: 'Cannot run CNI_COMMAND "add": unknown command (one of ADD, DEL, CHECK, GC, STATUS, VERSION)',
      }),
    );
  });
});

describe("readCniEnv()", () => {
  it.each([
    ["ADD", ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"]],
    ["CHECK", ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"]],
    ["DEL", ["CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"]],
    ["GC", ["CNI_PATH"]],
    ["STATUS", ["CNI_PATH"]],
  ] as const)("%s requires exactly %j", (command, vars) => {
    expect(() => readCniEnv({ CNI_COMMAND: command }, command)).toThrow(
      expect.objectContaining({
        code: 4,
        message: `Cannot run CNI_COMMAND "${command}": required env variables [${vars.join(",")}] missing`,
      }),
    );
  });

  it("DEL works without CNI_NETNS", () => {
    const { CNI_NETNS: _, ...env } = full;
    expect(readCniEnv({ ...env, CNI_COMMAND: "DEL" }, "DEL").netns).toBe("");
  });

  it.each([
    [
      "CNI_CONTAINERID",
      "-leading-dash",
      'Cannot use CNI_CONTAINERID "-leading-dash": invalid characters (allowed: [a-zA-Z0-9][a-zA-Z0-9_.-]*)',
    ],
    [
      "CNI_CONTAINERID",
      "../etc",
      'Cannot use CNI_CONTAINERID "../etc": invalid characters (allowed: [a-zA-Z0-9][a-zA-Z0-9_.-]*)',
    ],
    [
      "CNI_CONTAINERID",
      "a/b",
      'Cannot use CNI_CONTAINERID "a/b": invalid characters (allowed: [a-zA-Z0-9][a-zA-Z0-9_.-]*)',
    ],
    [
      "CNI_CONTAINERID",
      "a%",
      'Cannot use CNI_CONTAINERID "a%": invalid characters (allowed: [a-zA-Z0-9][a-zA-Z0-9_.-]*)',
    ],
    ["CNI_CONTAINERID", "a".repeat(129), `Cannot use CNI_CONTAINERID "${"a".repeat(32)}…": longer than 128 characters`],
    ["CNI_IFNAME", "net1234567890123", 'Cannot use CNI_IFNAME "net1234567890123": longer than 15 bytes'],
    ["CNI_IFNAME", "..", 'Cannot use CNI_IFNAME "..": "." and ".." are not interface names'],
    ["CNI_IFNAME", "../x", 'Cannot use CNI_IFNAME "../x": contains "/", ":", NUL or whitespace'],
    ["CNI_IFNAME", "eth0:1", 'Cannot use CNI_IFNAME "eth0:1": contains "/", ":", NUL or whitespace'],
    ["CNI_IFNAME", "net 1", 'Cannot use CNI_IFNAME "net 1": contains "/", ":", NUL or whitespace'],
    ["CNI_NETNS", "run/netns/p", 'Cannot use CNI_NETNS "run/netns/p": not an absolute path without ".."'],
    [
      "CNI_NETNS",
      "/run/netns/../../etc",
      'Cannot use CNI_NETNS "/run/netns/../../etc": not an absolute path without ".."',
    ],
  ])("rejects %s=%j with code 4", (name, value, msg) => {
    expect(() => readCniEnv({ ...full, [name]: value }, "ADD")).toThrow(
      expect.objectContaining({ code: 4, message: msg }),
    );
  });

  it("accepts the longest valid container ID (128 characters)", () => {
    expect(readCniEnv({ ...full, CNI_CONTAINERID: "a".repeat(128) }, "ADD").containerID).toHaveLength(128);
  });

  it("accepts the longest valid interface name (15 bytes)", () => {
    expect(() => validateIfname("net123456789012")).not.toThrow();
  });

  // The helper takes printable ASCII only and the kernel takes "%" as a name template ("net%d" -> "net0"):
  // ADD and CHECK refuse what would not be created under exactly that name, with code 4.
  it.each(["ñet", "net%d", "a%", "net\u00a01", "e\u0301th"])(
    "ADD and CHECK refuse CNI_IFNAME %j with code 4",
    (name) => {
      for (const command of ["ADD", "CHECK"] as const) {
        expect(() => readCniEnv({ ...full, CNI_COMMAND: command, CNI_IFNAME: name }, command)).toThrow(
          expect.objectContaining({ code: 4, message: expect.stringMatching(/^Cannot use CNI_IFNAME /) as unknown }),
        );
      }
    },
  );

  it.each(["ñet", "net%d"])("DEL keeps the reference's rules: CNI_IFNAME %j is accepted", (name) => {
    expect(readCniEnv({ ...full, CNI_COMMAND: "DEL", CNI_IFNAME: name }, "DEL").ifname).toBe(name);
  });

  it("GC and STATUS do not validate container ID or ifname", () => {
    expect(readCniEnv({ CNI_COMMAND: "GC", CNI_PATH: "/x" }, "GC")).toMatchObject({ command: "GC", containerID: "" });
  });
});
