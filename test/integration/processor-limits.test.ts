/**
 * Limits the SDK and the meter impose on job spans: the span attribute count limit must not cost a
 * job its carbon.* figures while it is counted in the metrics anyway (a gateway would count it
 * again), and a job span never ended must not dilute later jobs for ever (sampler.maxJobSeconds).
 */
import { type Attributes, DiagLogLevel } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config.ts";
import { isEnriched, metricsRecorded } from "../../src/gateway/enriched-record.ts";
import { StaticIntensityProvider } from "../../src/intensity/static.ts";
import { startJob, withJob } from "../../src/job/job.ts";
import { JobMeter } from "../../src/job/meter.ts";
import { CarbonSpanProcessor } from "../../src/processor/carbon-span-processor.ts";
import { PRIORITY_CARBON_ATTRIBUTES } from "../../src/processor/enrich.ts";
import * as sc from "../../src/semconv.ts";
import { burnCpuSeconds } from "../helpers/cpu-burn.ts";
import { captureDiag, type DiagCapture } from "../helpers/diag.ts";
import { recordingMetrics } from "../helpers/recording-metrics.ts";

const providers: TracerProvider[] = [];
let diagLog: DiagCapture | undefined;
afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.shutdown()));
  diagLog?.stop();
  diagLog = undefined;
});

/** Diag warnings (and errors) until the test ends. */
function captureDiagWarnings(): string[] {
  diagLog = captureDiag(DiagLogLevel.WARN);
  return diagLog.messages;
}

function setup(configInput: Parameters<typeof parseConfig>[0] = { zone: "DE" }) {
  const config = parseConfig(configInput);
  const meter = new JobMeter({ cpuClock: "process" });
  const { metrics, recorded } = recordingMetrics();
  const exporter = new InMemorySpanExporter();
  const processor = new CarbonSpanProcessor({
    config,
    provider: new StaticIntensityProvider(),
    metrics,
    meter,
    logicalCores: 4,
  });
  const tracerProvider = new TracerProvider({
    // The SDK default (OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT unset), spelled out so the environment
    // cannot change the test.
    spanLimits: { attributeCountLimit: 128 },
    spanProcessors: [processor, new SimpleSpanProcessor({ exporter })],
  });
  providers.push(tracerProvider);
  return { exporter, meter, recorded, tracer: tracerProvider.getTracer("test") };
}

function userAttributes(n: number): Attributes {
  const attributes: Attributes = {};
  for (let i = 0; i < n; i++) attributes[`app.attr${i}`] = i;
  return attributes;
}

describe("the span attribute count limit (128)", () => {
  it("110 user attributes: CO₂e, zone, source, energy and metrics.recorded fit; counted once", () => {
    const { exporter, recorded, tracer, meter } = setup();
    withJob("report", () => burnCpuSeconds(0.01), { tracer, meter, attributes: userAttributes(110) });
    const span = exporter.getFinishedSpans()[0]!;
    expect(span.droppedAttributesCount).toBeGreaterThan(0); // the limit did bite
    for (const key of PRIORITY_CARBON_ATTRIBUTES) expect(span.attributes[key]).toBeDefined();
    expect(span.attributes[sc.ATTR_CARBON_METRICS_RECORDED]).toBe(true);
    expect(recorded).toEqual(["report"]);
    // A gateway downstream forwards it without counting it again.
    expect(isEnriched(span.attributes)).toBe(true);
    expect(metricsRecorded(span.attributes)).toBe(true);
  });

  it("125 user attributes: no room for CO₂e, so the job is not counted here (once in the gateway), one warning", () => {
    const warnings = captureDiagWarnings();
    const { exporter, recorded, tracer, meter } = setup();
    for (const name of ["a", "b"]) {
      withJob(name, () => burnCpuSeconds(0.01), { tracer, meter, attributes: userAttributes(125) });
    }
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(2);
    for (const span of spans) {
      expect(span.attributes[sc.ATTR_CARBON_CO2E_GRAMS]).toBeUndefined();
      expect(span.attributes[sc.ATTR_CARBON_METRICS_RECORDED]).toBeUndefined();
      // The gateway sees an unenriched job and counts it itself.
      expect(isEnriched(span.attributes)).toBe(false);
    }
    expect(recorded).toEqual([]);
    expect(warnings.filter((w) => w.includes("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT"))).toHaveLength(1);
  });

  it("room for CO₂e but not for carbon.metrics.recorded: not counted here, so not counted twice", () => {
    const { exporter, recorded, tracer, meter } = setup();
    // job.name + 7 job.* counters + 4 priority carbon.* = 12 after the user's: 116 leaves exactly 4.
    withJob("tight", () => 1, { tracer, meter, attributes: userAttributes(116) });
    const span = exporter.getFinishedSpans()[0]!;
    expect(span.attributes[sc.ATTR_CARBON_CO2E_GRAMS]).toBeDefined();
    expect(span.attributes[sc.ATTR_CARBON_METRICS_RECORDED]).toBeUndefined();
    expect(recorded).toEqual([]);
    expect(metricsRecorded(span.attributes)).toBe(false);
  });
});

describe("sampler.maxJobSeconds through the processor", () => {
  it("a job span never ended is finished at that age and no longer dilutes a later job", async () => {
    const warnings = captureDiagWarnings();
    const { exporter, tracer, meter } = setup({
      zone: "DE",
      sampler: { intervalMs: 10, maxJobSeconds: 0.05 },
    });
    const forgotten = startJob("forgotten", { tracer, meter });
    for (let i = 0; i < 200 && meter.activeJobs > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(meter.activeJobs).toBe(0);
    expect(warnings.filter((w) => w.includes("maxJobSeconds"))).toHaveLength(1);

    const before = process.cpuUsage();
    await withJob(
      "work",
      async () => {
        await null;
        burnCpuSeconds(0.3);
      },
      { tracer, meter },
    );
    const used = process.cpuUsage(before);
    const total = (used.user + used.system) / 1e6;
    const work = exporter.getFinishedSpans().find((s) => s.name === "work")!;
    expect(work.attributes[sc.ATTR_CARBON_ATTRIBUTION]).toBe("exclusive");
    const cpu = work.attributes[sc.ATTR_JOB_CPU_SECONDS] as number;
    expect(cpu / total).toBeGreaterThan(0.85);
    expect(cpu / total).toBeLessThan(1.15);

    // Ended late, the forgotten span still gets the counters of its first maxJobSeconds.
    forgotten.end();
    const late = exporter.getFinishedSpans().find((s) => s.name === "forgotten")!;
    expect(typeof late.attributes[sc.ATTR_CARBON_CO2E_GRAMS]).toBe("number");
    expect(late.attributes[sc.ATTR_JOB_ATTRIBUTED_SECONDS] as number).toBeLessThan(1);
  });
});
