import { getNumberFromEnv, getStringFromEnv } from "@opentelemetry/core";
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
import { otlpProtocol } from "./otlp-protocol.ts";

export type TraceExporterName = "otlp" | "console" | "none";
export type TraceExporterChoice = TraceExporterName | SpanExporter;

/** Names this preset can build; anything else is warned about and skipped. */
export const SUPPORTED_TRACE_EXPORTERS: readonly TraceExporterName[] = ["otlp", "console", "none"];

function isSupported(name: string): name is TraceExporterName {
  return (SUPPORTED_TRACE_EXPORTERS as readonly string[]).includes(name);
}

// Unsupported names already reported, per variable: the lists are read at every start, each
// warning is given once.
const warnedNames = new Set<string>();

/**
 * Warns on the console, not only through diag: diag goes nowhere unless OTEL_LOG_LEVEL is set, and
 * a misspelt exporter means telemetry silently goes nowhere.
 */
function warnUnsupported(variable: string, names: readonly string[], supported: readonly string[]): void {
  const fresh = names.filter((n) => !warnedNames.has(`${variable}=${n}`));
  if (fresh.length === 0) return;
  for (const n of fresh) warnedNames.add(`${variable}=${n}`);
  const quoted = fresh.map((n) => `"${n}"`).join(", ");
  console.warn(
    `otel-co2e: unsupported ${variable} value ${quoted} ignored; supported: ${supported.join(", ")}`,
  );
}

/**
 * An OTEL_*_EXPORTER value as a list of names. Values are trimmed and case-insensitive (the spec's
 * rule for enum-like variables); unset or empty → `fallback`; `none` alone → ["none"]; `none`
 * beside others is dropped and the others are used; unsupported names are skipped with one
 * console warning naming the variable.
 */
export function parseExporterList<T extends string>(
  variable: string,
  value: string | undefined,
  supported: readonly T[],
  fallback: T[],
): T[] {
  const names = [
    ...new Set(
      (value ?? "")
        .split(",")
        .map((n) => n.trim().toLowerCase())
        .filter((n) => n !== ""),
    ),
  ];
  if (names.length === 0) return fallback;
  if (names.length === 1 && names[0] === "none") return names as T[];
  const isSupportedName = (n: string): n is T => (supported as readonly string[]).includes(n);
  const rest = names.filter((n) => n !== "none");
  const unsupported = rest.filter((n) => !isSupportedName(n));
  if (unsupported.length > 0) warnUnsupported(variable, unsupported, supported);
  return rest.filter(isSupportedName);
}

/** An OTEL_TRACES_EXPORTER value as a list of exporters (see parseExporterList); unset → otlp. */
export function parseTraceExporters(value: string | undefined): TraceExporterName[] {
  return parseExporterList("OTEL_TRACES_EXPORTER", value, SUPPORTED_TRACE_EXPORTERS, ["otlp"]);
}

/** OTEL_TRACES_EXPORTER as a list; see parseTraceExporters. */
export function traceExportersFromEnv(): TraceExporterName[] {
  return parseTraceExporters(getStringFromEnv("OTEL_TRACES_EXPORTER"));
}

function otlpExporter(): SpanExporter {
  const protocol = otlpProtocol("TRACES");
  if (protocol === "grpc") return new OtlpGrpcExporter();
  if (protocol === "http/json") return new OtlpJsonExporter();
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
    if (typeof choice === "string") {
      // A JavaScript caller can pass any string: never hand one to a BatchSpanProcessor.
      if (!isSupported(choice)) {
        warnUnsupported("OTEL_TRACES_EXPORTER", [choice], SUPPORTED_TRACE_EXPORTERS);
        continue;
      }
      if (choice === "none") continue;
    }
    if (choice === "console")
      processors.push(new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() }));
    else if (choice === "otlp") processors.push(batch(otlpExporter()));
    else processors.push(batch(choice));
  }
  return processors;
}
