export { BEST_HOUR_SPAN_MS, bestHourFromRows } from "./bestHour.ts";
export { CarbonSpanProcessor, type CarbonSpanProcessorOptions } from "./CarbonSpanProcessor.ts";
export {
  type BestHourLookup,
  type EnrichOptions,
  type EnrichResult,
  enrichJobSpan,
  footprintParams,
  type IntensityLookup,
  isJobSpan,
  type JobRecord,
  type JobSpanData,
  resolveJobZone,
  usageFromAttributes,
} from "./enrich.ts";
