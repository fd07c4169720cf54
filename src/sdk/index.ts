export { cloudEnvDetector } from "./cloud-detector.ts";
export { type CarbonSdk, type CarbonSdkOptions, startCarbonSdk } from "./start-carbon-sdk.ts";
export {
  exportProcessors,
  type TraceExporterChoice,
  type TraceExporterName,
  traceExportersFromEnv,
} from "./trace-exporters.ts";
