/**
 * Exports the one job span of a `co2e run` over OTLP/HTTP (protobuf) when the standard
 * `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, so the run shows
 * up in the gateway and Grafana like an in-process job. The exporter reads the other `OTEL_*`
 * variables itself (headers, compression, timeout); the resource takes `OTEL_SERVICE_NAME` and
 * `OTEL_RESOURCE_ATTRIBUTES`; a `TRACEPARENT` variable makes the span a child of that trace.
 * A failed export is a warning: it never changes co2e's exit code.
 *
 * The export is bounded: the OTLP default timeout (10 s, retrying a refused connection until
 * then) added ~8 s to every run against a dead endpoint, after the command had finished. Unless
 * OTEL_EXPORTER_OTLP_TRACES_TIMEOUT or OTEL_EXPORTER_OTLP_TIMEOUT says otherwise, the exporter
 * gets DEFAULT_EXPORT_TIMEOUT_MS, and the whole flush is cut off shortly after the timeout.
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

/** Export timeout of `co2e run` without an OTEL_EXPORTER_OTLP_*TIMEOUT variable, ms. */
export const DEFAULT_EXPORT_TIMEOUT_MS = 2000;

/** Beyond the exporter's timeout, what the flush may take before it is abandoned, ms. */
const FLUSH_GRACE_MS = 500;

/**
 * The export timeout the environment asks for (the traces variable first, as the exporter reads
 * them), or undefined when neither is a number > 0 — then the exporter is given the default.
 */
export function envExportTimeoutMs(env: NodeJS.ProcessEnv = process.env): number | undefined {
  for (const name of ["OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"]) {
    const raw = env[name]?.trim();
    if (!raw) continue;
    const ms = Number(raw);
    if (Number.isFinite(ms) && ms > 0) return ms;
  }
  return undefined;
}

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
  /**
   * Export timeout, ms. @default OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, else OTEL_EXPORTER_OTLP_TIMEOUT,
   * else DEFAULT_EXPORT_TIMEOUT_MS
   */
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
  const env = options.env ?? process.env;
  // Read here with the exporter's precedence and always passed on (a config value wins over the
  // exporter's own reading of process.env), so `options.env` counts too.
  const timeoutMs = options.timeoutMs ?? envExportTimeoutMs(env) ?? DEFAULT_EXPORT_TIMEOUT_MS;
  const exporter = new WarningExporter(new OTLPTraceExporter({ timeoutMillis: timeoutMs }), warn);
  const provider = new TracerProvider({
    resource: runResource(),
    spanProcessors: [new BatchSpanProcessor({ exporter, exportTimeoutMillis: timeoutMs + FLUSH_GRACE_MS })],
  });
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
  // The last bound: whatever the exporter does, co2e does not wait much past its timeout.
  let timer: NodeJS.Timeout | undefined;
  const cutOff = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs + 2 * FLUSH_GRACE_MS);
    timer.unref();
  });
  try {
    const outcome = await Promise.race([provider.shutdown().then(() => "done" as const), cutOff]);
    if (outcome === "timeout") {
      if (!exporter.failed) warn(`OTLP export of the job span failed: no answer within ${timeoutMs} ms`);
      return false;
    }
  } catch (error) {
    if (!exporter.failed) warn(`OTLP export of the job span failed: ${(error as Error).message}`);
    return false;
  } finally {
    clearTimeout(timer);
  }
  return !exporter.failed;
}
