/**
 * Event-loop accounting with the real SDK: TracerProvider + CarbonSpanProcessor + withJob/startJob,
 * real async_hooks and real clocks. The work burns a little CPU and measures itself (this thread's
 * CPU clock around each slice), so every expectation compares the spans with what really ran.
 * Tolerances are fractions of the total CPU of the test: the machine may be shared.
 */
import type { ReadableSpan } from "@opentelemetry/sdk-trace";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { describe, expect, it } from "vitest";
import { type ConfigInput, parseConfig } from "../../src/config.ts";
import { StaticIntensityProvider } from "../../src/intensity/static.ts";
import { startJob, withJob } from "../../src/job/job.ts";
import { JobMeter } from "../../src/job/meter.ts";
import { createPrometheusMetrics } from "../../src/metrics/prometheus.ts";
import { CarbonSpanProcessor } from "../../src/processor/carbon-span-processor.ts";
import * as sc from "../../src/semconv.ts";
import { useCleanups } from "../helpers/cleanups.ts";
import { burnCpuSeconds, cpuSeconds, HAS_THREAD_CPU } from "../helpers/cpu-burn.ts";
import { sampleValue } from "../helpers/exposition.ts";

const cleanups = useCleanups();

const threadSeconds = (): number => cpuSeconds("thread");
const processSeconds = (): number => cpuSeconds("process");
/** Burns `ms` of this thread's CPU; returns what it burnt, s (the truth). */
const burn = (ms: number): number => burnCpuSeconds(ms / 1000, "thread");

const immediate = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * `hookClock`: what the async_hooks callbacks read. Tests that compare shares with the work done
 * use this thread's CPU clock: the test machine may be oversubscribed, and with the default wall
 * clock the time the thread is preempted inside a callback counts for that callback's job
 * (bench/attribution.bench.ts reports both clocks). Reconciliation holds with either.
 */
function setup(
  config: ConfigInput = {},
  hookClock: "wall" | "thread-cpu" = "wall",
  cpuClock: "process" | "thread" = "process",
  minCpuReadMs?: number,
) {
  const meter = new JobMeter({
    cpuClock,
    ...(minCpuReadMs !== undefined ? { minCpuReadMs } : {}),
    ...(hookClock === "thread-cpu" ? { clocks: { onThreadMs: () => threadSeconds() * 1000 } } : {}),
  });
  const exporter = new InMemorySpanExporter();
  const processor = new CarbonSpanProcessor({
    config: parseConfig({ zone: "DE", ...config }),
    provider: new StaticIntensityProvider(),
    logicalCores: 2,
    meter,
  });
  const tracerProvider = new TracerProvider({
    spanProcessors: [processor, new SimpleSpanProcessor({ exporter })],
  });
  cleanups.push(async () => {
    meter.tick(); // no job left: hooks and timer off
    await tracerProvider.shutdown();
  });
  return { meter, exporter, processor, tracer: tracerProvider.getTracer("test") };
}

const cpuOf = (spans: ReadableSpan[], name: string): number => {
  const span = spans.find((s) => s.name === name);
  if (!span) throw new Error(`no span ${name}`);
  return span.attributes[sc.ATTR_JOB_CPU_SECONDS] as number;
};

describe("event-loop accounting, real SDK", () => {
  it("overlapping async jobs get their own work; a job only awaiting a timer gets ≈ 0", async () => {
    const { meter, exporter, tracer } = setup({}, "thread-cpu");
    const truth = { heavy: 0, light: 0 };
    const cpu0 = processSeconds();
    const u0 = meter.unattributedCpuSeconds();
    const end = performance.now() + 300;
    await Promise.all([
      withJob(
        "heavy",
        async () => {
          while (performance.now() < end) {
            truth.heavy += burn(5);
            await immediate();
          }
        },
        { tracer },
      ),
      withJob(
        "light",
        async () => {
          while (performance.now() < end) {
            truth.light += burn(1);
            await sleep(5);
          }
        },
        { tracer },
      ),
      withJob("idle", () => sleep(300), { tracer }),
    ]);
    meter.tick(); // closes the last interval for the unattributed total
    const total = processSeconds() - cpu0;
    const spans = exporter.getFinishedSpans();
    const [heavy, light, idle] = ["heavy", "light", "idle"].map((n) => cpuOf(spans, n)) as [
      number,
      number,
      number,
    ];
    expect(Math.abs(heavy - truth.heavy) / total).toBeLessThan(0.1);
    expect(Math.abs(light - truth.light) / total).toBeLessThan(0.1);
    // The ordering follows the work actually done (on a busy machine the time-bound loops do less).
    expect(Math.sign(heavy - light)).toBe(Math.sign(truth.heavy - truth.light));
    expect(idle / total).toBeLessThan(0.02);
    for (const s of spans) expect(s.attributes[sc.ATTR_CARBON_ATTRIBUTION]).toBe("event-loop");
    const unattributed = meter.unattributedCpuSeconds() - u0;
    expect(Math.abs(heavy + light + idle + unattributed - total) / total).toBeLessThan(0.02);
  });

  it("sampler.attribution: equal restores the equal split (a job only waiting pays like the busy one)", async () => {
    const { meter, exporter, tracer } = setup({ sampler: { attribution: "equal" } });
    expect(meter.attribution).toBe("equal");
    const busy = withJob(
      "busy",
      async () => {
        for (let i = 0; i < 20; i++) {
          burn(3);
          await immediate();
        }
      },
      { tracer },
    );
    await withJob("waiting", () => busy, { tracer });
    const spans = exporter.getFinishedSpans();
    for (const s of spans) expect(s.attributes[sc.ATTR_CARBON_ATTRIBUTION]).toBe("equal");
    expect(meter.hooksEnabled).toBe(false);
    // Equal shares while both ran (all the time): the waiting job is charged as much as the busy one.
    expect(cpuOf(spans, "waiting")).toBeGreaterThan(cpuOf(spans, "busy") * 0.7);
  });

  it("nested jobs, a never-ended job and a job ended from another context keep the totals reconciled", async () => {
    const { meter, exporter, tracer } = setup(
      { sampler: { maxJobSeconds: 0.2, intervalMs: 50 } },
      "thread-cpu",
    );
    const cpu0 = processSeconds();
    const u0 = meter.unattributedCpuSeconds();
    let innerTruth = 0;
    let handedTruth = 0;
    // Never ended: the sampler finishes it at maxJobSeconds.
    const leaked = startJob("leaked", { tracer, meter });
    leaked.run(() => burn(5));
    const handed = startJob("handed", { tracer, meter });
    const handedWork = handed.run(async () => {
      for (let i = 0; i < 5; i++) {
        handedTruth += burn(2);
        await immediate();
      }
    });
    await withJob(
      "outer",
      async () => {
        burn(5);
        await withJob(
          "inner",
          async () => {
            for (let i = 0; i < 5; i++) {
              innerTruth += burn(3);
              await immediate();
            }
          },
          { tracer },
        );
        await handedWork;
        handed.end(); // from the outer job's context
        burn(5);
      },
      { tracer },
    );
    await sleep(300); // the sampler expires `leaked`
    expect(meter.activeJobs).toBe(0);
    meter.tick();
    const total = processSeconds() - cpu0;
    const unattributed = meter.unattributedCpuSeconds() - u0;
    leaked.end();
    const spans = exporter.getFinishedSpans();
    const sum = ["outer", "inner", "handed", "leaked"].reduce((s, n) => s + cpuOf(spans, n), 0);
    expect(Math.abs(sum + unattributed - total) / total).toBeLessThan(0.02);
    expect(Math.abs(cpuOf(spans, "inner") - innerTruth) / total).toBeLessThan(0.1);
    expect(Math.abs(cpuOf(spans, "handed") - handedTruth) / total).toBeLessThan(0.1);
    expect(cpuOf(spans, "outer")).toBeGreaterThan(0.005);
    expect(cpuOf(spans, "leaked")).toBeGreaterThan(0.002);
  });

  it("one job at a time, with work and waiting between jobs: each keeps its own work, the rest is no job's", async () => {
    // Between jobs the hooks are quiet and the pause counts as its wall time less the loop's idle
    // time (the default clocks): the work between jobs must not land on them, nor the waiting
    // dilute them (≈ 20 % of the CPU off if the pause counted whole). CPU readings at most
    // every 50 ms: most jobs start and end between two, so the pauses decide their ratio.
    // This thread's CPU clock for the meter: the compiler's and GC's helper threads, spread in
    // proportion otherwise, would blur the comparison with the work done.
    const { meter, exporter, tracer } = setup({}, "wall", "thread", 50);
    let truth = 0;
    const cpu0 = threadSeconds();
    const u0 = meter.unattributedCpuSeconds();
    for (let i = 0; i < 30; i++) {
      await withJob(
        "one-at-a-time",
        async () => {
          for (let k = 0; k < 3; k++) {
            truth += burn(1);
            await immediate();
          }
        },
        { tracer },
      );
      await immediate();
      burn(2); // no job's
      await sleep(10);
    }
    meter.tick();
    const total = threadSeconds() - cpu0;
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(30);
    const sum = spans.reduce((s, span) => s + (span.attributes[sc.ATTR_JOB_CPU_SECONDS] as number), 0);
    const unattributed = meter.unattributedCpuSeconds() - u0;
    expect(Math.abs(sum - truth) / total).toBeLessThan(0.08);
    expect(Math.abs(sum + unattributed - total) / total).toBeLessThan(0.02);
  });

  it("10,000 concurrent jobs keep the totals reconciled", async () => {
    const { meter, exporter, tracer } = setup();
    const cpu0 = processSeconds();
    const u0 = meter.unattributedCpuSeconds();
    await Promise.all(
      Array.from({ length: 10_000 }, (_, i) =>
        withJob(
          `many-${i % 10}`,
          async () => {
            await null;
            let x = 0;
            for (let k = 0; k < 2000; k++) x += Math.sqrt(k + x);
            await immediate();
            return x;
          },
          { tracer },
        ),
      ),
    );
    meter.tick();
    const total = processSeconds() - cpu0;
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(10_000);
    const sum = spans.reduce((s, span) => s + (span.attributes[sc.ATTR_JOB_CPU_SECONDS] as number), 0);
    const unattributed = meter.unattributedCpuSeconds() - u0;
    expect(sum).toBeGreaterThan(0);
    expect(Math.abs(sum + unattributed - total) / total).toBeLessThan(0.02);
  });
});

describe("alert level: per-run gCO₂e of a constant job, from the scraped metrics", () => {
  it("stays within 5 % while a neighbour's load triples; co2e_unattributed_* are exported", async () => {
    const prom = await createPrometheusMetrics({ host: "127.0.0.1", port: 0, jobNameLimit: 10 });
    cleanups.push(() => prom.shutdown());
    // This thread's clocks only: the per-run figure must not move with CPU that other threads of a
    // shared test process burn meanwhile (the process clock spreads it over whoever ran).
    const { processor, tracer } = setup({}, "thread-cpu", HAS_THREAD_CPU ? "thread" : "process");
    processor.setMetrics(prom.metrics);
    const perRun = async (): Promise<number> => {
      const text = await (await fetch(prom.url)).text();
      const labels = { job_name: "steady" };
      const grams = sampleValue(text, sc.PROM_JOB_CARBON, { ...labels, scope: "operational" }) ?? 0;
      const runs = sampleValue(text, sc.PROM_JOB_RUNS, labels) ?? 0;
      return runs > 0 ? grams / runs : Number.NaN;
    };
    // The steady job's own burn, per phase.
    const truth = [0, 0];
    let phase = 0;
    const round = (neighbourMs: number) =>
      Promise.all([
        withJob(
          "steady",
          async () => {
            for (let i = 0; i < 4; i++) {
              truth[phase]! += burn(4);
              await immediate();
            }
          },
          { tracer },
        ),
        withJob(
          "neighbour",
          async () => {
            for (let i = 0; i < 4; i++) {
              burn(neighbourMs / 4);
              await immediate();
            }
          },
          { tracer },
        ),
      ]);
    const ROUNDS = 20;
    for (let i = 0; i < ROUNDS; i++) await round(8);
    const before = await perRun(); // over the first ROUNDS runs
    const text0 = await (await fetch(prom.url)).text();
    const g0 = sampleValue(text0, sc.PROM_JOB_CARBON, { job_name: "steady", scope: "operational" }) ?? 0;
    phase = 1;
    for (let i = 0; i < ROUNDS; i++) await round(24);
    const text1 = await (await fetch(prom.url)).text();
    const g1 = sampleValue(text1, sc.PROM_JOB_CARBON, { job_name: "steady", scope: "operational" }) ?? 0;
    const afterRuns = (g1 - g0) / ROUNDS;
    expect(before).toBeGreaterThan(0);
    // Per run, against the steady job's own measured burn in each phase: on a shared machine even
    // "the same loop" burns a little more or less CPU from phase to phase.
    const perRunWork = [truth[0]! / ROUNDS, truth[1]! / ROUNDS];
    expect(Math.abs(afterRuns / perRunWork[1]! / (before / perRunWork[0]!) - 1)).toBeLessThan(0.05);
    // The neighbour's per-run grams did follow its load.
    const n0 = sampleValue(text0, sc.PROM_JOB_CARBON, { job_name: "neighbour", scope: "operational" }) ?? 0;
    const n1 = sampleValue(text1, sc.PROM_JOB_CARBON, { job_name: "neighbour", scope: "operational" }) ?? 0;
    expect((n1 - n0) / n0).toBeGreaterThan(1.5); // its work tripled; its fixed costs did not
    expect(sampleValue(text1, sc.PROM_UNATTRIBUTED_CPU, {})).toBeGreaterThan(0);
    expect(sampleValue(text1, sc.PROM_UNATTRIBUTED_ENERGY, {})).toBeGreaterThan(0);
  });
});
