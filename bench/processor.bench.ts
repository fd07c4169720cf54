/**
 * CarbonSpanProcessor costs, measured in this run against baselines measured in the same run:
 * 1. non-job spans: the same TracerProvider with and without the carbon processor (target ≤ 1.05×);
 * 2. a job span (measurement + enrichment + metrics into a Prometheus reader) beside a bare span
 *    start+end, µs/job (target ≤ 5 µs above it).
 * Rounds alternate A/B so drift on a shared machine hits both; the median ratio is reported.
 */
import { type ReadableSpan, type SpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { parseConfig } from "../src/config.ts";
import { StaticIntensityProvider } from "../src/intensity/static.ts";
import { CarbonSpanProcessor } from "../src/processor/carbon-span-processor.ts";
import * as sc from "../src/semconv.ts";
import { scrapedCarbonMetrics } from "./scraped-metrics.ts";

const NON_JOB_TARGET_RATIO = 1.05;
/** A job span's start + end above a bare span's, µs. */
const JOB_ABOVE_BARE_TARGET_US = 5;

/**
 * Stands in for the exporter's processor and only counts spans: the baseline is the bare SDK path
 * (≈1.5 µs), so the ratio shows our share at its largest, not diluted by an exporter.
 */
class CountingProcessor implements SpanProcessor {
  ended = 0;
  onStart(): void {}
  onEnd(_span: ReadableSpan): void {
    this.ended++;
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const config = parseConfig({ zone: "DE" });

function tracer(withCarbon: boolean) {
  const metrics = scrapedCarbonMetrics();
  const processors = [new CountingProcessor()];
  const provider = new TracerProvider({
    spanProcessors: withCarbon
      ? [
          new CarbonSpanProcessor({
            config,
            provider: new StaticIntensityProvider(),
            metrics,
            logicalCores: 4,
          }),
          ...processors,
        ]
      : processors,
  });
  return provider.getTracer("bench");
}

const plain = tracer(false);
const carbon = tracer(true);
const plainAttrs = { "http.method": "GET", "http.route": "/items/:id", "http.status_code": 200 };
const jobAttrs = { [sc.ATTR_JOB_NAME]: "bench-job", [sc.ATTR_JOB_FUNCTIONAL_UNITS]: 1 };

function timeSpans(
  t: ReturnType<typeof tracer>,
  attributes: Record<string, string | number>,
  n: number,
): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) t.startSpan("op", { attributes }).end();
  return Number(process.hrtime.bigint() - start) / n / 1000; // µs per span
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

const N = 50_000;
// Warm-up: JIT both paths.
for (let i = 0; i < 3; i++) {
  timeSpans(plain, plainAttrs, N);
  timeSpans(carbon, plainAttrs, N);
  timeSpans(carbon, jobAttrs, N / 10);
}

const ratios: number[] = [];
const basePer: number[] = [];
const withPer: number[] = [];
for (let round = 0; round < 31; round++) {
  const a = timeSpans(plain, plainAttrs, N);
  const b = timeSpans(carbon, plainAttrs, N);
  const b2 = timeSpans(carbon, plainAttrs, N);
  const a2 = timeSpans(plain, plainAttrs, N);
  basePer.push((a + a2) / 2);
  withPer.push((b + b2) / 2);
  ratios.push((b + b2) / (a + a2));
}
const nonJobRatio = median(ratios);

const jobPer: number[] = [];
const barePer: number[] = [];
for (let round = 0; round < 15; round++) {
  barePer.push(timeSpans(plain, plainAttrs, 5000));
  jobPer.push(timeSpans(carbon, jobAttrs, 2000));
}

console.log(
  `non-job span start+end: ${median(basePer).toFixed(2)} µs without, ${median(withPer).toFixed(2)} µs with the carbon processor → ${nonJobRatio.toFixed(3)}× (target ≤ ${NON_JOB_TARGET_RATIO}×)`,
);
const jobAboveBareUs = median(jobPer.map((job, i) => job - (barePer[i] ?? 0)));
console.log(
  `job span start+end (measure + enrich + metrics recorded into a Prometheus reader): ${median(jobPer).toFixed(1)} µs/job beside a bare span ${median(barePer).toFixed(2)} µs → ${jobAboveBareUs.toFixed(1)} µs above it (target ≤ ${JOB_ABOVE_BARE_TARGET_US} µs)`,
);
if (!(nonJobRatio <= NON_JOB_TARGET_RATIO)) {
  console.log("MISSED: non-job span overhead target");
  process.exitCode = 1;
}
if (!(jobAboveBareUs <= JOB_ABOVE_BARE_TARGET_US)) {
  console.log("MISSED: job span cost above a bare span");
  process.exitCode = 1;
}
