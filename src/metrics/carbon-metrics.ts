/**
 * The job and intensity metrics, through any OTel Meter. Instrument names come from semconv.ts;
 * the Prometheus exporter scrapes them as the `PROM_*` names (no unit suffix is added, so the unit
 * is in the instrument name).
 */
import type { Attributes, Meter } from "@opentelemetry/api";
import type { IntensityObserver, IntensityRequestOutcome, IntensityValue } from "../intensity/types.ts";
import { JOULES_PER_KWH } from "../model/constants.ts";
import type { JobRecord } from "../processor/enrich.ts";
import * as sc from "../semconv.ts";
import {
  CARBON_PER_RUN_BUCKETS_GRAMS,
  DURATION_BUCKETS_SECONDS,
  jobNameMatcher,
} from "./histogram-layout.ts";
import { JobNameLimiter, LabelValueLimiter } from "./job-name-limiter.ts";
import { SeriesBudget } from "./series-budget.ts";
import { carbonCardinalityLimit } from "./views.ts";

export interface CarbonMetrics {
  recordJob(record: JobRecord): void;
  readonly intensityObserver: IntensityObserver;
}

export interface CarbonMetricsOptions {
  /** Distinct job_name values before the rest become job_name="other". */
  jobNameLimit: number;
  /** Where the cap warnings go (one per cap). @default console.warn */
  warn?: (msg: string) => void;
  /** Distinct service_name values before the rest become service_name="other". @default SERVICE_NAME_LIMIT */
  serviceNameLimit?: number;
  /** The Views' per-instrument series limit, to warn before it is reached. @default carbonCardinalityLimit(jobNameLimit) */
  cardinalityLimit?: number;
  /**
   * job_name patterns (`*` = any characters) whose histograms keep service_name, as
   * metrics.fullHistograms; other jobs' histograms are per job_name only. @default []
   */
  fullHistograms?: readonly string[];
}

/**
 * Distinct `service_name` label values kept apart. Each gateway client names its own service, so
 * the value is not ours to bound; 100 services per gateway replica is far above what one team's
 * collector sees, and a fixed cap keeps the config small. Later services count as "other".
 */
export const SERVICE_NAME_LIMIT = 100;
/** service_name beyond the cap: the same word as for job_name. */
export const SERVICE_NAME_OVERFLOW = sc.JOB_NAME_OVERFLOW;

/** Separates label values in SeriesBudget keys (cannot appear in UTF-8 text we label with). */
const SEP = "\u0000";

/** Re-exported: the bucket bounds are part of this module's public surface. */
export { CARBON_PER_RUN_BUCKETS_GRAMS, DURATION_BUCKETS_SECONDS };

const ENERGY_COMPONENTS = [
  ["cpu", "cpuKwh"],
  ["memory", "memoryKwh"],
  ["gpu", "gpuKwh"],
  ["network", "networkKwh"],
  ["overhead", "overheadKwh"],
] as const;

export function createCarbonMetrics(meter: Meter, options: CarbonMetricsOptions): CarbonMetrics {
  const warn = options.warn ?? ((msg: string) => console.warn(msg));
  const limiter = new JobNameLimiter(options.jobNameLimit, warn);
  const services = new LabelValueLimiter({
    label: sc.LABEL_SERVICE_NAME,
    limit: options.serviceNameLimit ?? SERVICE_NAME_LIMIT,
    overflow: SERVICE_NAME_OVERFLOW,
    hint: `at most ${options.serviceNameLimit ?? SERVICE_NAME_LIMIT} services per process`,
    warn,
  });
  const budget = new SeriesBudget(
    options.cardinalityLimit ?? carbonCardinalityLimit(options.jobNameLimit),
    warn,
  );
  const fullHistograms = jobNameMatcher(options.fullHistograms ?? []);
  const runs = meter.createCounter(sc.METRIC_JOB_RUNS_INSTRUMENT, { description: "Finished jobs." });
  const duration = meter.createHistogram(sc.METRIC_JOB_DURATION_INSTRUMENT, {
    description: "Job duration, seconds.",
    advice: { explicitBucketBoundaries: [...DURATION_BUCKETS_SECONDS] },
  });
  const energy = meter.createCounter(sc.METRIC_JOB_ENERGY_INSTRUMENT, {
    description: "Job energy by component, joules (overhead = (PUE − 1) × IT energy).",
  });
  const carbon = meter.createCounter(sc.METRIC_JOB_CARBON_INSTRUMENT, {
    description: "Job emissions, gCO₂e, by scope (operational = location-based, embodied, market).",
  });
  const perRun = meter.createHistogram(sc.METRIC_JOB_CARBON_PER_RUN_INSTRUMENT, {
    description: "Operational gCO₂e per job run.",
    advice: { explicitBucketBoundaries: [...CARBON_PER_RUN_BUCKETS_GRAMS] },
  });
  const units = meter.createCounter(sc.METRIC_JOB_FUNCTIONAL_UNITS_INSTRUMENT, {
    description: "Functional units produced by jobs (SCI's R).",
  });
  const bestHour = meter.createCounter(sc.METRIC_JOB_CARBON_BEST_HOUR_INSTRUMENT, {
    description: "gCO₂e the same jobs would have emitted at the lowest intensity of the surrounding 24 h.",
  });
  const grid = meter.createGauge(sc.METRIC_GRID_INTENSITY_INSTRUMENT, {
    description: "Grid carbon intensity last used or fetched, gCO₂e/kWh.",
  });
  const requests = meter.createCounter(sc.METRIC_INTENSITY_REQUESTS_INSTRUMENT, {
    description: "Requests to the live intensity provider by outcome.",
  });

  const onValue = (value: IntensityValue): void => {
    if (!Number.isFinite(value.gramsPerKwh)) return;
    grid.record(value.gramsPerKwh, { [sc.LABEL_ZONE]: value.zone, [sc.LABEL_SOURCE]: value.source });
  };

  return {
    intensityObserver: {
      onRequest(provider: string, outcome: IntensityRequestOutcome): void {
        requests.add(1, { [sc.LABEL_PROVIDER]: provider, [sc.LABEL_OUTCOME]: outcome });
      },
      onValue,
    },
    recordJob(record: JobRecord): void {
      const jobName = limiter.label(record.jobName);
      const serviceName = services.label(record.serviceName);
      const job: Attributes = { [sc.LABEL_JOB_NAME]: jobName, [sc.LABEL_SERVICE_NAME]: serviceName };
      const source = record.intensity.source;
      const zoneSource = { [sc.LABEL_ZONE]: record.zone, [sc.LABEL_SOURCE]: source };
      // Series keys for the budget: co2e_job_runs and job_carbon are the widest instruments, energy has
      // up to five per job; the others have one series per (job_name, service_name), as energy/cpu.
      const jobKey = jobName + SEP + serviceName;
      const placeKey = SEP + record.zone + SEP + source;
      budget.note(
        sc.METRIC_JOB_RUNS_INSTRUMENT,
        jobKey + placeKey + SEP + record.status + SEP + record.attribution,
      );
      runs.add(1, {
        ...job,
        [sc.LABEL_STATUS]: record.status,
        ...zoneSource,
        [sc.LABEL_ATTRIBUTION]: record.attribution,
      });
      // The histograms: per job_name, unless the job asked for full histograms (histogram-layout.ts).
      const histogramLabels: Attributes = fullHistograms(jobName) ? job : { [sc.LABEL_JOB_NAME]: jobName };
      duration.record(record.durationSeconds, histogramLabels);
      const e = record.footprint.energy;
      for (const [component, key] of ENERGY_COMPONENTS) {
        const joules = e[key] * JOULES_PER_KWH;
        // Always the cpu series (stable for boards); the others once they are non-zero.
        if (joules > 0 || component === "cpu") {
          budget.note(sc.METRIC_JOB_ENERGY_INSTRUMENT, jobKey + SEP + component);
          energy.add(joules, { ...job, [sc.LABEL_COMPONENT]: component });
        }
      }
      const fp = record.footprint;
      budget.note(sc.METRIC_JOB_CARBON_INSTRUMENT, `${jobKey}${placeKey}${SEP}operational`);
      carbon.add(fp.co2eGrams, { ...job, [sc.LABEL_SCOPE]: "operational", ...zoneSource });
      if (fp.embodiedGrams !== undefined) {
        budget.note(sc.METRIC_JOB_CARBON_INSTRUMENT, `${jobKey}${placeKey}${SEP}embodied`);
        carbon.add(fp.embodiedGrams, { ...job, [sc.LABEL_SCOPE]: "embodied", ...zoneSource });
      }
      if (fp.marketGrams !== undefined) {
        budget.note(sc.METRIC_JOB_CARBON_INSTRUMENT, `${jobKey}${placeKey}${SEP}market`);
        carbon.add(fp.marketGrams, { ...job, [sc.LABEL_SCOPE]: "market", ...zoneSource });
      }
      perRun.record(fp.co2eGrams, histogramLabels);
      if (record.functionalUnits !== undefined && record.functionalUnits > 0)
        units.add(record.functionalUnits, job);
      if (record.bestHourGrams !== undefined) bestHour.add(record.bestHourGrams, job);
      onValue(record.intensity);
    },
  };
}
