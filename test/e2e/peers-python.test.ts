/**
 * The real OpenTelemetry Python SDK (OTLP/HTTP and OTLP/gRPC exporters, configured with the
 * standard OTEL_* variables) → `co2e collector` (a child process) → a downstream sink: the job
 * span comes out enriched, its children unchanged, and /metrics counts the runs.
 * Needs the venv from .ci/peers.sh; skips loudly without it.
 */
import { describe, expect, it } from "vitest";
import { useCleanups } from "../helpers/cleanups.ts";
import { spawnCollector, startOtlpSink } from "../helpers/otlp-sink.ts";
import { cleanEnv, PYTHON, peerMissing, runChild, TRAIN_JOB } from "../helpers/peers.ts";

const cleanups = useCleanups();
const missing = peerMissing("Python venv with the OpenTelemetry SDK", PYTHON);

async function setup(extraYaml = "", env: Record<string, string> = {}) {
  const sink = await startOtlpSink();
  cleanups.push(() => sink.close());
  const gw = await spawnCollector(
    "zone: DE\ngateway:\n  listen: 127.0.0.1:0\n  metricsListen: 127.0.0.1:0\n  grpcListen: 127.0.0.1:0\n" +
      `  intensityWaitMs: 50\n  forwardUrl: ${sink.url}\n${extraYaml}`,
    [],
    [],
    env,
  );
  cleanups.push(async () => {
    if (gw.exitCode() === undefined) {
      gw.kill("SIGKILL");
      await gw.exited;
    }
  });
  return { sink, gw };
}

describe.skipIf(missing !== undefined)("OpenTelemetry Python SDK → co2e collector", () => {
  it.each([
    ["http/protobuf", (gw: { url: string }) => `${gw.url}/v1/traces`],
    ["grpc", (gw: { grpcAddress?: string }) => `http://${gw.grpcAddress}`],
  ] as const)(
    "over %s: the job span comes out enriched, children unchanged, runs counted",
    async (protocol, endpoint) => {
      const { sink, gw } = await setup();
      const jobName = `py-train-${protocol.replace("/", "-")}`;
      const ran = await runChild(
        PYTHON,
        [TRAIN_JOB, jobName, "3"],
        cleanEnv({
          OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: endpoint(gw),
          OTEL_SERVICE_NAME: "py-trainer",
          OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=test",
        }),
      );
      expect(ran.stderr).toBe("");
      expect(ran.code).toBe(0);
      const ids = ran.stdout
        .trim()
        .split("\n")
        .map((l) => l.split(" "));
      expect(ids).toHaveLength(3);
      await sink.waitForSpans(9); // 3 runs × (job + 2 children)
      for (const [traceId, spanId] of ids) {
        const job = sink.spans.find((s) => s.traceId === traceId && s.spanId === spanId);
        expect(job?.name).toBe("train");
        expect(job?.attributes["job.name"]).toBe(jobName);
        expect(job?.resource["service.name"]).toBe("py-trainer");
        expect(job?.resource["telemetry.sdk.language"]).toBe("python");
        expect(job?.attributes["carbon.intensity.zone"]).toBe("DE");
        expect(job?.attributes["carbon.co2e.grams"]).toBeGreaterThan(0);
        const children = sink.spans.filter((s) => s.traceId === traceId && s.spanId !== spanId);
        expect(children.map((c) => c.name).sort()).toEqual(["fit", "load-data"]);
        for (const c of children)
          expect(Object.keys(c.attributes).some((k) => k.startsWith("carbon."))).toBe(false);
      }
      const metrics = await (await fetch(gw.metricsUrl)).text();
      expect(metrics).toMatch(new RegExp(`co2e_job_runs_total\\{[^}]*job_name="${jobName}"[^}]*\\} 3\\b`));
    },
  );

  it("over grpc with a bearer token: refused without it (the SDK reports the failure), accepted with it", async () => {
    const { sink, gw } = await setup("  bearerTokenEnv: PEER_TOKEN\n", { PEER_TOKEN: "py-s3cret" });
    const base = {
      OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://${gw.grpcAddress}`,
      OTEL_SERVICE_NAME: "py-auth",
    };
    const refused = await runChild(PYTHON, [TRAIN_JOB, "py-auth", "1"], cleanEnv(base));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/UNAUTHENTICATED/);
    const ok = await runChild(
      PYTHON,
      [TRAIN_JOB, "py-auth", "1"],
      cleanEnv({ ...base, OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer py-s3cret" }),
    );
    expect(ok.code).toBe(0);
    await sink.waitForSpans(3);
    expect(sink.spans.find((s) => s.name === "train")?.attributes["carbon.co2e.grams"]).toBeGreaterThan(0);
  });
});
