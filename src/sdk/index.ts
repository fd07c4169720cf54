export { cloudEnvDetector } from "./cloudDetector.ts";
export { type CarbonSdk, type CarbonSdkOptions, startCarbonSdk } from "./startCarbonSdk.ts";
export {
  exportProcessors,
  type TraceExporterChoice,
  type TraceExporterName,
  traceExportersFromEnv,
} from "./traceExporters.ts";
