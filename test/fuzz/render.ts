// Turns a generated case into the exact stdin and environment of the plugin runs. Tokens
// (generators.ts) become this run's names and the values that are too big to print: the stdin is
// built as text with the huge, deep and raw-byte values spliced in, so no JSON.stringify of a
// 6000-deep value happens here.
import type { DelCase, FuzzCase } from "./generators.js";

/** The names of the world a case runs in (world.ts). */
export interface Names {
  master: string;
  peer: string;
  inner: string;
  ipamDir: string;
  shims: string;
  pod: string;
  stateDir: string;
}

export interface Invocation {
  stdin: Buffer;
  env: Record<string, string>;
}

export interface Rendered {
  add: Invocation;
  del: Invocation;
}

const tokenPattern = /"\$(MASTER|PEER|INNER|IPAMDIR|HUGE:\d+|DEEP:\d+|DEEPOBJ:\d+|BYTES:[0-9a-f]+)"/g;

/** The JSON text of a token, or raw bytes for $BYTES. */
function expand(token: string, names: Names): string | Buffer {
  const [kind, arg = ""] = token.split(":");
  const n = Number(arg);
  switch (kind) {
    case "MASTER":
      return JSON.stringify(names.master);
    case "PEER":
      return JSON.stringify(names.peer);
    case "INNER":
      return JSON.stringify(names.inner);
    case "IPAMDIR":
      return JSON.stringify(names.ipamDir);
    case "HUGE":
      return `"${"a".repeat(n)}"`;
    case "DEEP":
      return "[".repeat(n) + "]".repeat(n);
    case "DEEPOBJ":
      return '{"a":'.repeat(n) + "{}" + "}".repeat(n);
    case "BYTES":
      return Buffer.concat([Buffer.from('"'), Buffer.from(arg, "hex"), Buffer.from('"')]);
    default:
      throw new Error(`unknown token ${token}`);
  }
}

/** JSON text with every token value replaced. */
export function spliceTokens(text: string, names: Names): Buffer {
  const parts: Buffer[] = [];
  let last = 0;
  for (const m of text.matchAll(tokenPattern)) {
    parts.push(Buffer.from(text.slice(last, m.index)));
    const v = expand(m[1] ?? "", names);
    parts.push(typeof v === "string" ? Buffer.from(v) : v);
    last = m.index + m[0].length;
  }
  parts.push(Buffer.from(text.slice(last)));
  return Buffer.concat(parts);
}

/** An environment string as the runtime would pass it: tokens resolved, no NUL (exec cannot carry one). */
function envString(v: string, names: Names): string {
  const spliced = spliceTokens(JSON.stringify(v), names).toString("utf8");
  const parsed: unknown = JSON.parse(spliced);
  // A deep or huge token in an environment value: its JSON text is the value.
  return (typeof parsed === "string" ? parsed : spliced).replaceAll("\0", "");
}

function confObject(c: FuzzCase["conf"], change: DelCase["change"] | "none"): Record<string, unknown> {
  const o: Record<string, unknown> = { ...c.extra };
  if (c.cniVersion !== undefined) o["cniVersion"] = c.cniVersion;
  o["name"] = o["name"] ?? "fuzznet";
  o["type"] = o["type"] ?? "accelnet";
  Object.assign(o, c.fields);
  if (c.ipam !== undefined) o["ipam"] = c.ipam;
  switch (change) {
    case "deviceID":
      o["runtimeConfig"] = {
        ...(typeof o["runtimeConfig"] === "object" ? o["runtimeConfig"] : {}),
        deviceID: "0000:ff:1f.7",
      };
      break;
    case "accelnetMode-sriov":
      o["accelnetMode"] = "sriov";
      break;
    case "mode":
      o["mode"] = o["mode"] === "private" ? "vepa" : "private";
      break;
    case "no-ipam":
      delete o["ipam"];
      break;
    case "none":
      break;
  }
  return o;
}

function stdinOf(c: FuzzCase["conf"], change: DelCase["change"] | "none", names: Names): Buffer {
  if (c.stdin !== undefined) return Buffer.from(c.stdin);
  return spliceTokens(JSON.stringify(confObject(c, change)), names);
}

function netnsOf(choice: FuzzCase["env"]["netns"], names: Names): string | undefined {
  switch (choice) {
    case "pod":
      return names.pod;
    case "missing":
      return `${names.pod}-missing`;
    case "not-netns":
      return "/etc/hostname";
    case "relative":
      return names.pod.slice(1);
    case "dotdot":
      return `/run/netns/../netns/${names.pod.split("/").pop() ?? ""}`;
    case "unset":
      return undefined;
  }
}

function cniPathOf(choice: FuzzCase["env"]["cniPath"], names: Names): string | undefined {
  switch (choice) {
    case "shims":
      return names.shims;
    case "unset":
      return undefined;
    case "missing-dir":
      return `${names.shims}-missing`;
    case "relative":
      return "bin";
  }
}

export function render(c: FuzzCase, names: Names): Rendered {
  const base: Record<string, string | undefined> = {
    PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
    ACCELNET_STATE_DIR: names.stateDir,
    CNI_CONTAINERID: c.env.containerId === undefined ? undefined : envString(c.env.containerId, names),
    CNI_IFNAME: c.env.ifname === undefined ? undefined : envString(c.env.ifname, names),
    CNI_ARGS: c.env.cniArgs === undefined ? undefined : envString(c.env.cniArgs, names),
    CNI_PATH: cniPathOf(c.env.cniPath, names),
  };
  const addEnv = { ...base, CNI_COMMAND: "ADD", CNI_NETNS: netnsOf(c.env.netns, names) };
  const delEnv = {
    ...base,
    CNI_COMMAND: "DEL",
    CNI_NETNS: c.del.netns === "unset" ? undefined : netnsOf(c.env.netns, names),
  };
  const defined = (e: Record<string, string | undefined>) =>
    Object.fromEntries(Object.entries(e).filter((kv): kv is [string, string] => kv[1] !== undefined));
  return {
    add: { stdin: stdinOf(c.conf, "none", names), env: defined(addEnv) },
    del: { stdin: stdinOf(c.conf, c.del.change, names), env: defined(delEnv) },
  };
}

/** A printable reproduction: stdin (long values shortened) and the CNI_* variables. */
export function describeInvocation(inv: Invocation): string {
  let stdin = inv.stdin.toString("utf8");
  stdin = stdin
    .replace(/a{200,}/g, (m) => `<"a" x ${m.length}>`)
    .replace(/(\[{50,})(\]{50,})/g, (_m, o: string) => `<[ x ${o.length}>`);
  stdin = stdin.replace(/(\{"a":){50,}\{\}\}+/g, (m) => `<{"a": x ${(m.length - 2) / 6}>`);
  if (stdin.length > 2000) stdin = `${stdin.slice(0, 2000)}… (${inv.stdin.length} bytes)`;
  const env = Object.entries(inv.env)
    .filter(([k]) => k.startsWith("CNI_"))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(" ");
  return `${env}\n  stdin: ${stdin}`;
}
