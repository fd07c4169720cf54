/**
 * Ranges and provenance (src/model/range.ts): every bound brackets its central value, the band's
 * width follows what was measured, and the seeds' central figures do not move.
 */
import { describe, expect, it } from "vitest";
import {
  BYTES_PER_GB,
  BYTES_PER_GIB,
  CPU_MODELLED_RANGE,
  CPU_RAPL_RANGE,
  componentProvenance,
  computeFootprint,
  EMBODIED_RANGE,
  type EnergyModelParams,
  type Footprint,
  type FootprintInput,
  type FootprintParams,
  footprintBoundary,
  footprintRange,
  GPU_MEASURED_RANGE,
  GPU_RATED_RANGE,
  INTENSITY_CONFIGURED_RANGE,
  INTENSITY_ESTIMATED_RANGE,
  INTENSITY_FALLBACK_RANGE,
  INTENSITY_FORECAST_RANGE,
  INTENSITY_MEASURED_RANGE,
  INTENSITY_YEARLY_RANGE,
  type IntensityNature,
  intensityNature,
  MEMORY_RANGE,
  MEMORY_WATTS_PER_GB,
  NETWORK_KWH_PER_GB,
  NETWORK_RANGE,
  PUE_MICROSOFT_2015,
  pueRange,
  type Range,
  type RangeContext,
} from "../../src/model/index.ts";

const HOUR = 3600;

function energy(overrides: Partial<EnergyModelParams> = {}): EnergyModelParams {
  return {
    cpu: { model: "tdp", tdpWatts: 100, logicalCores: 4 },
    memoryWattsPerGb: MEMORY_WATTS_PER_GB,
    networkKwhPerGb: NETWORK_KWH_PER_GB,
    pue: 1,
    ...overrides,
  };
}

const LIVE: RangeContext = {
  cpuModel: "tdp",
  gpuMeasured: false,
  intensityNature: "measured",
  intensityFallback: false,
};

function expectContains(range: Range, central: number): void {
  expect(range.low).toBeLessThanOrEqual(central);
  expect(range.high).toBeGreaterThanOrEqual(central);
  expect(Number.isFinite(range.low) && Number.isFinite(range.high)).toBe(true);
}

const width = (r: Range) => r.high - r.low;

/** A job with every component: CPU, memory, GPU, network, embodied, PUE 1.2. */
const fullInput: FootprintInput = {
  durationSeconds: HOUR,
  cpuSeconds: 2 * HOUR,
  cpuMeasuredJoules: 150_000,
  memoryAvgBytes: 16 * BYTES_PER_GIB,
  gpuJoules: 900_000,
  networkBytes: 3 * BYTES_PER_GB,
};
const fullParams: FootprintParams = {
  energy: energy({ pue: 1.2 }),
  embodied: { totalEmbodiedKg: 1200, lifespanYears: 4, reservedShare: 0.5 },
};

describe("every range contains its central value", () => {
  const natures: IntensityNature[] = ["measured", "estimated", "forecast", "yearly-average", "configured"];
  for (const cpuModel of ["tdp", "linear", "rapl"] as const) {
    for (const nature of natures) {
      for (const fallback of [false, true]) {
        for (const gpuMeasured of [false, true]) {
          it(`cpu ${cpuModel}, intensity ${nature}${fallback ? " (fallback)" : ""}, gpu ${gpuMeasured ? "measured" : "rated"}`, () => {
            const cpu =
              cpuModel === "rapl"
                ? ({ model: "rapl" } as const)
                : cpuModel === "tdp"
                  ? ({ model: "tdp", tdpWatts: 85, logicalCores: 8 } as const)
                  : ({ model: "linear", minWattsPerVcpu: 0.74, maxWattsPerVcpu: 3.5, vcpus: 4 } as const);
            const fp = computeFootprint(fullInput, 350, {
              ...fullParams,
              energy: { ...fullParams.energy, cpu },
            });
            const r = footprintRange(fp, {
              cpuModel,
              gpuMeasured,
              intensityNature: nature,
              intensityFallback: fallback,
            });
            expectContains(r.energyKwh, fp.energy.totalKwh);
            expectContains(r.co2eGrams, fp.co2eGrams);
            expectContains(r.embodiedGrams!, fp.embodiedGrams!);
            expectContains(r.totalGrams, fp.co2eGrams + fp.embodiedGrams!);
          });
        }
      }
    }
  }

  it("every factor brackets 1 and is finite", () => {
    const all = [
      CPU_RAPL_RANGE,
      CPU_MODELLED_RANGE,
      MEMORY_RANGE,
      GPU_MEASURED_RANGE,
      GPU_RATED_RANGE,
      NETWORK_RANGE,
      INTENSITY_MEASURED_RANGE,
      INTENSITY_ESTIMATED_RANGE,
      INTENSITY_FORECAST_RANGE,
      INTENSITY_YEARLY_RANGE,
      INTENSITY_FALLBACK_RANGE,
      INTENSITY_CONFIGURED_RANGE,
      EMBODIED_RANGE,
    ];
    for (const f of all) {
      expect(f.low).toBeGreaterThanOrEqual(0);
      expect(f.low).toBeLessThanOrEqual(1);
      expect(f.high).toBeGreaterThanOrEqual(1);
      expect(Number.isFinite(f.high)).toBe(true);
    }
    // The sources' figures: memory 5 W per 32 GB / 8 GB DIMM, network up to 0.0411 kWh/GB.
    expect(MEMORY_RANGE.low * MEMORY_WATTS_PER_GB).toBeCloseTo(0.15625, 12);
    expect(MEMORY_RANGE.high * MEMORY_WATTS_PER_GB).toBeCloseTo(0.625, 12);
    expect(NETWORK_RANGE.high * NETWORK_KWH_PER_GB).toBeCloseTo(0.0411, 12);
  });

  it("a zero footprint has a zero band", () => {
    const fp = computeFootprint({ durationSeconds: 1 }, 300, { energy: energy() });
    expect(footprintRange(fp, LIVE).co2eGrams).toEqual({ low: 0, high: 0 });
  });
});

describe("the band's width follows what was measured", () => {
  const usage: FootprintInput = {
    durationSeconds: HOUR,
    cpuSeconds: 4 * HOUR,
    memoryAvgBytes: 4 * BYTES_PER_GIB,
  };

  it("a RAPL-measured job has a narrower band than the same job on the TDP model", () => {
    const tdp = computeFootprint(usage, 400, { energy: energy() });
    // The same energy, measured: the central figures are equal, only the band differs.
    const rapl = computeFootprint({ ...usage, cpuMeasuredJoules: tdp.energy.cpuKwh * 3.6e6 }, 400, {
      energy: energy({ cpu: { model: "rapl" } }),
    });
    expect(rapl.co2eGrams).toBeCloseTo(tdp.co2eGrams, 9);
    const rTdp = footprintRange(tdp, LIVE);
    const rRapl = footprintRange(rapl, { ...LIVE, cpuModel: "rapl" });
    expect(width(rRapl.co2eGrams)).toBeLessThan(width(rTdp.co2eGrams));
    expect(width(rRapl.energyKwh)).toBeLessThan(width(rTdp.energyKwh));
    expect(rRapl.co2eGrams.low).toBeGreaterThan(rTdp.co2eGrams.low);
    expect(rRapl.co2eGrams.high).toBeLessThan(rTdp.co2eGrams.high);
  });

  it("a static-fallback job has a wider band than the same job on a live measured hour", () => {
    const fp = computeFootprint(usage, 400, { energy: energy() });
    const live = footprintRange(fp, LIVE);
    const estimated = footprintRange(fp, { ...LIVE, intensityNature: "estimated" });
    const yearly = footprintRange(fp, { ...LIVE, intensityNature: "yearly-average" });
    const fallback = footprintRange(fp, {
      ...LIVE,
      intensityNature: "yearly-average",
      intensityFallback: true,
    });
    expect(width(fallback.co2eGrams)).toBeGreaterThan(width(live.co2eGrams));
    // Ordered: measured < estimated < yearly on purpose < yearly as a fallback.
    expect(width(live.co2eGrams)).toBeLessThan(width(estimated.co2eGrams));
    expect(width(estimated.co2eGrams)).toBeLessThan(width(yearly.co2eGrams));
    expect(width(yearly.co2eGrams)).toBeLessThan(width(fallback.co2eGrams));
    // The energy does not depend on the intensity.
    expect(fallback.energyKwh).toEqual(live.energyKwh);
  });

  it("a measured GPU has a narrower band than rated GPU power", () => {
    const fp = computeFootprint({ durationSeconds: HOUR, gpuJoules: 1e6 }, 300, { energy: energy() });
    expect(width(footprintRange(fp, { ...LIVE, gpuMeasured: true }).energyKwh)).toBeLessThan(
      width(footprintRange(fp, LIVE).energyKwh),
    );
  });

  it("interval arithmetic, by hand: each component scaled, PUE on IT only, intensity last", () => {
    const fp = computeFootprint(fullInput, 350, {
      ...fullParams,
      energy: { ...fullParams.energy, cpu: { model: "rapl" } },
    });
    const e = fp.energy;
    const r = footprintRange(fp, {
      cpuModel: "rapl",
      gpuMeasured: true,
      intensityNature: "estimated",
      intensityFallback: false,
    });
    const low = (e.cpuKwh * 0.9 + e.memoryKwh * (5 / 32 / 0.375) + e.gpuKwh * 0.9) * 1.2 + e.networkKwh * 1;
    const high =
      (e.cpuKwh * 1.1 + e.memoryKwh * (5 / 8 / 0.375) + e.gpuKwh * 1.1) * 1.2 +
      e.networkKwh * (0.0411 / 0.001875);
    expect(r.energyKwh.low).toBeCloseTo(low, 12);
    expect(r.energyKwh.high).toBeCloseTo(high, 12);
    expect(r.co2eGrams.low).toBeCloseTo(low * 350 * 0.8, 9);
    expect(r.co2eGrams.high).toBeCloseTo(high * 350 * 1.2, 9);
    expect(r.totalGrams.low).toBeCloseTo(r.co2eGrams.low + fp.embodiedGrams! * 0.5, 9);
    expect(r.totalGrams.high).toBeCloseTo(r.co2eGrams.high + fp.embodiedGrams! * 1.5, 9);
  });

  it("PUE: 1 (none assumed) spans up to the 1.58 survey average; a configured PUE is taken as stated", () => {
    expect(pueRange(1)).toEqual({ low: 1, high: 1.58 });
    expect(pueRange(PUE_MICROSOFT_2015)).toEqual({ low: 1.125, high: 1.125 });
  });
});

describe("seeds keep their exact central values", () => {
  const cases: [string, () => Footprint, number][] = [
    [
      "000: 25 kWh × 180 g/kWh = 4,500 g",
      () =>
        computeFootprint({ durationSeconds: 0, cpuMeasuredJoules: 25 * 3.6e6 }, 180, {
          energy: energy({ cpu: { model: "rapl" } }),
        }),
      4500,
    ],
    [
      "001: 300 W × 100 h × 400 g/kWh = 12,000 g",
      () => computeFootprint({ durationSeconds: 100 * HOUR, gpuWatts: 300 }, 400, { energy: energy() }),
      12_000,
    ],
    [
      "002: 10 GB × 0.001875 kWh/GB × 442 g/kWh = 8.2875 g",
      () =>
        computeFootprint({ durationSeconds: 0, networkBytes: 10 * BYTES_PER_GB }, 442, { energy: energy() }),
      8.2875,
    ],
    [
      "003: notebook, 60.1463 g unrounded",
      () =>
        computeFootprint(
          { durationSeconds: 2449, cpuSeconds: 1.0047 * 2449 * 8, memoryAvgBytes: 5.015 * BYTES_PER_GIB },
          487,
          {
            energy: energy({
              cpu: { model: "tdp", tdpWatts: 158.75, logicalCores: 8 },
              pue: PUE_MICROSOFT_2015,
            }),
          },
        ),
      60.1463,
    ],
  ];
  for (const [name, make, grams] of cases) {
    it(name, () => {
      const fp = make();
      expect(fp.co2eGrams).toBeCloseTo(grams, name.startsWith("003") ? 3 : 9);
      const r = footprintRange(fp, { ...LIVE, intensityNature: "configured" });
      expectContains(r.co2eGrams, fp.co2eGrams);
      // The range is computed beside the footprint, never into it.
      expect(make()).toEqual(fp);
    });
  }
});

describe("provenance and boundary", () => {
  it("per component: meters are measured, activity × coefficient calculated, rated power estimated", () => {
    expect(componentProvenance("rapl", true)).toEqual({
      cpu: "measured",
      memory: "calculated",
      gpu: "measured",
      network: "calculated",
    });
    expect(componentProvenance("tdp", false)).toMatchObject({ cpu: "calculated", gpu: "estimated" });
    expect(componentProvenance("linear", false).cpu).toBe("calculated");
  });

  it("intensity nature from source, method and the provider's flag", () => {
    expect(intensityNature({ source: "electricitymaps", method: "latest", isEstimated: false })).toBe(
      "measured",
    );
    expect(intensityNature({ source: "electricitymaps", method: "time-weighted", isEstimated: true })).toBe(
      "estimated",
    );
    expect(intensityNature({ source: "electricitymaps", method: "latest", isForecast: true })).toBe(
      "forecast",
    );
    expect(intensityNature({ source: "static", method: "yearly-average" })).toBe("yearly-average");
    expect(intensityNature({ source: "configured", method: "configured" })).toBe("configured");
  });

  it("the boundary lists the components whose input was given, and the scopes", () => {
    expect(footprintBoundary({ cpuSeconds: 1, networkBytes: 0 }, {})).toEqual({
      components: ["cpu", "network"],
      scopes: ["operational"],
    });
    expect(footprintBoundary(fullInput, { embodiedGrams: 1 })).toEqual({
      components: ["cpu", "memory", "gpu", "network"],
      scopes: ["operational", "embodied"],
    });
  });
});
