/**
 * The real OpenTelemetry Collector (built by .ci/peers.sh from the collector's Go modules) running
 * config/otel-collector.yaml as shipped, with loopback endpoints from its environment variables:
 *   1. Python SDK → Collector → otlphttp/co2e → co2e collector → sink (the default pipeline);
 *   2. Python SDK → Collector → otlp/co2e-replicas (round-robin over what a DNS name resolves
 *      to) → two co2e collector replicas, each with its own sink; one replica is stopped mid-run:
 *      every span the Collector acknowledged reaches a sink, and each replica's /metrics counts
 *      exactly the jobs it forwarded.
 * The replicas listen on 127.0.0.1 and 127.0.0.2 (both loopback) with one port, and a DNS stub
 * on 127.0.0.1 resolves one name to both, as a Kubernetes headless Service does.
 * Skips loudly when the Collector binary or the Python venv is absent.
 */
import { describe, expect, it } from "vitest";
import { useCleanups } from "../helpers/cleanups.ts";
import { startDnsStub } from "../helpers/dns-stub.ts";
import { parseExposition } from "../helpers/exposition.ts";
import {
  freePort,
  type OtlpSink,
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

const jobRuns = (metricsText: string, job: string) =>
  parseExposition(metricsText)
    .filter((s) => s.name === "co2e_job_runs_total" && s.labels.job_name === job)
    .reduce((sum, s) => sum + s.value, 0);

const enrichedJobs = (sink: OtlpSink, job: string) =>
  sink.spans.filter(
    (s) => s.attributes["job.name"] === job && s.attributes["carbon.co2e.grams"] !== undefined,
  );

describe.skipIf(missing !== undefined)("the OpenTelemetry Collector with config/otel-collector.yaml", () => {
  it("as shipped: Python SDK → Collector → otlphttp → co2e collector → sink, job spans enriched", async () => {
    const sink = await sinkFor();
    const gw = await replica("", sink.url);
    const { grpcEndpoint } = await collector({ CO2E_GATEWAY_ENDPOINT: gw.url });
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
    expect(jobs.map((s) => `${s.traceId}/${s.spanId}`).sort()).toEqual(idsOf(ran.stdout).sort());
    for (const job of jobs) {
      expect(job.attributes["carbon.intensity.zone"]).toBe("DE");
      expect(job.resource["service.name"]).toBe("py-behind-collector");
    }
    expect(jobRuns(await (await fetch(gw.metricsUrl)).text(), "via-collector")).toBe(4);
  });

  it("two replicas over OTLP/gRPC; one stopped mid-run: nothing acknowledged is lost, each counts its own jobs", async () => {
    const port = await freePort();
    const sinkA = await sinkFor();
    const sinkB = await sinkFor();
    const a = await replica(`  grpcListen: 127.0.0.1:${port}\n`, sinkA.url);
    const b = await replica(`  grpcListen: 127.0.0.2:${port}\n`, sinkB.url);
    expect([a.grpcAddress, b.grpcAddress]).toEqual([`127.0.0.1:${port}`, `127.0.0.2:${port}`]);
    const dns = await startDnsStub("co2e-gateway.test", ["127.0.0.1", "127.0.0.2"]);
    cleanups.push(() => dns.close());
    const { httpEndpoint } = await collector(
      { CO2E_GATEWAY_GRPC_TARGET: `dns://${dns.authority}/co2e-gateway.test:${port}` },
      [
        "--set=service.pipelines.traces.exporters=[otlp/co2e-replicas]",
        // Small batches so that a few seconds of traffic make many requests to spread.
        "--set=processors.batch.timeout=100ms",
      ],
    );
    const app = (job: string, runs: number) =>
      runChild(
        PYTHON,
        [TRAIN_JOB, job, String(runs), "0.05"],
        cleanEnv({
          OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: httpEndpoint,
          OTEL_SERVICE_NAME: "py-lb",
        }),
      );
    const all = () => [...sinkA.spans, ...sinkB.spans];

    // Both replicas up: the requests are spread, and each replica counts what it forwarded.
    const first = await app("lb-first", 20);
    expect(first.code, first.stderr).toBe(0);
    await expect.poll(() => all().length, { timeout: 20_000 }).toBe(60);
    const [onA, onB] = [enrichedJobs(sinkA, "lb-first").length, enrichedJobs(sinkB, "lb-first").length];
    expect(onA).toBeGreaterThan(0);
    expect(onB).toBeGreaterThan(0);
    expect(onA + onB).toBe(20);
    expect(jobRuns(await (await fetch(a.metricsUrl)).text(), "lb-first")).toBe(onA);
    expect(jobRuns(await (await fetch(b.metricsUrl)).text(), "lb-first")).toBe(onB);

    // Replica A stops (SIGTERM: drains and exits) while the app is still sending.
    const second = app("lb-second", 40);
    await expect
      .poll(() => all().filter((s) => s.attributes["job.name"] === "lb-second").length, { timeout: 20_000 })
      .toBeGreaterThanOrEqual(5);
    a.kill("SIGTERM");
    expect(await a.exited).toBe(0); // every span A acknowledged was forwarded to its sink
    const ran = await second;
    expect(ran.code, ran.stderr).toBe(0); // the Collector acknowledged every export
    const sent = idsOf(ran.stdout);
    expect(sent).toHaveLength(40);
    const arrived = () =>
      new Set(
        enrichedJobs(sinkA, "lb-second")
          .concat(enrichedJobs(sinkB, "lb-second"))
          .map((s) => `${s.traceId}/${s.spanId}`),
      );
    await expect.poll(() => arrived().size, { timeout: 30_000 }).toBe(40);
    expect([...arrived()].sort()).toEqual([...sent].sort());
    // Children too: 3 spans per run, none lost (duplicates would be allowed: delivery is at least once).
    const secondTraces = new Set(sent.map((id) => id.split("/")[0]));
    const spanIds = new Set(
      all()
        .filter((s) => secondTraces.has(s.traceId))
        .map((s) => s.spanId),
    );
    expect(spanIds.size).toBe(120);
    // B counts exactly the lb-second jobs it forwarded, none of A's.
    expect(jobRuns(await (await fetch(b.metricsUrl)).text(), "lb-second")).toBe(
      enrichedJobs(sinkB, "lb-second").length,
    );
    expect(enrichedJobs(sinkA, "lb-second").length).toBeGreaterThan(0);
  });
});
