/**
 * Exports the one job span of a `co2e run` over OTLP/HTTP (protobuf) when the standard
 * `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, so the run shows
 * up in the gateway and Grafana like an in-process job. The exporter reads the other `OTEL_*`
 * variables itself (headers, timeout); the resource takes `OTEL_SERVICE_NAME` and
 * `OTEL_RESOURCE_ATTRIBUTES`; a `TRACEPARENT` variable makes the span a child of that trace.
 * A failed export is a warning: it never changes co2e's exit code.
 */
import { type Attributes, context, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { ExportResultCode, W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
} from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
  TracerProvider,
} from "@opentelemetry/sdk-trace";

export const RUN_SERVICE_NAME = "co2e-run";

export function otlpExportWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return false;
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === "none") return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

/** Passes spans through, reporting a failed export once instead of the SDK's silent diag log. */
class WarningExporter implements SpanExporter {
  readonly #inner: SpanExporter;
  readonly #warn: (msg: string) => void;
  failed = false;

  constructor(inner: SpanExporter, warn: (msg: string) => void) {
    this.#inner = inner;
    this.#warn = warn;
  }

  export(spans: ReadableSpan[], done: Parameters<SpanExporter["export"]>[1]): void {
    this.#inner.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS && !this.failed) {
        this.failed = true;
        this.#warn(`OTLP export of the job span failed: ${result.error?.message ?? "unknown error"}`);
      }
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }
}

export interface ExportJobSpanOptions {
  name: string;
  startMs: number;
  endMs: number;
  attributes: Attributes;
  isError: boolean;
  statusMessage?: string;
  env?: NodeJS.ProcessEnv;
  warn?: (msg: string) => void;
  /** Upper bound for the flush, ms. @default 10000 */
  timeoutMs?: number;
}

/** Resource attributes of the exported span (for the local enrichment's zone resolution too). */
export function runResource(): ReturnType<typeof defaultResource> {
  return defaultResource()
    .merge(resourceFromAttributes({ "service.name": RUN_SERVICE_NAME }))
    .merge(detectResources({ detectors: [envDetector] }));
}

/** Exports one span and waits for the flush; resolves true when the export succeeded. */
export async function exportJobSpan(options: ExportJobSpanOptions): Promise<boolean> {
  const warn = options.warn ?? ((msg: string) => process.stderr.write(`co2e run: warning: ${msg}\n`));
  let OTLPTraceExporter: typeof import("@opentelemetry/exporter-trace-otlp-proto").OTLPTraceExporter;
  try {
    ({ OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-proto"));
  } catch (error) {
    warn(`OTLP export unavailable: ${(error as Error).message}`);
    return false;
  }
  const exporter = new WarningExporter(new OTLPTraceExporter(), warn);
  const provider = new TracerProvider({
    resource: runResource(),
    spanProcessors: [new BatchSpanProcessor({ exporter, exportTimeoutMillis: options.timeoutMs ?? 10_000 })],
  });
  const env = options.env ?? process.env;
  let parent = context.active();
  if (env.TRACEPARENT) {
    parent = new W3CTraceContextPropagator().extract(
      parent,
      { traceparent: env.TRACEPARENT, tracestate: env.TRACESTATE },
      {
        get: (carrier: Record<string, string | undefined>, key: string) => carrier[key],
        keys: (carrier: Record<string, string | undefined>) => Object.keys(carrier),
      },
    );
  }
  const span = provider
    .getTracer("otel-co2e")
    .startSpan(
      options.name,
      { kind: SpanKind.INTERNAL, startTime: options.startMs, attributes: options.attributes },
      parent,
    );
  if (options.isError) {
    span.setStatus({
      code: SpanStatusCode.ERROR,
      ...(options.statusMessage ? { message: options.statusMessage } : {}),
    });
  }
  span.end(options.endMs);
  try {
    await provider.shutdown();
  } catch (error) {
    if (!exporter.failed) warn(`OTLP export of the job span failed: ${(error as Error).message}`);
    return false;
  }
  return !exporter.failed;
}
