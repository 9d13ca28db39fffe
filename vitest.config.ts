import { mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { defineConfig } from "vitest/config";

// accelnet refuses a state, log or device-info dir below a directory others can write (/tmp is 1777,
// README "Threat model"), so tests make their temporary dirs (os.tmpdir()) under a base only its owner
// writes: root's /var/lib/accelnet-test, else ~/.cache/accelnet-test.
export function trustedTmpDir(): string {
  const base = process.getuid?.() === 0 ? "/var/lib/accelnet-test" : join(homedir(), ".cache", "accelnet-test");
  mkdirSync(base, { recursive: true, mode: 0o755 });
  return base;
}

// Unit tests run anywhere; integration tests need root and real network
// namespaces; lab tests boot QEMU guests. Each suite says why it skips.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: [
      "node_modules/**",
      "dist/**",
      "test/lab/cache/**",
      "test/lab/guest/**",
      // Needs the server the thick run's globalSetup starts: vitest.thick.config.ts runs it.
      "test/integration/thick/served.test.ts",
    ],
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 120_000,
    env: { TMPDIR: trustedTmpDir() },
  },
});
