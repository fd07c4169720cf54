/**
 * Links spans to their running measurement. Whoever sees a job span first starts measuring it: the
 * CarbonSpanProcessor in `onStart` (so spans started by any code with a `job.name` attribute are
 * measured), or `withJob`/`startJob` when no carbon processor is registered. The counters are
 * written as `job.*` attributes just before the span ends, never over values the span already
 * carries (code that measured its own job wins).
 */
import type { Attributes, Span } from "@opentelemetry/api";
import * as sc from "../semconv.ts";
import { defaultJobMeter, type JobCounters, type JobMeasurement, type JobMeter } from "./meter.ts";
import { isSdkSpan, setSpanAttribute } from "./span-attributes.ts";

const running = new WeakMap<object, JobMeasurement>();

/**
 * A job span that was dropped without end() would keep its measurement in the meter's active set
 * (diluting every later job) until sampler.maxJobSeconds; once the span is garbage-collected its
 * measurement is finished right away. The measurement does not reference the span, so it does not
 * keep it alive.
 */
const abandoned = new FinalizationRegistry<JobMeasurement>((m) => {
  try {
    m.finish();
  } catch {
    // Nothing to report to: the span is gone.
  }
});

export function beginSpanMeasurement(span: object, meter: JobMeter = defaultJobMeter()): JobMeasurement {
  let m = running.get(span);
  if (!m) {
    m = meter.start();
    running.set(span, m);
    abandoned.register(span, m, span);
  }
  return m;
}

/** The job.* attributes (and carbon.attribution) for a job's counters. */
export function countersToAttributes(c: JobCounters): Attributes {
  const attributes: Attributes = {
    [sc.ATTR_JOB_CPU_SECONDS]: c.cpuSeconds,
    [sc.ATTR_JOB_ATTRIBUTED_SECONDS]: c.attributedSeconds,
    [sc.ATTR_JOB_MEMORY_AVG_BYTES]: Math.round(c.memoryAvgBytes),
    [sc.ATTR_JOB_MEMORY_PEAK_BYTES]: c.memoryPeakBytes,
    [sc.ATTR_JOB_NETWORK_BYTES_SENT]: c.bytesSent,
    [sc.ATTR_JOB_NETWORK_BYTES_RECEIVED]: c.bytesReceived,
    [sc.ATTR_CARBON_ATTRIBUTION]: c.attribution,
  };
  if (c.gpuJoules !== undefined) attributes[sc.ATTR_JOB_GPU_JOULES] = c.gpuJoules;
  if (c.cpuJoules !== undefined) attributes[sc.ATTR_JOB_CPU_JOULES] = c.cpuJoules;
  return attributes;
}

/**
 * Stops the span's measurement (if any) and sets its counters on the span, skipping attributes the
 * span already has. Returns the counters, or undefined when the span was not being measured.
 */
export function finishSpanMeasurement(
  span: Span,
  options?: { synchronous?: boolean },
): JobCounters | undefined {
  const m = running.get(span);
  if (!m) return undefined;
  running.delete(span);
  abandoned.unregister(span);
  const counters = m.finish(options);
  const existing = (span as unknown as { attributes?: Attributes }).attributes;
  const direct = isSdkSpan(span);
  // One attribute at a time, skipping those the span has: no second object, no delete.
  setNew(span, existing, sc.ATTR_JOB_CPU_SECONDS, counters.cpuSeconds, direct);
  setNew(span, existing, sc.ATTR_JOB_ATTRIBUTED_SECONDS, counters.attributedSeconds, direct);
  setNew(span, existing, sc.ATTR_JOB_MEMORY_AVG_BYTES, Math.round(counters.memoryAvgBytes), direct);
  setNew(span, existing, sc.ATTR_JOB_MEMORY_PEAK_BYTES, counters.memoryPeakBytes, direct);
  setNew(span, existing, sc.ATTR_JOB_NETWORK_BYTES_SENT, counters.bytesSent, direct);
  setNew(span, existing, sc.ATTR_JOB_NETWORK_BYTES_RECEIVED, counters.bytesReceived, direct);
  setNew(span, existing, sc.ATTR_CARBON_ATTRIBUTION, counters.attribution, direct);
  setNew(span, existing, sc.ATTR_JOB_GPU_JOULES, counters.gpuJoules, direct);
  setNew(span, existing, sc.ATTR_JOB_CPU_JOULES, counters.cpuJoules, direct);
  return counters;
}

function setNew(
  span: Span,
  existing: Attributes | undefined,
  key: string,
  value: number | string | undefined,
  direct: boolean,
): void {
  if (value !== undefined && existing?.[key] === undefined) setSpanAttribute(span, key, value, direct);
}
