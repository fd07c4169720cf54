/**
 * Provenance of a live intensity through the real live provider against the Electricity Maps
 * emulator (a real HTTP server): `intensity.emissionFactorType` reaches the API as the
 * `emissionFactorType` query parameter, and Electricity Maps' `isEstimated` / `estimationMethod`
 * and the factor type come out on the enriched span, with the band of an estimated hour.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config.ts";
import { createIntensityProvider } from "../../src/intensity/index.ts";
import type { IntensityProvider } from "../../src/intensity/types.ts";
import { enrichJobSpan } from "../../src/processor/enrich.ts";
import * as sc from "../../src/semconv.ts";
import { type Emulator, hourlyRows, startEmulator } from "../helpers/em-emulator.ts";

const TOKEN = "prov-tok";
let em: Emulator;
const providers: IntensityProvider[] = [];

beforeAll(async () => {
  const now = Date.now();
  em = await startEmulator({
    token: TOKEN,
    zones: {
      // Estimated hours in DE, measured ones in FR.
      DE: { history: hourlyRows([300, 310, 320], now - 2 * 3_600_000, { isEstimated: true }) },
      FR: { history: hourlyRows([40, 41, 42], now - 2 * 3_600_000) },
    },
  });
});
afterAll(async () => {
  for (const p of providers) await p.close();
  await em.close();
});

function provider(emissionFactorType?: "lifecycle" | "direct") {
  const config = parseConfig({
    zone: "DE",
    intensity: {
      provider: "electricitymaps",
      baseUrl: em.url,
      retries: 0,
      ...(emissionFactorType ? { emissionFactorType } : {}),
    },
  });
  const p = createIntensityProvider(config, { env: { ELECTRICITYMAPS_API_TOKEN: TOKEN }, logger: () => {} });
  providers.push(p);
  return { config, p };
}

async function enrichAt(zone: string, emissionFactorType?: "lifecycle" | "direct", spanMs = 0) {
  const { config, p } = provider(emissionFactorType);
  const now = Date.now();
  const value = await p.get(zone, { startMs: now - spanMs, endMs: now });
  return enrichJobSpan(
    {
      attributes: { [sc.ATTR_JOB_NAME]: "j", [sc.ATTR_JOB_CPU_SECONDS]: 10, [sc.ATTR_CARBON_ZONE]: zone },
      resource: {},
      startMs: now - 20_000,
      endMs: now,
      isError: false,
    },
    { config, logicalCores: 2, intensity: () => value },
  ).attributes;
}

describe("live provenance", () => {
  it("direct: sent as emissionFactorType=direct and shown on the span; isEstimated → nature estimated", async () => {
    em.resetRequests();
    const a = await enrichAt("DE", "direct");
    expect(em.requests.some((r) => r.url.includes("emissionFactorType=direct"))).toBe(true);
    expect(a[sc.ATTR_CARBON_INTENSITY_SOURCE]).toBe("electricitymaps");
    expect(a[sc.ATTR_CARBON_INTENSITY_EMISSION_FACTOR_TYPE]).toBe("direct");
    expect(a[sc.ATTR_CARBON_INTENSITY_ESTIMATED]).toBe(true);
    expect(a[sc.ATTR_CARBON_INTENSITY_NATURE]).toBe("estimated");
    expect(a[sc.ATTR_CARBON_INTENSITY_ESTIMATION_METHOD]).toBe("TIME_SLICER_AVERAGE");
  });

  it("a window over several estimated hours (time-weighted) keeps the estimation method", async () => {
    const a = await enrichAt("DE", undefined, 90 * 60_000);
    expect(a[sc.ATTR_CARBON_INTENSITY_METHOD]).toBe("time-weighted");
    expect(a[sc.ATTR_CARBON_INTENSITY_NATURE]).toBe("estimated");
    expect(a[sc.ATTR_CARBON_INTENSITY_ESTIMATION_METHOD]).toBe("TIME_SLICER_AVERAGE");
  });

  it("default lifecycle; a measured hour is `measured` and has a narrower band than an estimated one", async () => {
    em.resetRequests();
    const fr = await enrichAt("FR");
    expect(em.requests.some((r) => r.url.includes("emissionFactorType=lifecycle"))).toBe(true);
    expect(fr[sc.ATTR_CARBON_INTENSITY_EMISSION_FACTOR_TYPE]).toBe("lifecycle");
    expect(fr[sc.ATTR_CARBON_INTENSITY_NATURE]).toBe("measured");
    expect(fr).not.toHaveProperty(sc.ATTR_CARBON_INTENSITY_ESTIMATION_METHOD);
    const de = await enrichAt("DE");
    const relative = (a: typeof de) =>
      ((a[sc.ATTR_CARBON_CO2E_HIGH_GRAMS] as number) - (a[sc.ATTR_CARBON_CO2E_LOW_GRAMS] as number)) /
      (a[sc.ATTR_CARBON_CO2E_GRAMS] as number);
    expect(relative(fr)).toBeLessThan(relative(de));
  });
});
