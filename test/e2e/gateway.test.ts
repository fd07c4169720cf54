/**
 * End to end with a real `bin/co2e.js collector` process: the OTel JS SDK sends spans with the
 * OTLP protobuf exporter and with the OTLP JSON exporter; they reach a downstream OTLP sink with
 * carbon.* on job spans, the non-job span byte-identical to what the SDK sent, and /metrics counts
 * the jobs. Then SIGTERM in the middle of load: no acknowledged span is lost.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { OTLPTraceExporter as JsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtoExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { SimpleSpanProcessor, type SpanExporter, TracerProvider } from "@opentelemetry/sdk-trace";
import { Agent, request } from "undici";
import { describe, expect, it } from "vitest";
import { useCleanups } from "../helpers/cleanups.ts";
import {
  makeExportRequest,
  type OtlpSink,
  type SinkSpan,
  type SpawnedCollector,
  spansOf,
  spawnCollector,
  startOtlpSink,
} from "../helpers/otlp-sink.ts";

const cleanups = useCleanups();

async function collector(down: OtlpSink, extraYaml = ""): Promise<SpawnedCollector> {
  const c = await spawnCollector(
    // No `zone:`: a configured zone outranks the resource's cloud region (zone resolution order).
    `gateway:\n  listen: 127.0.0.1:0\n  metricsListen: 127.0.0.1:0\n  intensityWaitMs: 100\n${extraYaml}`,
    ["--forward", down.url],
  );
  cleanups.push(async () => {
    if (c.exitCode() === undefined) {
      c.kill("SIGKILL");
      await c.exited;
    }
  });
  return c;
}

/** A loopback server keeping the protobuf the SDK sends (the "tee" beside the gateway). */
async function captureServer(): Promise<{ url: string; spans: SinkSpan[]; close(): Promise<void> }> {
  const spans: SinkSpan[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      spans.push(...spansOf(Buffer.concat(chunks)));
      res.writeHead(200, { "content-type": "application/x-protobuf" });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`,
    spans,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function emit(service: string, exporters: SpanExporter[]): Promise<void> {
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      "service.name": service,
      "cloud.provider": "gcp",
      "cloud.region": "europe-west1",
    }),
    spanProcessors: exporters.map((exporter) => new SimpleSpanProcessor({ exporter })),
  });
  const tracer = provider.getTracer("e2e");
  const job = tracer.startSpan(`${service}-job`, {
    attributes: {
      "job.name": `${service}-train`,
      "job.cpu.seconds": 30,
      "job.memory.avg_bytes": 4 * 1024 ** 3,
      "job.functional_units": 10,
    },
  });
  job.end();
  const plain = tracer.startSpan(`${service}-GET /items`, {
    attributes: {
      "http.request.method": "GET",
      "http.response.status_code": 200,
      ratio: 0.125,
      tags: ["x", "y"],
    },
  });
  plain.addEvent("cache-miss", { key: "k1" });
  plain.end();
  await provider.forceFlush();
  await provider.shutdown();
}

describe("co2e collector end to end", () => {
  it("enriches spans from the OTel JS protobuf and JSON exporters and serves their metrics", async () => {
    const down = await startOtlpSink();
    cleanups.push(() => down.close());
    const tee = await captureServer();
    cleanups.push(() => tee.close());
    const c = await collector(down);
    const traces = `${c.url}/v1/traces`;

    await emit("proto-svc", [new ProtoExporter({ url: traces }), new ProtoExporter({ url: tee.url })]);
    await emit("json-svc", [new JsonExporter({ url: traces })]);
    await down.waitForSpans(4);

    for (const service of ["proto-svc", "json-svc"]) {
      const job = down.spans.find((s) => s.attributes["job.name"] === `${service}-train`)!;
      expect(job, service).toBeDefined();
      expect(job.resource["service.name"]).toBe(service);
      // gcp europe-west1 → BE through the region table; resolved from the span's resource
      expect(job.attributes["carbon.intensity.zone_resolved_by"]).toBe("cloud-region");
      expect(job.attributes["carbon.co2e.grams"]).toBeGreaterThan(0);
      expect(job.attributes["carbon.energy.kwh"]).toBeGreaterThan(0);
      expect(job.attributes["carbon.sci.grams_per_unit"]).toBeCloseTo(
        (job.attributes["carbon.co2e.grams"] as number) / 10,
        9,
      );
      const plain = down.spans.find((s) => s.name === `${service}-GET /items`)!;
      expect(Object.keys(plain.attributes).some((k) => k.startsWith("carbon."))).toBe(false);
    }
    // The non-job span from the protobuf exporter arrives exactly as the SDK encoded it.
    const sent = tee.spans.find((s) => s.name === "proto-svc-GET /items")!;
    const received = down.spans.find((s) => s.name === "proto-svc-GET /items")!;
    expect(Buffer.from(received.bytes).equals(Buffer.from(sent.bytes))).toBe(true);

    const metrics = await (await fetch(c.metricsUrl)).text();
    expect(metrics).toMatch(/co2e_job_runs_total\{[^}]*job_name="proto-svc-train"[^}]*\} 1/);
    expect(metrics).toMatch(/co2e_job_runs_total\{[^}]*job_name="json-svc-train"[^}]*\} 1/);
    expect(metrics).toMatch(/co2e_job_carbon_grams_total\{[^}]*job_name="proto-svc-train"/);

    c.kill("SIGTERM");
    expect(await c.exited).toBe(0);
  });

  it("SIGTERM during load: exits 0 and every acknowledged span reaches the downstream", async () => {
    // A slow downstream keeps spans queued in the gateway when the signal arrives.
    const down = await startOtlpSink({ delayMs: 30 });
    cleanups.push(() => down.close());
    const c = await collector(
      down,
      "  shutdownTimeoutMs: 8000\n  forwardConcurrency: 2\n  forwardBatchSpans: 100\n",
    );
    const traces = `${c.url}/v1/traces`;
    const agent = new Agent({ connections: 8 });
    cleanups.push(() => agent.close());
    const acked = new Set<string>();
    let refused = 0;
    let stopped = false;
    let seq = 0;
    const clients = Array.from({ length: 8 }, async () => {
      while (!stopped) {
        const seed = ++seq;
        const body = makeExportRequest({ spans: 50, jobEvery: 10, seed });
        try {
          const res = await request(traces, {
            dispatcher: agent,
            method: "POST",
            headers: { "content-type": "application/x-protobuf" },
            body,
          });
          await res.body.dump();
          if (res.statusCode === 200) for (const s of spansOf(body)) acked.add(s.spanId);
          else refused++;
        } catch {
          // Connection refused or closed: the collector has stopped listening.
          if (c.exitCode() !== undefined) stopped = true;
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    });
    await expect.poll(() => acked.size, { timeout: 10_000 }).toBeGreaterThan(1_000);
    const ackedAtSignal = acked.size;
    const receivedAtSignal = down.spans.length;
    c.kill("SIGTERM");
    const code = await c.exited;
    stopped = true;
    await Promise.all(clients);
    expect(code, c.stderr()).toBe(0);
    const received = new Set(down.spans.map((s) => s.spanId));
    const lost = [...acked].filter((id) => !received.has(id));
    console.log(
      `at SIGTERM: ${ackedAtSignal} acknowledged, ${receivedAtSignal} downstream; ` +
        `finally ${acked.size} acknowledged, ${refused} requests refused, downstream got ${received.size}`,
    );
    expect(lost).toEqual([]);
    // The signal really arrived with acknowledged spans still queued in the gateway.
    expect(receivedAtSignal).toBeLessThan(ackedAtSignal);
    expect(c.stderr()).toMatch(/SIGTERM: draining/);
  });
});
