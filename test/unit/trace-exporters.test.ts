/**
 * OTEL_TRACES_EXPORTER parsing for the SDK preset: case-insensitive, `none` beside other names,
 * unsupported names warned about (once) and never handed to a span processor.
 */
import { BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  exportProcessors,
  parseTraceExporters,
  SUPPORTED_TRACE_EXPORTERS,
  type TraceExporterChoice,
  traceExportersFromEnv,
} from "../../src/sdk/trace-exporters.ts";

const savedValue = process.env.OTEL_TRACES_EXPORTER;

afterEach(() => {
  vi.restoreAllMocks();
  if (savedValue === undefined) delete process.env.OTEL_TRACES_EXPORTER;
  else process.env.OTEL_TRACES_EXPORTER = savedValue;
});

/** console.warn calls made while `fn` runs (the console itself stays quiet). */
function warningsOf<T>(fn: () => T): { result: T; warnings: string[] } {
  const spy = vi.spyOn(console, "warn").mockImplementation(() => {});
  const result = fn();
  const warnings = spy.mock.calls.map((args) => args.map(String).join(" "));
  spy.mockRestore();
  return { result, warnings };
}

describe("parseTraceExporters", () => {
  it("unset or blank → otlp, the OTel default", () => {
    expect(parseTraceExporters(undefined)).toEqual(["otlp"]);
    expect(parseTraceExporters("")).toEqual(["otlp"]);
    expect(parseTraceExporters(" , ")).toEqual(["otlp"]);
  });

  it("`none` alone → none; beside others it is dropped", () => {
    expect(parseTraceExporters("none")).toEqual(["none"]);
    expect(parseTraceExporters("none,console")).toEqual(["console"]);
    expect(parseTraceExporters("otlp,none")).toEqual(["otlp"]);
    expect(parseTraceExporters("none,none")).toEqual(["none"]);
  });

  it("is case-insensitive and trims, keeping order and dropping repeats", () => {
    expect(parseTraceExporters("OTLP")).toEqual(["otlp"]);
    expect(parseTraceExporters(" Console , otlp ,CONSOLE")).toEqual(["console", "otlp"]);
    expect(parseTraceExporters("NONE")).toEqual(["none"]);
  });

  it("`none` beside unsupported names leaves no unsupported name (the reviewer's none,zipkin)", () => {
    const { result, warnings } = warningsOf(() => [
      parseTraceExporters("none,zipkin-a"),
      parseTraceExporters("jaeger-a,none"),
      parseTraceExporters("none,zipkin-b,Console"),
    ]);
    expect(result).toEqual([[], [], ["console"]]);
    expect(warnings).toHaveLength(3);
  });

  it("warns once per unsupported name, naming it and the supported ones", () => {
    const first = warningsOf(() => parseTraceExporters("otlp,Zipkin-once"));
    expect(first.result).toEqual(["otlp"]);
    expect(first.warnings).toHaveLength(1);
    expect(first.warnings[0]).toContain('"zipkin-once"');
    for (const name of SUPPORTED_TRACE_EXPORTERS) expect(first.warnings[0]).toContain(name);
    // Read again (another start in the same process): no second warning for the same name.
    const again = warningsOf(() => parseTraceExporters("zipkin-once,otlp"));
    expect(again.result).toEqual(["otlp"]);
    expect(again.warnings).toEqual([]);
  });

  it("traceExportersFromEnv reads OTEL_TRACES_EXPORTER", () => {
    process.env.OTEL_TRACES_EXPORTER = "Console,None";
    expect(traceExportersFromEnv()).toEqual(["console"]);
    delete process.env.OTEL_TRACES_EXPORTER;
    expect(traceExportersFromEnv()).toEqual(["otlp"]);
  });
});

describe("exportProcessors", () => {
  it("builds processors only for real exporters; every one of them shuts down", async () => {
    const memory = new InMemorySpanExporter();
    const { result: processors, warnings } = warningsOf(() =>
      exportProcessors([
        ...parseTraceExporters("none,zipkin-proc,console"),
        // A JavaScript caller can pass any string; it must not reach a BatchSpanProcessor.
        "jaeger-proc" as unknown as TraceExporterChoice,
        "none",
        memory,
      ]),
    );
    expect(processors.map((p) => p.constructor)).toEqual([SimpleSpanProcessor, BatchSpanProcessor]);
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toContain('"jaeger-proc"');
    for (const p of processors) {
      await p.forceFlush();
      await p.shutdown();
    }
  });
});
