// The fuzzer's checker must catch what it claims to: each invariant, fed a run that breaks it.
import { describe, expect, it } from "vitest";
import { checkDelSucceeded, checkOutput, envOutsideSpec, type RunOutcome } from "./invariants.js";
import { spliceTokens, type Names } from "./render.js";

const run = (command: string, status: number | null, stdout: string, ipamOutputs: string[] = []): RunOutcome => ({
  command,
  status,
  signal: null,
  stdout: Buffer.from(stdout),
  ipamOutputs,
});
const err = (code: unknown, msg = "m") => JSON.stringify({ cniVersion: "1.0.0", code, msg });

describe("fuzz invariants", () => {
  it("accept a result on exit 0, an error JSON on failure, nothing from a DEL", () => {
    expect(checkOutput(run("ADD", 0, '{"cniVersion":"1.0.0","interfaces":[]}\n')).violations).toEqual([]);
    expect(checkOutput(run("ADD", 7, err(7))).violations).toEqual([]);
    expect(checkOutput(run("DEL", 0, "")).violations).toEqual([]);
  });

  it("refuse two JSON documents, trailing text and invalid UTF-8 on stdout", () => {
    expect(checkOutput(run("ADD", 7, `${err(7)}\n${err(7)}`)).violations).toHaveLength(1);
    expect(checkOutput(run("ADD", 0, '{"a":1} x')).violations).toHaveLength(1);
    const bad = { ...run("ADD", 7, err(7)), stdout: Buffer.concat([Buffer.from(err(7)), Buffer.from([0xff])]) };
    expect(checkOutput(bad).violations.join()).toMatch(/UTF-8/);
  });

  it("refuse an exit status that disagrees with the output", () => {
    expect(checkOutput(run("ADD", 0, err(7))).violations.join()).toMatch(/exit 0 with an error JSON/);
    expect(checkOutput(run("ADD", 0, "")).violations.join()).toMatch(/without a result/);
    expect(checkOutput(run("DEL", 0, '{"x":1}')).violations.join()).toMatch(/exit 0 with output/);
    expect(checkOutput(run("ADD", 1, "")).violations.join()).toMatch(/without an error JSON/);
    expect(checkOutput(run("ADD", 7, err("7"))).violations.join()).toMatch(/without an error JSON/);
    expect(checkOutput(run("ADD", 7, err(7.5))).violations.join()).toMatch(/without an error JSON/);
    expect(checkOutput({ ...run("ADD", null, ""), signal: "SIGSEGV" }).violations.join()).toMatch(/SIGSEGV/);
  });

  it("allow code 999 only when an IPAM plugin printed it", () => {
    expect(checkOutput(run("ADD", 999, err(999, "boom"))).violations.join()).toMatch(/999 from accelnet itself/);
    const said = JSON.stringify({ code: 999, msg: "no IP addresses available" });
    expect(checkOutput(run("ADD", 999, err(999, "no IP addresses available"), [said])).violations).toEqual([]);
    expect(checkOutput(run("ADD", 999, err(999, "other"), [said])).violations).toHaveLength(1);
  });

  const env = { CNI_CONTAINERID: "c1", CNI_IFNAME: "net1", CNI_PATH: "/opt/cni/bin" };
  const del = (code: number, stdin: string, e: Record<string, string> = env) =>
    checkDelSucceeded(checkOutput(run("DEL", code, err(code))), code, { env: e, stdin: Buffer.from(stdin) });
  const valid = '{"cniVersion":"1.0.0","name":"n","type":"accelnet","mode":"Bridge"}';

  it("let DEL refuse only an environment outside the spec, and only with code 4", () => {
    expect(del(4, valid)).toHaveLength(1);
    expect(del(4, valid, { ...env, CNI_CONTAINERID: "a%" })).toEqual([]);
    expect(del(4, valid, { ...env, CNI_IFNAME: "x".repeat(16) })).toEqual([]);
    expect(envOutsideSpec({ ...env, CNI_IFNAME: "ñet" })).toBe(false);
    expect(envOutsideSpec({ ...env, CNI_IFNAME: "net%d" })).toBe(false);
    expect(del(7, valid, { ...env, CNI_CONTAINERID: "a%" })).toHaveLength(1);
    expect(del(4, valid, { ...env, CNI_ARGS: "A=1;;B=2" })).toEqual([]);
    expect(del(4, valid, { ...env, CNI_ARGS: "IgnoreUnknown=1;MAC=zz:zz" })).toHaveLength(1);
  });

  it("let DEL refuse only a stdin the spec forbids, with the spec's code", () => {
    expect(del(6, "[]")).toEqual([]);
    expect(del(6, "{")).toEqual([]);
    expect(del(1, '{"cniVersion":"2.0.0","name":"n"}')).toEqual([]);
    expect(del(7, '{"cniVersion":"1.0.0","name":"a/b"}')).toEqual([]);
    expect(del(7, valid)).toHaveLength(1);
    expect(del(6, valid)).toHaveLength(1);
    expect(del(1, '{"name":"n"}')).toHaveLength(1);
  });

  it("splice huge, deep and raw-byte values into the stdin without stringifying them", () => {
    const names = { master: "m0" } as Names;
    const text = JSON.stringify({ a: "$MASTER", b: "$HUGE:5", c: "$DEEP:3", d: "$BYTES:ff", e: "x$MASTER" });
    const out = spliceTokens(text, names);
    expect(out.includes(Buffer.from([0x22, 0xff, 0x22]))).toBe(true);
    expect(out.toString("latin1")).toBe('{"a":"m0","b":"aaaaa","c":[[[]]],"d":"\xff","e":"x$MASTER"}');
  });
});
