// The real world a fuzz case runs in (root only): a veth master in the host, a fresh pod netns per
// case (with a veth inside for linkInContainer), Debian's host-local and static behind recording shims
// (so a code 999 can be traced to the IPAM plugin that said it), a state dir and an IPAM data dir under
// a root-only directory in /run. After each case everything is torn down by force, so every case starts
// from the same state and a shrunk counterexample replays alone.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join, relative } from "node:path";
import { CNI_EXE, cniTestEnv } from "../integration/thick/cni-under-test.js";
import { isAttachmentFile } from "../integration/cni/netns-fixture.js";
import type { Shape } from "./generators.js";
import type { Invocation, Names } from "./render.js";

/** dist/accelnet (the front end, falling back to accelnet-standalone), or the thick run's copy: cni-under-test.ts. */
export const ACCELNET = CNI_EXE;
export const IPAM_PLUGINS = ["host-local", "static"];
const REAL_IPAM_DIR = "/usr/lib/cni";

export interface PluginRun {
  command: string;
  status: number | null;
  signal: string | null;
  stdout: Buffer;
  stderr: string;
  /** What the IPAM plugins printed during this run (recorded by the shims). */
  ipamOutputs: string[];
}

function ip(...args: string[]): string {
  return execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function ipJson<T>(...args: string[]): T[] {
  return JSON.parse(ip("-j", ...args) || "[]") as T[];
}

interface IpLink {
  ifindex: number;
  ifname: string;
  link?: string;
  linkinfo?: { info_kind?: string };
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => !d.isDirectory())
    .map((d) => relative(dir, join(d.parentPath, d.name)));
}

export class World {
  readonly prefix = `fz${randomBytes(2).toString("hex")}`;
  readonly root: string;
  private readonly ipamLog: string;
  private caseNo = 0;
  private pod = "";
  private shape: Shape = "macvlan";
  readonly names: Names;

  constructor() {
    // Under /run (root 0755), not /tmp: the state dir's ancestors must not be writable by others.
    this.root = mkdtempSync("/run/acn-fuzz-");
    chmodSync(this.root, 0o700);
    const shims = join(this.root, "bin");
    this.ipamLog = join(this.root, "ipam-log");
    mkdirSync(shims, { mode: 0o700 });
    mkdirSync(this.ipamLog, { mode: 0o700 });
    for (const plugin of IPAM_PLUGINS) {
      const shim = join(shims, plugin);
      // Same stdin, env and exit status as the real plugin; its stdout is also kept for the checker.
      writeFileSync(
        shim,
        `#!/bin/sh\n${REAL_IPAM_DIR}/${plugin} > ${this.ipamLog}/$$.out\nrc=$?\ncat ${this.ipamLog}/$$.out\nexit $rc\n`,
        { mode: 0o755 },
      );
    }
    const master = `${this.prefix}m`;
    ip("link", "add", master, "type", "veth", "peer", "name", `${master}p`);
    ip("link", "set", master, "up");
    ip("link", "set", `${master}p`, "up");
    this.names = {
      master,
      peer: `${master}p`,
      inner: `${this.prefix}i`,
      ipamDir: join(this.root, "ipam"),
      shims,
      pod: "",
      stateDir: join(this.root, "state"),
    };
  }

  /** A fresh pod netns (and, for linkInContainer, a veth master inside it). */
  beginCase(shape: Shape): Names {
    this.caseNo += 1;
    this.shape = shape;
    const name = `${this.prefix}p${this.caseNo}`;
    ip("netns", "add", name);
    this.pod = name;
    if (shape === "macvlan-in-container") {
      ip("-n", name, "link", "add", this.names.inner, "type", "veth", "peer", "name", `${this.names.inner}p`);
      ip("-n", name, "link", "set", this.names.inner, "up");
    }
    return { ...this.names, pod: `/run/netns/${name}` };
  }

  /** The pod died before DEL: its netns and every link in it are gone. */
  deletePod(): void {
    if (this.pod === "") return;
    ip("netns", "del", this.pod);
    this.pod = "";
  }

  run(inv: Invocation): PluginRun {
    rmSync(this.ipamLog, { recursive: true, force: true });
    mkdirSync(this.ipamLog, { mode: 0o700 });
    const r = spawnSync(ACCELNET, [], {
      input: inv.stdin,
      env: { ...cniTestEnv(), ...inv.env },
      timeout: 120_000,
      maxBuffer: 64 << 20,
    });
    const ipamOutputs = readdirSync(this.ipamLog).map((f) => readFileSync(join(this.ipamLog, f), "utf8"));
    return {
      command: inv.env["CNI_COMMAND"] ?? "",
      status: r.status,
      signal: r.signal,
      stdout: r.stdout,
      stderr: r.stderr.toString("utf8"),
      ipamOutputs,
    };
  }

  /** Everything an attachment may have left: links, IPAM reservations, state dir entries. */
  leftovers(): string[] {
    const found: string[] = [];
    if (this.pod !== "") {
      const expected =
        this.shape === "macvlan-in-container" ? ["lo", this.names.inner, `${this.names.inner}p`] : ["lo"];
      for (const l of ipJson<IpLink>("-d", "-n", this.pod, "link", "show")) {
        if (!expected.includes(l.ifname))
          found.push(`link "${l.ifname}" (${l.linkinfo?.info_kind ?? "?"}) in the pod netns`);
      }
    }
    for (const l of ipJson<IpLink>("-d", "link", "show")) {
      if (this.isChildOfMaster(l)) {
        found.push(`link "${l.ifname}" (${l.linkinfo?.info_kind ?? "?"}) on the master in the host netns`);
      }
    }
    // host-local keeps one file per reserved address, named by the address, in <dataDir>/<network>/.
    for (const f of filesUnder(this.names.ipamDir)) {
      const base = f.split("/").pop() ?? "";
      if (/^[0-9a-f.:]+$/.test(base) && /[.:]/.test(base)) found.push(`IPAM reservation ${f}`);
    }
    // The state dir may keep the node's caches (the extracted helper in bin/, ipam-versions.json);
    // attachments, owners, locks and temp files belong to attachments and must be gone.
    for (const f of filesUnder(this.names.stateDir)) {
      if (isAttachmentFile(f) || f.includes(".tmp")) found.push(`state dir entry ${f}`);
    }
    return found;
  }

  /** A link stacked on the veth master or its peer (a veth's own peer names it as `link` too). */
  private isChildOfMaster(l: IpLink): boolean {
    const ours = [this.names.master, this.names.peer];
    return l.link !== undefined && ours.includes(l.link) && !ours.includes(l.ifname);
  }

  /** Removes whatever the case left, by force, so the next case starts clean. */
  endCase(): void {
    if (this.pod !== "") {
      try {
        ip("netns", "del", this.pod);
      } catch {
        // gone already
      }
      this.pod = "";
    }
    for (const l of ipJson<IpLink>("-d", "link", "show")) {
      if (this.isChildOfMaster(l)) ip("link", "del", l.ifname);
    }
    rmSync(this.names.ipamDir, { recursive: true, force: true });
    for (const entry of existsSync(this.names.stateDir) ? readdirSync(this.names.stateDir) : []) {
      if (entry !== "bin") rmSync(join(this.names.stateDir, entry), { recursive: true, force: true });
    }
  }

  close(): void {
    this.endCase();
    try {
      ip("link", "del", this.names.master);
    } catch {
      // gone with its peer
    }
    rmSync(this.root, { recursive: true, force: true });
  }
}
