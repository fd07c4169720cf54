/**
 * Client-supplied counters against the span's own duration, in the enrichment the processor and
 * the gateway share: a span whose counter is impossible for its duration gets `carbon.error`
 * naming the attribute, no `carbon.*` figures and no JobRecord (so nothing reaches a counter);
 * values at the bound pass. Then the same through the real SDK TracerProvider and /metrics.
 */
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config.ts";
import { StaticIntensityProvider } from "../../src/intensity/static.ts";
import type { IntensityValue } from "../../src/intensity/types.ts";
import { createPrometheusMetrics, type PrometheusMetrics } from "../../src/metrics/prometheus.ts";
import {
  DURATION_SLACK_SECONDS,
  MAX_JOB_POWER_WATTS,
  MAX_LOGICAL_CORES,
  MAX_MEMORY_BYTES,
  MAX_NETWORK_BYTES_PER_SECOND,
} from "../../src/model/plausible.ts";
import { CarbonSpanProcessor } from "../../src/processor/carbon-span-processor.ts";
import { enrichJobSpan } from "../../src/processor/enrich.ts";
import * as sc from "../../src/semconv.ts";
import { find, parseExposition } from "../helpers/exposition.ts";

const intensity: IntensityValue = {
  gramsPerKwh: 400,
  zone: "DE",
  source: "configured",
  method: "configured",
};
const config = parseConfig({ zone: "DE" });
/** A 2-second span: every rate bound applies to 2 s + the slack. */
const SECONDS = 2;
const WINDOW = SECONDS + DURATION_SLACK_SECONDS;

function enrich(attributes: Record<string, number | string>) {
  return enrichJobSpan(
    {
      attributes: { [sc.ATTR_JOB_NAME]: "j", ...attributes },
      resource: {},
      startMs: 0,
      endMs: SECONDS * 1000,
      isError: false,
    },
    { config, logicalCores: 4, intensity: () => intensity },
  );
}

describe("counters checked against the span's duration", () => {
  const cases: Array<[string, number]> = [
    [sc.ATTR_JOB_CPU_SECONDS, WINDOW * MAX_LOGICAL_CORES],
    [sc.ATTR_JOB_CPU_JOULES, WINDOW * MAX_JOB_POWER_WATTS],
    [sc.ATTR_JOB_GPU_JOULES, WINDOW * MAX_JOB_POWER_WATTS],
    [sc.ATTR_JOB_NETWORK_BYTES_SENT, WINDOW * MAX_NETWORK_BYTES_PER_SECOND],
    [sc.ATTR_JOB_NETWORK_BYTES_RECEIVED, WINDOW * MAX_NETWORK_BYTES_PER_SECOND],
    [sc.ATTR_JOB_MEMORY_AVG_BYTES, MAX_MEMORY_BYTES],
  ];

  for (const [attribute, bound] of cases) {
    it(`${attribute}: ${bound} passes, just above, 1e300 and -1 fail naming it`, () => {
      const ok = enrich({ [attribute]: bound });
      expect(ok.attributes[sc.ATTR_CARBON_ERROR]).toBeUndefined();
      expect(ok.record).toBeDefined();
      for (const bad of [bound * (1 + 1e-9), 1e300, Number.MAX_VALUE, -1]) {
        const r = enrich({ [attribute]: bad });
        expect(String(r.attributes[sc.ATTR_CARBON_ERROR])).toMatch(
          new RegExp(`^CO2E_ERR_MODEL_INPUT: ${attribute.replaceAll(".", "\\.")} `),
        );
        expect(r.record).toBeUndefined();
        expect(r.attributes[sc.ATTR_CARBON_CO2E_GRAMS]).toBeUndefined();
      }
    });
  }

  it("an integer carried as a decimal string (OTLP JSON int64) is checked too", () => {
    const r = enrich({ [sc.ATTR_JOB_NETWORK_BYTES_SENT]: "99999999999999999999" });
    expect(String(r.attributes[sc.ATTR_CARBON_ERROR])).toContain(sc.ATTR_JOB_NETWORK_BYTES_SENT);
  });

  it("the message gives the bound and how it was reached", () => {
    const r = enrich({ [sc.ATTR_JOB_CPU_SECONDS]: 1e300 });
    expect(r.attributes[sc.ATTR_CARBON_ERROR]).toBe(
      `CO2E_ERR_MODEL_INPUT: job.cpu.seconds = 1e+300 is implausible: at most (2 s span + 1 s) × 1024 logical cores = 3072`,
    );
  });
});

describe("through the real SDK and /metrics", () => {
  let prom: PrometheusMetrics | undefined;
  afterEach(async () => {
    await prom?.shutdown();
    prom = undefined;
  });

  it("a span claiming 1e300 CPU seconds or 1.7e308 GPU joules is exported with carbon.error and never counted", async () => {
    prom = await createPrometheusMetrics({ host: "127.0.0.1", port: 0, jobNameLimit: 200 });
    const exporter = new InMemorySpanExporter();
    const tracerProvider = new TracerProvider({
      spanProcessors: [
        new CarbonSpanProcessor({
          config,
          provider: new StaticIntensityProvider(),
          metrics: prom.metrics,
          logicalCores: 2,
        }),
        new SimpleSpanProcessor({ exporter }),
      ],
    });
    const tracer = tracerProvider.getTracer("t");
    const start = Date.now() - 2000;
    const claims: Record<string, Record<string, number>> = {
      cpu: { [sc.ATTR_JOB_CPU_SECONDS]: 1e300 },
      gpu: { [sc.ATTR_JOB_GPU_JOULES]: 1.7e308 },
      fine: { [sc.ATTR_JOB_CPU_SECONDS]: 2 },
    };
    for (const [name, attributes] of Object.entries(claims)) {
      tracer
        .startSpan(name, { startTime: start, attributes: { [sc.ATTR_JOB_NAME]: name, ...attributes } })
        .end();
    }
    await tracerProvider.forceFlush();
    const spans = Object.fromEntries(exporter.getFinishedSpans().map((s) => [s.name, s.attributes]));
    await tracerProvider.shutdown();
    expect(String(spans.cpu?.[sc.ATTR_CARBON_ERROR])).toContain(sc.ATTR_JOB_CPU_SECONDS);
    expect(String(spans.gpu?.[sc.ATTR_CARBON_ERROR])).toContain(sc.ATTR_JOB_GPU_JOULES);
    expect(spans.fine?.[sc.ATTR_CARBON_ERROR]).toBeUndefined();

    const samples = parseExposition(await (await fetch(prom.url)).text());
    expect(samples.every((s) => Number.isFinite(s.value))).toBe(true);
    expect(find(samples, sc.PROM_JOB_RUNS, { job_name: "cpu" })).toHaveLength(0);
    expect(find(samples, sc.PROM_JOB_RUNS, { job_name: "gpu" })).toHaveLength(0);
    expect(find(samples, sc.PROM_JOB_RUNS, { job_name: "fine" })[0]?.value).toBe(1);
    const cpu = find(samples, sc.PROM_JOB_ENERGY, { component: "cpu" }).reduce((sum, s) => sum + s.value, 0);
    // 2 CPU-s × 85 W ÷ 2 cores = 85 J: all the CPU energy there is (the others are not counted).
    expect(cpu).toBeCloseTo(85, 6);
  });
});
