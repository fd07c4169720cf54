export { type JobScope, jobContext } from "./context.ts";
export { ATTRIBUTION_MODES, type AttributionMode, SAMPLER_DEFAULTS } from "./defaults.ts";
export { JOB_TRACER_NAME, type JobHandle, type JobOptions, startJob, withJob } from "./job.ts";
export {
  type CpuClock,
  defaultJobMeter,
  type GpuEnergySource,
  type JobCounters,
  type JobMeasurement,
  JobMeter,
  type JobMeterOptions,
  type MeterClocks,
} from "./meter.ts";
export {
  beginSpanMeasurement,
  countersToAttributes,
  finishSpanMeasurement,
} from "./spans.ts";
