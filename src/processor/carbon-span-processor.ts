/**
 * Turns job spans into energy and CO₂e while they are still writable. `onStart` of a job span warms
 * the intensity cache for its zone and starts measuring it; `onEnding` (inside `span.end()`, before
 * the span turns read-only) writes the counters, runs the shared enrichment and records metrics.
 * Put it FIRST among span processors so every exporter after it sees the carbon.* attributes.
 *
 * Never throws into user code and never drops a span: a failure becomes `carbon.error`.
 */
import { type Attributes, type AttributeValue, type Context, diag, SpanStatusCode } from "@opentelemetry/api";
import { hrTimeToMilliseconds } from "@opentelemetry/core";
import type { ReadableSpan, Span, SpanProcessor } from "@opentelemetry/sdk-trace";
import { type Config, resolveLogicalCores } from "../config.ts";
import { isJobSpan, type JobRecord } from "../core/job-record.ts";
import type { IntensityProvider } from "../intensity/types.ts";
import type { ResolvedZone } from "../intensity/zone.ts";
import { defaultJobMeter, type JobMeter } from "../job/meter.ts";
import {
  directSpanAttributes,
  isSdkSpan,
  recountSpanAttributes,
  setSpanAttribute,
} from "../job/span-attributes.ts";
import { beginSpanMeasurement, finishSpanMeasurement } from "../job/spans.ts";
import type { CarbonMetrics } from "../metrics/carbon-metrics.ts";
import { cpuJoules } from "../model/cpu.ts";
import { createMachineCpuEnergy, type MachineCpuEnergyOptions } from "../power/attribution.ts";
import * as sc from "../semconv.ts";
import { namedSetter } from "../util/named-setter.ts";
import { resourceAttributesNow } from "../util/resource-attributes.ts";
import { bestHourLookup } from "./best-hour.ts";
import {
  cpuModelParams,
  type EnrichOptions,
  enrichJobSpanInto,
  type JobSpanData,
  MAX_ENRICHED_ATTRIBUTES,
  PRIORITY_CARBON_ATTRIBUTES,
  resolveJobZone,
} from "./enrich.ts";

const PRIORITY_KEYS: ReadonlySet<string> = new Set(PRIORITY_CARBON_ATTRIBUTES);
const setMetricsRecorded = namedSetter<boolean>(sc.ATTR_CARBON_METRICS_RECORDED);
/** Distinct `carbon.zone` values cached per resource. */
const MAX_CACHED_ZONES = 64;

export interface CarbonSpanProcessorOptions {
  config: Config;
  provider: IntensityProvider;
  /** Where finished jobs are counted; can also be attached later with setMetrics(). */
  metrics?: CarbonMetrics;
  /** @default config.model.cpu.logicalCores, else os.availableParallelism() */
  logicalCores?: number;
  /**
   * Meter for job spans started by code other than withJob/startJob.
   * @default the thread's shared meter
   */
  meter?: JobMeter;
  /**
   * Where the `rapl` CPU model reads package energy and machine CPU time (tests point these at
   * fake trees). Only used when config.model.cpu.model is `rapl`.
   * @default /sys/class/powercap and /proc
   */
  rapl?: MachineCpuEnergyOptions;
}

export class CarbonSpanProcessor implements SpanProcessor {
  readonly #config: Config;
  readonly #provider: IntensityProvider;
  readonly #logicalCores: number;
  readonly #meter: JobMeter;
  /** Built once: config, cores and provider never change after construction. */
  readonly #enrichOptions: EnrichOptions;
  #metrics: CarbonMetrics | undefined;
  #shutdown = false;
  #errorsReported = 0;
  #limitWarned = false;
  /**
   * Resolved zones by resource attributes (one object per TracerProvider) and the span's own
   * `carbon.zone` (or ""): the resolution is otherwise repeated at each job's start and end.
   */
  readonly #zones = new WeakMap<object, Map<string, ResolvedZone>>();

  constructor(options: CarbonSpanProcessorOptions) {
    this.#config = options.config;
    this.#provider = options.provider;
    this.#logicalCores = options.logicalCores ?? resolveLogicalCores(options.config.model.cpu);
    const provider = options.provider;
    this.#enrichOptions = {
      config: options.config,
      logicalCores: this.#logicalCores,
      intensity: (zone, window) => provider.lookup(zone, window),
    };
    const bestHour = bestHourLookup(provider);
    if (bestHour) this.#enrichOptions.bestHour = bestHour;
    this.#meter = options.meter ?? defaultJobMeter();
    this.#meter.setIntervalMs(options.config.sampler.intervalMs);
    this.#meter.setMaxJobSeconds(options.config.sampler.maxJobSeconds);
    this.#meter.setAttribution(options.config.sampler.attribution);
    this.setMetrics(options.metrics);
    // rapl: attach measured package energy to the meter when readable; otherwise the jobs carry no
    // job.cpu.joules and enrichment falls back to tdp. A meter that has a source keeps it.
    if (options.config.model.cpu.model === "rapl" && !this.#meter.hasCpuEnergy) {
      const source = createMachineCpuEnergy(options.rapl);
      if (source) this.#meter.setCpuEnergy(source);
      else diag.info("otel-co2e: rapl CPU model: powercap not readable, using the tdp fallback");
    }
  }

  /** Attaches the metrics once the meter provider exists (the SDK preset builds it after us). */
  setMetrics(metrics: CarbonMetrics | undefined): void {
    this.#metrics = metrics;
    const meter = this.#meter;
    // The CPU no job was charged for, with the energy of the same model (no measured joules for
    // it: the rapl model falls back to its tdp figure; linear counts only the dynamic part).
    const params = cpuModelParams(this.#config, this.#logicalCores, false);
    metrics?.addUnattributedSource?.(meter, {
      cpuSeconds: () => meter.unattributedCpuSeconds(),
      joules: (cpuSeconds) => cpuJoules({ cpuSeconds, durationSeconds: 0 }, params),
    });
  }

  onStart(span: Span, _parentContext: Context): void {
    if (this.#shutdown || !isJobSpan(span.attributes)) return;
    try {
      beginSpanMeasurement(span, this.#meter);
      this.#provider.warm(this.#zoneOf(span.attributes, resourceAttributesNow(span.resource)).zone);
    } catch {
      // An unknown zone is reported by onEnding as carbon.error; nothing to warm.
    }
  }

  onEnding(span: Span): void {
    if (!isJobSpan(span.attributes)) return;
    // After shutdown we still write the counters of a measured span but skip enrichment.
    try {
      finishSpanMeasurement(span);
      if (this.#shutdown) return;
      this.#enrich(span);
    } catch (error) {
      this.#fail(span, error);
    }
  }

  /** The span's zone through the cache; throws as resolveJobZone does for an unknown zone. */
  #zoneOf(attributes: Attributes, resource: Attributes): ResolvedZone {
    const own = attributes[sc.ATTR_CARBON_ZONE];
    const key = typeof own === "string" ? own : "";
    let byOwn = this.#zones.get(resource);
    if (!byOwn) {
      byOwn = new Map();
      this.#zones.set(resource, byOwn);
    }
    let zone = byOwn.get(key);
    if (!zone) {
      zone = resolveJobZone({ attributes, resource }, this.#config);
      // Bounded: a span-supplied carbon.zone is client input.
      if (byOwn.size < MAX_CACHED_ZONES) byOwn.set(key, zone);
    }
    return zone;
  }

  #enrich(span: Span): void {
    // carbon.attribution (written by the meter) is read from the span by enrichJobSpanInto.
    const resource = resourceAttributesNow(span.resource);
    let zone: ResolvedZone | undefined;
    try {
      zone = this.#zoneOf(span.attributes, resource);
    } catch {
      // enrichJobSpanInto resolves it again and writes the error as carbon.error.
    }
    const data: JobSpanData = {
      attributes: span.attributes,
      resource,
      startMs: hrTimeToMilliseconds(span.startTime),
      endMs: hrTimeToMilliseconds(span.endTime),
      isError: span.status.code === SpanStatusCode.ERROR,
    };
    // Room for every carbon attribute and carbon.metrics.recorded: straight into the span's own
    // attributes, no limit can drop any of them.
    const direct = directSpanAttributes(span, MAX_ENRICHED_ATTRIBUTES + 1);
    if (direct) {
      const { record } = enrichJobSpanInto(data, this.#enrichOptions, direct, zone);
      if (record && this.#metrics) {
        setMetricsRecorded(direct, true);
        this.#record(span, record);
      }
      recountSpanAttributes(span);
      return;
    }
    // Near the attribute count limit (or under a value length limit), through the SDK's rules
    // one at a time. The limit drops what comes last, so the figures the metrics and a gateway
    // need go first, then carbon.metrics.recorded, then the rest.
    const carbon: Attributes = {};
    const { record } = enrichJobSpanInto(data, this.#enrichOptions, carbon, zone);
    const sdk = isSdkSpan(span);
    let priority = true;
    for (const key in carbon) {
      if (priority && !PRIORITY_KEYS.has(key)) {
        priority = false;
        if (record && this.#metrics) this.#recordIfKept(span, record, sdk);
      }
      setSpanAttribute(span, key, carbon[key] as AttributeValue, sdk);
    }
    if (priority && record && this.#metrics) this.#recordIfKept(span, record, sdk);
  }

  /**
   * Counts the job in the metrics only when the exported span will show it was counted: its
   * carbon.co2e.grams and carbon.metrics.recorded both fit under the attribute limit. Otherwise a
   * gateway downstream, seeing no carbon.metrics.recorded, would count the job a second time.
   */
  #recordIfKept(span: Span, record: JobRecord, sdk: boolean): void {
    if (span.attributes[sc.ATTR_CARBON_CO2E_GRAMS] !== undefined) {
      // Set before recording so its slot is known to be there; undone if recording fails.
      setSpanAttribute(span, sc.ATTR_CARBON_METRICS_RECORDED, true, sdk);
    }
    if (span.attributes[sc.ATTR_CARBON_METRICS_RECORDED] !== true) {
      if (!this.#limitWarned) {
        this.#limitWarned = true;
        diag.warn(
          "otel-co2e: a job span hit the span attribute count limit (OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT) before its carbon.* attributes; it is not counted in this process's metrics",
        );
      }
      return;
    }
    this.#record(span, record);
  }

  /** Records a job whose span says carbon.metrics.recorded; takes that back if recording fails. */
  #record(span: Span, record: JobRecord): void {
    try {
      this.#metrics?.recordJob(record);
    } catch (error) {
      // Not counted here: a gateway further down the pipeline may count it.
      span.setAttribute(sc.ATTR_CARBON_METRICS_RECORDED, false);
      this.#report(error);
    }
  }

  #fail(span: Span, error: unknown): void {
    try {
      span.setAttribute(sc.ATTR_CARBON_ERROR, error instanceof Error ? error.message : String(error));
    } catch {
      // The span refused the attribute; nothing else we can do without throwing.
    }
    this.#report(error);
  }

  /** Unexpected failures go to the OTel diag logger, a bounded number of times. */
  #report(error: unknown): void {
    if (this.#errorsReported++ < 10) diag.error("otel-co2e: carbon enrichment failed", error);
  }

  onEnd(_span: ReadableSpan): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  /** Idempotent. Does not close the intensity provider: whoever created it closes it. */
  shutdown(): Promise<void> {
    this.#shutdown = true;
    return Promise.resolve();
  }
}
