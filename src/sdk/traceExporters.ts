/**
 * Trace exporters chosen by OTEL_TRACES_EXPORTER (or options), wrapped in the processors NodeSDK
 * would use: we have to build them ourselves because NodeSDK ignores OTEL_TRACES_EXPORTER as soon
 * as `spanProcessors` is given, and ours must come first.
 */
import { diag } from "@opentelemetry/api";
import { getNumberFromEnv, getStringFromEnv, getStringListFromEnv } from "@opentelemetry/core";
import { OTLPTraceExporter as OtlpGrpcExporter } from "@opentelemetry/exporter-trace-otlp-grpc";
import { OTLPTraceExporter as OtlpJsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OtlpProtoExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace";

export type TraceExporterName = "otlp" | "console" | "none";
export type TraceExporterChoice = TraceExporterName | SpanExporter;

/** OTEL_TRACES_EXPORTER as a list; unset → otlp (the OTel default); `none` alone → no exporter. */
export function traceExportersFromEnv(): TraceExporterName[] {
  const names = [...new Set(getStringListFromEnv("OTEL_TRACES_EXPORTER") ?? [])].filter((n) => n !== "null");
  if (names.length === 0) return ["otlp"];
  if (names.includes("none"))
    return names.length === 1 ? ["none"] : (names.filter((n) => n !== "none") as TraceExporterName[]);
  const known = names.filter((n): n is TraceExporterName => n === "otlp" || n === "console");
  for (const n of names)
    if (!known.includes(n as TraceExporterName))
      diag.warn(`otel-co2e: unsupported OTEL_TRACES_EXPORTER value "${n}"`);
  return known;
}

function otlpExporter(): SpanExporter {
  const protocol =
    (
      getStringFromEnv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") ??
      getStringFromEnv("OTEL_EXPORTER_OTLP_PROTOCOL")
    )?.trim() || "http/protobuf";
  if (protocol === "grpc") return new OtlpGrpcExporter();
  if (protocol === "http/json") return new OtlpJsonExporter();
  if (protocol !== "http/protobuf")
    diag.warn(`otel-co2e: unsupported OTLP traces protocol "${protocol}", using http/protobuf`);
  return new OtlpProtoExporter();
}

function batch(exporter: SpanExporter): SpanProcessor {
  const n = (name: string): number | undefined => {
    const v = getNumberFromEnv(name);
    return v !== undefined && v >= 0 ? v : undefined;
  };
  return new BatchSpanProcessor({
    exporter,
    maxQueueSize: n("OTEL_BSP_MAX_QUEUE_SIZE"),
    scheduledDelayMillis: n("OTEL_BSP_SCHEDULE_DELAY"),
    exportTimeoutMillis: n("OTEL_BSP_EXPORT_TIMEOUT"),
    maxExportBatchSize: n("OTEL_BSP_MAX_EXPORT_BATCH_SIZE"),
  });
}

/** Processors for the chosen exporters: console → simple (immediate), others → batch. */
export function exportProcessors(choices: readonly TraceExporterChoice[]): SpanProcessor[] {
  const processors: SpanProcessor[] = [];
  for (const choice of choices) {
    if (choice === "none") continue;
    if (choice === "console")
      processors.push(new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() }));
    else if (choice === "otlp") processors.push(batch(otlpExporter()));
    else processors.push(batch(choice));
  }
  return processors;
}
