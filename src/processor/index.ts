export { BEST_HOUR_SPAN_MS, bestHourFromRows } from "./best-hour.ts";
export { CarbonSpanProcessor, type CarbonSpanProcessorOptions } from "./carbon-span-processor.ts";
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
