import { defineConfig } from "vitest/config";

// Unit tests run anywhere; integration tests need root and real network
// namespaces; lab tests boot QEMU guests. Each suite says why it skips.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["node_modules/**", "dist/**", "test/lab/cache/**", "test/lab/guest/**"],
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
