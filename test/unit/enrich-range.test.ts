/**
 * Range and provenance on the span (processor/enrich.ts + processor/provenance.ts): bounds around
 * the central figures, the words of each component and of the intensity, the boundary, and the
 * JobRecord's band for the metrics.
 */
import type { Attributes } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config.ts";
import { staticIntensity } from "../../src/intensity/static.ts";
import type { IntensityValue } from "../../src/intensity/types.ts";
import { MODEL_VERSION } from "../../src/model/constants.ts";
import { enrichJobSpan } from "../../src/processor/enrich.ts";
import { describedAttributes } from "../../src/processor/provenance.ts";
import * as sc from "../../src/semconv.ts";

const HOUR_MS = 3_600_000;
const live: IntensityValue = {
  gramsPerKwh: 300,
  zone: "DE",
  source: "electricitymaps",
  method: "time-weighted",
  isEstimated: false,
  emissionFactorType: "lifecycle",
};

function enrich(attributes: Attributes, intensity: IntensityValue, model: Record<string, unknown> = {}) {
  const config = parseConfig({ zone: "DE", ...model });
  return enrichJobSpan(
    {
      attributes: { [sc.ATTR_JOB_NAME]: "j", ...attributes },
      resource: {},
      startMs: 0,
      endMs: HOUR_MS,
      isError: false,
    },
    { config, logicalCores: 4, intensity: () => intensity },
  );
}

const usage = {
  [sc.ATTR_JOB_CPU_SECONDS]: 1800,
  [sc.ATTR_JOB_MEMORY_AVG_BYTES]: 2 * 1024 ** 3,
  [sc.ATTR_JOB_NETWORK_BYTES_SENT]: 1e8,
};

const band = (a: Attributes) =>
  (a[sc.ATTR_CARBON_CO2E_HIGH_GRAMS] as number) - (a[sc.ATTR_CARBON_CO2E_LOW_GRAMS] as number);

describe("range attributes", () => {
  it("low ≤ central ≤ high for grams, energy and embodied; the record carries the same band", () => {
    const { attributes: a, record } = enrich(usage, live, {
      embodied: { totalEmbodiedKg: 1000, lifespanYears: 4, reservedShare: 1 },
    });
    for (const [low, central, high] of [
      [sc.ATTR_CARBON_CO2E_LOW_GRAMS, sc.ATTR_CARBON_CO2E_GRAMS, sc.ATTR_CARBON_CO2E_HIGH_GRAMS],
      [sc.ATTR_CARBON_ENERGY_LOW_KWH, sc.ATTR_CARBON_ENERGY_KWH, sc.ATTR_CARBON_ENERGY_HIGH_KWH],
      [sc.ATTR_CARBON_EMBODIED_LOW_GRAMS, sc.ATTR_CARBON_EMBODIED_GRAMS, sc.ATTR_CARBON_EMBODIED_HIGH_GRAMS],
    ] as const) {
      expect(a[low] as number).toBeGreaterThan(0);
      expect(a[low] as number).toBeLessThan(a[central] as number);
      expect(a[high] as number).toBeGreaterThan(a[central] as number);
    }
    expect(record?.co2eRange).toEqual({
      low: a[sc.ATTR_CARBON_CO2E_LOW_GRAMS],
      high: a[sc.ATTR_CARBON_CO2E_HIGH_GRAMS],
    });
    expect(a[sc.ATTR_CARBON_BOUNDARY_SCOPES]).toEqual(["operational", "embodied"]);
  });

  it("the central figure does not depend on the nature of the intensity; the band does", () => {
    const measured = enrich(usage, live).attributes;
    const fallback = enrich(usage, {
      ...staticIntensity("DE"),
      gramsPerKwh: 300,
      fallbackReason: "cache-cold",
    }).attributes;
    expect(fallback[sc.ATTR_CARBON_CO2E_GRAMS]).toBe(measured[sc.ATTR_CARBON_CO2E_GRAMS]);
    expect(band(fallback)).toBeGreaterThan(band(measured));
    expect(fallback[sc.ATTR_CARBON_INTENSITY_NATURE]).toBe("yearly-average");
    // The static table holds lifecycle figures, whatever the live provider was asked for.
    expect(fallback[sc.ATTR_CARBON_INTENSITY_EMISSION_FACTOR_TYPE]).toBe("lifecycle");
  });

  it("measured RAPL joules narrow the band against the tdp fallback for the same energy", () => {
    const tdp = enrich(usage, live, { model: { cpu: { model: "tdp", tdpWatts: 100 } } }).attributes;
    const joules = (tdp[sc.ATTR_CARBON_ENERGY_CPU_KWH] as number) * 3.6e6;
    const rapl = enrich({ ...usage, [sc.ATTR_JOB_CPU_JOULES]: joules }, live, {
      model: { cpu: { model: "rapl" } },
    }).attributes;
    expect(rapl[sc.ATTR_CARBON_CO2E_GRAMS]).toBeCloseTo(tdp[sc.ATTR_CARBON_CO2E_GRAMS] as number, 9);
    expect(band(rapl)).toBeLessThan(band(tdp));
    expect(rapl[sc.ATTR_CARBON_PROVENANCE_CPU]).toBe("measured");
    expect(tdp[sc.ATTR_CARBON_PROVENANCE_CPU]).toBe("calculated");
  });
});

describe("provenance attributes", () => {
  it("model version, per-component words for the components inside the boundary, operational scope", () => {
    const a = enrich(usage, live).attributes;
    expect(a[sc.ATTR_CARBON_MODEL_VERSION]).toBe(MODEL_VERSION);
    expect(a[sc.ATTR_CARBON_PROVENANCE_MEMORY]).toBe("calculated");
    expect(a[sc.ATTR_CARBON_PROVENANCE_NETWORK]).toBe("calculated");
    // No GPU input: not in the boundary, no word for it.
    expect(a).not.toHaveProperty(sc.ATTR_CARBON_PROVENANCE_GPU);
    expect(a[sc.ATTR_CARBON_BOUNDARY_COMPONENTS]).toEqual(["cpu", "memory", "network"]);
    expect(a[sc.ATTR_CARBON_BOUNDARY_SCOPES]).toEqual(["operational"]);
    expect(a).not.toHaveProperty(sc.ATTR_CARBON_EMBODIED_LOW_GRAMS);
  });

  it("measured GPU joules are `measured`", () => {
    const a = enrich({ [sc.ATTR_JOB_GPU_JOULES]: 1e5 }, live).attributes;
    expect(a[sc.ATTR_CARBON_PROVENANCE_GPU]).toBe("measured");
    expect(a[sc.ATTR_CARBON_BOUNDARY_COMPONENTS]).toEqual(["gpu"]);
  });

  it("passes Electricity Maps' isEstimated / estimationMethod and the emission factor type through", () => {
    const estimated = enrich(usage, {
      ...live,
      method: "latest",
      isEstimated: true,
      estimationMethod: "TIME_SLICER_AVERAGE",
      emissionFactorType: "direct",
    }).attributes;
    expect(estimated[sc.ATTR_CARBON_INTENSITY_NATURE]).toBe("estimated");
    expect(estimated[sc.ATTR_CARBON_INTENSITY_ESTIMATED]).toBe(true);
    expect(estimated[sc.ATTR_CARBON_INTENSITY_ESTIMATION_METHOD]).toBe("TIME_SLICER_AVERAGE");
    expect(estimated[sc.ATTR_CARBON_INTENSITY_EMISSION_FACTOR_TYPE]).toBe("direct");
    const measured = enrich(usage, live).attributes;
    expect(measured[sc.ATTR_CARBON_INTENSITY_NATURE]).toBe("measured");
    expect(measured).not.toHaveProperty(sc.ATTR_CARBON_INTENSITY_ESTIMATION_METHOD);
    expect(band(estimated)).toBeGreaterThan(band(measured));
  });

  it("a configured intensity is `configured` and narrows nothing beyond the energy band", () => {
    const a = enrich(usage, {
      gramsPerKwh: 300,
      zone: "DE",
      source: "configured",
      method: "configured",
    }).attributes;
    expect(a[sc.ATTR_CARBON_INTENSITY_NATURE]).toBe("configured");
    expect(a).not.toHaveProperty(sc.ATTR_CARBON_INTENSITY_EMISSION_FACTOR_TYPE);
    expect(
      (a[sc.ATTR_CARBON_CO2E_LOW_GRAMS] as number) / (a[sc.ATTR_CARBON_ENERGY_LOW_KWH] as number),
    ).toBeCloseTo(300, 9);
  });
});

describe("attribute names (semconv.ts)", () => {
  it("jobs of different kinds in turn each get their own provenance and boundary (parts built once per kind)", () => {
    const kinds: [Attributes, IntensityValue][] = [
      [usage, live],
      [{ [sc.ATTR_JOB_GPU_JOULES]: 1e5 }, live],
      [usage, { ...live, isEstimated: true, estimationMethod: "TIME_SLICER_AVERAGE" }],
      [{ [sc.ATTR_JOB_CPU_SECONDS]: 60 }, staticIntensity("DE")],
      [usage, live],
      [
        { [sc.ATTR_JOB_CPU_SECONDS]: 60, [sc.ATTR_JOB_NETWORK_BYTES_RECEIVED]: 5 },
        { ...live, emissionFactorType: "direct" },
      ],
      [{ [sc.ATTR_JOB_GPU_JOULES]: 1e5 }, live],
    ];
    const components: string[] = [];
    for (const [attributes, intensity] of kinds) {
      const { attributes: a, described } = enrich(attributes, intensity);
      if (!described) throw new Error("not described");
      // The span carries exactly what describedAttributes gives for the description, in order.
      const expected = describedAttributes(described);
      for (const [key, value] of Object.entries(expected)) expect(a[key], key).toEqual(value);
      const keys = Object.keys(a);
      const at = keys.indexOf(sc.ATTR_CARBON_CO2E_LOW_GRAMS);
      expect(keys.slice(at, at + Object.keys(expected).length)).toEqual(Object.keys(expected));
      // Boundary from the job's own inputs, never a previous job's.
      const want = [
        ...(attributes[sc.ATTR_JOB_CPU_SECONDS] !== undefined ? ["cpu"] : []),
        ...(attributes[sc.ATTR_JOB_MEMORY_AVG_BYTES] !== undefined ? ["memory"] : []),
        ...(attributes[sc.ATTR_JOB_GPU_JOULES] !== undefined ? ["gpu"] : []),
        ...(attributes[sc.ATTR_JOB_NETWORK_BYTES_SENT] !== undefined ||
        attributes[sc.ATTR_JOB_NETWORK_BYTES_RECEIVED] !== undefined
          ? ["network"]
          : []),
      ];
      expect(a[sc.ATTR_CARBON_BOUNDARY_COMPONENTS]).toEqual(want);
      expect(Object.keys(described.provenance.components)).toEqual(want);
      expect(a[sc.ATTR_CARBON_INTENSITY_EMISSION_FACTOR_TYPE]).toBe(intensity.emissionFactorType);
      components.push(String(a[sc.ATTR_CARBON_BOUNDARY_COMPONENTS]));
    }
    expect(new Set(components).size).toBe(4);
  });

  it("a shared provenance cannot be changed by one caller for the others", () => {
    const { described } = enrich(usage, live);
    if (!described) throw new Error("not described");
    expect(() => {
      (described.provenance.boundary.components as string[]).push("gpu");
    }).toThrow(TypeError);
    expect(enrich(usage, live).attributes[sc.ATTR_CARBON_BOUNDARY_COMPONENTS]).toEqual([
      "cpu",
      "memory",
      "network",
    ]);
  });

  it("no attribute name is also the namespace of another", () => {
    const names = Object.entries(sc)
      .filter(([key]) => key.startsWith("ATTR_"))
      .map(([, v]) => v as string);
    const clashes = names.filter((n) => names.some((m) => m.startsWith(`${n}.`)));
    expect(clashes).toEqual([]);
    // The check can fail: `carbon.model` is an attribute, so `carbon.model.version` would clash.
    expect(names.some((m) => "carbon.model.version".startsWith(`${m}.`))).toBe(true);
  });
});
