import { diag } from "@opentelemetry/api";
import { getStringFromEnv } from "@opentelemetry/core";

export type OtlpProtocol = "grpc" | "http/json" | "http/protobuf";

/**
 * The OTLP protocol for one signal, as the OTel spec reads it: the signal's own
 * `OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`, else http/protobuf.
 * An unknown value warns and falls back to http/protobuf, as NodeSDK does.
 */
export function otlpProtocol(signal: "TRACES" | "METRICS"): OtlpProtocol {
  const protocol =
    (
      getStringFromEnv(`OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`) ??
      getStringFromEnv("OTEL_EXPORTER_OTLP_PROTOCOL")
    )?.trim() || "http/protobuf";
  if (protocol === "grpc" || protocol === "http/json" || protocol === "http/protobuf") return protocol;
  diag.warn(
    `otel-co2e: unsupported OTLP ${signal.toLowerCase()} protocol "${protocol}", using http/protobuf`,
  );
  return "http/protobuf";
}
