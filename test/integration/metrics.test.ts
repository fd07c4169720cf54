import { resourceFromAttributes } from "@opentelemetry/resources";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config.ts";
import type { JobRecord } from "../../src/core/job-record.ts";
import { StaticIntensityProvider } from "../../src/intensity/static.ts";
import { withJob } from "../../src/job/job.ts";
import { CARBON_PER_RUN_BUCKETS_GRAMS } from "../../src/metrics/carbon-metrics.ts";
import { PENDING_HISTOGRAM_VALUES } from "../../src/metrics/job-label-sets.ts";
import { createPrometheusMetrics, type PrometheusMetrics } from "../../src/metrics/prometheus.ts";
import { CarbonSpanProcessor } from "../../src/processor/carbon-span-processor.ts";
import * as sc from "../../src/semconv.ts";
import { find, parseExposition, type Sample } from "../helpers/exposition.ts";
import { jobRecord } from "../helpers/job-record.ts";

function one(samples: Sample[], name: string, labels: Record<string, string>): number {
  const found = find(samples, name, labels);
  if (found.length !== 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  return found[0]!.value;
}

async function scrape(url: string): Promise<{ text: string; samples: Sample[] }> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  const text = await res.text();
  return { text, samples: parseExposition(text) };
}

let open: PrometheusMetrics | undefined;
afterEach(async () => {
  await open?.shutdown();
  open = undefined;
});

function record(jobName: string, grams = 1): JobRecord {
  return jobRecord({ jobName }, grams);
}

describe("Prometheus /metrics over HTTP", () => {
  it("serves the job series with the expected names, labels and values", async () => {
    open = await createPrometheusMetrics({ host: "127.0.0.1", port: 0, jobNameLimit: 200 });
    const config = parseConfig({ zone: "DE", marketFactors: { DE: 100 } });
    const exporter = new InMemorySpanExporter();
    const tracerProvider = new TracerProvider({
      resource: resourceFromAttributes({ "service.name": "metrics-test" }),
      spanProcessors: [
        new CarbonSpanProcessor({
          config,
          provider: new StaticIntensityProvider(),
          metrics: open.metrics,
          logicalCores: 2,
        }),
        new SimpleSpanProcessor({ exporter }),
      ],
    });
    const tracer = tracerProvider.getTracer("t");
    tracer
      .startSpan("given", {
        // 10 s long, so 7,200 CPU seconds and 1 GB sent are plausible (≤ 11 s × 1,024 cores, 100 GB/s).
        startTime: Date.now() - 10_000,
        attributes: {
          [sc.ATTR_JOB_NAME]: "report",
          [sc.ATTR_JOB_CPU_SECONDS]: 7200,
          [sc.ATTR_JOB_NETWORK_BYTES_SENT]: 1e9,
          [sc.ATTR_JOB_FUNCTIONAL_UNITS]: 25,
        },
      })
      .end();
    expect(() =>
      withJob(
        "report",
        () => {
          throw new Error("x");
        },
        { tracer },
      ),
    ).toThrow();
    open.metrics.intensityObserver.onRequest("electricitymaps", "timeout");
    const span = exporter.getFinishedSpans()[0]!;
    const grams = span.attributes[sc.ATTR_CARBON_CO2E_GRAMS] as number;
    const cpuKwh = span.attributes[sc.ATTR_CARBON_ENERGY_CPU_KWH] as number;
    const allCpuKwh = exporter
      .getFinishedSpans()
      .reduce((sum, s) => sum + (s.attributes[sc.ATTR_CARBON_ENERGY_CPU_KWH] as number), 0);
    const allGrams = exporter
      .getFinishedSpans()
      .reduce((sum, s) => sum + (s.attributes[sc.ATTR_CARBON_CO2E_GRAMS] as number), 0);

    const { text, samples } = await scrape(open.url);
    const job = { job_name: "report", service_name: "metrics-test" };
    const runLabels = { ...job, zone: "DE", source: "static", attribution: "exclusive" };
    expect(one(samples, sc.PROM_JOB_RUNS, { ...runLabels, status: "ok" })).toBe(1);
    expect(one(samples, sc.PROM_JOB_RUNS, { ...runLabels, status: "error" })).toBe(1);
    // 7200 cpu-s × 85 W ÷ 2 cores = 306,000 J.
    expect(one(samples, sc.PROM_JOB_ENERGY, { ...job, component: "cpu" })).toBeCloseTo(allCpuKwh * 3.6e6, 6);
    expect(cpuKwh * 3.6e6).toBeCloseTo(306_000, 3);
    // 1 GB × 0.001875 kWh/GB = 6,750 J.
    expect(one(samples, sc.PROM_JOB_ENERGY, { ...job, component: "network" })).toBeCloseTo(6750, 3);
    const op = one(samples, sc.PROM_JOB_CARBON, {
      ...job,
      scope: "operational",
      zone: "DE",
      source: "static",
    });
    expect(op).toBeCloseTo(allGrams, 9);
    expect(op).toBeGreaterThan(grams);
    expect(find(samples, sc.PROM_JOB_CARBON, { ...job, scope: "market" })).toHaveLength(1);
    expect(one(samples, sc.PROM_JOB_FUNCTIONAL_UNITS, job)).toBe(25);
    // The histograms are per job_name (no service_name) unless metrics.fullHistograms lists the job.
    const histogramJob = { job_name: "report" };
    expect(one(samples, `${sc.PROM_JOB_CARBON_PER_RUN}_count`, histogramJob)).toBe(2);
    expect(one(samples, `${sc.PROM_JOB_CARBON_PER_RUN}_sum`, histogramJob)).toBeCloseTo(op, 6);
    const les = find(samples, `${sc.PROM_JOB_CARBON_PER_RUN}_bucket`, histogramJob).map((s) => s.labels.le);
    expect(les).toEqual([...CARBON_PER_RUN_BUCKETS_GRAMS.map(String), "+Inf"]);
    expect(one(samples, `${sc.PROM_JOB_DURATION}_count`, histogramJob)).toBe(2);
    expect(one(samples, sc.PROM_GRID_INTENSITY, { zone: "DE", source: "static" })).toBe(
      span.attributes[sc.ATTR_CARBON_INTENSITY],
    );
    expect(
      one(samples, sc.PROM_INTENSITY_REQUESTS, { provider: "electricitymaps", outcome: "timeout" }),
    ).toBe(1);
    expect(find(samples, sc.PROM_JOB_CARBON_BEST_HOUR, {})).toHaveLength(0);
    expect(text).not.toContain("otel_metric_overflow");
    // Exactly the documented label sets (plus the exporter's otel_scope_* labels).
    const labelSets: Record<string, string[]> = {
      [sc.PROM_JOB_RUNS]: ["attribution", "job_name", "service_name", "source", "status", "zone"],
      [sc.PROM_JOB_ENERGY]: ["component", "job_name", "service_name"],
      [sc.PROM_JOB_CARBON]: ["job_name", "scope", "service_name", "source", "zone"],
      [`${sc.PROM_JOB_DURATION}_count`]: ["job_name"],
      [`${sc.PROM_JOB_CARBON_PER_RUN}_bucket`]: ["job_name", "le"],
      [sc.PROM_GRID_INTENSITY]: ["source", "zone"],
    };
    for (const [name, expected] of Object.entries(labelSets)) {
      for (const s of find(samples, name, {})) {
        expect(
          Object.keys(s.labels)
            .filter((k) => !k.startsWith("otel_scope"))
            .sort(),
        ).toEqual(expected);
      }
    }
    await tracerProvider.shutdown();
  });

  it('caps job_name: names beyond the limit become job_name="other" with one warning', async () => {
    const warnings: string[] = [];
    open = await createPrometheusMetrics({ host: "127.0.0.1", port: 0, jobNameLimit: 2 });
    const { createCarbonMetrics } = await import("../../src/metrics/carbon-metrics.ts");
    const metrics = createCarbonMetrics(open.meterProvider.getMeter("cap-test"), {
      jobNameLimit: 2,
      warn: (m) => warnings.push(m),
    });
    for (const name of ["a", "b", "c", "d", "a", "c"]) metrics.recordJob(record(name));
    const { samples } = await scrape(open.url);
    const runs = find(samples, sc.PROM_JOB_RUNS, { otel_scope_name: "cap-test" });
    const byJob = Object.fromEntries(runs.map((s) => [s.labels.job_name, s.value]));
    expect(byJob).toEqual({ a: 2, b: 1, other: 3 });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('"c"');
  });

  it('caps service_name at SERVICE_NAME_LIMIT: later services become service_name="other", one warning', async () => {
    const warnings: string[] = [];
    open = await createPrometheusMetrics({ host: "127.0.0.1", port: 0, jobNameLimit: 10 });
    const { createCarbonMetrics, SERVICE_NAME_LIMIT } = await import("../../src/metrics/carbon-metrics.ts");
    expect(SERVICE_NAME_LIMIT).toBe(100);
    const metrics = createCarbonMetrics(open.meterProvider.getMeter("svc-cap"), {
      jobNameLimit: 10,
      warn: (m) => warnings.push(m),
    });
    for (let i = 0; i < SERVICE_NAME_LIMIT + 5; i++)
      metrics.recordJob({ ...record("j"), serviceName: `svc-${i}` });
    metrics.recordJob({ ...record("j"), serviceName: "svc-0" });
    const { samples } = await scrape(open.url);
    const runs = find(samples, sc.PROM_JOB_RUNS, { otel_scope_name: "svc-cap" });
    expect(runs).toHaveLength(SERVICE_NAME_LIMIT + 1);
    expect(one(samples, sc.PROM_JOB_RUNS, { otel_scope_name: "svc-cap", service_name: "other" })).toBe(5);
    expect(one(samples, sc.PROM_JOB_RUNS, { otel_scope_name: "svc-cap", service_name: "svc-0" })).toBe(2);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('service_name="other"');
    expect(warnings[0]).toContain('"svc-100"');
  });

  it("warns once when an instrument nears the cardinality limit, before the SDK folds series", async () => {
    const { MeterProvider } = await import("@opentelemetry/sdk-metrics");
    const { createCarbonMetrics } = await import("../../src/metrics/carbon-metrics.ts");
    const { createPrometheusReader, serveMetrics } = await import("../../src/metrics/prometheus.ts");
    const LIMIT = 40;
    const exporter = createPrometheusReader();
    const provider = new MeterProvider({
      readers: [exporter],
      views: [{ instrumentName: "*", aggregationCardinalityLimit: LIMIT }],
    });
    const server = await serveMetrics(exporter, "127.0.0.1", 0);
    try {
      const warnings: string[] = [];
      const metrics = createCarbonMetrics(provider.getMeter("budget"), {
        jobNameLimit: 1000,
        cardinalityLimit: LIMIT,
        warn: (m) => warnings.push(m),
      });
      // One job, many zones: job_name and service_name stay under their caps, co2e_job_runs grows.
      for (let i = 0; i < 35; i++) metrics.recordJob({ ...record("j"), zone: `Z${i}` });
      expect(warnings).toEqual([]);
      for (let i = 35; i < 39; i++) metrics.recordJob({ ...record("j"), zone: `Z${i}` });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(
        new RegExp(`metric ${sc.METRIC_JOB_RUNS_INSTRUMENT} has 36 series.*limit of ${LIMIT}`),
      );
      for (let i = 0; i < 100; i++) metrics.recordJob({ ...record("j"), zone: `Y${i}` });
      expect(warnings).toHaveLength(1);
      // What the warning announced: the SDK folds what is past the limit.
      expect((await scrape(server.url)).text).toContain('otel_metric_overflow="true"');
    } finally {
      await server.close();
      await provider.shutdown();
    }
  });

  it("keeps every job_name apart up to the cap, beyond the SDK's default 2,000 series", async () => {
    open = await createPrometheusMetrics({ host: "127.0.0.1", port: 0, jobNameLimit: 2100 });
    for (let i = 0; i < 2100; i++) open.metrics.recordJob(record(`job-${i}`));
    const { text, samples } = await scrape(open.url);
    expect(text).not.toContain("otel_metric_overflow");
    expect(find(samples, sc.PROM_JOB_RUNS, {})).toHaveLength(2100);
    expect(find(samples, sc.PROM_JOB_RUNS, { job_name: "other" })).toHaveLength(0);
  });

  it("keeps every histogram value: recorded together past the pending bound and at each scrape", async () => {
    open = await createPrometheusMetrics({ host: "127.0.0.1", port: 0, jobNameLimit: 200 });
    // 3 × PENDING_HISTOGRAM_VALUES + 5 runs with distinct values: whole batches and a remainder.
    const runs = 3 * PENDING_HISTOGRAM_VALUES + 5;
    const grams = (i: number) => 0.001 * (i + 1);
    const seconds = (i: number) => 0.5 + i;
    let wantGrams = 0;
    let wantSeconds = 0;
    let wantUnderOne = 0;
    for (let i = 0; i < runs; i++) {
      open.metrics.recordJob(jobRecord({ jobName: "batch", durationSeconds: seconds(i) }, grams(i)));
      wantGrams += grams(i);
      wantSeconds += seconds(i);
      if (seconds(i) <= 1) wantUnderOne++;
    }
    const histogramJob = { job_name: "batch" };
    const first = (await scrape(open.url)).samples;
    expect(one(first, `${sc.PROM_JOB_CARBON_PER_RUN}_count`, histogramJob)).toBe(runs);
    expect(one(first, `${sc.PROM_JOB_CARBON_PER_RUN}_sum`, histogramJob)).toBeCloseTo(wantGrams, 9);
    expect(one(first, `${sc.PROM_JOB_DURATION}_count`, histogramJob)).toBe(runs);
    expect(one(first, `${sc.PROM_JOB_DURATION}_sum`, histogramJob)).toBeCloseTo(wantSeconds, 9);
    expect(one(first, `${sc.PROM_JOB_DURATION}_bucket`, { ...histogramJob, le: "1" })).toBe(wantUnderOne);
    // Values recorded after a scrape wait for the next one, and none is counted twice.
    open.metrics.recordJob(jobRecord({ jobName: "batch", durationSeconds: 2 }, 5));
    const second = (await scrape(open.url)).samples;
    expect(one(second, `${sc.PROM_JOB_CARBON_PER_RUN}_count`, histogramJob)).toBe(runs + 1);
    expect(one(second, `${sc.PROM_JOB_CARBON_PER_RUN}_sum`, histogramJob)).toBeCloseTo(wantGrams + 5, 9);
    expect(one(second, `${sc.PROM_JOB_DURATION}_sum`, histogramJob)).toBeCloseTo(wantSeconds + 2, 9);
  });

  it("records the best-hour counterfactual only when the record has one, and 404s elsewhere", async () => {
    open = await createPrometheusMetrics({ host: "127.0.0.1", port: 0, jobNameLimit: 10 });
    open.metrics.recordJob({ ...record("bh", 2), bestHourGrams: 0.5 });
    open.metrics.recordJob(record("nobh", 2));
    const { samples } = await scrape(open.url);
    expect(one(samples, sc.PROM_JOB_CARBON_BEST_HOUR, { job_name: "bh" })).toBe(0.5);
    expect(find(samples, sc.PROM_JOB_CARBON_BEST_HOUR, { job_name: "nobh" })).toHaveLength(0);
    expect((await fetch(open.url.replace("/metrics", "/other"))).status).toBe(404);
  });
});
