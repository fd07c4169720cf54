/**
 * Hostile and absurd input at the metrics layer: a job name of 11 MiB (in-process through the real
 * SDK, and through the gateway's path for spans enriched upstream), empty names, a serializer that
 * throws, and records whose values would poison a counter. The process stays up, /metrics answers
 * and stays small, and every sample stays finite.
 */
import { spawnSync } from "node:child_process";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config.ts";
import type { JobRecord } from "../../src/core/job-record.ts";
import { recordFromEnrichedAttributes } from "../../src/gateway/enriched-record.ts";
import { withJob } from "../../src/job/job.ts";
import { MAX_COUNTER_INCREMENT } from "../../src/metrics/carbon-metrics.ts";
import { labelValue } from "../../src/metrics/label-value.ts";
import { createPrometheusMetrics, type PrometheusMetrics } from "../../src/metrics/prometheus.ts";
import { type CarbonSdk, startCarbonSdk } from "../../src/sdk/start-carbon-sdk.ts";
import * as sc from "../../src/semconv.ts";
import { find, parseExposition } from "../helpers/exposition.ts";
import { jobRecord } from "../helpers/job-record.ts";
import { disableOtelGlobals } from "../helpers/otel-globals.ts";
import { NODE_BIN, PROJECT_ROOT } from "../helpers/prometheus.ts";

/** The name that crashed the scrape: 11 MiB, beyond V8's longest string once serialized ~50 times. */
const HUGE = "N".repeat(11 * 2 ** 20);
/** Documented bound of a scrape holding one job (docs/operations.md). */
const ONE_JOB_SCRAPE_MAX_BYTES = 64 * 1024;

class KeepingExporter extends InMemorySpanExporter {
  override shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

let sdk: CarbonSdk | undefined;
let prom: PrometheusMetrics | undefined;
afterEach(async () => {
  await sdk?.shutdown();
  sdk = undefined;
  disableOtelGlobals();
  await prom?.shutdown();
  prom = undefined;
});

function record(overrides: Partial<JobRecord> = {}, grams = 1): JobRecord {
  return jobRecord({ jobName: "ok", ...overrides }, grams);
}

/** A record whose energy components are overridden (the others as record() builds them). */
function withEnergy(energy: Partial<JobRecord["footprint"]["energy"]>): Partial<JobRecord> {
  const footprint = record().footprint;
  return { footprint: { ...footprint, energy: { ...footprint.energy, ...energy } } };
}

async function scrape(url: string | undefined): Promise<{ status: number; text: string }> {
  if (!url) throw new Error("no metrics url");
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}

describe("label values", () => {
  it("are cut to 128 code units with a marker, never split a surrogate pair, and never empty", () => {
    expect(labelValue("report")).toBe("report");
    expect(labelValue("")).toBe(sc.LABEL_VALUE_EMPTY);
    expect(labelValue("x".repeat(128))).toBe("x".repeat(128));
    const cut = labelValue("y".repeat(129));
    expect(cut).toHaveLength(sc.LABEL_VALUE_MAX_LENGTH);
    expect(cut).toBe(`${"y".repeat(127)}${sc.LABEL_VALUE_TRUNCATED}`);
    // "😀" is two code units: a pair that would straddle the cut is dropped whole.
    const emoji = labelValue(`${"a".repeat(126)}😀${"b".repeat(10)}`);
    expect(emoji).toBe(`${"a".repeat(126)}${sc.LABEL_VALUE_TRUNCATED}`);
    expect(labelValue(HUGE)).toHaveLength(sc.LABEL_VALUE_MAX_LENGTH);
  });
});

describe("an 11 MiB job name", () => {
  it("in-process: withJob then a scrape — the host survives, the span keeps the name, the scrape stays small", async () => {
    const exporter = new KeepingExporter();
    sdk = startCarbonSdk({
      config: parseConfig({ zone: "DE" }),
      traceExporters: [exporter],
      prometheus: { host: "127.0.0.1", port: 0 },
      gpu: false,
    });
    await sdk.ready;
    expect(withJob(HUGE, () => 42)).toBe(42);
    withJob("", () => 0);
    const first = await scrape(sdk.metricsUrl);
    expect(first.status).toBe(200);
    expect(first.text.length).toBeLessThan(ONE_JOB_SCRAPE_MAX_BYTES);
    const samples = parseExposition(first.text);
    const cut = `${"N".repeat(127)}${sc.LABEL_VALUE_TRUNCATED}`;
    expect(find(samples, sc.PROM_JOB_RUNS, { job_name: cut })).toHaveLength(1);
    expect(find(samples, sc.PROM_JOB_RUNS, { job_name: sc.LABEL_VALUE_EMPTY })).toHaveLength(1);
    expect(samples.every((s) => (s.labels.job_name ?? "").length <= sc.LABEL_VALUE_MAX_LENGTH)).toBe(true);
    // A second scrape works too: nothing was left broken.
    expect((await scrape(sdk.metricsUrl)).status).toBe(200);
    await sdk.shutdown();
    const span = exporter.getFinishedSpans().find((s) => s.attributes[sc.ATTR_JOB_NAME] === HUGE);
    expect(span?.attributes[sc.ATTR_JOB_NAME]).toHaveLength(HUGE.length);
    expect(span?.attributes[sc.ATTR_CARBON_CO2E_GRAMS]).toBeGreaterThan(0);
  });

  it("gateway path: an enriched span recorded through CarbonMetrics — the scrape answers and stays small", async () => {
    prom = await createPrometheusMetrics({ host: "127.0.0.1", port: 0, jobNameLimit: 200 });
    const attributes = {
      [sc.ATTR_JOB_NAME]: HUGE,
      [sc.ATTR_CARBON_CO2E_GRAMS]: 2,
      [sc.ATTR_CARBON_ENERGY_KWH]: 0.005,
      [sc.ATTR_CARBON_ENERGY_CPU_KWH]: 0.005,
      [sc.ATTR_CARBON_INTENSITY]: 400,
      [sc.ATTR_CARBON_INTENSITY_ZONE]: "DE",
      [sc.ATTR_CARBON_INTENSITY_SOURCE]: "static",
    };
    const now = Date.now();
    for (const service of [HUGE, ""]) {
      const job = recordFromEnrichedAttributes(
        attributes,
        { "service.name": service },
        { startMs: now - 1000, endMs: now, isError: false },
      );
      if (!job) throw new Error("no record from the enriched span");
      prom.metrics.recordJob(job);
    }
    const { status, text } = await scrape(prom.url);
    expect(status).toBe(200);
    expect(text.length).toBeLessThan(ONE_JOB_SCRAPE_MAX_BYTES);
    const cut = `${"N".repeat(127)}${sc.LABEL_VALUE_TRUNCATED}`;
    const runs = find(parseExposition(text), sc.PROM_JOB_RUNS, { job_name: cut });
    // service.name "" is not a usable name: the record says unknown_service; a huge one is cut.
    expect(runs.map((s) => s.labels.service_name).sort()).toEqual([cut, "unknown_service"].sort());
  });
});

describe("the /metrics handler", () => {
  it("answers 500 with the reason when rendering throws, and the process stays up", () => {
    // A child process, so that a crash (an unhandled rejection ends a Node process) is seen as one.
    const script = `
      import { MeterProvider } from "@opentelemetry/sdk-metrics";
      import { createPrometheusReader, serveMetrics } from "./src/metrics/prometheus.ts";
      const exporter = createPrometheusReader();
      const provider = new MeterProvider({ readers: [exporter] });
      provider.getMeter("m").createCounter("c").add(1);
      // The collection renders into text that cannot be built (what an 11 MiB label once caused).
      const collect = exporter.collect.bind(exporter);
      exporter.collect = async () => {
        const { resourceMetrics, errors } = await collect();
        const failing = { ...resourceMetrics, get scopeMetrics() { throw new RangeError("Invalid string length"); } };
        return { resourceMetrics: failing, errors };
      };
      const server = await serveMetrics(exporter, "127.0.0.1", 0);
      const answers = [];
      for (let i = 0; i < 3; i++) {
        const res = await fetch(server.url);
        answers.push(res.status + " " + (await res.text()).trim());
      }
      await new Promise((r) => setTimeout(r, 100));
      console.log(JSON.stringify({ answers, alive: true }));
      await server.close();
      await provider.shutdown();
    `;
    const child = spawnSync(NODE_BIN, ["--input-type=module", "-e", script], {
      cwd: PROJECT_ROOT,
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(child.status, child.stderr).toBe(0);
    const out = JSON.parse(child.stdout.trim().split("\n").at(-1)!) as { answers: string[]; alive: boolean };
    expect(out.alive).toBe(true);
    expect(out.answers).toEqual(
      Array(3).fill("500 # metrics could not be served: RangeError: Invalid string length"),
    );
  });
});

describe("counters", () => {
  it("never take a non-finite, negative or oversized increment: the record is dropped with one warning per field", async () => {
    const warnings: string[] = [];
    prom = await createPrometheusMetrics({
      host: "127.0.0.1",
      port: 0,
      jobNameLimit: 200,
      warn: (msg) => warnings.push(msg),
    });
    prom.metrics.recordJob(record({ jobName: "good" }, 1));
    const poisoned: Array<Partial<JobRecord> | number> = [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      -1,
      1.7e308,
      { durationSeconds: Number.NaN },
      { durationSeconds: -5 },
      { functionalUnits: Number.POSITIVE_INFINITY },
      { bestHourGrams: -1 },
      withEnergy({ memoryKwh: Number.NaN }),
      withEnergy({ overheadKwh: Number.POSITIVE_INFINITY }),
    ];
    for (const p of poisoned) {
      const bad = typeof p === "number" ? record({ jobName: "bad" }, p) : record({ jobName: "bad", ...p });
      prom.metrics.recordJob(bad);
      prom.metrics.recordJob(bad);
    }
    // Just inside the bound: counted.
    prom.metrics.recordJob(record({ jobName: "big" }, MAX_COUNTER_INCREMENT / 3.6e6 / 2));
    const { text } = await scrape(prom.url);
    const samples = parseExposition(text);
    expect(samples.length).toBeGreaterThan(0);
    expect(samples.every((s) => Number.isFinite(s.value) && s.value >= 0)).toBe(true);
    expect(find(samples, sc.PROM_JOB_RUNS, { job_name: "bad" })).toHaveLength(0);
    expect(find(samples, sc.PROM_JOB_RUNS, { job_name: "good" })[0]?.value).toBe(1);
    expect(find(samples, sc.PROM_JOB_RUNS, { job_name: "big" })[0]?.value).toBe(1);
    // One warning per distinct field, however often it recurs.
    const fields = warnings.map((w) => /with ([\w.]+) =/.exec(w)?.[1]);
    expect(new Set(fields).size).toBe(fields.length);
    expect(fields).toEqual(
      expect.arrayContaining([
        "footprint.co2eGrams",
        "durationSeconds",
        "functionalUnits",
        "bestHourGrams",
        "footprint.energy.memoryKwh",
        "footprint.energy.overheadKwh",
      ]),
    );
  });
});
