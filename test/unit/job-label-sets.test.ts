/**
 * recordJob reuses label sets per series: the recorded values and the cardinality warning are the
 * same whether a record's labels hit a cached set, miss, or fall past the cache's caps.
 */
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { describe, expect, it } from "vitest";
import { createCarbonMetrics } from "../../src/metrics/carbon-metrics.ts";
import { MAX_SETS_PER_JOB } from "../../src/metrics/job-label-sets.ts";
import * as sc from "../../src/semconv.ts";
import { jobRecord } from "../helpers/job-record.ts";

class Reader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

async function sums(reader: Reader, instrument: string): Promise<Map<string, number>> {
  const { resourceMetrics } = await reader.collect();
  const out = new Map<string, number>();
  for (const scope of resourceMetrics.scopeMetrics)
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== instrument) continue;
      for (const point of metric.dataPoints) {
        const v = point.value as number | { sum?: number; count?: number };
        out.set(JSON.stringify(point.attributes), typeof v === "number" ? v : (v.count ?? 0));
      }
    }
  return out;
}

describe("job label sets", () => {
  it("counts every run per series, cached or past the per-job cap", async () => {
    const reader = new Reader();
    const warnings: string[] = [];
    const metrics = createCarbonMetrics(new MeterProvider({ readers: [reader] }).getMeter("t"), {
      jobNameLimit: 10,
      cardinalityLimit: 1000,
      warn: (m) => warnings.push(m),
    });
    const zones = MAX_SETS_PER_JOB + 6;
    for (let round = 0; round < 3; round++)
      for (let z = 0; z < zones; z++)
        for (const status of ["ok", "error"] as const)
          metrics.recordJob(
            jobRecord({
              status,
              zone: `Z${z}`,
              intensity: { gramsPerKwh: 400, zone: `Z${z}`, source: "static", method: "yearly-average" },
            }),
          );
    const runs = await sums(reader, sc.METRIC_JOB_RUNS_INSTRUMENT);
    expect(runs.size).toBe(zones * 2);
    for (const v of runs.values()) expect(v).toBe(3);
    const carbon = await sums(reader, sc.METRIC_JOB_CARBON_INSTRUMENT);
    expect(carbon.size).toBe(zones); // status is not a carbon label
    for (const v of carbon.values()) expect(v).toBeCloseTo(6, 9);
    const perRun = await sums(reader, sc.METRIC_JOB_CARBON_PER_RUN_INSTRUMENT);
    expect([...perRun.values()]).toEqual([zones * 2 * 3]);
    expect(warnings).toEqual([]);
  });

  it("adds the counters' increments at each collection: every job recorded before a collection is in it, none twice", async () => {
    const reader = new Reader();
    const provider = new MeterProvider({ readers: [reader] });
    const metrics = createCarbonMetrics(provider.getMeter("t"), { jobNameLimit: 10 });
    const cached = () => jobRecord({ jobName: "a" });
    // Past the per-job cap: a set that is not kept, whose increments go to the counters at once.
    const uncached = (z: number) =>
      jobRecord({
        jobName: "b",
        zone: `Z${z}`,
        intensity: { gramsPerKwh: 400, zone: `Z${z}`, source: "static", method: "yearly-average" },
      });
    const runsOf = async (job: string) => {
      let total = 0;
      for (const [labels, v] of await sums(reader, sc.METRIC_JOB_RUNS_INSTRUMENT))
        if ((JSON.parse(labels) as Record<string, string>)[sc.LABEL_JOB_NAME] === job) total += v;
      return total;
    };
    const expected = { a: 0, b: 0 };
    for (let round = 1; round <= 3; round++) {
      for (let i = 0; i < round * 5; i++) metrics.recordJob(cached());
      for (let z = 0; z < MAX_SETS_PER_JOB + 3; z++) metrics.recordJob(uncached(z));
      expected.a += round * 5;
      expected.b += MAX_SETS_PER_JOB + 3;
      expect(await runsOf("a")).toBe(expected.a);
      expect(await runsOf("b")).toBe(expected.b);
    }
    // One more after the last collection: in the next one.
    metrics.recordJob(cached());
    expect(await runsOf("a")).toBe(expected.a + 1);
    // The hook that flushes has no data of its own.
    const { resourceMetrics } = await reader.collect();
    const names = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics.map((m) => m.descriptor.name));
    expect(names.filter((n) => n.includes("internal"))).toEqual([]);
    await provider.shutdown();
  });

  it("the grid gauge shows, at each collection, the last value a job used or the provider served", async () => {
    const reader = new Reader();
    const metrics = createCarbonMetrics(new MeterProvider({ readers: [reader] }).getMeter("t"), {
      jobNameLimit: 10,
    });
    const used = (gramsPerKwh: number) =>
      metrics.recordJob(
        jobRecord({
          zone: "FR",
          intensity: { gramsPerKwh, zone: "FR", source: "static", method: "yearly-average" },
        }),
      );
    const served = (gramsPerKwh: number) =>
      metrics.intensityObserver.onValue({
        gramsPerKwh,
        zone: "FR",
        source: "static",
        method: "yearly-average",
      });
    const gauge = async () => [...(await sums(reader, sc.METRIC_GRID_INTENSITY_INSTRUMENT)).values()];
    used(400);
    served(300);
    expect(await gauge()).toEqual([300]);
    served(310);
    used(500);
    expect(await gauge()).toEqual([500]);
    expect(await gauge()).toEqual([500]); // nothing new: the last value stays
  });

  it("warns once, at 90 % of the limit, counting series and not runs", () => {
    const warnings: string[] = [];
    const metrics = createCarbonMetrics(new MeterProvider().getMeter("t"), {
      jobNameLimit: 10,
      cardinalityLimit: 20,
      warn: (m) => warnings.push(m),
    });
    const record = (z: number) =>
      jobRecord({
        zone: `Z${z}`,
        intensity: { gramsPerKwh: 400, zone: `Z${z}`, source: "static", method: "yearly-average" },
      });
    // 17 distinct series, each recorded many times: below 18 (90 % of 20), no warning.
    for (let round = 0; round < 5; round++) for (let z = 0; z < 17; z++) metrics.recordJob(record(z));
    expect(warnings).toEqual([]);
    metrics.recordJob(record(17));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("18 series");
  });
});
