import type { JobRecord } from "../../src/core/job-record.ts";

/**
 * A JobRecord as the processor would hand it to the metrics: `grams` of operational emissions from
 * CPU energy alone at 400 g/kWh in DE (static), a 1 s run; `overrides` replace any field.
 */
export function jobRecord(overrides: Partial<JobRecord> = {}, grams = 1): JobRecord {
  return {
    jobName: "job",
    serviceName: "svc",
    status: "ok",
    durationSeconds: 1,
    zone: "DE",
    intensity: { gramsPerKwh: 400, zone: "DE", source: "static", method: "yearly-average" },
    attribution: "exclusive",
    footprint: {
      energy: {
        cpuKwh: grams / 400,
        memoryKwh: 0,
        gpuKwh: 0,
        networkKwh: 0,
        overheadKwh: 0,
        totalKwh: grams / 400,
        pue: 1,
      },
      gramsPerKwh: 400,
      co2eGrams: grams,
    },
    ...overrides,
  };
}
