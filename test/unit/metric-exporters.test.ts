import { afterEach, describe, expect, it, vi } from "vitest";
import { isSupportedNode, MIN_NODE_VERSION } from "../../src/node-version.ts";
import { parseMetricExporters } from "../../src/sdk/metric-readers.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("OTEL_METRICS_EXPORTER", () => {
  it("defaults to prometheus, accepts NodeSDK's names trimmed and in any case", () => {
    expect(parseMetricExporters(undefined)).toEqual(["prometheus"]);
    expect(parseMetricExporters(" ")).toEqual(["prometheus"]);
    expect(parseMetricExporters("OTLP, console")).toEqual(["otlp", "console"]);
    expect(parseMetricExporters("none")).toEqual(["none"]);
    expect(parseMetricExporters("none,prometheus")).toEqual(["prometheus"]);
  });

  it("skips an unsupported name with one console warning naming the variable", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    expect(parseMetricExporters("statsd,otlp")).toEqual(["otlp"]);
    expect(parseMetricExporters("statsd")).toEqual([]);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toMatch(
      /unsupported OTEL_METRICS_EXPORTER value "statsd" ignored; supported: prometheus, otlp, console, none/,
    );
  });
});

describe("Node version guard", () => {
  it("accepts the minimum and later, refuses earlier", () => {
    expect(MIN_NODE_VERSION).toBe("22.19.0");
    expect(isSupportedNode("22.19.0")).toBe(true);
    expect(isSupportedNode("22.20.1")).toBe(true);
    expect(isSupportedNode("24.0.0")).toBe(true);
    expect(isSupportedNode("22.18.9")).toBe(false);
    expect(isSupportedNode("20.20.2")).toBe(false);
  });

  it("matches package.json engines", async () => {
    const { readFileSync } = await import("node:fs");
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    expect(pkg.engines.node).toBe(`>=${MIN_NODE_VERSION.replace(/\.0$/, "")}`);
  });
});
