/**
 * The shipped gateway configurations: config/collector.yaml loads through the real schema and
 * lets a span's resource cloud region decide its zone, and config/otel-collector.yaml is a
 * coherent Collector config whose traces pipeline routes by trace id to the gateway replicas over
 * OTLP/gRPC, with OTLP/HTTP protobuf to one gateway as the alternative.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadConfig } from "../../src/config.ts";
import { startGateway } from "../../src/gateway/server.ts";
import * as sc from "../../src/semconv.ts";
import { startOtlpSink } from "../helpers/otlp-sink.ts";

const root = new URL("../../", import.meta.url);

describe("config/collector.yaml", () => {
  it("is valid and spells out the defaults", () => {
    const config = loadConfig({ file: new URL("config/collector.yaml", root).pathname, env: {} });
    const defaults = loadConfig({ file: new URL("config/default.yaml", root).pathname, env: {} });
    expect(config.gateway).toEqual(defaults.gateway);
    expect(config.gateway.listen).toBe("127.0.0.1:4318");
  });

  it("leaves the zone to the span's resource: aws eu-west-1 → IE by cloud-region", async () => {
    const config = loadConfig({
      file: new URL("config/collector.yaml", root).pathname,
      env: {},
      overrides: { gateway: { listen: "127.0.0.1:0", metricsListen: "127.0.0.1:0" } },
    });
    const down = await startOtlpSink();
    const g = await startGateway(
      { ...config, gateway: { ...config.gateway, forwardUrl: down.url } },
      { env: {}, log: () => {} },
    );
    try {
      // The Python example of docs/gateway.md: OTEL_RESOURCE_ATTRIBUTES=cloud.provider=aws,cloud.region=eu-west-1
      const doc = {
        resourceSpans: [
          {
            resource: {
              attributes: [
                { key: "service.name", value: { stringValue: "nightly-etl" } },
                { key: "cloud.provider", value: { stringValue: "aws" } },
                { key: "cloud.region", value: { stringValue: "eu-west-1" } },
              ],
            },
            scopeSpans: [
              {
                spans: [
                  {
                    traceId: "0af7651916cd43dd8448eb211c80319c",
                    spanId: "b7ad6b7169203331",
                    name: "nightly-etl",
                    startTimeUnixNano: String(BigInt(Date.now() - 60_000) * 1_000_000n),
                    endTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n),
                    attributes: [
                      { key: sc.ATTR_JOB_NAME, value: { stringValue: "nightly-etl" } },
                      { key: sc.ATTR_JOB_CPU_SECONDS, value: { doubleValue: 60 } },
                    ],
                  },
                ],
              },
            ],
          },
        ],
      };
      const res = await fetch(`${g.url}/v1/traces`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(doc),
      });
      expect(res.status).toBe(200);
      await down.waitForSpans(1);
      const job = down.spans[0]!;
      expect(job.attributes[sc.ATTR_CARBON_INTENSITY_ZONE]).toBe("IE");
      expect(job.attributes[sc.ATTR_CARBON_ZONE_RESOLVED_BY]).toBe("cloud-region");
    } finally {
      await g.close();
      await down.close();
    }
  });
});

describe("config/otel-collector.yaml", () => {
  const doc = parse(readFileSync(new URL("config/otel-collector.yaml", root), "utf8")) as {
    receivers: Record<string, unknown>;
    processors: Record<string, unknown>;
    exporters: Record<string, { endpoint?: string; encoding?: string }>;
    extensions: Record<string, unknown>;
    service: {
      extensions: string[];
      pipelines: Record<string, { receivers: string[]; processors: string[]; exporters: string[] }>;
    };
  };

  it("references only components it defines", () => {
    for (const name of doc.service.extensions) expect(doc.extensions).toHaveProperty([name]);
    for (const pipeline of Object.values(doc.service.pipelines)) {
      for (const r of pipeline.receivers) expect(doc.receivers).toHaveProperty([r]);
      for (const p of pipeline.processors) expect(doc.processors).toHaveProperty([p]);
      for (const e of pipeline.exporters) expect(doc.exporters).toHaveProperty([e]);
    }
  });

  it("routes traces by trace id to the gateway replicas over OTLP/gRPC (loadbalancing)", () => {
    expect(doc.service.pipelines.traces!.exporters).toEqual(["loadbalancing/co2e-replicas"]);
    const lb = doc.exporters["loadbalancing/co2e-replicas"] as unknown as {
      routing_key: string;
      protocol: { otlp: { tls: { insecure: boolean }; sending_queue: { enabled: boolean } } };
      resolver: { static: { hostnames: string } };
    };
    expect(lb.routing_key).toBe("traceID");
    expect(lb.protocol.otlp.tls.insecure).toBe(true);
    expect(lb.protocol.otlp.sending_queue.enabled).toBe(true);
    expect(lb.resolver.static.hostnames).toMatch(/^\$\{env:CO2E_GATEWAY_REPLICAS:-\[.*:4317.*\]\}$/);
  });

  it("keeps otlphttp in protobuf for one gateway over OTLP/HTTP", () => {
    const e = doc.exporters["otlphttp/co2e"]!;
    expect(e.encoding).toBe("proto");
    expect(e.endpoint).toMatch(/:4318\}?$/);
  });
});
