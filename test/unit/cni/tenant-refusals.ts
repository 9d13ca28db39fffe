// Configs a namespace user could put in a NetworkAttachmentDefinition to steer what root does: each is
// refused with code 7 before anything happens (trusted-paths.ts). Shared by the mode tests, which prove
// that such an ADD leaves the kernel, the state dir and the file system as they were.
import { existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import type { CniRun } from "./dispatch-harness.js";

export interface TenantRefusal {
  name: string;
  /** Config fields to add; may create files in `dir` (the symlink case). */
  extra: (dir: string) => Record<string, unknown>;
  /** The start of the error message. */
  msg: string;
}

export const TENANT_REFUSALS: readonly TenantRefusal[] = [
  {
    name: "a stateDir",
    extra: (dir) => ({ stateDir: join(dir, "tenant-state") }),
    msg: 'Cannot use config field "stateDir": the state dir comes from the runtime\'s environment',
  },
  {
    name: "a logFile outside the node's log dir",
    extra: (dir) => ({ logFile: join(dir, "tenant.log") }),
    msg: 'Cannot use config field "logFile": ',
  },
  {
    name: "a logFile with ..",
    extra: () => ({ logFile: "/var/log/../../etc/cron.d/acn" }),
    msg: 'Cannot use config field "logFile": "/var/log/../../etc/cron.d/acn" is not a file name in the node\'s log dir',
  },
  {
    name: "a CNIDeviceInfoFile outside the spec's directory",
    extra: () => ({ runtimeConfig: { CNIDeviceInfoFile: "/etc/cron.d/acn" } }),
    msg: 'Cannot use config field "runtimeConfig.CNIDeviceInfoFile": "/etc/cron.d/acn" is not under ',
  },
  {
    name: "a CNIDeviceInfoFile with ..",
    extra: () => ({ runtimeConfig: { CNIDeviceInfoFile: "/run/k8s.cni.cncf.io/devinfo/../../../etc/cron.d/acn" } }),
    msg: 'Cannot use config field "runtimeConfig.CNIDeviceInfoFile": "/run/k8s.cni.cncf.io/devinfo/../../../etc/cron.d/acn" is not an absolute path without ".."',
  },
  {
    name: "a CNIDeviceInfoFile that is a symlink",
    extra: (dir) => {
      writeFileSync(join(dir, "secret"), "secret");
      symlinkSync(join(dir, "secret"), join(dir, "link.json"));
      return { runtimeConfig: { CNIDeviceInfoFile: join(dir, "link.json") } };
    },
    msg: 'Cannot use config field "runtimeConfig.CNIDeviceInfoFile": ',
  },
];

export interface RefusalSetup {
  dir: string;
  kernel: { snapshot(): unknown; readonly calls: readonly unknown[] };
  add: (conf: Record<string, unknown>) => Promise<CniRun>;
}

/**
 * Registers one test per TENANT_REFUSALS row: ADD is refused with code 7 before the helper runs, and
 * the kernel and the files of `dir` (state dir, log and device info files included) are as they were.
 */
export function itRefusesTenantPaths(setup: () => RefusalSetup): void {
  it.each(TENANT_REFUSALS.map((r) => [r.name, r] as const))(
    "add() refuses a tenant config with %s (code 7) and leaves nothing behind",
    async (_name, refusal) => {
      const { dir, kernel, add } = setup();
      const extra = refusal.extra(dir);
      const before = { kernel: kernel.snapshot(), files: readdirSync(dir).sort() };
      const { code, out } = await add(extra);
      expect(code).toBe(1);
      expect(out).toMatchObject({ code: 7 });
      expect(String(out?.["msg"])).toContain(refusal.msg);
      expect(kernel.calls).toEqual([]);
      expect({ kernel: kernel.snapshot(), files: readdirSync(dir).sort() }).toEqual(before);
      if (existsSync(join(dir, "secret"))) expect(readFileSync(join(dir, "secret"), "utf8")).toBe("secret");
    },
  );
}
