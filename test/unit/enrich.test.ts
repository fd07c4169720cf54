/**
 * The shared enrichment path (in-process processor and gateway): zone precedence, the span's own
 * carbon.attribution, and job.attributed_seconds reaching the model.
 */
import { describe, expect, it } from "vitest";
import { type Config, DEFAULT_CONFIG_PATH, loadConfig, parseConfig } from "../../src/config.ts";
import type { IntensityValue } from "../../src/intensity/types.ts";
import { DEFAULT_ZONE } from "../../src/intensity/zone.ts";
import {
  enrichJobSpan,
  PRIORITY_CARBON_ATTRIBUTES,
  resolveJobZone,
  usageFromAttributes,
} from "../../src/processor/enrich.ts";
import * as sc from "../../src/semconv.ts";

const awsUsEast = { "cloud.provider": "aws", "cloud.region": "us-east-1" };

function zoneOf(
  config: Config,
  resource: Record<string, string> = {},
  attributes: Record<string, string> = {},
) {
  return resolveJobZone({ attributes: { [sc.ATTR_JOB_NAME]: "j", ...attributes }, resource }, config);
}

describe("zone precedence: attribute → config → resource cloud region → default", () => {
  it("config zone DE beats the resource's aws/us-east-1", () => {
    expect(zoneOf(parseConfig({ zone: "DE" }), awsUsEast)).toMatchObject({
      zone: "DE",
      resolvedBy: "config",
    });
  });

  it("without a config zone the resource's cloud region decides", () => {
    const r = zoneOf(parseConfig({}), awsUsEast);
    expect(r.resolvedBy).toBe("cloud-region");
    expect(r.zone).toBe("US-MIDA-PJM");
  });

  it("nothing anywhere → WORLD, resolved by default", () => {
    expect(DEFAULT_ZONE).toBe("WORLD");
    expect(zoneOf(parseConfig({}))).toMatchObject({ zone: "WORLD", resolvedBy: "default" });
  });

  it("config.cloud counts as config and beats the resource; config.zone beats config.cloud", () => {
    const cloud = parseConfig({ cloud: { provider: "aws", region: "eu-west-1" } });
    expect(zoneOf(cloud, awsUsEast)).toMatchObject({ zone: "IE", resolvedBy: "config" });
    const both = parseConfig({ zone: "FR", cloud: { provider: "aws", region: "eu-west-1" } });
    expect(zoneOf(both, awsUsEast)).toMatchObject({ zone: "FR", resolvedBy: "config" });
  });

  it("the job's own carbon.zone beats everything, even an unknown configured region", () => {
    const config = parseConfig({ zone: "DE", cloud: { provider: "aws", region: "mars-1" } });
    expect(zoneOf(config, awsUsEast, { [sc.ATTR_CARBON_ZONE]: "se" })).toMatchObject({
      zone: "SE",
      resolvedBy: "attribute",
    });
    expect(() => zoneOf(parseConfig({ cloud: { provider: "aws", region: "mars-1" } }))).toThrow(
      /CO2E_ERR_UNKNOWN_REGION|unknown aws region/,
    );
  });

  it("the shipped config names no zone, and CO2E_ZONE sets the config zone", () => {
    expect(loadConfig({ file: DEFAULT_CONFIG_PATH, env: {} }).zone).toBeUndefined();
    const fromEnv = loadConfig({ file: DEFAULT_CONFIG_PATH, env: { CO2E_ZONE: "PL" } });
    expect(zoneOf(fromEnv, awsUsEast)).toMatchObject({ zone: "PL", resolvedBy: "config" });
  });
});

describe("enrichJobSpan", () => {
  const intensity: IntensityValue = {
    gramsPerKwh: 100,
    zone: "DE",
    source: "configured",
    method: "configured",
  };
  const base = { resource: {}, startMs: 0, endMs: 3_600_000, isError: false };
  const config = parseConfig({
    zone: "DE",
    model: { cpu: { model: "linear", minWattsPerVcpu: 2, maxWattsPerVcpu: 4, vcpus: 1 } },
    embodied: { totalEmbodiedKg: 1000, lifespanYears: 4, reservedShare: 1 },
  });
  const enrich = (attributes: Record<string, string | number>, attribution?: sc.Attribution) =>
    enrichJobSpan(
      { ...base, attributes: { [sc.ATTR_JOB_NAME]: "j", ...attributes } },
      { config, logicalCores: 4, intensity: () => intensity, ...(attribution ? { attribution } : {}) },
    );

  it("keeps the span's carbon.attribution unless the caller overrides it", () => {
    expect(enrich({ [sc.ATTR_CARBON_ATTRIBUTION]: "shared" }).attributes[sc.ATTR_CARBON_ATTRIBUTION]).toBe(
      "shared",
    );
    expect(enrich({ [sc.ATTR_CARBON_ATTRIBUTION]: "shared" }).record?.attribution).toBe("shared");
    expect(enrich({}).attributes[sc.ATTR_CARBON_ATTRIBUTION]).toBe("exclusive");
    expect(enrich({ [sc.ATTR_CARBON_ATTRIBUTION]: "bogus" }).attributes[sc.ATTR_CARBON_ATTRIBUTION]).toBe(
      "exclusive",
    );
    expect(
      enrich({ [sc.ATTR_CARBON_ATTRIBUTION]: "shared" }, "exclusive").attributes[sc.ATTR_CARBON_ATTRIBUTION],
    ).toBe("exclusive");
  });

  it("job.attributed_seconds scales idle power and the embodied share, not the job's own use", () => {
    expect(usageFromAttributes({ [sc.ATTR_JOB_ATTRIBUTED_SECONDS]: 900 }, 3600).attributedSeconds).toBe(900);
    expect(usageFromAttributes({}, 3600).attributedSeconds).toBeUndefined();
    const alone = enrich({ [sc.ATTR_JOB_CPU_SECONDS]: 0 });
    const quarter = enrich({ [sc.ATTR_JOB_CPU_SECONDS]: 0, [sc.ATTR_JOB_ATTRIBUTED_SECONDS]: 900 });
    const cpu = (r: typeof alone) => r.attributes[sc.ATTR_CARBON_ENERGY_CPU_KWH] as number;
    const embodied = (r: typeof alone) => r.attributes[sc.ATTR_CARBON_EMBODIED_GRAMS] as number;
    // 2 W idle for 1 h = 0.002 kWh alone; a quarter of it when a quarter of the hour is the job's.
    expect(cpu(alone)).toBeCloseTo(0.002, 15);
    expect(cpu(quarter)).toBeCloseTo(0.0005, 15);
    expect(embodied(quarter) * 4).toBeCloseTo(embodied(alone), 9);
    // Used CPU is charged in full either way: (4 − 2) W × 360 s.
    const busy = enrich({ [sc.ATTR_JOB_CPU_SECONDS]: 360, [sc.ATTR_JOB_ATTRIBUTED_SECONDS]: 900 });
    expect(cpu(busy) - cpu(quarter)).toBeCloseTo((2 * 360) / 3.6e6, 15);
  });

  it("writes CO₂e, zone, source and energy first (an attribute count limit drops the last ones)", () => {
    expect(PRIORITY_CARBON_ATTRIBUTES).toEqual([
      sc.ATTR_CARBON_CO2E_GRAMS,
      sc.ATTR_CARBON_INTENSITY_ZONE,
      sc.ATTR_CARBON_INTENSITY_SOURCE,
      sc.ATTR_CARBON_ENERGY_KWH,
    ]);
    const keys = Object.keys(enrich({ [sc.ATTR_JOB_CPU_SECONDS]: 1 }).attributes);
    expect(keys.slice(0, 4)).toEqual([...PRIORITY_CARBON_ATTRIBUTES]);
  });

  it("figures the best hour only for a live (electricitymaps) intensity, never for a fallback", () => {
    const span = { ...base, attributes: { [sc.ATTR_JOB_NAME]: "j", [sc.ATTR_JOB_CPU_SECONDS]: 360 } };
    let asked = 0;
    // Cached live rows say 40 g/kWh was available: used for a live span, ignored for the others.
    const bestHour = () => {
      asked++;
      return 40;
    };
    const run = (value: IntensityValue) =>
      enrichJobSpan(span, { config, logicalCores: 4, intensity: () => value, bestHour });

    const live = run({ ...intensity, source: "electricitymaps", method: "time-weighted" });
    const kwh = live.attributes[sc.ATTR_CARBON_ENERGY_KWH] as number;
    expect(live.attributes[sc.ATTR_CARBON_CO2E_GRAMS_AT_BEST_HOUR]).toBeCloseTo(kwh * 40, 12);
    expect(live.record?.bestHourGrams).toBeCloseTo(kwh * 40, 12);
    expect(asked).toBe(1);

    // Live provider down, static table answered: no best-hour figure at all.
    const fallback = run({
      ...intensity,
      gramsPerKwh: 30,
      source: "static",
      method: "yearly-average",
      fallbackReason: "electricitymaps unavailable",
    });
    expect(fallback.attributes[sc.ATTR_CARBON_CO2E_GRAMS]).toBeTypeOf("number");
    expect(fallback.attributes).not.toHaveProperty(sc.ATTR_CARBON_CO2E_GRAMS_AT_BEST_HOUR);
    expect(fallback.record?.bestHourGrams).toBeUndefined();
    expect(run(intensity).record?.bestHourGrams).toBeUndefined(); // configured
    expect(asked).toBe(1);
  });
});
