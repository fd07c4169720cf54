/**
 * Links spans to their running measurement. Whoever sees a job span first starts measuring it: the
 * CarbonSpanProcessor in `onStart` (so spans started by any code with a `job.name` attribute are
 * measured), or `withJob`/`startJob` when no carbon processor is registered. The counters are
 * written as `job.*` attributes just before the span ends, never over values the span already
 * carries (code that measured its own job wins).
 */
import type { Attributes, Span } from "@opentelemetry/api";
import * as sc from "../semconv.ts";
import { namedSetterIfAbsent } from "../util/named-setter.ts";
import { jobContext } from "./context.ts";
import { defaultJobMeter, type JobCounters, type JobMeasurement, type JobMeter } from "./meter.ts";
import {
  directSpanAttributes,
  isSdkSpan,
  recountSpanAttributes,
  setSpanAttribute,
} from "./span-attributes.ts";

/** The counters' attributes, each written only where the span has none (code that measured wins). */
const put = {
  cpuSeconds: namedSetterIfAbsent<number>(sc.ATTR_JOB_CPU_SECONDS),
  attributedSeconds: namedSetterIfAbsent<number>(sc.ATTR_JOB_ATTRIBUTED_SECONDS),
  memoryAvgBytes: namedSetterIfAbsent<number>(sc.ATTR_JOB_MEMORY_AVG_BYTES),
  memoryPeakBytes: namedSetterIfAbsent<number>(sc.ATTR_JOB_MEMORY_PEAK_BYTES),
  bytesSent: namedSetterIfAbsent<number>(sc.ATTR_JOB_NETWORK_BYTES_SENT),
  bytesReceived: namedSetterIfAbsent<number>(sc.ATTR_JOB_NETWORK_BYTES_RECEIVED),
  attribution: namedSetterIfAbsent<string>(sc.ATTR_CARBON_ATTRIBUTION),
  gpuJoules: namedSetterIfAbsent<number>(sc.ATTR_JOB_GPU_JOULES),
  cpuJoules: namedSetterIfAbsent<number>(sc.ATTR_JOB_CPU_JOULES),
};
const COUNTER_ATTRIBUTES = Object.keys(put).length;

/**
 * A span's running measurement, and its slot among the young spans (see below): -1 once a sweep
 * found it still running. Every span begun is in `young` until its end or the next sweep, so a
 * record still here with a slot ≥ 0 always points into the current list.
 */
interface Running {
  readonly measurement: JobMeasurement;
  slot: number;
}

const running = new WeakMap<object, Running>();

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

/**
 * Spans whose measurement began since the last sweep, held here until it. Registering every job
 * span with the FinalizationRegistry and unregistering it at its end costs ≈ 0.15 µs and an
 * allocation per job, and nearly every job ends well within a second; so a span is registered
 * only if it still runs at the first sweep after its start (≤ SWEEP_MS later). A span dropped
 * before that is kept alive until the sweep, then treated as above.
 *
 * An array whose slots are emptied when a job ends and reused by the next job, so it stays as long
 * as the most jobs that ran at once. Not a Set, and not an array that grows: a Set with an entry
 * added and deleted per job (or a growing array's old copies) kept finished spans reachable from
 * dead tables long enough for V8's young generation to promote them, and every job's objects then
 * went through the old generation (≈ 2.7 KB promoted per request-like job with the Set).
 */
let young: (object | undefined)[] = [];
let freeSlots: number[] = [];
const SWEEP_MS = 1000;
let sweepScheduled = false;

function sweep(): void {
  sweepScheduled = false;
  const spans = young;
  young = [];
  freeSlots = [];
  for (const span of spans) {
    if (span === undefined) continue;
    const r = running.get(span);
    if (r) {
      r.slot = -1;
      abandoned.register(span, r.measurement, span);
    }
  }
}

/** @internal Spans the young list holds now (tests: a finished job's span is not among them). */
export function youngSpanCount(): number {
  let count = 0;
  for (const span of young) if (span !== undefined) count++;
  return count;
}

export function beginSpanMeasurement(span: object, meter: JobMeter = defaultJobMeter()): JobMeasurement {
  const known = running.get(span);
  if (known) return known.measurement;
  const measurement = meter.start();
  const slot = freeSlots.length > 0 ? (freeSlots.pop() as number) : young.length;
  young[slot] = span;
  running.set(span, { measurement, slot });
  // Outside every job's context, so the sweep's own time is nobody's; it never keeps the process up.
  if (!sweepScheduled) {
    sweepScheduled = true;
    jobContext.exit(() => setTimeout(sweep, SWEEP_MS).unref());
  }
  return measurement;
}

/**
 * Stops the span's measurement (if any) and sets its counters on the span, skipping attributes the
 * span already has. Returns the counters, or undefined when the span was not being measured.
 */
export function finishSpanMeasurement(
  span: Span,
  options?: { synchronous?: boolean },
): JobCounters | undefined {
  const r = running.get(span);
  if (!r) return undefined;
  running.delete(span);
  if (r.slot < 0) abandoned.unregister(span);
  else {
    young[r.slot] = undefined;
    freeSlots.push(r.slot);
  }
  const m = r.measurement;
  const counters = m.finish(options);
  const direct = directSpanAttributes(span, COUNTER_ATTRIBUTES);
  if (direct) {
    // Named stores straight into the SDK span's attributes (see util/named-setter.ts).
    put.cpuSeconds(direct, counters.cpuSeconds);
    put.attributedSeconds(direct, counters.attributedSeconds);
    put.memoryAvgBytes(direct, Math.round(counters.memoryAvgBytes));
    put.memoryPeakBytes(direct, counters.memoryPeakBytes);
    put.bytesSent(direct, counters.bytesSent);
    put.bytesReceived(direct, counters.bytesReceived);
    put.attribution(direct, counters.attribution);
    if (counters.gpuJoules !== undefined) put.gpuJoules(direct, counters.gpuJoules);
    if (counters.cpuJoules !== undefined) put.cpuJoules(direct, counters.cpuJoules);
    recountSpanAttributes(span);
    return counters;
  }
  const existing = (span as unknown as { attributes?: Attributes }).attributes;
  const sdk = isSdkSpan(span);
  // One attribute at a time, skipping those the span has: no second object, no delete.
  setNew(span, existing, sc.ATTR_JOB_CPU_SECONDS, counters.cpuSeconds, sdk);
  setNew(span, existing, sc.ATTR_JOB_ATTRIBUTED_SECONDS, counters.attributedSeconds, sdk);
  setNew(span, existing, sc.ATTR_JOB_MEMORY_AVG_BYTES, Math.round(counters.memoryAvgBytes), sdk);
  setNew(span, existing, sc.ATTR_JOB_MEMORY_PEAK_BYTES, counters.memoryPeakBytes, sdk);
  setNew(span, existing, sc.ATTR_JOB_NETWORK_BYTES_SENT, counters.bytesSent, sdk);
  setNew(span, existing, sc.ATTR_JOB_NETWORK_BYTES_RECEIVED, counters.bytesReceived, sdk);
  setNew(span, existing, sc.ATTR_CARBON_ATTRIBUTION, counters.attribution, sdk);
  setNew(span, existing, sc.ATTR_JOB_GPU_JOULES, counters.gpuJoules, sdk);
  setNew(span, existing, sc.ATTR_JOB_CPU_JOULES, counters.cpuJoules, sdk);
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
