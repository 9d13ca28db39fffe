// vitest configuration for the guest: loaded natively by Node 24 (type
// stripping) because the repo share is read-only and vite's default config
// bundling writes a temporary file next to the config.
import { defineConfig } from "vitest/config";

export default defineConfig({
  cacheDir: "/tmp/vitest-cache",
  test: {
    include: ["test/lab/guest/**/*.test.ts"],
    pool: "forks",
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
    watch: false,
  },
});
