/**
 * Gateway throughput on one core: 512-span OTLP protobuf requests with 10 % job spans, through
 * the whole request path minus HTTP (scan + enrichment with the static intensity table + metrics
 * recording + re-encoding for the downstream), beside bare protobufjs decoding of the same
 * payload with the project's reference schema. Targets: ≥ 50,000 spans/s and ≥ 0.5 × bare decode.
 */
import { parseConfig, resolveLogicalCores } from "../src/config.ts";
import { frameRequest } from "../src/gateway/otlp-encode.ts";
import { decodeExport, enrichAndEncode } from "../src/gateway/pipeline.ts";
import { otlpType } from "../src/gateway/schema.ts";
import { StaticIntensityProvider } from "../src/intensity/static.ts";
import { createPrometheusMetrics } from "../src/metrics/prometheus.ts";
import { makeExportRequest } from "../test/helpers/otlp-sink.ts";

const SPANS_PER_REQUEST = 512;
const TARGET_SPANS_PER_SECOND = 50_000;
const TARGET_RATIO = 0.5;
const RUN_MS = 3_000;

const payload = makeExportRequest({ spans: SPANS_PER_REQUEST, jobEvery: 10 });
const config = parseConfig({ zone: "DE" });
const prom = await createPrometheusMetrics({ host: "127.0.0.1", port: 0, jobNameLimit: 200 });
const ctx = {
  config,
  logicalCores: resolveLogicalCores(config.model.cpu),
  provider: new StaticIntensityProvider(),
  metrics: prom.metrics,
};
const Request = otlpType("ExportTraceServiceRequest");

async function measure(name: string, fn: () => unknown | Promise<unknown>): Promise<number> {
  const warmUntil = performance.now() + 500;
  while (performance.now() < warmUntil) await fn();
  (globalThis as { gc?: () => void }).gc?.();
  let requests = 0;
  const start = performance.now();
  let now = start;
  while (now - start < RUN_MS) {
    for (let i = 0; i < 10; i++) await fn();
    requests += 10;
    now = performance.now();
  }
  const spansPerSecond = (requests * SPANS_PER_REQUEST) / ((now - start) / 1000);
  console.log(
    `${name.padEnd(44)} ${Math.round(spansPerSecond).toLocaleString("en-US").padStart(12)} spans/s`,
  );
  return spansPerSecond;
}

let jobSpans = 0;
const bare = await measure("bare protobufjs decode", () => Request.decode(payload));
const gateway = await measure("gateway: scan + enrich + metrics + re-encode", async () => {
  const req = decodeExport(payload, "protobuf");
  const result = await enrichAndEncode(req, ctx);
  jobSpans = req.jobSpans.length;
  return frameRequest(result.items);
});
await prom.shutdown();

const ratio = gateway / bare;
console.log(`payload: ${payload.length} bytes, ${SPANS_PER_REQUEST} spans, ${jobSpans} job spans`);
console.log(`ratio gateway / bare decode: ${ratio.toFixed(2)} (target ≥ ${TARGET_RATIO})`);
const ok = gateway >= TARGET_SPANS_PER_SECOND && ratio >= TARGET_RATIO;
console.log(
  ok ? "targets met" : `TARGET MISSED (≥ ${TARGET_SPANS_PER_SECOND} spans/s and ≥ ${TARGET_RATIO} × bare)`,
);
process.exitCode = ok ? 0 : 1;
