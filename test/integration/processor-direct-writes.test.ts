/**
 * The processor writes a job span's counters and carbon.* attributes straight into the SDK span's
 * attribute object when the span has room for all of them (the common case), and through the SDK's
 * rules one at a time otherwise. Both must leave the same span: same attributes, same values, and
 * an attribute count the SDK goes on enforcing.
 */
import type { Attributes } from "@opentelemetry/api";
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type Span,
  type SpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config.ts";
import type { IntensityProvider, IntensityValue } from "../../src/intensity/types.ts";
import { JobMeter } from "../../src/job/meter.ts";
import { directSpanAttributes } from "../../src/job/span-attributes.ts";
import { CarbonSpanProcessor } from "../../src/processor/carbon-span-processor.ts";
import { MAX_ENRICHED_ATTRIBUTES } from "../../src/processor/enrich.ts";
import * as sc from "../../src/semconv.ts";
import { recordingMetrics } from "../helpers/recording-metrics.ts";

const providers: TracerProvider[] = [];
afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.shutdown()));
});

const START_S = 1_700_000_000;

/**
 * A live-looking intensity with every optional field and cached hourly rows, so every optional
 * attribute is written (a fallback reason only comes without a best hour: one of the two).
 */
const liveIntensity = (zone: string): IntensityValue => ({
  gramsPerKwh: 300,
  zone,
  source: "electricitymaps",
  method: "time-weighted",
  isEstimated: true,
  estimationMethod: "TIME_SLICER_AVERAGE",
  ageSeconds: 120,
  emissionFactorType: "lifecycle",
});
const liveProvider: IntensityProvider = {
  name: "test-live",
  lookup: liveIntensity,
  get: (zone) => Promise.resolve(liveIntensity(zone)),
  warm: () => {},
  cachedRows: () => [{ startMs: START_S * 1000 + 3_600_000, gramsPerKwh: 120 }],
  close: () => Promise.resolve(),
};

const config = parseConfig({
  zone: "DE",
  embodied: { totalEmbodiedKg: 1000, lifespanYears: 4, reservedShare: 1 },
  carbonPrice: { perTonne: 80 },
  marketFactors: { DE: 50 },
});

/** A meter whose clocks move the same way for every job: identical counters on both paths. */
function fixedMeter(): JobMeter {
  let now = 0;
  let cpu = 0;
  let gpuJoules = 0;
  return new JobMeter({
    gpu: { totalJoules: () => (gpuJoules += 40) },
    clocks: {
      nowMs: () => (now += 7),
      onThreadMs: () => now,
      cpuMicros: () => (cpu += 1500),
      processCpuMicros: () => cpu,
    },
    readRssBytes: () => 200e6,
  });
}

function setup(
  spanLimits: { attributeCountLimit?: number; attributeValueLengthLimit?: number },
  after?: SpanProcessor,
  intensityProvider: IntensityProvider = liveProvider,
) {
  const { metrics, recorded } = recordingMetrics();
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    spanLimits,
    spanProcessors: [
      new CarbonSpanProcessor({
        config,
        provider: intensityProvider,
        metrics,
        meter: fixedMeter(),
        logicalCores: 4,
      }),
      ...(after ? [after] : []),
      new SimpleSpanProcessor({ exporter }),
    ],
  });
  providers.push(provider);
  const tracer = provider.getTracer("test");
  const runJob = (): ReadableSpan => {
    const span = tracer.startSpan("job", {
      attributes: { [sc.ATTR_JOB_NAME]: "report", [sc.ATTR_JOB_FUNCTIONAL_UNITS]: 3 },
      startTime: [START_S, 0],
    });
    span.end([START_S + 2, 500_000_000]);
    const [finished] = exporter.getFinishedSpans().slice(-1);
    if (!finished) throw new Error("no span exported");
    return finished;
  };
  return { runJob, recorded };
}

describe("direct attribute writes on SDK spans", () => {
  it("give the same span as the SDK's one-at-a-time rules", () => {
    // Default limits: direct. A value length limit that cuts nothing: the SDK's path.
    const direct = setup({ attributeCountLimit: 128 });
    const viaSdk = setup({ attributeCountLimit: 128, attributeValueLengthLimit: 100_000 });
    const a = direct.runJob();
    const b = viaSdk.runJob();
    expect(a.attributes).toEqual(b.attributes);
    expect(Object.keys(a.attributes).sort()).toEqual(Object.keys(b.attributes).sort());
    expect(a.droppedAttributesCount).toBe(0);
    expect(b.droppedAttributesCount).toBe(0);
    // Every optional figure is there (the case MAX_ENRICHED_ATTRIBUTES bounds), and counted once.
    for (const key of [
      sc.ATTR_CARBON_CO2E_MARKET_GRAMS,
      sc.ATTR_CARBON_EMBODIED_GRAMS,
      sc.ATTR_CARBON_SCI_GRAMS_PER_UNIT,
      sc.ATTR_CARBON_COST,
      sc.ATTR_CARBON_CO2E_GRAMS_AT_BEST_HOUR,
      sc.ATTR_CARBON_INTENSITY_ESTIMATION_METHOD,
      sc.ATTR_CARBON_PROVENANCE_GPU,
      sc.ATTR_CARBON_METRICS_RECORDED,
    ]) {
      expect(a.attributes, key).toHaveProperty([key]);
    }
    expect(direct.recorded).toEqual(["report"]);
    expect(viaSdk.recorded).toEqual(["report"]);
    // The arrays are the span's own copies, as the SDK stores them.
    const components = a.attributes[sc.ATTR_CARBON_BOUNDARY_COMPONENTS] as string[];
    expect(Object.isFrozen(components)).toBe(false);
  });

  it("no enrichment writes more than MAX_ENRICHED_ATTRIBUTES (the room the direct path asks for)", () => {
    const { runJob } = setup({ attributeCountLimit: 128 });
    const span = runJob();
    const carbon = Object.keys(span.attributes).filter(
      (k) => k.startsWith("carbon.") && k !== sc.ATTR_CARBON_METRICS_RECORDED,
    );
    // carbon.attribution is written by the meter first and again (same key) by the enrichment; of
    // a fallback reason and a best hour only one can be there.
    expect(carbon.length).toBeLessThanOrEqual(MAX_ENRICHED_ATTRIBUTES);
    expect(carbon.length).toBe(MAX_ENRICHED_ATTRIBUTES - 1);
  });

  it("leave the SDK's attribute count right: a later processor's writes stop at the limit", () => {
    let before: Attributes = {};
    let directAtEnd: boolean | undefined;
    const late: SpanProcessor = {
      onStart: () => {},
      onEnding: (span: Span) => {
        before = { ...span.attributes };
        directAtEnd = directSpanAttributes(span, 1) !== undefined;
        for (let i = 0; i < 60; i++) span.setAttribute(`late.k${i}`, i);
      },
      onEnd: () => {},
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    } as SpanProcessor;
    // Just room enough for the direct path: job.name + functional units + 8 counters (GPU joules
    // among them) + every carbon attribute and carbon.metrics.recorded.
    const limit = 2 + 8 + MAX_ENRICHED_ATTRIBUTES + 1;
    const { runJob } = setup({ attributeCountLimit: limit }, late);
    const span = runJob();
    const carbonKeys = Object.keys(before).length;
    expect(carbonKeys).toBeLessThan(limit);
    expect(directAtEnd).toBe(true);
    expect(Object.keys(span.attributes)).toHaveLength(limit);
    expect(span.droppedAttributesCount).toBe(60 - (limit - carbonKeys));
  });

  it("never write what a broken intensity provider returned: the span says which field, and is not counted", () => {
    const broken = (value: Record<string, unknown>): IntensityProvider => ({
      ...liveProvider,
      lookup: (zone) => ({ ...liveIntensity(zone), ...value }) as IntensityValue,
    });
    for (const [value, field] of [
      [{ zone: undefined }, "zone"],
      [{ method: 42 }, "method"],
      [{ gramsPerKwh: Number.NaN }, "gramsPerKwh"],
      [{ gramsPerKwh: 1e9 }, "gramsPerKwh"],
      [{ isEstimated: "yes" }, "isEstimated"],
      [{ estimationMethod: { nested: true } }, "estimationMethod"],
    ] as const) {
      const { runJob, recorded } = setup({ attributeCountLimit: 128 }, undefined, broken(value));
      const span = runJob();
      expect(String(span.attributes[sc.ATTR_CARBON_ERROR]), field).toMatch(
        new RegExp(`CO2E_ERR_PROVIDER.*intensity provider returned ${field} `),
      );
      expect(span.attributes, field).not.toHaveProperty([sc.ATTR_CARBON_CO2E_GRAMS]);
      expect(span.attributes, field).not.toHaveProperty([sc.ATTR_CARBON_INTENSITY_ZONE]);
      expect(recorded, field).toEqual([]);
      // The job's own counters are still there.
      expect(span.attributes[sc.ATTR_JOB_CPU_SECONDS], field).toBeTypeOf("number");
    }
  });
});
