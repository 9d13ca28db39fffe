// Recovery cases found with the real kubelet device manager (issue 9 §4), with
// the daemon bundled as shipped against the kubelet simulator on temp dirs:
// the plugin dirs deleted and recreated, a surge rollout (two instances, one
// metrics port, the same device-info files), reloads that insert or remove a
// pool, and grpc-js's own log lines. Times are printed, never asserted.
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DaemonProcess } from "./daemon-process.js";
import { sampleConfig } from "./inventory-fixtures.js";
import { createDaemonEnv, disposeDaemonEnv, freePort, startDaemonIn, writeJson, type DaemonEnv } from "./daemon-env.js";

const VDPA = "accelnet.io/vdpa_vhost";
const VFIO = "accelnet.io/vfio";
const NET = "example.com/netdev";
const POOLS = [VDPA, VFIO, NET];
/** Bound for waits that only guard against a hang. */
const HANG_MS = 15_000;

let env: DaemonEnv;

/** Starts the daemon with the test's dirs; a flag in `extra` replaces the default of that flag. */
function startDaemon(extra: string[] = [], envVars: NodeJS.ProcessEnv = {}): Promise<DaemonProcess> {
  return startDaemonIn(env, extra, { envVars });
}

async function healthz(port: number): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${port}/healthz`);
  return { status: r.status, body: await r.text() };
}

/** Polls /healthz until pred holds (connection errors count as "not yet"). */
async function waitForHealth(port: number, pred: (h: { status: number; body: string }) => boolean, what: string) {
  const deadline = Date.now() + HANG_MS;
  let last: { status: number; body: string } | null = null;
  for (;;) {
    last = await healthz(port).catch(() => null);
    if (last !== null && pred(last)) return last;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for /healthz: ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeEach(async () => {
  env = await createDaemonEnv("acn-dpr-");
});

afterEach(() => disposeDaemonEnv(env));

describe("device plugin recovery", () => {
  it("classic mode: the device plugin dir deleted and recreated → serves and registers again; /healthz names the unregistered pool; prints the time", async () => {
    const port = await freePort();
    await startDaemon([`--metrics-addr=127.0.0.1:${port}`]);
    const k = env.kubelet;
    const all = (): boolean => POOLS.every((p) => k.isRegistered(p));
    await k.waitFor(all, HANG_MS, "registration");
    expect(await waitForHealth(port, (h) => h.status === 200, "registered")).toEqual({ status: 200, body: "ok\n" });

    // kubelet stops (its socket goes, our streams are cancelled): serving, but not registered.
    await k.stop();
    const down = await waitForHealth(port, (h) => h.status !== 200, "unregistered pools reported");
    expect(down.status).toBe(503);
    expect(down.body).toMatch(/^pool "[^"]+" is not registered with kubelet/);

    // The whole dir goes (kubelet reinstall, node clean-up), then comes back with a new kubelet.
    rmSync(env.dpDir, { recursive: true, force: true });
    const gone = await waitForHealth(port, (h) => h.body.includes("is not serving its socket"), "socket gone");
    expect(gone.status).toBe(503);
    const before = k.registrations.length;
    mkdirSync(env.dpDir, { recursive: true });
    const recreatedAt = performance.now();
    await k.start();
    await k.waitFor(all, HANG_MS, "registration in the recreated dir");
    const fresh = k.registrations.slice(before);
    expect(new Set(fresh.map((r) => r.resource))).toEqual(new Set(POOLS));
    console.log(
      `re-registration after the device plugin dir was recreated: ${(Math.max(...fresh.map((r) => r.at)) - recreatedAt).toFixed(1)} ms (target 1 s)`,
    );
    await k.waitFor(() => k.allocatable(NET) === 2, HANG_MS, "devices in the recreated dir");
    expect(await waitForHealth(port, (h) => h.status === 200, "registered again")).toEqual({
      status: 200,
      body: "ok\n",
    });
    // kubelet restarts in the new dir keep working (the watch is on the new dir).
    const again = k.registrations.length;
    await k.restart();
    await k.waitFor(() => all() && k.registrations.length >= again + POOLS.length, HANG_MS, "after a restart");
  });

  it("plugin-watcher mode: the registry dir deleted and recreated → the socket is back for kubelet's watcher; /healthz until kubelet confirms", async () => {
    mkdirSync(env.registry);
    const port = await freePort();
    const d = await startDaemon([
      `--plugins-registry-dir=${env.registry}`,
      "--registration-mode=plugin-watcher",
      `--metrics-addr=127.0.0.1:${port}`,
    ]);
    await d.waitForLog((l) => l.msg === "device plugin started", HANG_MS);
    const sock = join(env.registry, "accelnet-accelnet.io-vfio.sock");
    // Not registered until kubelet's watcher has dialled us and reported success.
    const before = await healthz(port);
    expect(before.status).toBe(503);
    expect(before.body).toContain("is not registered with kubelet");
    const k = env.kubelet;
    for (const p of POOLS) await k.registerFromRegistry(join(env.registry, `accelnet-${p.replace("/", "-")}.sock`));
    await waitForHealth(port, (h) => h.status === 200, "registered through the watcher");

    rmSync(env.registry, { recursive: true, force: true });
    await waitForHealth(port, (h) => h.body.includes("is not serving its socket"), "socket gone");
    const recreatedAt = performance.now();
    mkdirSync(env.registry);
    await k.waitFor(() => existsSync(sock), HANG_MS, "socket in the recreated registry dir");
    console.log(
      `socket back in the recreated plugins registry dir: ${(performance.now() - recreatedAt).toFixed(1)} ms`,
    );
    expect((await healthz(port)).body).toContain("is not registered with kubelet");
    await k.registerFromRegistry(sock);
    await k.waitFor(() => k.allocatable(VFIO) === 1, HANG_MS, "devices via the new registry dir");
  });

  it("rollout: the old instance stopping leaves the new instance's device-info files; the new one waits for the metrics port", async () => {
    const port = await freePort();
    const k = env.kubelet;
    const a = await startDaemon([`--metrics-addr=127.0.0.1:${port}`]);
    await k.waitFor(() => k.allocatable(NET) === 2, HANG_MS, "first instance");
    const file = join(env.devinfo, "example.com-netdev-0000:01:10.0-device.json");
    await k.allocate(NET, ["0000:01:10.0"]);
    expect(existsSync(file)).toBe(true);

    // B starts on the same metrics port (hostNetwork surge rollout): it keeps serving kubelet.
    const b = await startDaemon([`--metrics-addr=127.0.0.1:${port}`]);
    await b.waitForLog(
      (l) => l.msg === "cannot listen for metrics and health, serving kubelet meanwhile and retrying",
      HANG_MS,
    );
    await b.waitForLog((l) => l.msg === "registered with kubelet" && l["resource"] === NET, HANG_MS);
    await a.waitForLog((l) => l.msg === "another instance took over the socket, stopping this pool", HANG_MS);
    await k.waitFor(() => k.allocatable(NET) === 2, HANG_MS, "second instance's devices");
    await k.allocate(NET, ["0000:01:10.0"]);
    const written = readFileSync(file, "utf8");

    expect(await a.stop()).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(written);
    // A's port is free now: B's retry takes it, and B answers health.
    await b.waitForLog((l) => l.msg === "metrics and health endpoint listening", HANG_MS);
    await k.waitFor(() => k.isRegistered(NET), HANG_MS, "B registered after A left");
    await waitForHealth(port, (h) => h.status === 200, "B healthy");
    expect(b.child.exitCode).toBeNull();
    // B still removes what is its own when it stops.
    expect(await b.stop()).toBe(0);
    expect(existsSync(file)).toBe(false);
  });

  it.each([
    ["inserting a pool before the others", (list: object[]) => list.unshift(newPool())],
    ["removing the first pool", (list: object[]) => list.shift()],
  ])("reload: %s keeps the unchanged pools' registrations", async (_name, edit) => {
    const d = await startDaemon();
    const k = env.kubelet;
    await k.waitFor(() => POOLS.every((p) => k.isRegistered(p)), HANG_MS, "registration");
    const cfg = sampleConfig();
    const first = (cfg.resourceList[0] as { resourceName: string; resourcePrefix?: string }).resourceName;
    edit(cfg.resourceList);
    const counts = new Map(POOLS.map((p) => [p, k.registrations.filter((r) => r.resource === p).length]));
    writeJson(env.config, cfg);
    await d.waitForLog((l) => l.msg === "config reloaded", HANG_MS);
    // Give a wrongly restarted pool time to register again before counting.
    await new Promise((r) => setTimeout(r, 500));
    const kept = POOLS.filter((p) =>
      cfg.resourceList.some((r) => p.endsWith(`/${(r as { resourceName: string }).resourceName}`)),
    );
    expect(kept.length).toBeGreaterThanOrEqual(2);
    for (const p of kept) {
      expect({ pool: p, registrations: k.registrations.filter((r) => r.resource === p).length }).toEqual({
        pool: p,
        registrations: counts.get(p),
      });
    }
    expect(d.logs.filter((l) => l.msg === "pool removed").map((l) => l["resource"])).toEqual(
      kept.length === POOLS.length ? [] : [POOLS.find((p) => p.endsWith(`/${first}`))],
    );
  });

  it("writes only JSON lines on stderr, grpc-js's own trace lines included", async () => {
    const d = await startDaemon([], { GRPC_TRACE: "all", GRPC_VERBOSITY: "DEBUG", ACCELNET_TRACE: "grpc" });
    const k = env.kubelet;
    await k.waitFor(() => POOLS.every((p) => k.isRegistered(p)), HANG_MS, "registration");
    expect(await d.stop()).toBe(0);
    const lines = d.stderr.split("\n").filter((l) => l !== "");
    const notJson = lines.filter((l) => {
      try {
        return typeof JSON.parse(l) !== "object";
      } catch {
        return true;
      }
    });
    expect(notJson.slice(0, 3)).toEqual([]);
    // grpc-js did write (its trace lines are there, as JSON).
    expect(d.logs.filter((l) => l["tracer"] === "grpc").length).toBeGreaterThan(10);
  });
});

function newPool(): object {
  return { resourceName: "first", selectors: { rootDevices: ["0000:02:00.0"] } };
}
