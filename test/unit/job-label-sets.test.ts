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
