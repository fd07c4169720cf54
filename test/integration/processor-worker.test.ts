import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import * as sc from "../../src/semconv.ts";
import { burnWallMs, HAS_THREAD_CPU } from "../helpers/cpu-burn.ts";

if (!HAS_THREAD_CPU) console.warn("SKIP worker-thread CPU test: process.threadCpuUsage needs Node ≥ 23.9");

const mod = (path: string) => new URL(`../../${path}`, import.meta.url).href;

/** The worker: its own tracer provider and carbon processor; one job burning 0.5 s of its thread's CPU. */
const workerSource = `
import { parentPort } from "node:worker_threads";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "${mod("node_modules/@opentelemetry/sdk-trace/dist/index.mjs")}";
import { parseConfig } from "${mod("src/config.ts")}";
import { StaticIntensityProvider } from "${mod("src/intensity/static.ts")}";
import { withJob } from "${mod("src/job/job.ts")}";
import { defaultJobMeter } from "${mod("src/job/meter.ts")}";
import { CarbonSpanProcessor } from "${mod("src/processor/carbon-span-processor.ts")}";
import { burnCpuSeconds } from "${mod("test/helpers/cpu-burn.ts")}";

const exporter = new InMemorySpanExporter();
const processor = new CarbonSpanProcessor({ config: parseConfig({ zone: "FR" }), provider: new StaticIntensityProvider(), logicalCores: 2 });
const provider = new TracerProvider({ spanProcessors: [processor, new SimpleSpanProcessor({ exporter })] });
const tracer = provider.getTracer("worker");
withJob("worker-burn", () => burnCpuSeconds(0.5, "thread"), { tracer });
const span = exporter.getFinishedSpans()[0];
parentPort.postMessage({ clock: defaultJobMeter().cpuClock, attributes: span.attributes });
`;

describe("a job in a worker thread", () => {
  it.skipIf(!HAS_THREAD_CPU && process.env.CI !== "true")(
    "reports its own thread's CPU (±15 %), not the main thread's, and is enriched",
    async () => {
      const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(workerSource)}`));
      const result = new Promise<{ clock: string; attributes: Record<string, unknown> }>(
        (resolve, reject) => {
          worker.once("message", resolve);
          worker.once("error", reject);
        },
      );
      // Keep the main thread busy meanwhile: a process-wide clock would count this too.
      burnWallMs(400);
      const { clock, attributes } = await result;
      await worker.terminate();
      expect(clock).toBe("thread");
      const cpu = attributes[sc.ATTR_JOB_CPU_SECONDS] as number;
      expect(cpu).toBeGreaterThan(0.425);
      expect(cpu).toBeLessThan(0.575);
      expect(attributes[sc.ATTR_CARBON_INTENSITY_ZONE]).toBe("FR");
      expect(attributes[sc.ATTR_CARBON_CO2E_GRAMS]).toBeGreaterThan(0);
      expect(attributes[sc.ATTR_CARBON_ERROR]).toBeUndefined();
    },
  );
});
