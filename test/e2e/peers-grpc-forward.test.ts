/**
 * `co2e collector --forward-protocol grpc` into the real OpenTelemetry Collector (built by
 * .ci/peers.sh): gateway → Collector OTLP/gRPC receiver → otlphttp exporter → sink. Every span the
 * gateway acknowledged arrives, job spans enriched, and the gateway drains and exits 0.
 * Skips loudly when the Collector binary is absent.
 */
import { describe, expect, it } from "vitest";
import * as sc from "../../src/semconv.ts";
import { useCleanups } from "../helpers/cleanups.ts";
import { freePort, makeExportRequest, spawnCollector, startOtlpSink } from "../helpers/otlp-sink.ts";
import { cleanEnv, OTELCOL, peerMissing, startOtelcol } from "../helpers/peers.ts";

const cleanups = useCleanups();
const missing = peerMissing("OpenTelemetry Collector", OTELCOL);

describe.skipIf(missing)("gateway → real Collector over OTLP/gRPC", () => {
  it("delivers every acknowledged span through the Collector's OTLP/gRPC receiver", async () => {
    const sink = await startOtlpSink();
    cleanups.push(() => sink.close());
    const [grpcPort, health] = [await freePort(), await freePort()];
    const config =
      `receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:${grpcPort}\n` +
      `exporters:\n  otlphttp:\n    traces_endpoint: ${sink.url}\n    encoding: proto\n    compression: none\n` + // the test sink reads plain protobuf
      `extensions:\n  health_check:\n    endpoint: 127.0.0.1:${health}\n` +
      `service:\n  extensions: [health_check]\n  telemetry:\n    metrics:\n      level: none\n` +
      `  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [otlphttp]\n`;
    const col = await startOtelcol([`yaml:${config}`], cleanEnv({}), `http://127.0.0.1:${health}/`);
    cleanups.push(() => col.stop());
    const gw = await spawnCollector(
      "zone: DE\ngateway:\n  listen: 127.0.0.1:0\n  metricsListen: 127.0.0.1:0\n  intensityWaitMs: 50\n",
      ["--forward", `http://127.0.0.1:${grpcPort}`, "--forward-protocol", "grpc"],
    );
    cleanups.push(async () => {
      if (gw.exitCode() === undefined) {
        gw.kill("SIGKILL");
        await gw.exited;
      }
    });
    for (let seed = 0; seed < 4; seed++) {
      const res = await fetch(`${gw.url}/v1/traces`, {
        method: "POST",
        body: makeExportRequest({ spans: 25, jobEvery: 5, seed }),
        headers: { "content-type": "application/x-protobuf" },
      });
      expect(res.status).toBe(200);
    }
    gw.kill("SIGTERM");
    expect(await gw.exited, gw.stderr()).toBe(0);
    expect(gw.stderr()).toContain("forwarded 100, dropped 0");
    await sink.waitForSpans(100, 20_000).catch((e) => {
      throw new Error(`${e}\n${col.logs()}`);
    });
    expect(new Set(sink.spans.map((s) => `${s.traceId}/${s.spanId}`)).size).toBe(100);
    const jobs = sink.spans.filter((s) => s.attributes[sc.ATTR_JOB_NAME]);
    expect(jobs).toHaveLength(20);
    for (const job of jobs) expect(job.attributes[sc.ATTR_CARBON_CO2E_GRAMS]).toBeGreaterThan(0);
  });
});
