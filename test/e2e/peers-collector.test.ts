/**
 * The real OpenTelemetry Collector (built by .ci/peers.sh from the collector's Go modules, with the
 * contrib loadbalancing exporter) running config/otel-collector.yaml, with loopback endpoints
 * from its environment variables:
 *   1. Python SDK → Collector → otlphttp/co2e → co2e collector → sink (one gateway over HTTP,
 *      the file's alternative exporter selected with --set);
 *   2. as shipped: Python SDK → Collector → loadbalancing/co2e-replicas (routing_key traceID,
 *      static resolver from CO2E_GATEWAY_REPLICAS, OTLP/gRPC) → two co2e collector replicas, each
 *      with its own sink. Every trace's spans land on one replica, each replica's /metrics counts
 *      exactly the job spans it received, and a replica stopped mid-run and started again on the
 *      same address loses nothing the Collector acknowledged.
 * The Python SDK exports each span on its own (SimpleSpanProcessor), so a trace's three spans
 * reach the Collector in separate requests and may leave it in different batches; the exporter
 * routes every span by its own trace id (routing by span name instead splits the traces, and
 * this test fails).
 * Skips loudly when the Collector binary or the Python venv is absent (fails under CI=true).
 */
import { describe, expect, it } from "vitest";
import { useCleanups } from "../helpers/cleanups.ts";
import { parseExposition } from "../helpers/exposition.ts";
import {
  freePort,
  type OtlpSink,
  type SinkSpan,
  type SpawnedCollector,
  spawnCollector,
  startOtlpSink,
} from "../helpers/otlp-sink.ts";
import {
  cleanEnv,
  OTELCOL,
  PYTHON,
  peerMissing,
  runChild,
  startOtelcol,
  TRAIN_JOB,
} from "../helpers/peers.ts";

const cleanups = useCleanups();
const missing = peerMissing("OpenTelemetry Collector", OTELCOL) ?? peerMissing("Python venv", PYTHON);
const SHIPPED = new URL("../../config/otel-collector.yaml", import.meta.url).pathname;
/** The Collector's own telemetry would listen on :8888; the peer tests do not need it. */
const QUIET = "yaml:service::telemetry::metrics::level: none";

async function sinkFor(): Promise<OtlpSink> {
  const s = await startOtlpSink();
  cleanups.push(() => s.close());
  return s;
}

async function replica(yaml: string, forwardUrl: string): Promise<SpawnedCollector> {
  const gw = await spawnCollector(
    `zone: DE\ngateway:\n  listen: 127.0.0.1:0\n  metricsListen: 127.0.0.1:0\n  intensityWaitMs: 50\n` +
      `  forwardUrl: ${forwardUrl}\n${yaml}`,
  );
  cleanups.push(async () => {
    if (gw.exitCode() === undefined) {
      gw.kill("SIGKILL");
      await gw.exited;
    }
  });
  return gw;
}

async function collector(env: Record<string, string>, extra: string[] = []) {
  const [grpc, http, health] = [await freePort(), await freePort(), await freePort()];
  const col = await startOtelcol(
    [SHIPPED, QUIET, ...extra],
    cleanEnv({
      CO2E_OTELCOL_GRPC_ENDPOINT: `127.0.0.1:${grpc}`,
      CO2E_OTELCOL_HTTP_ENDPOINT: `127.0.0.1:${http}`,
      CO2E_OTELCOL_HEALTH_ENDPOINT: `127.0.0.1:${health}`,
      ...env,
    }),
    `http://127.0.0.1:${health}/`,
  );
  cleanups.push(() => col.stop());
  return {
    col,
    grpcEndpoint: `http://127.0.0.1:${grpc}`,
    httpEndpoint: `http://127.0.0.1:${http}/v1/traces`,
  };
}

/** Job span ids (trace id + span id) printed by train_job.py, one run per line. */
const idsOf = (stdout: string) =>
  stdout
    .trim()
    .split("\n")
    .map((l) => l.replace(" ", "/"));

const idOf = (s: SinkSpan) => `${s.traceId}/${s.spanId}`;

const jobRuns = (metricsText: string, job: string) =>
  parseExposition(metricsText)
    .filter((s) => s.name === "co2e_job_runs_total" && s.labels.job_name === job)
    .reduce((sum, s) => sum + s.value, 0);

const metricsOf = async (gw: SpawnedCollector) => (await fetch(gw.metricsUrl)).text();

const enrichedJobs = (sink: OtlpSink, job: string) =>
  sink.spans.filter(
    (s) => s.attributes["job.name"] === job && s.attributes["carbon.co2e.grams"] !== undefined,
  );

/**
 * Which of `groups` (one replica's sinks each) received the spans of each trace in `traceIds`:
 * trace id → the indexes of the groups that got any of its spans.
 */
function replicasOfTraces(groups: OtlpSink[][], traceIds: Set<string>): Map<string, Set<number>> {
  const seen = new Map<string, Set<number>>();
  groups.forEach((sinks, i) => {
    for (const s of sinks.flatMap((sink) => sink.spans)) {
      if (!traceIds.has(s.traceId)) continue;
      const at = seen.get(s.traceId) ?? new Set<number>();
      at.add(i);
      seen.set(s.traceId, at);
    }
  });
  return seen;
}

describe.skipIf(missing !== undefined)("the OpenTelemetry Collector with config/otel-collector.yaml", () => {
  it("one gateway over OTLP/HTTP: Python SDK → Collector → otlphttp/co2e → co2e collector → sink, job spans enriched", async () => {
    const sink = await sinkFor();
    const gw = await replica("", sink.url);
    const { grpcEndpoint } = await collector({ CO2E_GATEWAY_ENDPOINT: gw.url }, [
      "--set=service.pipelines.traces.exporters=[otlphttp/co2e]",
    ]);
    const ran = await runChild(
      PYTHON,
      [TRAIN_JOB, "via-collector", "4"],
      cleanEnv({
        OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: grpcEndpoint,
        OTEL_SERVICE_NAME: "py-behind-collector",
      }),
    );
    expect(ran.code, ran.stderr).toBe(0);
    await sink.waitForSpans(12, 20_000);
    const jobs = enrichedJobs(sink, "via-collector");
    expect(jobs.map(idOf).sort()).toEqual(idsOf(ran.stdout).sort());
    for (const job of jobs) {
      expect(job.attributes["carbon.intensity.zone"]).toBe("DE");
      expect(job.resource["service.name"]).toBe("py-behind-collector");
    }
    expect(jobRuns(await metricsOf(gw), "via-collector")).toBe(4);
  });

  it("as shipped: loadbalancing by trace id over two replicas (OTLP/gRPC); one stopped and restarted mid-run loses nothing", async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    const sinkA = await sinkFor();
    const sinkB = await sinkFor();
    const a = await replica(`  grpcListen: 127.0.0.1:${portA}\n`, sinkA.url);
    const b = await replica(`  grpcListen: 127.0.0.1:${portB}\n`, sinkB.url);
    expect([a.grpcAddress, b.grpcAddress]).toEqual([`127.0.0.1:${portA}`, `127.0.0.1:${portB}`]);
    const { httpEndpoint } = await collector(
      { CO2E_GATEWAY_REPLICAS: `[127.0.0.1:${portA}, 127.0.0.1:${portB}]` },
      // Small batches: a trace's spans (exported one by one) leave the Collector in several batches.
      ["--set=processors.batch.timeout=50ms"],
    );
    const app = (job: string, runs: number, pause: string) =>
      runChild(
        PYTHON,
        [TRAIN_JOB, job, String(runs), pause],
        cleanEnv({
          OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: httpEndpoint,
          OTEL_SERVICE_NAME: "py-lb",
        }),
      );
    const all = () => [...sinkA.spans, ...sinkB.spans];

    // Both replicas up: 40 traces of 3 spans. Each trace lands whole on one replica, both get
    // some, and each replica's co2e_job_runs_total is the job spans it received.
    const first = await app("lb-first", 40, "0");
    expect(first.code, first.stderr).toBe(0);
    const firstSent = idsOf(first.stdout);
    expect(firstSent).toHaveLength(40);
    await expect.poll(() => all().length, { timeout: 20_000 }).toBe(120);
    const firstTraces = new Set(firstSent.map((id) => id.split("/")[0]!));
    const firstAt = replicasOfTraces([[sinkA], [sinkB]], firstTraces);
    expect(firstAt.size).toBe(40);
    for (const [trace, at] of firstAt) expect(at.size, `trace ${trace} split over replicas`).toBe(1);
    const [onA, onB] = [enrichedJobs(sinkA, "lb-first"), enrichedJobs(sinkB, "lb-first")];
    expect(onA.length).toBeGreaterThan(0);
    expect(onB.length).toBeGreaterThan(0);
    expect([...onA, ...onB].map(idOf).sort()).toEqual([...firstSent].sort());
    expect(jobRuns(await metricsOf(a), "lb-first")).toBe(onA.length);
    expect(jobRuns(await metricsOf(b), "lb-first")).toBe(onB.length);

    // Replica A stops (SIGTERM: refuses new calls, finishes those in flight, flushes its queue)
    // while the app is still sending. The static ring does not change: A's traces wait in the
    // Collector's per-replica queue, retried, until A is back on the same address.
    const second = app("lb-second", 60, "0.05");
    const secondSoFar = () => all().filter((s) => s.attributes["job.name"] === "lb-second").length;
    await expect.poll(secondSoFar, { timeout: 20_000 }).toBeGreaterThanOrEqual(10);
    a.kill("SIGTERM");
    expect(await a.exited).toBe(0); // every span A acknowledged was forwarded to sinkA
    const ran = await second;
    expect(ran.code, ran.stderr).toBe(0); // the Collector acknowledged every export
    const sent = idsOf(ran.stdout);
    expect(sent).toHaveLength(60);
    // Some of the acknowledged traces are A's and have nowhere to go yet.
    expect(secondSoFar()).toBeLessThan(60);

    const sinkA2 = await sinkFor();
    const a2 = await replica(`  grpcListen: 127.0.0.1:${portA}\n`, sinkA2.url);
    const arrived = () => [sinkA, sinkA2, sinkB].flatMap((sink) => enrichedJobs(sink, "lb-second").map(idOf));
    await expect.poll(() => new Set(arrived()).size, { timeout: 60_000 }).toBe(60);
    expect([...new Set(arrived())].sort()).toEqual([...sent].sort());
    // Exactly once here: A finished every call it accepted before exiting, and the calls it
    // refused were resent. The exporter's guarantee is at least once (a call that times out
    // after the replica accepted it is sent again), so duplicates would be reported, not hidden.
    expect(arrived()).toHaveLength(60);
    expect(enrichedJobs(sinkA2, "lb-second").length).toBeGreaterThan(0); // waited for A, not B

    // Children too: every span of every trace, and each trace on one replica (A before or after
    // its restart counts as one replica: same address, same place on the ring).
    const secondTraces = new Set(sent.map((id) => id.split("/")[0]!));
    const secondSpans = () => [...all(), ...sinkA2.spans].filter((s) => secondTraces.has(s.traceId));
    await expect.poll(() => new Set(secondSpans().map(idOf)).size, { timeout: 10_000 }).toBe(180);
    const secondAt = replicasOfTraces([[sinkA, sinkA2], [sinkB]], secondTraces);
    for (const [trace, at] of secondAt) expect(at.size, `trace ${trace} split over replicas`).toBe(1);

    // Each live replica counts exactly the lb-second jobs it received, none of the other's.
    expect(jobRuns(await metricsOf(b), "lb-second")).toBe(enrichedJobs(sinkB, "lb-second").length);
    expect(jobRuns(await metricsOf(a2), "lb-second")).toBe(enrichedJobs(sinkA2, "lb-second").length);
    expect(jobRuns(await metricsOf(a2), "lb-first")).toBe(0);
  }, 120_000); // usually 11–18 s: ~7 s of app runs, then the shipped retry backoff of the Collector
});
