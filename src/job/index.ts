export { JOB_TRACER_NAME, type JobHandle, type JobOptions, startJob, withJob } from "./job.ts";
export {
  type CpuClock,
  defaultJobMeter,
  type GpuEnergySource,
  type JobCounters,
  type JobMeasurement,
  JobMeter,
  type JobMeterOptions,
} from "./meter.ts";
export { jobNetworkContext } from "./network.ts";
export {
  beginSpanMeasurement,
  countersToAttributes,
  finishSpanMeasurement,
} from "./spans.ts";
