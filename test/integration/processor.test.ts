import { createServer, get as httpGet, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { context, DiagLogLevel, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config.ts";
import { StaticIntensityProvider, staticIntensity } from "../../src/intensity/static.ts";
import type { IntensityProvider, IntensityRow } from "../../src/intensity/types.ts";
import { startJob, withJob } from "../../src/job/job.ts";
import { defaultJobMeter } from "../../src/job/meter.ts";
import { computeFootprint } from "../../src/model/footprint.ts";
import { bestHourFromRows } from "../../src/processor/best-hour.ts";
import { CarbonSpanProcessor } from "../../src/processor/carbon-span-processor.ts";
import { footprintParams } from "../../src/processor/enrich.ts";
import * as sc from "../../src/semconv.ts";
import { burnCpuSeconds, burnSlices, type CpuClock, cpuSeconds } from "../helpers/cpu-burn.ts";
import { captureDiag } from "../helpers/diag.ts";
import { recordingMetrics } from "../helpers/recording-metrics.ts";

const config = parseConfig({ zone: "DE", sampler: { intervalMs: 50 } });
const LOGICAL_CORES = 4;

function setup(provider: IntensityProvider = new StaticIntensityProvider()) {
  const exporter = new InMemorySpanExporter();
  const processor = new CarbonSpanProcessor({ config, provider, logicalCores: LOGICAL_CORES });
  const tracerProvider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": "processor-test" }),
    spanProcessors: [processor, new SimpleSpanProcessor({ exporter })],
  });
  const tracer = tracerProvider.getTracer("test");
  return { exporter, processor, tracerProvider, tracer };
}

/** The clock the job meter reads, so a test's own CPU figure is comparable with a job's. */
const clock: CpuClock = defaultJobMeter().cpuClock === "thread" ? "thread" : "process";
const cpuSecondsNow = () => cpuSeconds(clock);

function byName(spans: ReadableSpan[], name: string): ReadableSpan {
  const span = spans.find((s) => s.name === name);
  if (!span) throw new Error(`no span ${name} among ${spans.map((s) => s.name).join(", ")}`);
  return span;
}

function num(span: ReadableSpan, key: string): number {
  const v = span.attributes[key];
  if (typeof v !== "number") throw new Error(`${key} is ${JSON.stringify(v)} on ${span.name}`);
  return v;
}

const contextManager = new AsyncLocalStorageContextManager();
beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
});
afterAll(() => {
  context.disable();
});

describe("CarbonSpanProcessor with the real SDK", () => {
  it("a job burning ≈1 s of CPU reports job.cpu.seconds within ±15 % and carbon.* equal to the model", async () => {
    const { exporter, tracer } = setup();
    withJob("burn", () => burnCpuSeconds(1, clock), { tracer, functionalUnits: 10 });
    const span = byName(exporter.getFinishedSpans(), "burn");
    const cpu = num(span, sc.ATTR_JOB_CPU_SECONDS);
    expect(cpu).toBeGreaterThan(0.85);
    expect(cpu).toBeLessThan(1.15);

    const durationSeconds = span.duration[0] + span.duration[1] / 1e9;
    const intensity = staticIntensity("DE");
    const expected = computeFootprint(
      {
        durationSeconds,
        cpuSeconds: cpu,
        memoryAvgBytes: num(span, sc.ATTR_JOB_MEMORY_AVG_BYTES),
        networkBytes:
          num(span, sc.ATTR_JOB_NETWORK_BYTES_SENT) + num(span, sc.ATTR_JOB_NETWORK_BYTES_RECEIVED),
        functionalUnits: 10,
      },
      intensity.gramsPerKwh,
      footprintParams(config, "DE", LOGICAL_CORES),
    );
    expect(num(span, sc.ATTR_CARBON_ENERGY_KWH)).toBeCloseTo(expected.energy.totalKwh, 12);
    expect(num(span, sc.ATTR_CARBON_ENERGY_CPU_KWH)).toBeCloseTo(expected.energy.cpuKwh, 12);
    expect(num(span, sc.ATTR_CARBON_CO2E_GRAMS)).toBeCloseTo(expected.co2eGrams, 9);
    expect(num(span, sc.ATTR_CARBON_SCI_GRAMS_PER_UNIT)).toBeCloseTo(
      expected.sciGramsPerUnit ?? Number.NaN,
      9,
    );
    // tdp model: 85 W × cpu s ÷ 4 cores.
    expect(num(span, sc.ATTR_CARBON_ENERGY_CPU_KWH)).toBeCloseTo((85 * cpu) / 4 / 3.6e6, 12);
    expect(span.attributes[sc.ATTR_CARBON_INTENSITY_ZONE]).toBe("DE");
    expect(span.attributes[sc.ATTR_CARBON_INTENSITY_SOURCE]).toBe("static");
    expect(span.attributes[sc.ATTR_CARBON_ATTRIBUTION]).toBe("exclusive");
    expect(span.attributes[sc.ATTR_CARBON_ERROR]).toBeUndefined();
  });

  it("nested jobs: the child is a child span, both are enriched, each charged its own work", async () => {
    const { exporter, tracer } = setup();
    const before = cpuSecondsNow();
    await withJob(
      "outer",
      async () => {
        await burnSlices(40, clock);
        await withJob("inner", () => burnSlices(40, clock), { tracer });
      },
      { tracer },
    );
    const total = cpuSecondsNow() - before;
    const spans = exporter.getFinishedSpans();
    const outer = byName(spans, "outer");
    const inner = byName(spans, "inner");
    expect(inner.parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
    expect(inner.spanContext().traceId).toBe(outer.spanContext().traceId);
    expect(outer.parentSpanContext).toBeUndefined();
    for (const s of [outer, inner]) {
      expect(s.attributes[sc.ATTR_CARBON_ATTRIBUTION]).toBe("event-loop");
      expect(s.attributes[sc.ATTR_CARBON_ERROR]).toBeUndefined();
      expect(s.attributes[sc.ATTR_CARBON_INTENSITY_ZONE]).toBe("DE");
      expect(num(s, sc.ATTR_CARBON_CO2E_GRAMS)).toBeGreaterThan(0);
      expect(num(s, sc.ATTR_CARBON_ENERGY_CPU_KWH)).toBeCloseTo(
        (85 * num(s, sc.ATTR_JOB_CPU_SECONDS)) / 4 / 3.6e6,
        15,
      );
    }
    // The innermost job is charged: the parent has its own 40 ms, the child its 40 ms (the
    // parent's callbacks do not run while the child's do).
    const outerCpu = num(outer, sc.ATTR_JOB_CPU_SECONDS);
    const innerCpu = num(inner, sc.ATTR_JOB_CPU_SECONDS);
    expect(innerCpu).toBeGreaterThan(0.025);
    expect(outerCpu).toBeGreaterThan(0.025);
    expect(Math.abs(outerCpu - innerCpu) / total).toBeLessThan(0.3);
    expect(Math.abs(outerCpu + innerCpu - total) / total).toBeLessThan(0.1);
    expect(num(inner, sc.ATTR_JOB_ATTRIBUTED_SECONDS)).toBeLessThanOrEqual(
      num(outer, sc.ATTR_JOB_ATTRIBUTED_SECONDS),
    );
  });

  it("concurrent jobs are enriched separately and marked event-loop", async () => {
    const { exporter, tracer } = setup();
    await Promise.all(
      ["c1", "c2", "c3"].map((name) =>
        withJob(name, () => new Promise((r) => setTimeout(r, 60)), { tracer }),
      ),
    );
    const spans = ["c1", "c2", "c3"].map((name) => byName(exporter.getFinishedSpans(), name));
    for (const [i, s] of spans.entries()) {
      expect(s.attributes[sc.ATTR_JOB_NAME]).toBe(`c${i + 1}`);
      expect(s.attributes[sc.ATTR_CARBON_ATTRIBUTION]).toBe("event-loop");
      expect(s.attributes[sc.ATTR_CARBON_ERROR]).toBeUndefined();
      expect(num(s, sc.ATTR_CARBON_CO2E_GRAMS)).toBeGreaterThan(0);
      // Siblings, not nested: each is a root span of its own trace.
      expect(s.parentSpanContext).toBeUndefined();
      // Three jobs over (nearly) the same 60 ms: each is attributed about a third of it.
      const seconds = s.duration[0] + s.duration[1] / 1e9;
      expect(num(s, sc.ATTR_JOB_ATTRIBUTED_SECONDS)).toBeLessThan(seconds / 2);
      expect(num(s, sc.ATTR_JOB_ATTRIBUTED_SECONDS)).toBeGreaterThan(seconds / 4);
    }
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(3);
  });

  it("concurrent jobs under a parent job are its children, and their CPU adds up inside it", async () => {
    const { exporter, tracer } = setup();
    const before = cpuSecondsNow();
    await withJob(
      "batch",
      () => Promise.all(["p1", "p2"].map((name) => withJob(name, () => burnSlices(40, clock), { tracer }))),
      { tracer },
    );
    const total = cpuSecondsNow() - before;
    const spans = exporter.getFinishedSpans();
    const batch = byName(spans, "batch");
    const kids = ["p1", "p2"].map((n) => byName(spans, n));
    const batchCpu = num(batch, sc.ATTR_JOB_CPU_SECONDS);
    let sum = batchCpu;
    for (const kid of kids) {
      expect(kid.parentSpanContext?.spanId).toBe(batch.spanContext().spanId);
      expect(typeof kid.attributes[sc.ATTR_CARBON_CO2E_GRAMS]).toBe("number");
      // The innermost job is charged: the children did the work, the parent only waited.
      expect(num(kid, sc.ATTR_JOB_CPU_SECONDS)).toBeGreaterThan(batchCpu);
      expect(num(kid, sc.ATTR_JOB_CPU_SECONDS) / total).toBeGreaterThan(0.2); // ≈ 0.45 each, shared machine
      sum += num(kid, sc.ATTR_JOB_CPU_SECONDS);
    }
    expect(Math.abs(sum - total) / total).toBeLessThan(0.1);
  });

  it("A alone, then A and B together: A gets its own part + half the overlap, B half (±25 %)", async () => {
    const { exporter, tracer } = setup();
    let phase: "alone" | "overlap" | "stop" = "alone";
    const work = async (until: () => boolean) => {
      for (let i = 0; i < 10_000 && !until(); i++) {
        burnCpuSeconds(0.005, clock);
        await new Promise((r) => setImmediate(r));
      }
    };
    const c0 = cpuSecondsNow();
    const a = withJob(
      "a",
      async () => {
        await work(() => phase !== "alone");
        await work(() => phase === "stop");
      },
      { tracer },
    );
    // Phases end on CPU burnt, not wall time: the machine may be shared.
    const cpuAtLeast = async (since: number, seconds: number) => {
      for (let i = 0; i < 1000 && cpuSecondsNow() - since < seconds; i++)
        await new Promise((r) => setTimeout(r, 5));
    };
    await cpuAtLeast(c0, 0.1);
    phase = "overlap";
    const c1 = cpuSecondsNow();
    const b = withJob("b", () => work(() => phase === "stop"), { tracer });
    await cpuAtLeast(c1, 0.1);
    phase = "stop";
    await Promise.all([a, b]);
    const c2 = cpuSecondsNow();
    const spans = exporter.getFinishedSpans();
    const cpuA = num(byName(spans, "a"), sc.ATTR_JOB_CPU_SECONDS);
    const cpuB = num(byName(spans, "b"), sc.ATTR_JOB_CPU_SECONDS);
    const exclusive = c1 - c0;
    const overlap = c2 - c1;
    expect(exclusive).toBeGreaterThan(0.05);
    expect(overlap).toBeGreaterThan(0.05);
    // ±25 %: the hooks' wall clock charges preemption inside a callback to that callback's job,
    // and the machine running the tests may be shared.
    expect(Math.abs(cpuA - (exclusive + overlap / 2)) / (exclusive + overlap / 2)).toBeLessThan(0.25);
    expect(Math.abs(cpuB - overlap / 2) / (overlap / 2)).toBeLessThan(0.25);
    // The same split for wall time.
    const attrA = num(byName(spans, "a"), sc.ATTR_JOB_ATTRIBUTED_SECONDS);
    const attrB = num(byName(spans, "b"), sc.ATTR_JOB_ATTRIBUTED_SECONDS);
    expect(attrA).toBeGreaterThan(attrB * 2);
  });

  it("4 overlapping jobs pay idle power and embodied carbon once for their window, not 4×", async () => {
    // Linear model with Pmin = Pmax: the CPU term is all idle power, 10 W per reserved vCPU.
    const linear = parseConfig({
      zone: "DE",
      sampler: { intervalMs: 50 },
      model: { cpu: { model: "linear", minWattsPerVcpu: 10, maxWattsPerVcpu: 10, vcpus: 1 } },
      embodied: { totalEmbodiedKg: 1000, lifespanYears: 4, reservedShare: 1 },
    });
    const exporter = new InMemorySpanExporter();
    const tracerProvider = new TracerProvider({
      spanProcessors: [
        new CarbonSpanProcessor({ config: linear, provider: new StaticIntensityProvider(), logicalCores: 4 }),
        new SimpleSpanProcessor({ exporter }),
      ],
    });
    const tracer = tracerProvider.getTracer("test");
    const names = ["l1", "l2", "l3", "l4"];
    await Promise.all(names.map((n) => withJob(n, () => new Promise((r) => setTimeout(r, 200)), { tracer })));
    const spans = names.map((n) => byName(exporter.getFinishedSpans(), n));
    const ms = (t: readonly [number, number]) => t[0] * 1000 + t[1] / 1e6;
    const windowSeconds =
      (Math.max(...spans.map((s) => ms(s.endTime))) - Math.min(...spans.map((s) => ms(s.startTime)))) / 1000;
    // One job over the same window: 10 W × window; 1000 kg × window ÷ 4 years.
    const oneIdleKwh = (10 * windowSeconds) / 3.6e6;
    const oneEmbodiedGrams = (1e6 * windowSeconds) / (4 * 365.25 * 24 * 3600);
    const idleSum = spans.reduce((sum, s) => sum + num(s, sc.ATTR_CARBON_ENERGY_CPU_KWH), 0);
    const embodiedSum = spans.reduce((sum, s) => sum + num(s, sc.ATTR_CARBON_EMBODIED_GRAMS), 0);
    expect(Math.abs(idleSum - oneIdleKwh) / oneIdleKwh).toBeLessThan(0.05);
    expect(Math.abs(embodiedSum - oneEmbodiedGrams) / oneEmbodiedGrams).toBeLessThan(0.05);
    for (const s of spans) expect(s.attributes[sc.ATTR_CARBON_ATTRIBUTION]).toBe("event-loop");
    await tracerProvider.shutdown();
  });

  it("marks a job it counted in its metrics with carbon.metrics.recorded, and only then", () => {
    const { exporter, tracer, processor } = setup();
    withJob("unrecorded", () => 1, { tracer });
    const { metrics, recorded } = recordingMetrics();
    processor.setMetrics(metrics);
    withJob("recorded", () => 1, { tracer });
    const spans = exporter.getFinishedSpans();
    expect(recorded).toEqual(["recorded"]);
    expect(byName(spans, "recorded").attributes[sc.ATTR_CARBON_METRICS_RECORDED]).toBe(true);
    expect(byName(spans, "unrecorded").attributes[sc.ATTR_CARBON_METRICS_RECORDED]).toBeUndefined();
  });

  it("4 overlapping jobs: their CPU shares add up to the process CPU over the window within 5 %", async () => {
    const { exporter, tracer } = setup();
    const before = cpuSecondsNow();
    const job = (name: string, slices: number, delayMs: number) =>
      withJob(
        name,
        async () => {
          await new Promise((r) => setTimeout(r, delayMs));
          for (let i = 0; i < slices; i++) {
            burnCpuSeconds(0.01);
            await new Promise((r) => setImmediate(r));
          }
        },
        { tracer },
      );
    await Promise.all([job("o1", 20, 0), job("o2", 40, 15), job("o3", 10, 30), job("o4", 30, 45)]);
    const total = cpuSecondsNow() - before;
    const spans = exporter.getFinishedSpans();
    const sum = ["o1", "o2", "o3", "o4"].reduce(
      (s, n) => s + num(byName(spans, n), sc.ATTR_JOB_CPU_SECONDS),
      0,
    );
    expect(total).toBeGreaterThan(0.5);
    expect(Math.abs(sum - total) / total).toBeLessThan(0.05);
  });

  it("an error inside a job sets status ERROR, records the exception, rethrows, and still enriches", async () => {
    const { exporter, tracer } = setup();
    expect(() =>
      withJob(
        "sync-fail",
        () => {
          throw new Error("boom");
        },
        { tracer },
      ),
    ).toThrow("boom");
    await expect(
      withJob("async-fail", async () => Promise.reject(new TypeError("async boom")), { tracer }),
    ).rejects.toThrow("async boom");
    for (const [name, message] of [
      ["sync-fail", "boom"],
      ["async-fail", "async boom"],
    ] as const) {
      const s = byName(exporter.getFinishedSpans(), name);
      expect(s.status.code).toBe(SpanStatusCode.ERROR);
      expect(s.status.message).toBe(message);
      expect(s.events.some((e) => e.name === "exception")).toBe(true);
      expect(typeof s.attributes[sc.ATTR_CARBON_CO2E_GRAMS]).toBe("number");
    }
  });

  it("startJob: a handle whose run() makes the span active and whose end() is idempotent", () => {
    const { exporter, tracer } = setup();
    const job = startJob("handle", { tracer, zone: "FR", functionalUnits: 3 });
    const active = job.run(() => trace.getActiveSpan());
    expect(active).toBe(job.span);
    job.end();
    job.end();
    const spans = exporter.getFinishedSpans().filter((s) => s.name === "handle");
    expect(spans).toHaveLength(1);
    const s = spans[0]!;
    expect(s.attributes[sc.ATTR_CARBON_INTENSITY_ZONE]).toBe("FR");
    expect(s.attributes[sc.ATTR_CARBON_ZONE_RESOLVED_BY]).toBe("attribute");
    expect(s.attributes[sc.ATTR_JOB_FUNCTIONAL_UNITS]).toBe(3);
  });

  it("spans started by other code with job.name are measured, and counters they carry win", () => {
    const { exporter, tracer } = setup();
    const measured = tracer.startSpan("foreign-measured", { attributes: { [sc.ATTR_JOB_NAME]: "foreign" } });
    burnCpuSeconds(0.05, clock);
    measured.end();
    // A minute long, so the counters it carries are plausible (3.6 MJ over 60 s is 60 kW).
    const given = tracer.startSpan("foreign-given", {
      startTime: Date.now() - 60_000,
      attributes: {
        [sc.ATTR_JOB_NAME]: "given",
        [sc.ATTR_JOB_CPU_SECONDS]: 3600,
        [sc.ATTR_JOB_GPU_JOULES]: 3.6e6,
      },
    });
    given.end();
    const spans = exporter.getFinishedSpans();
    expect(num(byName(spans, "foreign-measured"), sc.ATTR_JOB_CPU_SECONDS)).toBeGreaterThan(0.03);
    const g = byName(spans, "foreign-given");
    expect(g.attributes[sc.ATTR_JOB_CPU_SECONDS]).toBe(3600);
    // 3600 cpu-s × 85 W ÷ 4 cores = 76,500 J; plus 1 kWh of GPU.
    expect(num(g, sc.ATTR_CARBON_ENERGY_CPU_KWH)).toBeCloseTo(76_500 / 3.6e6, 9);
    expect(num(g, sc.ATTR_CARBON_ENERGY_GPU_KWH)).toBeCloseTo(1, 9);
  });

  it("non-job spans are left alone", () => {
    const { exporter, tracer } = setup();
    tracer.startSpan("plain", { attributes: { "http.method": "GET" } }).end();
    const s = byName(exporter.getFinishedSpans(), "plain");
    expect(Object.keys(s.attributes)).toEqual(["http.method"]);
  });

  it("never throws on garbage attributes: carbon.error is set and the span is exported", () => {
    const { exporter, tracer } = setup();
    const cases: Record<string, Record<string, unknown>> = {
      "bad-zone": { [sc.ATTR_CARBON_ZONE]: "NOT-A-ZONE" },
      "negative-cpu": { [sc.ATTR_JOB_CPU_SECONDS]: -5 },
      "string-cpu": { [sc.ATTR_JOB_CPU_SECONDS]: "abc", [sc.ATTR_JOB_MEMORY_AVG_BYTES]: [1, 2] },
      "huge-units": {
        [sc.ATTR_JOB_FUNCTIONAL_UNITS]: Number.MAX_VALUE,
        [sc.ATTR_JOB_NETWORK_BYTES_SENT]: -1,
      },
    };
    for (const [name, attrs] of Object.entries(cases)) {
      expect(() =>
        tracer.startSpan(name, { attributes: { [sc.ATTR_JOB_NAME]: name, ...(attrs as object) } }).end(),
      ).not.toThrow();
    }
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(4);
    expect(String(byName(spans, "bad-zone").attributes[sc.ATTR_CARBON_ERROR])).toContain(
      "CO2E_ERR_UNKNOWN_ZONE",
    );
    expect(String(byName(spans, "negative-cpu").attributes[sc.ATTR_CARBON_ERROR])).toContain(
      "CO2E_ERR_MODEL_INPUT",
    );
    // A non-numeric counter counts as not measured: enrichment goes on.
    expect(byName(spans, "string-cpu").attributes[sc.ATTR_CARBON_ERROR]).toBeUndefined();
    expect(byName(spans, "huge-units").attributes[sc.ATTR_CARBON_ERROR]).toBeDefined();
  });

  it("each job span gets its own carbon.zone, the config zone otherwise, however the spans interleave", () => {
    const { exporter, tracer } = setup();
    const zones = ["FR", undefined, "PL", "NOT-A-ZONE", "FR", undefined, "NOT-A-ZONE", "PL"];
    zones.forEach((zone, i) => {
      const attributes = { [sc.ATTR_JOB_NAME]: `z${i}`, ...(zone ? { [sc.ATTR_CARBON_ZONE]: zone } : {}) };
      tracer.startSpan(`z${i}`, { attributes }).end();
    });
    const spans = exporter.getFinishedSpans();
    zones.forEach((zone, i) => {
      const a = byName(spans, `z${i}`).attributes;
      if (zone === "NOT-A-ZONE") {
        expect(String(a[sc.ATTR_CARBON_ERROR])).toContain("CO2E_ERR_UNKNOWN_ZONE");
        return;
      }
      expect(a[sc.ATTR_CARBON_INTENSITY_ZONE]).toBe(zone ?? "DE");
      expect(a[sc.ATTR_CARBON_ZONE_RESOLVED_BY]).toBe(zone ? "attribute" : "config");
      expect(a[sc.ATTR_CARBON_INTENSITY]).toBe(staticIntensity(zone ?? "DE").gramsPerKwh);
    });
  });

  it("a job that starts and ends while a resource attribute is still being detected is enriched without the SDK's diag error", async () => {
    const diagLog = captureDiag(DiagLogLevel.WARN);
    try {
      let settle: (region: string) => void = () => {};
      const region = new Promise<string>((r) => {
        settle = r;
      });
      const exporter = new InMemorySpanExporter();
      const tracerProvider = new TracerProvider({
        resource: resourceFromAttributes({
          "service.name": "pending-svc",
          "cloud.provider": "aws",
          "cloud.region": region,
        }),
        spanProcessors: [
          new CarbonSpanProcessor({
            config: parseConfig({}),
            provider: new StaticIntensityProvider(),
            logicalCores: 2,
          }),
          new SimpleSpanProcessor({ exporter }),
        ],
      });
      const tracer = tracerProvider.getTracer("test");
      tracer.startSpan("early", { attributes: { [sc.ATTR_JOB_NAME]: "early" } }).end();
      settle("eu-west-1");
      await tracerProvider.forceFlush();
      tracer.startSpan("late", { attributes: { [sc.ATTR_JOB_NAME]: "late" } }).end();
      await tracerProvider.forceFlush();
      const spans = exporter.getFinishedSpans();
      // Before the region settled: the settled attributes only (no region yet, so WORLD).
      expect(byName(spans, "early").attributes[sc.ATTR_CARBON_ZONE_RESOLVED_BY]).toBe("default");
      // After: the region's zone.
      expect(byName(spans, "late").attributes[sc.ATTR_CARBON_ZONE_RESOLVED_BY]).toBe("cloud-region");
      expect(byName(spans, "late").attributes[sc.ATTR_CARBON_INTENSITY_ZONE]).toBe("IE");
      expect(diagLog.messages.filter((m) => m.includes("async attributes"))).toEqual([]);
    } finally {
      diagLog.stop();
    }
  });

  it("never throws when the provider throws or the metrics throw", () => {
    const throwing: IntensityProvider = {
      name: "broken",
      lookup: () => {
        throw new Error("provider exploded");
      },
      get: () => Promise.reject(new Error("no")),
      warm: () => {
        throw new Error("warm exploded");
      },
      close: () => Promise.resolve(),
    };
    const { exporter, tracer, processor } = setup(throwing);
    processor.setMetrics({
      recordJob: () => {
        throw new Error("metrics exploded");
      },
      intensityObserver: { onRequest: () => {}, onValue: () => {} },
    });
    expect(() => withJob("with-broken-provider", () => 1, { tracer })).not.toThrow();
    const s = byName(exporter.getFinishedSpans(), "with-broken-provider");
    expect(String(s.attributes[sc.ATTR_CARBON_ERROR])).toContain("provider exploded");
    // Metrics that threw did not count the job: the span must not claim they did (false, so a
    // gateway downstream counts it).
    const ok = setup();
    ok.processor.setMetrics({
      recordJob: () => {
        throw new Error("metrics exploded");
      },
      intensityObserver: { onRequest: () => {}, onValue: () => {} },
    });
    expect(() => withJob("with-broken-metrics", () => 1, { tracer: ok.tracer })).not.toThrow();
    const m = byName(ok.exporter.getFinishedSpans(), "with-broken-metrics");
    expect(typeof m.attributes[sc.ATTR_CARBON_CO2E_GRAMS]).toBe("number");
    expect(m.attributes[sc.ATTR_CARBON_METRICS_RECORDED]).toBe(false);
  });

  it("writes the best-hour counterfactual when the provider has rows around the window", () => {
    const now = Date.now();
    const rows: IntensityRow[] = [
      { startMs: now - 20 * 3600_000, gramsPerKwh: 10 }, // outside ±12 h
      { startMs: now - 3 * 3600_000, gramsPerKwh: 120 },
      { startMs: now + 5 * 3600_000, gramsPerKwh: 90 },
    ];
    expect(bestHourFromRows(rows, { startMs: now, endMs: now })).toBe(90);
    expect(bestHourFromRows(undefined, { startMs: now, endMs: now })).toBeUndefined();
    const inner = new StaticIntensityProvider();
    // The counterfactual is figured for live intensity only: the job's value must say electricitymaps.
    const provider: IntensityProvider = {
      name: "rows",
      lookup: (z) => ({ ...inner.lookup(z), source: "electricitymaps", method: "time-weighted" }),
      get: (z) => inner.get(z),
      warm: () => {},
      cachedRows: () => rows,
      close: () => Promise.resolve(),
    };
    const { exporter, tracer } = setup(provider);
    withJob("best", () => burnCpuSeconds(0.02, clock), { tracer });
    const s = byName(exporter.getFinishedSpans(), "best");
    expect(num(s, sc.ATTR_CARBON_CO2E_GRAMS_AT_BEST_HOUR)).toBeCloseTo(
      num(s, sc.ATTR_CARBON_ENERGY_KWH) * 90,
      12,
    );
  });

  it("shutdown is idempotent and forceFlush resolves", async () => {
    let closed = 0;
    const provider = new StaticIntensityProvider();
    provider.close = async () => {
      closed++;
    };
    const { exporter, processor, tracer } = setup(provider);
    await expect(processor.forceFlush()).resolves.toBeUndefined();
    // forceFlush changes nothing: a job is still measured and enriched.
    withJob("after-flush", () => burnCpuSeconds(0.01, clock), { tracer });
    const open = tracer.startSpan("open-at-shutdown", { attributes: { [sc.ATTR_JOB_NAME]: "open" } });

    await expect(processor.shutdown()).resolves.toBeUndefined();
    await expect(processor.shutdown()).resolves.toBeUndefined();
    // Shut down twice, the processor is as after one shutdown: a job span started before still
    // gets its counters but no carbon.* figures, one started after is not measured either, and
    // nothing throws.
    open.end();
    expect(() =>
      tracer.startSpan("after-shutdown", { attributes: { [sc.ATTR_JOB_NAME]: "late" } }).end(),
    ).not.toThrow();
    const spans = exporter.getFinishedSpans();
    const flushed = byName(spans, "after-flush");
    expect(num(flushed, sc.ATTR_JOB_CPU_SECONDS)).toBeGreaterThan(0);
    expect(typeof flushed.attributes[sc.ATTR_CARBON_CO2E_GRAMS]).toBe("number");
    const late = byName(spans, "open-at-shutdown");
    expect(typeof late.attributes[sc.ATTR_JOB_CPU_SECONDS]).toBe("number");
    expect(late.attributes[sc.ATTR_CARBON_CO2E_GRAMS]).toBeUndefined();
    const after = byName(spans, "after-shutdown");
    expect(after.attributes[sc.ATTR_JOB_CPU_SECONDS]).toBeUndefined();
    expect(after.attributes[sc.ATTR_CARBON_CO2E_GRAMS]).toBeUndefined();
    // The provider belongs to whoever created it: the processor does not close it.
    expect(closed).toBe(0);
  });
});

describe("network bytes per job", () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      const n = Number(new URL(req.url ?? "/", "http://x").searchParams.get("n") ?? 0);
      req.resume();
      req.on("end", () => res.end(Buffer.alloc(n, 0x62)));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(() => server.closeIdleConnections());
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it("counts fetch (undici) bytes, pooled sockets included, separately for concurrent jobs", async () => {
    const { exporter, tracer } = setup();
    const download = (name: string, n: number, times: number) =>
      withJob(
        name,
        async () => {
          for (let i = 0; i < times; i++) await (await fetch(`${base}/?n=${n}`)).arrayBuffer();
        },
        { tracer },
      );
    await Promise.all([download("small", 10_000, 3), download("large", 200_000, 3)]);
    // A second round reuses the keep-alive sockets of the first.
    await download("reuse", 50_000, 2);
    const spans = exporter.getFinishedSpans();
    const received = (n: string) => num(byName(spans, n), sc.ATTR_JOB_NETWORK_BYTES_RECEIVED);
    const sent = (n: string) => num(byName(spans, n), sc.ATTR_JOB_NETWORK_BYTES_SENT);
    expect(received("small")).toBeGreaterThanOrEqual(30_000);
    expect(received("small")).toBeLessThan(40_000);
    expect(received("large")).toBeGreaterThanOrEqual(600_000);
    expect(received("large")).toBeLessThan(620_000);
    expect(received("reuse")).toBeGreaterThanOrEqual(100_000);
    expect(received("reuse")).toBeLessThan(110_000);
    expect(sent("small")).toBeGreaterThan(100);
  });

  it("counts node:http requests and nothing for a job without I/O", async () => {
    const { exporter, tracer } = setup();
    await withJob(
      "http-get",
      () =>
        new Promise<void>((resolve, reject) => {
          httpGet(`${base}/?n=70000`, (res) => {
            res.resume();
            res.on("end", () => resolve());
          }).on("error", reject);
        }),
      { tracer },
    );
    withJob("no-io", () => 1, { tracer });
    const spans = exporter.getFinishedSpans();
    expect(num(byName(spans, "http-get"), sc.ATTR_JOB_NETWORK_BYTES_RECEIVED)).toBeGreaterThanOrEqual(70_000);
    expect(num(byName(spans, "http-get"), sc.ATTR_JOB_NETWORK_BYTES_SENT)).toBeGreaterThan(30);
    expect(num(byName(spans, "no-io"), sc.ATTR_JOB_NETWORK_BYTES_RECEIVED)).toBe(0);
    expect(num(byName(spans, "no-io"), sc.ATTR_JOB_NETWORK_BYTES_SENT)).toBe(0);
  });
});
