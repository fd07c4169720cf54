/**
 * Runs the shared enrichment core (src/processor/enrich.ts) over the job spans of one scanned
 * OTLP request, pausing between slices when given a Slicer (a large request does not hold the
 * event loop).
 *
 * Intensity: per zone, one bounded `provider.get()` over the window covering all that zone's
 * spans (it fills the provider's cache, including past hours, in one go), awaited at most
 * `gateway.intensityWaitMs`. Then every span gets the provider's synchronous `lookup` over its
 * own [start, end], so two jobs of one request that ran at different hours get their own
 * intensities. Past the bound, `lookup` answers from what is cached or from the static table, so
 * a slow intensity API delays a request by at most that bound.
 *
 * Spans enriched upstream (they carry `carbon.co2e.grams`) are forwarded unchanged, and counted
 * in the metrics from their own attributes unless they say `carbon.metrics.recorded=true`. A span
 * the gateway enriches and counts gets `carbon.metrics.recorded=true` itself.
 *
 * A job span whose timestamps cannot be a job's run (unset, reversed, longer than
 * MAX_JOB_DURATION_MS) gets only `carbon.error` and is neither enriched nor counted: the duration
 * drives memory, idle and embodied figures, and a counter never forgets a wrong value.
 */
import type { Attributes } from "@opentelemetry/api";
import type { Config } from "../config.ts";
import type { JobRecord } from "../core/job-record.ts";
import { errorText } from "../errors.ts";
import type { IntensityProvider } from "../intensity/types.ts";
import type { ResolvedZone } from "../intensity/zone.ts";
import { bestHourLookup } from "../processor/best-hour.ts";
import { type EnrichOptions, enrichJobSpan, resolveJobZone } from "../processor/enrich.ts";
import * as sc from "../semconv.ts";
import { settleWithin } from "../util/timeout.ts";
import { isEnriched, metricsRecorded, recordFromEnrichedAttributes } from "./enriched-record.ts";
import { type JobSpanRef, type ParsedRequest, resourceAttributes } from "./otlp-proto.ts";
import type { Slicer } from "./slices.ts";
import { invalidTimingReason } from "./span-timing.ts";

export interface JobRecorder {
  recordJob(record: JobRecord): void;
}

export interface EnrichContext {
  config: Config;
  logicalCores: number;
  provider: IntensityProvider;
  metrics: JobRecorder;
  /** Called once per span that was enriched upstream but cannot be counted (lacks the figures). */
  onUncountable?: (span: JobSpanRef) => void;
}

/** What enrichRequest did with a request's job spans. */
export interface EnrichCounts {
  /** Job spans given carbon.* attributes by the gateway. */
  enriched: number;
  /** Job spans that arrived enriched and were forwarded unchanged. */
  preEnriched: number;
}

interface Pending {
  span: JobSpanRef;
  zone: ResolvedZone;
  resource: Attributes;
}

/** True when the job was counted. */
function record(ctx: EnrichContext, job: JobRecord): boolean {
  try {
    ctx.metrics.recordJob(job);
    return true;
  } catch {
    // Metrics never fail a request.
    return false;
  }
}

/** Sets `added` on the job spans the gateway enriches and records the metrics. Never throws. */
export async function enrichRequest(
  req: ParsedRequest,
  ctx: EnrichContext,
  slicer?: Slicer,
): Promise<EnrichCounts> {
  const counts: EnrichCounts = { enriched: 0, preEnriched: 0 };
  if (req.jobSpans.length === 0) return counts;
  const resources = new Map<number, Attributes>();
  const byZone = new Map<string, Pending[]>();
  for (const span of req.jobSpans) {
    if (slicer?.due()) await slicer.pause();
    let resource = resources.get(span.resourceIndex);
    if (!resource) {
      resource = resourceAttributes(req, span.resourceIndex);
      resources.set(span.resourceIndex, resource);
    }
    const enriched = isEnriched(span.attributes);
    if (enriched) counts.preEnriched++;
    // The producer counted it already: the gateway uses nothing of it, timestamps included.
    if (enriched && metricsRecorded(span.attributes)) continue;
    const invalid = invalidTimingReason(span.startMs, span.endMs);
    if (invalid !== undefined) {
      span.added = { [sc.ATTR_CARBON_ERROR]: invalid };
      continue;
    }
    if (enriched) {
      const job = recordFromEnrichedAttributes(span.attributes, resource, span);
      if (job) record(ctx, job);
      else ctx.onUncountable?.(span);
      continue;
    }
    let zone: ResolvedZone;
    try {
      zone = resolveJobZone({ attributes: span.attributes, resource }, ctx.config);
    } catch (error) {
      // Unknown zone or region: visible on the span, which is still forwarded.
      span.added = { [sc.ATTR_CARBON_ERROR]: errorText(error) };
      continue;
    }
    let group = byZone.get(zone.zone);
    if (!group) {
      group = [];
      byZone.set(zone.zone, group);
    }
    group.push({ span, zone, resource });
  }
  const provider = ctx.provider;
  const options: EnrichOptions = {
    config: ctx.config,
    logicalCores: ctx.logicalCores,
    intensity: (zone, window) => provider.lookup(zone, window),
  };
  const bestHour = bestHourLookup(provider);
  if (bestHour) options.bestHour = bestHour;
  await Promise.all(
    [...byZone].map(async ([zone, group]) => {
      let startMs = Number.POSITIVE_INFINITY;
      let endMs = Number.NEGATIVE_INFINITY;
      for (const { span } of group) {
        startMs = Math.min(startMs, span.startMs);
        endMs = Math.max(endMs, span.endMs);
      }
      // Fills the cache for the whole range; the value itself is not used (each span has its window).
      await settleWithin(provider.get(zone, { startMs, endMs }), ctx.config.gateway.intensityWaitMs);
      for (const { span, zone: resolved, resource } of group) {
        if (slicer?.due()) await slicer.pause();
        // enrichJobSpan keeps a producer's own carbon.attribution (shared/exclusive), as in-process.
        const result = enrichJobSpan(
          {
            attributes: span.attributes,
            resource,
            startMs: span.startMs,
            endMs: span.endMs,
            isError: span.isError,
          },
          options,
          resolved,
        );
        span.added = result.attributes;
        if (result.record) {
          counts.enriched++;
          // Counted here, so a gateway further down (gateway → gateway) does not count it again.
          if (record(ctx, result.record)) span.added[sc.ATTR_CARBON_METRICS_RECORDED] = true;
        }
      }
    }),
  );
  return counts;
}
