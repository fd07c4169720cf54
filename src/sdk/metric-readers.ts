import { getNumberFromEnv, getStringFromEnv } from "@opentelemetry/core";
import { OTLPMetricExporter as OtlpGrpcMetricExporter } from "@opentelemetry/exporter-metrics-otlp-grpc";
import { OTLPMetricExporter as OtlpJsonMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPMetricExporter as OtlpProtoMetricExporter } from "@opentelemetry/exporter-metrics-otlp-proto";
import {
  ConsoleMetricExporter,
  type IMetricReader,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from "@opentelemetry/sdk-metrics";
import { otlpProtocol } from "./otlp-protocol.ts";
import { parseExporterList } from "./trace-exporters.ts";

export type MetricExporterName = "prometheus" | "otlp" | "console" | "none";

/** The values NodeSDK accepts for OTEL_METRICS_EXPORTER. */
export const SUPPORTED_METRIC_EXPORTERS: readonly MetricExporterName[] = [
  "prometheus",
  "otlp",
  "console",
  "none",
];

/** An OTEL_METRICS_EXPORTER value as a list (rules of parseExporterList); unset → prometheus. */
export function parseMetricExporters(value: string | undefined): MetricExporterName[] {
  return parseExporterList("OTEL_METRICS_EXPORTER", value, SUPPORTED_METRIC_EXPORTERS, ["prometheus"]);
}

export function metricExportersFromEnv(): MetricExporterName[] {
  return parseMetricExporters(getStringFromEnv("OTEL_METRICS_EXPORTER"));
}

/** A positive number from the environment, or undefined (a bad value is warned about once). */
function positiveFromEnv(name: string): number | undefined {
  const value = getNumberFromEnv(name);
  if (value === undefined) return undefined;
  if (value > 0) return value;
  console.warn(`otel-co2e: ${name}=${value} is not a positive number; using the default`);
  return undefined;
}

function periodic(exporter: PushMetricExporter): PeriodicExportingMetricReader {
  // The spec's defaults: 60 s interval, 30 s timeout; the timeout never exceeds the interval.
  const exportIntervalMillis = positiveFromEnv("OTEL_METRIC_EXPORT_INTERVAL") ?? 60_000;
  const exportTimeoutMillis = Math.min(
    positiveFromEnv("OTEL_METRIC_EXPORT_TIMEOUT") ?? 30_000,
    exportIntervalMillis,
  );
  return new PeriodicExportingMetricReader({ exporter, exportIntervalMillis, exportTimeoutMillis });
}

function otlpMetricExporter(): PushMetricExporter {
  const protocol = otlpProtocol("METRICS");
  if (protocol === "grpc") return new OtlpGrpcMetricExporter();
  if (protocol === "http/json") return new OtlpJsonMetricExporter();
  return new OtlpProtoMetricExporter();
}

/** Push readers for the chosen names; `prometheus` and `none` are not built here. */
export function pushMetricReaders(names: readonly MetricExporterName[]): IMetricReader[] {
  const readers: IMetricReader[] = [];
  if (names.includes("otlp")) readers.push(periodic(otlpMetricExporter()));
  if (names.includes("console")) readers.push(periodic(new ConsoleMetricExporter()));
  return readers;
}
