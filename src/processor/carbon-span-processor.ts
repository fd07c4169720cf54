/**
 * Turns job spans into energy and CO₂e while they are still writable. `onStart` of a job span warms
 * the intensity cache for its zone and starts measuring it; `onEnding` (inside `span.end()`, before
 * the span turns read-only) writes the counters, runs the shared enrichment and records metrics.
 * Put it FIRST among span processors so every exporter after it sees the carbon.* attributes.
 *
 * Never throws into user code and never drops a span: a failure becomes `carbon.error`.
 */
import { type AttributeValue, type Context, diag, SpanStatusCode } from "@opentelemetry/api";
import { hrTimeToMilliseconds } from "@opentelemetry/core";
import type { ReadableSpan, Span, SpanProcessor } from "@opentelemetry/sdk-trace";
import { type Config, resolveLogicalCores } from "../config.ts";
import { isJobSpan, type JobRecord } from "../core/job-record.ts";
import type { IntensityProvider } from "../intensity/types.ts";
import { defaultJobMeter, type JobMeter } from "../job/meter.ts";
import { isSdkSpan, setSpanAttribute } from "../job/span-attributes.ts";
import { beginSpanMeasurement, finishSpanMeasurement } from "../job/spans.ts";
import type { CarbonMetrics } from "../metrics/carbon-metrics.ts";
import { cpuJoules } from "../model/cpu.ts";
import { createMachineCpuEnergy, type MachineCpuEnergyOptions } from "../power/attribution.ts";
import * as sc from "../semconv.ts";
import { bestHourLookup } from "./best-hour.ts";
import {
  type AttributeList,
  cpuModelParams,
  type EnrichOptions,
  enrichJobSpanInto,
  PRIORITY_CARBON_ATTRIBUTES,
  resolveJobZone,
} from "./enrich.ts";

const PRIORITY_KEYS: ReadonlySet<string> = new Set(PRIORITY_CARBON_ATTRIBUTES);

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
  readonly #list: AttributeList = { keys: [], values: [] };
  #listBusy = false;

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
      const zone = resolveJobZone(
        { attributes: span.attributes, resource: span.resource.attributes },
        this.#config,
      );
      this.#provider.warm(zone.zone);
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

  #enrich(span: Span): void {
    // carbon.attribution (written by the meter) is read from the span by enrichJobSpan.
    // The processor's own lists, emptied and reused; fresh ones if a write below re-enters (a diag
    // logger that ends a job span of its own).
    const reuse = !this.#listBusy;
    const list: AttributeList = reuse ? this.#list : { keys: [], values: [] };
    list.keys.length = 0;
    list.values.length = 0;
    this.#listBusy = true;
    try {
      this.#write(span, list);
    } finally {
      if (reuse) this.#listBusy = false;
    }
  }

  #write(span: Span, list: AttributeList): void {
    const options = this.#enrichOptions;
    const { record } = enrichJobSpanInto(
      {
        attributes: span.attributes,
        resource: span.resource.attributes,
        startMs: hrTimeToMilliseconds(span.startTime),
        endMs: hrTimeToMilliseconds(span.endTime),
        isError: span.status.code === SpanStatusCode.ERROR,
      },
      options,
      list,
    );
    // The span attribute count limit drops what comes last, so the figures the metrics and a
    // gateway need go first, then carbon.metrics.recorded, then the rest.
    const { keys, values } = list;
    const direct = isSdkSpan(span);
    // One attribute at a time, from the lists (no object per job): the priority ones, then the rest.
    // enrichJobSpanInto puts the priority keys first, so they are the list's leading run.
    let first = 0;
    for (; first < keys.length && PRIORITY_KEYS.has(keys[first] as string); first++) {
      setSpanAttribute(span, keys[first] as string, values[first] as AttributeValue, direct);
    }
    if (record && this.#metrics) this.#record(span, record, direct);
    for (let i = first; i < keys.length; i++) {
      const key = keys[i] as string;
      if (!PRIORITY_KEYS.has(key)) setSpanAttribute(span, key, values[i] as AttributeValue, direct);
    }
  }

  /**
   * Counts the job in the metrics only when the exported span will show it was counted: its
   * carbon.co2e.grams and carbon.metrics.recorded both fit under the attribute limit. Otherwise a
   * gateway downstream, seeing no carbon.metrics.recorded, would count the job a second time.
   */
  #record(span: Span, record: JobRecord, direct: boolean): void {
    if (span.attributes[sc.ATTR_CARBON_CO2E_GRAMS] !== undefined) {
      // Set before recording so its slot is known to be there; undone if recording fails.
      setSpanAttribute(span, sc.ATTR_CARBON_METRICS_RECORDED, true, direct);
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
