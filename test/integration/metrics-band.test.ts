/**
 * The band counters (co2e_job_carbon_low_grams_total / co2e_job_carbon_high_grams_total) through
 * the real Prometheus exporter, scraped over HTTP and parsed back: one series per job_name and
 * service_name each, no new label on co2e_job_carbon_grams_total, a bad bound never counted.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createPrometheusMetrics, type PrometheusMetrics } from "../../src/metrics/prometheus.ts";
import * as sc from "../../src/semconv.ts";
import { find, parseExposition } from "../helpers/exposition.ts";
import { jobRecord } from "../helpers/job-record.ts";

let open: PrometheusMetrics | undefined;
afterEach(async () => {
  await open?.shutdown();
  open = undefined;
});

async function samples() {
  const res = await fetch(open!.url);
  expect(res.status).toBe(200);
  return parseExposition(await res.text());
}

describe("band counters", () => {
  it("add each run's low and high bounds per job, beside the unchanged central counter", async () => {
    open = await createPrometheusMetrics({ host: "127.0.0.1", port: 0, jobNameLimit: 10 });
    const warnings: string[] = [];
    open.metrics.recordJob(jobRecord({ jobName: "a", co2eRange: { low: 0.5, high: 3 } }, 1));
    open.metrics.recordJob(
      jobRecord({ jobName: "a", zone: "FR", co2eRange: { low: 1, high: 4 } }, 2), // another zone: same band series
    );
    open.metrics.recordJob(jobRecord({ jobName: "no-range" }, 1));
    const s = await samples();
    const low = find(s, sc.PROM_JOB_CARBON_LOW, { job_name: "a" });
    const high = find(s, sc.PROM_JOB_CARBON_HIGH, { job_name: "a" });
    expect(low.map((x) => x.value)).toEqual([1.5]);
    expect(high.map((x) => x.value)).toEqual([7]);
    // Flat: the only labels are job_name and service_name (plus the exporter's scope labels).
    expect(Object.keys(low[0]!.labels).filter((k) => !k.startsWith("otel_"))).toEqual(
      expect.arrayContaining([sc.LABEL_JOB_NAME, sc.LABEL_SERVICE_NAME]),
    );
    expect(low[0]!.labels).not.toHaveProperty(sc.LABEL_ZONE);
    expect(low[0]!.labels).not.toHaveProperty(sc.LABEL_SCOPE);
    // Central grams: still one series per zone, summing to 3, with no bound label.
    const central = find(s, sc.PROM_JOB_CARBON, { job_name: "a", scope: "operational" });
    expect(central.reduce((t, x) => t + x.value, 0)).toBe(3);
    expect(find(s, sc.PROM_JOB_CARBON_LOW, { job_name: "no-range" })).toHaveLength(0);
    expect(warnings).toEqual([]);
  });

  it("a record with a non-finite or negative bound is not counted at all", async () => {
    const warnings: string[] = [];
    open = await createPrometheusMetrics({
      host: "127.0.0.1",
      port: 0,
      jobNameLimit: 10,
      warn: (m: string) => warnings.push(m),
    });
    open.metrics.recordJob(jobRecord({ jobName: "bad", co2eRange: { low: Number.NaN, high: 2 } }));
    open.metrics.recordJob(jobRecord({ jobName: "bad2", co2eRange: { low: 0, high: -1 } }));
    const s = await samples();
    expect(find(s, sc.PROM_JOB_RUNS, { job_name: "bad" })).toHaveLength(0);
    expect(find(s, sc.PROM_JOB_CARBON_HIGH, { job_name: "bad2" })).toHaveLength(0);
    expect(warnings.join("\n")).toMatch(/co2eRange\.low = NaN/);
    expect(warnings.join("\n")).toMatch(/co2eRange\.high = -1/);
  });
});
