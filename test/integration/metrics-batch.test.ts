/**
 * recordJobs (the gateway's path: a request's jobs in one batch, counters summed per series)
 * against recordJob per record: two real Prometheus endpoints fed the same records must expose
 * the same samples.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { JobRecord } from "../../src/core/job-record.ts";
import { createPrometheusMetrics, type PrometheusMetrics } from "../../src/metrics/prometheus.ts";
import { parseExposition, type Sample } from "../helpers/exposition.ts";
import { jobRecord } from "../helpers/job-record.ts";

const opened: PrometheusMetrics[] = [];
afterEach(async () => {
  for (const p of opened.splice(0)) await p.shutdown();
});

async function open(): Promise<PrometheusMetrics> {
  const p = await createPrometheusMetrics({ host: "127.0.0.1", port: 0, jobNameLimit: 200, warn: () => {} });
  opened.push(p);
  return p;
}

/** Job samples by series, without the process/target families the exporter adds. */
async function jobSamples(p: PrometheusMetrics): Promise<Map<string, number>> {
  const text = await (await fetch(p.url)).text();
  const out = new Map<string, number>();
  for (const s of parseExposition(text) as Sample[]) {
    if (!s.name.startsWith("co2e_")) continue;
    out.set(`${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`, s.value);
  }
  return out;
}

function records(): JobRecord[] {
  const out: JobRecord[] = [];
  for (let i = 0; i < 40; i++) {
    const grams = 0.1 + (i % 7) * 0.37;
    const base = jobRecord({ jobName: `report-${i % 5}`, serviceName: `svc-${i % 2}` }, grams);
    out.push({
      ...base,
      zone: i % 3 === 0 ? "FR" : "DE",
      intensity: { ...base.intensity, zone: i % 3 === 0 ? "FR" : "DE", gramsPerKwh: 300 + i },
      durationSeconds: 1 + i,
      status: i % 4 === 0 ? "error" : "ok",
      footprint: {
        ...base.footprint,
        energy: { ...base.footprint.energy, memoryKwh: i % 2 ? 0.001 * i : 0 },
        ...(i % 5 === 0 ? { embodiedGrams: 0.5 * i, marketGrams: 0.25 * i } : {}),
      },
      ...(i % 6 === 0 ? { functionalUnits: i + 1, bestHourGrams: grams / 2 } : {}),
      ...(i % 2 === 0 ? { co2eRange: { low: grams / 2, high: grams * 2 } } : {}),
    });
  }
  return out;
}

describe("CarbonMetrics.recordJobs", () => {
  it("exposes the same series and values as recordJob for each record", async () => {
    const single = await open();
    const batched = await open();
    const all = records();
    for (const r of all) single.metrics.recordJob(r);
    // Two batches, so sums carried over from an earlier batch are covered too.
    batched.metrics.recordJobs!(all.slice(0, 17));
    batched.metrics.recordJobs!(all.slice(17));
    const want = await jobSamples(single);
    const got = await jobSamples(batched);
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    expect(want.size).toBeGreaterThan(50);
    for (const [key, value] of want) {
      const other = got.get(key)!;
      // Sums may differ in the last bits (added in another order), nothing more.
      expect(Math.abs(other - value), key).toBeLessThanOrEqual(Math.abs(value) * 1e-12);
    }
    // The grid gauge keeps the last value per series, as record by record.
    const grid = [...got].filter(([k]) => k.startsWith("co2e_grid_intensity"));
    expect(grid.length).toBeGreaterThan(0);
  });

  it("skips a record it cannot count without losing the others of the batch", async () => {
    const single = await open();
    const batched = await open();
    const good = records().slice(0, 6);
    const bad: JobRecord = { ...good[0]!, durationSeconds: Number.NaN };
    for (const r of good) single.metrics.recordJob(r);
    batched.metrics.recordJobs!([good[0]!, bad, ...good.slice(1)]);
    expect(await jobSamples(batched)).toEqual(await jobSamples(single));
  });
});
