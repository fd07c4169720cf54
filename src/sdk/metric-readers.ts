/**
 * Metric readers chosen by OTEL_METRICS_EXPORTER, built the way NodeSDK builds them (periodic
 * readers for otlp and console, OTLP protocol from OTEL_EXPORTER_OTLP_METRICS_PROTOCOL or
 * OTEL_EXPORTER_OTLP_PROTOCOL, interval and timeout from OTEL_METRIC_EXPORT_INTERVAL/TIMEOUT).
 * The preset needs its own list because NodeSDK ignores the variable once `metricReaders` is
 * given, and our Prometheus endpoint is served by a reader we own. Unlike NodeSDK (whose default
 * is otlp), unset means `prometheus`: the /metrics endpoint is what this package is used for.
 */
import { diag } from "@opentelemetry/api";
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
  const protocol =
    (
      getStringFromEnv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL") ??
      getStringFromEnv("OTEL_EXPORTER_OTLP_PROTOCOL")
    )?.trim() || "http/protobuf";
  if (protocol === "grpc") return new OtlpGrpcMetricExporter();
  if (protocol === "http/json") return new OtlpJsonMetricExporter();
  if (protocol !== "http/protobuf")
    diag.warn(`otel-co2e: unsupported OTLP metrics protocol "${protocol}", using http/protobuf`);
  return new OtlpProtoMetricExporter();
}

/** Push readers for the chosen names; `prometheus` and `none` are not built here. */
export function pushMetricReaders(names: readonly MetricExporterName[]): IMetricReader[] {
  const readers: IMetricReader[] = [];
  if (names.includes("otlp")) readers.push(periodic(otlpMetricExporter()));
  if (names.includes("console")) readers.push(periodic(new ConsoleMetricExporter()));
  return readers;
}
