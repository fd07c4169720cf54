/**
 * Runs the shared enrichment core (src/processor/enrich.ts) over the job spans of one scanned
 * OTLP request. Intensity is awaited once per zone per request, bounded by
 * `gateway.intensityWaitMs`; past the bound the provider's synchronous `lookup` (cache or static
 * table) answers, so a slow intensity API delays a request by at most that bound.
 */
import type { Attributes } from "@opentelemetry/api";
import type { Config } from "../config.ts";
import type { IntensityProvider, IntensityValue } from "../intensity/types.ts";
import type { ResolvedZone } from "../intensity/zone.ts";
import { enrichJobSpan, type JobRecord, resolveJobZone } from "../processor/enrich.ts";
import { ATTR_CARBON_ERROR } from "../semconv.ts";
import { type JobSpanRef, type ParsedRequest, resourceAttributes } from "./otlp-proto.ts";

export interface JobRecorder {
  recordJob(record: JobRecord): void;
}

export interface EnrichContext {
  config: Config;
  logicalCores: number;
  provider: IntensityProvider;
  metrics: JobRecorder;
}

function errorText(error: unknown): string {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  return code ? `${code}: ${message}` : message;
}

/** Resolves `promise` or gives undefined after `ms` (the timer never outlives the race). */
function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      () => {
        clearTimeout(timer);
        resolve(undefined);
      },
    );
  });
}

/** Sets `added` on every job span of the request and records the metrics. Never throws. */
export async function enrichRequest(req: ParsedRequest, ctx: EnrichContext): Promise<void> {
  if (req.jobSpans.length === 0) return;
  const resources = new Map<number, Attributes>();
  const byZone = new Map<
    string,
    { spans: { span: JobSpanRef; zone: ResolvedZone; resource: Attributes }[] }
  >();
  for (const span of req.jobSpans) {
    let resource = resources.get(span.resourceIndex);
    if (!resource) {
      resource = resourceAttributes(req, span.resourceIndex);
      resources.set(span.resourceIndex, resource);
    }
    let zone: ResolvedZone;
    try {
      zone = resolveJobZone({ attributes: span.attributes, resource }, ctx.config);
    } catch (error) {
      // Unknown zone or region: visible on the span, which is still forwarded.
      span.added = { [ATTR_CARBON_ERROR]: errorText(error) };
      continue;
    }
    let group = byZone.get(zone.zone);
    if (!group) {
      group = { spans: [] };
      byZone.set(zone.zone, group);
    }
    group.spans.push({ span, zone, resource });
  }
  await Promise.all(
    [...byZone].map(async ([zone, group]) => {
      let startMs = Number.POSITIVE_INFINITY;
      let endMs = Number.NEGATIVE_INFINITY;
      for (const { span } of group.spans) {
        startMs = Math.min(startMs, span.startMs);
        endMs = Math.max(endMs, span.endMs);
      }
      const awaited: IntensityValue | undefined = await within(
        ctx.provider.get(zone, { startMs, endMs }),
        ctx.config.gateway.intensityWaitMs,
      );
      for (const { span, zone: resolved, resource } of group.spans) {
        const result = enrichJobSpan(
          {
            attributes: span.attributes,
            resource,
            startMs: span.startMs,
            endMs: span.endMs,
            isError: span.isError,
          },
          {
            config: ctx.config,
            logicalCores: ctx.logicalCores,
            zone: resolved,
            intensity: awaited ? () => awaited : (z, window) => ctx.provider.lookup(z, window),
          },
        );
        span.added = result.attributes;
        if (result.record) {
          try {
            ctx.metrics.recordJob(result.record);
          } catch {
            // Metrics never fail a request.
          }
        }
      }
    }),
  );
}
