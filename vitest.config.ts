import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineConfig } from "vitest/config";

// Node's on-disk compile cache for the test workers and every Node process the tests start (the
// CLI, the gateway, the demo: dozens of processes loading the same sources). It halves a CLI
// start's CPU time on this machine (0.22 → 0.11 s user for `co2e estimate`); entries are keyed by
// source hash and Node version, so a stale entry is never used. Set before the workers fork.
process.env.NODE_COMPILE_CACHE ??= join(tmpdir(), "otel-co2e-test-compile-cache");

/**
 * Files that measure CPU time, sampling or latency against a bound (CPU attribution, the sampler,
 * timeouts and deadlines of the intensity client, gateway shutdown, /healthz under hostile bodies): they run one at a time, after
 * the rest, so another test file cannot steal the core they are measuring.
 */
const TIMING_SENSITIVE = [
  "test/integration/processor*.test.ts",
  "test/integration/run-rapl.test.ts",
  "test/integration/job-attribution.test.ts",
  "test/integration/gateway-hostile.test.ts",
  "test/integration/intensity-spans.test.ts",
  "test/integration/electricitymaps-*.test.ts",
  "test/integration/sdk.test.ts",
  "test/unit/job-meter.test.ts",
  "test/unit/proc-tree.test.ts",
  "test/unit/gpu-nvidia-smi.test.ts",
  "test/e2e/cli-run.test.ts",
  "test/e2e/gateway-shutdown.test.ts",
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      {
        // Everything else mostly waits (child processes, servers, promtool): two files at a time
        // on 2 cores, first.
        extends: true,
        test: {
          name: "parallel",
          include: ["test/**/*.test.ts"],
          exclude: TIMING_SENSITIVE,
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "timing",
          include: TIMING_SENSITIVE,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
