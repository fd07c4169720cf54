// The job histograms' labels and buckets (histogram-layout.ts): per job_name by default,
// per job × service for jobs matching metrics.fullHistograms, with the documented bounds, and the
// per (job_name, service_name) counters the recording rules divide still there.
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config.ts";
import type { JobRecord } from "../../src/core/job-record.ts";
import {
  CARBON_PER_RUN_BUCKETS_GRAMS,
  DURATION_BUCKETS_SECONDS,
  jobNameMatcher,
} from "../../src/metrics/histogram-layout.ts";
import { createPrometheusMetrics } from "../../src/metrics/prometheus.ts";
import * as sc from "../../src/semconv.ts";
import { useCleanups } from "../helpers/cleanups.ts";
import { find, parseExposition, type Sample } from "../helpers/exposition.ts";
import { jobRecord } from "../helpers/job-record.ts";

const cleanups = useCleanups();

function record(jobName: string, serviceName: string, grams: number, durationSeconds: number): JobRecord {
  return jobRecord({ jobName, serviceName, durationSeconds }, grams);
}

async function fleet(fullHistograms?: string[]): Promise<Sample[]> {
  const prom = await createPrometheusMetrics({
    host: "127.0.0.1",
    port: 0,
    jobNameLimit: 50,
    ...(fullHistograms ? { fullHistograms } : {}),
  });
  cleanups.push(() => prom.shutdown());
  for (const job of ["nightly-report", "nightly-etl", "api.sync"])
    for (const service of ["svc-a", "svc-b", "svc-c"])
      for (const grams of [2e-6, 0.02, 150]) prom.metrics.recordJob(record(job, service, grams, 0.5));
  const res = await fetch(prom.url);
  return parseExposition(await res.text());
}

const labelKeys = (s: Sample) =>
  Object.keys(s.labels)
    .filter((k) => !k.startsWith("otel_scope"))
    .sort();

describe("job histogram layout", () => {
  it("has per-job histograms only, while the counters keep job × service", async () => {
    const samples = await fleet();
    for (const family of [sc.PROM_JOB_CARBON_PER_RUN, sc.PROM_JOB_DURATION]) {
      const counts = find(samples, `${family}_count`, {});
      expect(counts.map((s) => s.labels.job_name).sort()).toEqual([
        "api.sync",
        "nightly-etl",
        "nightly-report",
      ]);
      // Three services × three runs in one series per job.
      expect(counts.every((s) => s.value === 9)).toBe(true);
      for (const s of find(samples, `${family}_bucket`, {})) expect(labelKeys(s)).toEqual(["job_name", "le"]);
    }
    // Buckets: the documented bounds; the 2 µg, 20 mg and 150 g runs fall where they should.
    const buckets = find(samples, `${sc.PROM_JOB_CARBON_PER_RUN}_bucket`, { job_name: "api.sync" });
    expect(buckets.map((s) => s.labels.le)).toEqual([...CARBON_PER_RUN_BUCKETS_GRAMS.map(String), "+Inf"]);
    const cumulative = (le: number) => buckets.find((s) => s.labels.le === String(le))!.value;
    expect([1e-6, 3e-6, 0.03, 100, 300].map(cumulative)).toEqual([0, 3, 6, 6, 9]);
    // The counters the rules divide: 9 pairs each.
    expect(find(samples, sc.PROM_JOB_RUNS, {})).toHaveLength(9);
    expect(find(samples, sc.PROM_JOB_CARBON, { scope: "operational" })).toHaveLength(9);
    expect(find(samples, sc.PROM_JOB_RUNS, { job_name: "api.sync", service_name: "svc-b" })[0]!.value).toBe(
      3,
    );
  });

  it("keeps service_name on the histograms of jobs matching metrics.fullHistograms", async () => {
    const samples = await fleet(["nightly-*"]);
    const counts = find(samples, `${sc.PROM_JOB_CARBON_PER_RUN}_count`, {});
    const byKey = Object.fromEntries(
      counts.map((s) => [`${s.labels.job_name}/${s.labels.service_name ?? "-"}`, s.value]),
    );
    expect(byKey).toEqual({
      "nightly-report/svc-a": 3,
      "nightly-report/svc-b": 3,
      "nightly-report/svc-c": 3,
      "nightly-etl/svc-a": 3,
      "nightly-etl/svc-b": 3,
      "nightly-etl/svc-c": 3,
      "api.sync/-": 9,
    });
    const duration = find(samples, `${sc.PROM_JOB_DURATION}_bucket`, {
      job_name: "nightly-etl",
      service_name: "svc-a",
    });
    expect(duration.map((s) => s.labels.le)).toEqual([...DURATION_BUCKETS_SECONDS.map(String), "+Inf"]);
  });

  it("spans the documented ranges in 1-3 steps", () => {
    expect(CARBON_PER_RUN_BUCKETS_GRAMS).toHaveLength(21);
    expect(CARBON_PER_RUN_BUCKETS_GRAMS[0]).toBe(1e-6);
    expect(CARBON_PER_RUN_BUCKETS_GRAMS.at(-1)).toBe(1e4);
    expect(DURATION_BUCKETS_SECONDS).toHaveLength(17);
    expect(DURATION_BUCKETS_SECONDS[0]).toBe(1e-3);
    expect(DURATION_BUCKETS_SECONDS.at(-1)).toBe(1e5);
    for (const bounds of [CARBON_PER_RUN_BUCKETS_GRAMS, DURATION_BUCKETS_SECONDS])
      for (let i = 1; i < bounds.length; i++) {
        const step = bounds[i]! / bounds[i - 1]!;
        expect(Math.abs(step - 3) < 1e-9 || Math.abs(step - 10 / 3) < 1e-9, `${bounds[i]}`).toBe(true);
      }
  });
});

describe("metrics.fullHistograms", () => {
  it("matches job names with * as any characters and everything else literally", () => {
    const match = jobNameMatcher(["nightly-*", "a.b", "*-etl"]);
    expect(match("nightly-report")).toBe(true);
    expect(match("nightly-")).toBe(true);
    expect(match("a.b")).toBe(true);
    expect(match("axb")).toBe(false);
    expect(match("orders-etl")).toBe(true);
    expect(match("Nightly-report")).toBe(false);
    expect(match("xnightly-report")).toBe(false);
    expect(jobNameMatcher(["*"])("anything at all")).toBe(true);
    expect(jobNameMatcher([])("anything")).toBe(false);
  });

  it("is a config key with a default of none and a clear error for a bad value", () => {
    expect(parseConfig({}).metrics.fullHistograms).toEqual([]);
    expect(parseConfig({ metrics: { fullHistograms: ["nightly-*"] } }).metrics.fullHistograms).toEqual([
      "nightly-*",
    ]);
    expect(() => parseConfig({ metrics: { fullHistograms: [""] } })).toThrow(/metrics\.fullHistograms\.0/);
    expect(() => parseConfig({ metrics: { fullHistograms: "nightly-*" as unknown as string[] } })).toThrow(
      /metrics\.fullHistograms/,
    );
  });
});
