/**
 * The shipped gateway configurations: config/collector.yaml loads through the real schema, and
 * config/otel-collector.yaml is a coherent Collector config whose traces pipeline sends OTLP/HTTP
 * protobuf to the gateway.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadConfig } from "../../src/config.ts";

const root = new URL("../../", import.meta.url);

describe("config/collector.yaml", () => {
  it("is valid and spells out the defaults", () => {
    const config = loadConfig({ file: new URL("config/collector.yaml", root).pathname, env: {} });
    const defaults = loadConfig({ file: new URL("config/default.yaml", root).pathname, env: {} });
    expect(config.gateway).toEqual(defaults.gateway);
    expect(config.gateway.listen).toBe("127.0.0.1:4318");
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

  it("exports traces to the gateway with otlphttp in protobuf", () => {
    const exporters = doc.service.pipelines.traces!.exporters;
    expect(exporters).toEqual(["otlphttp/co2e"]);
    const e = doc.exporters["otlphttp/co2e"]!;
    expect(e.encoding).toBe("proto");
    expect(e.endpoint).toMatch(/:4318\}?$/);
  });
});
