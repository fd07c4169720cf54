import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Timing-sensitive tests (CPU attribution, sampler) share 2 cores with other files;
    // one file at a time keeps their measurements honest.
    fileParallelism: false,
  },
});
