// The shipped Node executables (the standalone CNI plugin dist/accelnet-standalone and the device plugin)
// are single executable applications. These tests run the built files
// (npm run build) to prove what the packaging promises: they are really SEAs (not a plain node that
// would run any script), they answer without files beside them, and NODE_OPTIONS cannot inject code
// into a process that runs as root (execArgvExtension "none").
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../../..");
const cni = join(root, "dist/accelnet-standalone");
const daemon = join(root, "dist/accelnet-deviceplugin");
const server = join(root, "dist/accelnet-cni-server");
const built = existsSync(cni) && existsSync(daemon) && existsSync(server);

describe.skipIf(!built)(`packaged executables${built ? "" : " (skipped: run npm run build first)"}`, () => {
  let dir: string;
  let marker: string;
  let injected: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "acn-sea-"));
    marker = join(dir, "injected");
    injected = join(dir, "inject.cjs");
    writeFileSync(injected, `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "ran");\n`);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("accelnet-standalone answers VERSION with every supported CNI version", () => {
    const out = execFileSync(cni, [], { input: '{"cniVersion":"1.1.0"}', env: { CNI_COMMAND: "VERSION" } });
    expect(JSON.parse(out.toString())).toEqual({
      cniVersion: "1.1.0",
      supportedVersions: ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
    });
  });

  it("accelnet-standalone ignores NODE_OPTIONS: a --require'd script never runs", () => {
    const res = spawnSync(cni, [], {
      input: '{"cniVersion":"1.1.0"}',
      env: { CNI_COMMAND: "VERSION", NODE_OPTIONS: `--require ${injected}` },
    });
    expect(res.status).toBe(0);
    expect(existsSync(marker)).toBe(false);
  });

  it("accelnet-standalone does not run a script given as an argument, as a plain node would", () => {
    const res = spawnSync(cni, [injected], { input: "{}", env: { CNI_COMMAND: "VERSION" } });
    expect(existsSync(marker)).toBe(false);
    expect(JSON.parse(res.stdout.toString())).toHaveProperty("supportedVersions");
  });

  it("accelnet-deviceplugin ignores NODE_OPTIONS and prints its version", () => {
    const res = spawnSync(daemon, ["--version"], { env: { NODE_OPTIONS: `--require ${injected}` } });
    expect(res.status).toBe(0);
    expect(res.stdout.toString()).toMatch(/^accelnet-deviceplugin \d+\.\d+\.\d+\n$/);
    expect(existsSync(marker)).toBe(false);
  });

  it("accelnet-cni-server ignores NODE_OPTIONS and prints its version", () => {
    const res = spawnSync(server, ["--version"], { env: { NODE_OPTIONS: `--require ${injected}` } });
    expect(res.status).toBe(0);
    expect(res.stdout.toString()).toMatch(/^accelnet-cni-server \d+\.\d+\.\d+\n$/);
    expect(existsSync(marker)).toBe(false);
  });

  it("the standalone plugin's bundle holds none of the server's code (its import graph did not grow)", () => {
    const standalone = readFileSync(join(root, "dist/bundle/cni.cjs"), "utf8");
    const withServer = readFileSync(join(root, "dist/bundle/cni-server.cjs"), "utf8");
    for (const serverOnly of ["ACNCNI1", "peer-cred", "yargs", "connection refused: peer is not root"]) {
      expect(withServer).toContain(serverOnly);
      expect(standalone).not.toContain(serverOnly);
    }
  });
});
