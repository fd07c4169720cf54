import type { CarbonMetrics } from "../../src/metrics/carbon-metrics.ts";

/** CarbonMetrics that only note the name of each job recorded, in order. */
export function recordingMetrics(): { metrics: CarbonMetrics; recorded: string[] } {
  const recorded: string[] = [];
  const metrics: CarbonMetrics = {
    recordJob: (r) => {
      recorded.push(r.jobName);
    },
    intensityObserver: { onRequest: () => {}, onValue: () => {} },
  };
  return { metrics, recorded };
}
