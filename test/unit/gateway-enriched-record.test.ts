/** recordFromEnrichedAttributes: a JobRecord from a span some other otel-co2e process enriched. */
import { describe, expect, it } from "vitest";
import {
  isEnriched,
  metricsRecorded,
  recordFromEnrichedAttributes,
} from "../../src/gateway/enriched-record.ts";
import { forwardTracesUrl } from "../../src/gateway/forwarder.ts";
import * as sc from "../../src/semconv.ts";

const timing = { startMs: 1_000, endMs: 4_500, isError: false };
const full = {
  [sc.ATTR_JOB_NAME]: "nightly",
  [sc.ATTR_JOB_FUNCTIONAL_UNITS]: 10,
  [sc.ATTR_CARBON_ENERGY_KWH]: 0.3,
  [sc.ATTR_CARBON_ENERGY_CPU_KWH]: 0.1,
  [sc.ATTR_CARBON_ENERGY_MEMORY_KWH]: 0.05,
  [sc.ATTR_CARBON_ENERGY_GPU_KWH]: 0.1,
  [sc.ATTR_CARBON_ENERGY_NETWORK_KWH]: 0.01,
  [sc.ATTR_CARBON_ENERGY_OVERHEAD_KWH]: 0.04,
  [sc.ATTR_CARBON_PUE]: 1.16,
  [sc.ATTR_CARBON_INTENSITY]: 250,
  [sc.ATTR_CARBON_INTENSITY_ZONE]: "PL",
  [sc.ATTR_CARBON_INTENSITY_SOURCE]: "electricitymaps",
  [sc.ATTR_CARBON_INTENSITY_METHOD]: "time-weighted",
  [sc.ATTR_CARBON_INTENSITY_ESTIMATED]: true,
  [sc.ATTR_CARBON_INTENSITY_AGE_SECONDS]: 120,
  [sc.ATTR_CARBON_CO2E_GRAMS]: 75,
  [sc.ATTR_CARBON_CO2E_MARKET_GRAMS]: 30,
  [sc.ATTR_CARBON_EMBODIED_GRAMS]: 4,
  [sc.ATTR_CARBON_SCI_GRAMS_PER_UNIT]: 7.9,
  [sc.ATTR_CARBON_COST]: 0.004,
  [sc.ATTR_CARBON_CO2E_GRAMS_AT_BEST_HOUR]: 40,
  [sc.ATTR_CARBON_ATTRIBUTION]: "shared",
};

describe("recordFromEnrichedAttributes", () => {
  it("takes every figure from the span, labels from the resource and timing", () => {
    expect(
      recordFromEnrichedAttributes(full, { "service.name": "ml" }, { ...timing, isError: true }),
    ).toEqual({
      jobName: "nightly",
      serviceName: "ml",
      status: "error",
      durationSeconds: 3.5,
      zone: "PL",
      intensity: {
        gramsPerKwh: 250,
        zone: "PL",
        source: "electricitymaps",
        method: "time-weighted",
        isEstimated: true,
        ageSeconds: 120,
      },
      attribution: "shared",
      functionalUnits: 10,
      bestHourGrams: 40,
      footprint: {
        energy: {
          cpuKwh: 0.1,
          memoryKwh: 0.05,
          gpuKwh: 0.1,
          networkKwh: 0.01,
          overheadKwh: 0.04,
          totalKwh: 0.3,
          pue: 1.16,
        },
        gramsPerKwh: 250,
        co2eGrams: 75,
        marketGrams: 30,
        embodiedGrams: 4,
        sciGramsPerUnit: 7.9,
        carbonCost: 0.004,
      },
    });
  });

  it("fills what may be missing: components 0, total their sum, PUE 1, exclusive, unknown_service", () => {
    const minimal = {
      [sc.ATTR_JOB_NAME]: "j",
      [sc.ATTR_CARBON_CO2E_GRAMS]: 2,
      [sc.ATTR_CARBON_ENERGY_CPU_KWH]: 0.01,
      [sc.ATTR_CARBON_INTENSITY_ZONE]: "FR",
      [sc.ATTR_CARBON_INTENSITY_SOURCE]: "static",
      [sc.ATTR_CARBON_ATTRIBUTION]: "bogus",
    };
    const record = recordFromEnrichedAttributes(minimal, {}, timing)!;
    expect(record.serviceName).toBe("unknown_service");
    expect(record.attribution).toBe("exclusive");
    expect(record.status).toBe("ok");
    expect(record.footprint.energy).toEqual({
      cpuKwh: 0.01,
      memoryKwh: 0,
      gpuKwh: 0,
      networkKwh: 0,
      overheadKwh: 0,
      totalKwh: 0.01,
      pue: 1,
    });
    expect(record.intensity.method).toBe("latest");
    expect(Number.isNaN(record.intensity.gramsPerKwh)).toBe(true);
    expect(record.bestHourGrams).toBeUndefined();
    expect(record.functionalUnits).toBeUndefined();
  });

  it("is undefined without job.name, a finite carbon.co2e.grams, a zone or a known source", () => {
    const without = (key: string) => Object.fromEntries(Object.entries(full).filter(([k]) => k !== key));
    expect(recordFromEnrichedAttributes(without(sc.ATTR_JOB_NAME), {}, timing)).toBeUndefined();
    expect(recordFromEnrichedAttributes(without(sc.ATTR_CARBON_CO2E_GRAMS), {}, timing)).toBeUndefined();
    expect(recordFromEnrichedAttributes(without(sc.ATTR_CARBON_INTENSITY_ZONE), {}, timing)).toBeUndefined();
    expect(
      recordFromEnrichedAttributes(without(sc.ATTR_CARBON_INTENSITY_SOURCE), {}, timing),
    ).toBeUndefined();
    expect(
      recordFromEnrichedAttributes({ ...full, [sc.ATTR_CARBON_INTENSITY_SOURCE]: "guess" }, {}, timing),
    ).toBeUndefined();
    expect(
      recordFromEnrichedAttributes({ ...full, [sc.ATTR_CARBON_CO2E_GRAMS]: "75" }, {}, timing),
    ).toBeUndefined();
  });

  it("tells enriched and already-counted spans apart", () => {
    expect(isEnriched(full)).toBe(true);
    expect(isEnriched({ [sc.ATTR_JOB_NAME]: "j" })).toBe(false);
    expect(metricsRecorded(full)).toBe(false);
    expect(metricsRecorded({ ...full, [sc.ATTR_CARBON_METRICS_RECORDED]: true })).toBe(true);
    expect(metricsRecorded({ ...full, [sc.ATTR_CARBON_METRICS_RECORDED]: false })).toBe(false);
  });
});

describe("forwardTracesUrl", () => {
  it("adds /v1/traces to a bare origin, like the Collector's otlphttp exporter", () => {
    expect(forwardTracesUrl("http://otel:4318")).toBe("http://otel:4318/v1/traces");
    expect(forwardTracesUrl("http://otel:4318/")).toBe("http://otel:4318/v1/traces");
    expect(forwardTracesUrl("https://[::1]:4318")).toBe("https://[::1]:4318/v1/traces");
  });

  it("keeps any other path as given", () => {
    expect(forwardTracesUrl("http://otel:4318/v1/traces")).toBe("http://otel:4318/v1/traces");
    expect(forwardTracesUrl("http://proxy/otlp/v1/traces")).toBe("http://proxy/otlp/v1/traces");
    expect(forwardTracesUrl("http://proxy/custom")).toBe("http://proxy/custom");
  });
});
